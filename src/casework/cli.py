"""The ``casework`` command: serve, and manage access keys."""

from __future__ import annotations

import secrets
import signal
import string
from pathlib import Path

import click
import uvicorn
from sqlalchemy import delete, insert, select

from . import __version__
from .config import Settings
from .store import Store
from .store.engine import now_ms
from .store.tables import access_keys, accounts
from .support.plans import PLAN_NAMES


def _store_options(func):
    func = click.option("--database-url", envvar="CASEWORK_DATABASE_URL", default=None,
                        help="SQLAlchemy URL; default: SQLite in the data directory.")(func)
    func = click.option("--data-dir", envvar="CASEWORK_DATA_DIR", default="casework-data",
                        show_default=True, type=click.Path(file_okay=False, path_type=Path),
                        help="Where the SQLite database lives.")(func)
    return func


def _support_options(func):
    """``serve`` options of AWS Support: catalog, plans, limits, Trusted Advisor, reopening."""
    options = [
        ("--catalog", "CASEWORK_CATALOG", None,
         click.Path(exists=True, dir_okay=False, path_type=Path),
         "JSON catalog merged over the packaged one (services, severities, languages, ...)."),
        ("--default-plan", "CASEWORK_DEFAULT_PLAN", "business", click.Choice(PLAN_NAMES),
         "Support plan of accounts without one (see `casework accounts set-plan`)."),
        ("--max-open-cases", "CASEWORK_MAX_OPEN_CASES", 0, click.IntRange(min=0),
         "Open cases per account before CaseCreationLimitExceeded; 0: no limit."),
        ("--attachment-set-limit", "CASEWORK_ATTACHMENT_SET_LIMIT", 0, click.IntRange(min=0),
         "New attachment sets per account per --limit-window (AttachmentLimitExceeded); 0: off."),
        ("--attachment-download-limit", "CASEWORK_ATTACHMENT_DOWNLOAD_LIMIT", 0,
         click.IntRange(min=0), "DescribeAttachment calls per account per --limit-window "
         "(DescribeAttachmentLimitExceeded); 0: off."),
        ("--limit-window", "CASEWORK_LIMIT_WINDOW", 60.0, click.FloatRange(min=0.001),
         "Seconds: the short period of the two limits above."),
        ("--throttle-rate", "CASEWORK_THROTTLE_RATE", 0.0, click.FloatRange(min=0),
         "Requests per second per account and operation on operations that declare "
         "ThrottlingException; 0: off."),
        ("--throttle-burst", "CASEWORK_THROTTLE_BURST", 10, click.IntRange(min=1),
         "Token bucket size for --throttle-rate."),
        ("--advisor-refresh-cooldown", "CASEWORK_ADVISOR_REFRESH_COOLDOWN", 3600.0,
         click.FloatRange(min=0), "Seconds before a Trusted Advisor check can be refreshed again."),
        ("--advisor-refresh-duration", "CASEWORK_ADVISOR_REFRESH_DURATION", 10.0,
         click.FloatRange(min=0), "Seconds a Trusted Advisor refresh spends enqueued and "
         "processing before it succeeds."),
        ("--reopen-window", "CASEWORK_REOPEN_WINDOW", 14 * 86400.0, click.FloatRange(min=0),
         "Seconds after resolution during which a customer reply reopens a case."),
    ]
    for flag, envvar, default, kind, text in reversed(options):
        func = click.option(flag, envvar=envvar, default=default, show_default=True, type=kind,
                            help=text)(func)
    return func


def _open_store(data_dir: Path, database_url: str | None) -> Store:
    settings = Settings(data_dir=data_dir, database_url=database_url)
    if not database_url:
        data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.url, pool_size=2)
    store.migrate()
    return store


@click.group()
@click.version_option(__version__, prog_name="casework")
def main() -> None:
    """Casework: self-hosted AWS Support and Amazon Connect Cases."""


@main.command()
@click.option("--host", envvar="CASEWORK_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="CASEWORK_PORT", default=4566, show_default=True, type=int)
@_store_options
@click.option("--attachment-set-ttl", envvar="CASEWORK_ATTACHMENT_SET_TTL", default=3600,
              show_default=True, type=click.IntRange(min=1),
              help="Seconds an attachment set stays usable.")
@click.option("--threads", envvar="CASEWORK_THREADS", default=32, show_default=True,
              type=click.IntRange(min=1), help="Worker threads (and database connections).")
@click.option("--log-level", envvar="CASEWORK_LOG_LEVEL", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.option("--upload-ttl", envvar="CASEWORK_UPLOAD_TTL", default=86400, show_default=True,
              type=click.IntRange(min=1),
              help="Seconds a large-file upload lives until it is attached to a case.")
@click.option("--upload-part-size", envvar="CASEWORK_UPLOAD_PART_SIZE", default=10 * 1024 * 1024,
              show_default=True, type=click.IntRange(min=1, max=104857600),
              help="partSizeBytes of new large-file uploads (AWS maximum: 100 MB).")
@click.option("--attachment-link-ttl", envvar="CASEWORK_ATTACHMENT_LINK_TTL", default=3600,
              show_default=True, type=click.IntRange(min=1),
              help="Seconds presigned attachment upload and download URLs stay valid.")
@click.option("--merge-duration", envvar="CASEWORK_MERGE_DURATION", default=1.0,
              show_default=True, type=click.FloatRange(min=0),
              help="Seconds a Connect Cases merge stays IN_PROGRESS before it is applied.")
@click.option("--search-drive-limit", envvar="CASEWORK_SEARCH_DRIVE_LIMIT", default=1000,
              show_default=True, type=click.IntRange(min=0),
              help="SearchCases reads and sorts an index answer of at most this many cases; "
                   "larger ones it walks in sort order.")
@click.option("--search-total-cap", envvar="CASEWORK_SEARCH_TOTAL_CAP", default=10_000,
              show_default=True, type=click.IntRange(min=1),
              help="SearchCases' totalCount is exact up to this many matches, and this number "
                   "beyond.")
@_support_options
def serve(host, port, data_dir, database_url, attachment_set_ttl, threads, log_level,
          **support) -> None:
    """Serve the AWS APIs until SIGTERM or SIGINT (in-flight requests finish first)."""
    from .app import create_app
    from .support.catalog import CatalogError, load_catalog

    settings = Settings(host=host, port=port, data_dir=data_dir, database_url=database_url,
                        attachment_set_ttl=attachment_set_ttl, threads=threads,
                        log_level=log_level, **support)
    try:
        load_catalog(settings.catalog)  # a broken operator catalog stops the start, not a request
    except CatalogError as error:
        raise click.ClickException(str(error)) from None
    app = create_app(settings)
    endpoint = f"http://{host}:{port}"
    click.echo(f"Casework {__version__} serving AWS Support and Amazon Connect Cases")
    click.echo(f"  endpoint:    {endpoint}   (export AWS_ENDPOINT_URL={endpoint})")
    click.echo(f"  database:    {app.store.url.render_as_string(hide_password=True)}")
    click.echo("  credentials: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
               "(account 000000000000)")
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, access_log=False,
                            lifespan="on", timeout_graceful_shutdown=30)
    # uvicorn re-raises the signal that stopped it once it has drained; with these handlers in
    # place that re-raise is a no-op, so a graceful stop exits 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.Server(config).run()
    app.store.dispose()


@main.command()
@click.option("--update", "readme", type=click.Path(dir_okay=False, path_type=Path),
              help="Rewrite the table inside this markdown file instead of printing it.")
def operations(readme: Path | None) -> None:
    """Print the table of modeled operations and which ones Casework implements."""
    from .coverage import TABLE_END, TABLE_START, operations_table

    table = operations_table()
    if readme is None:
        click.echo(table)
        return
    text = readme.read_text()
    start, end = text.index(TABLE_START), text.index(TABLE_END) + len(TABLE_END)
    readme.write_text(text[:start] + table + text[end:])


@main.group()
def keys() -> None:
    """Access keys: each maps to an account; accounts never see each other's data."""


@keys.command("create")
@_store_options
@click.option("--account", "account_id", required=True, help="12-digit account id.")
@click.option("--email", default=None, help="The account's e-mail (new accounts only).")
@click.option("--access-key-id", default=None, help="Default: a new random AKIA... id.")
@click.option("--secret-access-key", default=None, help="Default: a new random secret.")
def keys_create(data_dir, database_url, account_id, email, access_key_id, secret_access_key):
    """Create an access key for ACCOUNT (created too if new) and print it."""
    if len(account_id) != 12 or not account_id.isdigit():
        raise click.BadParameter("must be 12 digits", param_hint="--account")
    alphabet = string.ascii_uppercase + string.digits
    access_key_id = access_key_id or "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret_access_key = secret_access_key or secrets.token_urlsafe(30)[:40]
    store = _open_store(data_dir, database_url)
    with store.transaction() as conn:
        if conn.scalar(select(accounts.c.account_id).where(accounts.c.account_id == account_id)) \
                is None:
            conn.execute(insert(accounts).values(
                account_id=account_id, email=email or f"support+{account_id}@example.com",
                created_at=now_ms()))
        if conn.scalar(select(access_keys.c.access_key_id)
                       .where(access_keys.c.access_key_id == access_key_id)) is not None:
            raise click.ClickException(f"access key {access_key_id} already exists")
        conn.execute(insert(access_keys).values(
            access_key_id=access_key_id, secret_access_key=secret_access_key,
            account_id=account_id, created_at=now_ms()))
    click.echo(f"AWS_ACCESS_KEY_ID={access_key_id}")
    click.echo(f"AWS_SECRET_ACCESS_KEY={secret_access_key}")
    click.echo(f"# account {account_id}")


@keys.command("list")
@_store_options
def keys_list(data_dir, database_url):
    """List access key ids and their accounts (secrets are not shown)."""
    store = _open_store(data_dir, database_url)
    with store.transaction(write=False) as conn:
        for row in conn.execute(select(access_keys.c.access_key_id, access_keys.c.account_id)
                                .order_by(access_keys.c.account_id)):
            click.echo(f"{row.access_key_id}\t{row.account_id}")


@keys.command("delete")
@_store_options
@click.argument("access_key_id")
def keys_delete(data_dir, database_url, access_key_id):
    """Delete an access key; a running server refuses it within two seconds."""
    store = _open_store(data_dir, database_url)
    with store.transaction() as conn:
        gone = conn.execute(delete(access_keys)
                            .where(access_keys.c.access_key_id == access_key_id)).rowcount
    if not gone:
        raise click.ClickException(f"no access key {access_key_id}")
    click.echo(f"deleted {access_key_id}")


@main.group("accounts")
def accounts_group() -> None:
    """Accounts and their AWS Support plans."""


@accounts_group.command("set-plan")
@_store_options
@click.argument("account_id")
@click.argument("plan", type=click.Choice(PLAN_NAMES))
def accounts_set_plan(data_dir, database_url, account_id, plan):
    """Give ACCOUNT the support PLAN (basic and developer have no API access, as on AWS)."""
    from .support import queries as support_queries

    store = _open_store(data_dir, database_url)
    with store.transaction() as conn:
        if not support_queries.account_exists(conn, account_id):
            raise click.ClickException(f"no account {account_id} (`casework keys create` "
                                       "creates one)")
        support_queries.set_account_plan(conn, account_id, plan, now_ms())
    click.echo(f"{account_id}\t{plan}")


@accounts_group.command("list")
@_store_options
@click.option("--default-plan", envvar="CASEWORK_DEFAULT_PLAN", default="business",
              show_default=True, type=click.Choice(PLAN_NAMES),
              help="The plan accounts without one of their own have.")
def accounts_list(data_dir, database_url, default_plan):
    """List accounts with their e-mail and support plan."""
    from .support import queries as support_queries

    store = _open_store(data_dir, database_url)
    with store.transaction(write=False) as conn:
        for row in support_queries.list_account_plans(conn):
            plan = row.plan or f"{default_plan} (default)"
            click.echo(f"{row.account_id}\t{row.email}\t{plan}")


@main.group()
def advisor() -> None:
    """Trusted Advisor: the check catalog and the results accounts see."""


@advisor.command("checks")
def advisor_checks():
    """List the Trusted Advisor checks: id, category, name."""
    from .support.advisor import checks

    for check in checks().values():
        click.echo(f"{check.id}\t{check.category}\t{check.names['en']}")


@advisor.command("load")
@_store_options
@click.argument("file", type=click.File("rb"))
@click.option("--account", "account_id", default="000000000000", show_default=True,
              help="The account whose results these are.")
@click.option("--replace", is_flag=True, help="Forget the account's other results first.")
def advisor_load(data_dir, database_url, file, account_id, replace):
    """Load Trusted Advisor results for an account from FILE (JSON; - for stdin).

    FILE holds a list of results shaped like DescribeTrustedAdvisorCheckResult's "result"
    (checkId, status, timestamp, resourcesSummary, categorySpecificSummary,
    flaggedResources), or {"results": [...]}, or a saved {"result": {...}} response.
    """
    import json

    from .support import queries as support_queries
    from .support.advisor import ResultsError, load_results, parse_results

    try:
        rows = parse_results(json.load(file), now_ms())
    except ValueError as error:  # ResultsError and malformed JSON alike
        kind = "" if isinstance(error, ResultsError) else "not JSON: "
        raise click.ClickException(f"{file.name}: {kind}{error}") from None
    store = _open_store(data_dir, database_url)
    with store.transaction() as conn:
        if not support_queries.account_exists(conn, account_id):
            raise click.ClickException(f"no account {account_id}")
        load_results(conn, account_id, rows, replace)
    click.echo(f"loaded {len(rows)} Trusted Advisor result(s) for account {account_id}")


@main.group()
def agent() -> None:
    """The support side: the internal API under /_casework/support/ (agent console, tests)."""


@agent.command("token")
@_store_options
@click.option("--rotate", is_flag=True, help="Replace the token; the old one stops working.")
def agent_token(data_dir, database_url, rotate):
    """Print the operator token for the agent API (Authorization: Bearer <token>)."""
    from .support.agent import operator_token, rotate_operator_token

    store = _open_store(data_dir, database_url)
    click.echo(rotate_operator_token(store) if rotate else operator_token(store))


@main.group()
def contacts() -> None:
    """The contact registry: the channel and connection time of Amazon Connect contacts.

    Connect Cases reports them on Contact related items; contacts not registered here are
    recorded as VOICE contacts connected when they were linked.
    """


@contacts.command("put")
@_store_options
@click.argument("contact_arn")
@click.option("--channel", required=True, help="The contact's channel: VOICE, CHAT, TASK, ...")
@click.option("--connected-at", default=None,
              help="ISO 8601 time the contact connected (naive times are UTC); default: now.")
def contacts_put(data_dir, database_url, contact_arn, channel, connected_at):
    """Register (or replace) the contact CONTACT_ARN."""
    from datetime import UTC, datetime

    from .cases.queries import contacts as contact_rows
    from .cases.related_items import CONTACT_ARN

    if not CONTACT_ARN.fullmatch(contact_arn):
        raise click.BadParameter("must be arn:aws:connect:<region>:<account>:instance/<id>/"
                                 "contact/<id>", param_hint="CONTACT_ARN")
    if not 1 <= len(channel) <= 100:
        raise click.BadParameter("must be 1 to 100 characters", param_hint="--channel")
    at_ms = now_ms()
    if connected_at is not None:
        try:
            moment = datetime.fromisoformat(connected_at)
        except ValueError:
            raise click.BadParameter("must be an ISO 8601 date-time",
                                     param_hint="--connected-at") from None
        at_ms = int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)
    store = _open_store(data_dir, database_url)
    with store.transaction() as conn:
        contact_rows.put(conn, contact_arn, channel, at_ms)
    click.echo(f"{contact_arn}\t{channel}\t{datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()}")


@main.command()
@_store_options
@click.option("--support-cases", default=0, show_default=True, type=click.IntRange(min=0),
              help="AWS Support cases to add.")
@click.option("--communications-per-case", default=2, show_default=True,
              type=click.IntRange(min=0), help="Communications of each AWS Support case.")
@click.option("--connect-cases", default=0, show_default=True, type=click.IntRange(min=0),
              help="Connect cases to add to the account's domain named 'seed'.")
@click.option("--related-items-per-case", default=1, show_default=True,
              type=click.IntRange(min=0, max=200),
              help="Related items of each Connect case (contacts and comments, alternately).")
@click.option("--account", "account_id", default="000000000000", show_default=True,
              help="12-digit account that owns the data.")
@click.option("--random-seed", default=1, show_default=True, type=int,
              help="Seed of the generator of titles, customers and contacts.")
def seed(data_dir, database_url, support_cases, communications_per_case, connect_cases,
         related_items_per_case, account_id, random_seed):
    """Fill the store fast with realistic data: the rows real API calls would leave."""
    import random
    import time

    from .seed import ConnectSeeder, bulk_mode, seed_support

    if len(account_id) != 12 or not account_id.isdigit():
        raise click.BadParameter("must be 12 digits", param_hint="--account")
    store = _open_store(data_dir, database_url)
    bulk_mode(store)
    rng = random.Random(random_seed)
    try:
        if support_cases:
            began = time.monotonic()
            with click.progressbar(length=support_cases, label="AWS Support cases") as bar:
                made = seed_support(store, account_id, support_cases, communications_per_case,
                                    rng, bar.update)
            took = time.monotonic() - began
            click.echo(f"{support_cases} AWS Support cases, {made} communications in "
                       f"{took:.1f} s ({support_cases / took:,.0f} cases/s)")
        if connect_cases:
            seeder = ConnectSeeder(store, account_id, rng)
            seeder.prepare()
            began = time.monotonic()
            with click.progressbar(length=connect_cases, label="Connect cases") as bar:
                made = seeder.add(connect_cases, related_items_per_case, bar.update)
            took = time.monotonic() - began
            click.echo(f"{connect_cases} Connect cases, {made} related items in {took:.1f} s "
                       f"({connect_cases / took:,.0f} cases/s); domain 'seed' "
                       f"{seeder.domain_id}, template {seeder.template_id}")
    finally:
        store.dispose()
