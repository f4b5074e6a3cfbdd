"""The ``casework`` command: serve, and manage the store a server uses (keys, accounts, ...)."""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import signal
import socket
import string
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import click
import uvicorn
from sqlalchemy import delete, insert, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from . import __version__, datadir
from .config import Settings
from .keys import MASTER_KEY_ENV, MasterKey, MasterKeyError, open_keys
from .store import Store
from .store.bulk import InterruptedLoad
from .store.engine import now_ms
from .store.tables import access_keys, accounts
from .support.plans import PLAN_NAMES

DATA_DIR_HELP = ("Where the SQLite database (casework.db) and the files of large attachments "
                 "(attachments/) live.")
DATABASE_URL_HELP = ("SQLAlchemy URL of the database, e.g. postgresql+psycopg://user:pw@host/db; "
                     "default: SQLite in the data directory.")
POINT_ELSEWHERE = ("point at the store with --data-dir DIR (CASEWORK_DATA_DIR) or --database-url "
                   "URL (CASEWORK_DATABASE_URL)")


def _store_options(func):
    func = click.option("--database-url", envvar="CASEWORK_DATABASE_URL", default=None,
                        help=DATABASE_URL_HELP)(func)
    func = click.option("--data-dir", envvar="CASEWORK_DATA_DIR", default="casework-data",
                        show_default=True, type=click.Path(file_okay=False, path_type=Path),
                        help=DATA_DIR_HELP)(func)
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


def _event_options(func):
    """``serve`` options of case events (the outbox, ``casework.outbox``)."""
    options = [
        ("--event-max-attempts", "CASEWORK_EVENT_MAX_ATTEMPTS", 10, click.IntRange(min=1),
         "Failed deliveries of an event (or e-mail) to one sink before it is marked dead; "
         "retries wait 1 s, 2 s, 4 s, ... at most 60 s."),
    ]
    for flag, envvar, default, kind, text in reversed(options):
        func = click.option(flag, envvar=envvar, default=default, show_default=True, type=kind,
                            help=text)(func)
    func = click.option(
        "--eventbridge-source-prefix", envvar="CASEWORK_EVENTBRIDGE_SOURCE_PREFIX", default=None,
        help="Replaces 'aws.' in event sources sent to EventBridge (e.g. casework. gives "
             "casework.support): a real EventBridge refuses sources beginning with aws.; "
             "emulators take AWS's own.")(func)
    func = click.option(
        "--eventbridge-bus", envvar="CASEWORK_EVENTBRIDGE_BUS", default="default",
        show_default=True, help="Event bus name or ARN that PutEvents sends events to.")(func)
    func = click.option(
        "--eventbridge-endpoint", envvar="CASEWORK_EVENTBRIDGE_ENDPOINT", default=None,
        callback=_check_eventbridge_endpoint,
        help="Send case events to EventBridge with PutEvents at this endpoint URL (LocalStack, "
             "moto, ...), or 'aws' for AWS's own endpoint of each event's region; credentials "
             "from the standard AWS chain.")(func)
    func = click.option(
        "--event-webhook-secret", envvar="CASEWORK_EVENT_WEBHOOK_SECRET", default=None,
        help="Sign webhook bodies: X-Casework-Signature: sha256=<HMAC-SHA256 of the body under "
             "this secret, hex>.")(func)
    func = click.option(
        "--event-webhook", "event_webhooks", envvar="CASEWORK_EVENT_WEBHOOK", multiple=True,
        callback=_check_webhooks,
        help="POST every case event as JSON to this http(s) URL (repeatable; in the variable, "
             "separate URLs with spaces).")(func)
    return func


def _check_webhooks(_ctx, _param, urls: tuple[str, ...]) -> tuple[str, ...]:
    for url in urls:
        parsed = urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise _bad("--event-webhook", f"{url!r} is not an http:// or https:// URL")
    return urls


def _check_eventbridge_endpoint(_ctx, _param, endpoint: str | None) -> str | None:
    if endpoint in (None, "aws"):
        return endpoint
    parsed = urlsplit(endpoint)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise _bad("--eventbridge-endpoint", f"{endpoint!r} is neither an http:// or https:// "
                   "URL nor 'aws'")
    return endpoint


def _mail_options(func):
    """``serve`` options of e-mail to the people on a case (support/mail.py); the password
    comes only from CASEWORK_SMTP_PASSWORD, never from the command line."""
    options = [
        ("--smtp-host", {"help": "SMTP server that mails every case communication to the "
                         "case's CC addresses (and agent replies to the account's e-mail); "
                         "mail is off until this is set."}),
        ("--smtp-port", {"default": 0, "show_default": True, "type": click.IntRange(0, 65535),
                         "help": "SMTP port; 0: 25, or 587 with --smtp-starttls, or 465 with "
                         "--smtp-tls."}),
        ("--smtp-starttls", {"is_flag": True, "help": "Upgrade the SMTP connection with "
                             "STARTTLS before anything is sent (usually port 587); a server "
                             "without STARTTLS is an error."}),
        ("--smtp-tls", {"is_flag": True, "help": "Speak TLS from the first byte (SMTPS, "
                        "usually port 465)."}),
        ("--smtp-user", {"help": "SMTP user name; the password is read from "
                         "CASEWORK_SMTP_PASSWORD."}),
        ("--smtp-ca-file", {"type": click.Path(exists=True, dir_okay=False, path_type=Path),
                            "help": "PEM file of CA certificates to trust for the SMTP server "
                            "instead of the system's."}),
        ("--smtp-timeout", {"default": 30.0, "show_default": True,
                            "type": click.FloatRange(min=0.1),
                            "help": "Seconds an SMTP conversation may stall before the attempt "
                            "fails (and is retried)."}),
        ("--mail-from", {"help": "From: of case mail, e.g. 'Support <support@example.com>'; "
                         "default: casework@<this host>."}),
    ]
    for flag, settings in reversed(options):
        envvar = "CASEWORK_" + flag[2:].upper().replace("-", "_")
        func = click.option(flag, envvar=envvar, **settings)(func)
    return func


def _bad(option: str, message: str) -> click.ClickException:
    """A bad setting: one line naming the option, without the usage text."""
    return click.ClickException(f"{option}: {message}")


def _proxies(_ctx, _param, value: str) -> str:
    """``--forwarded-allow-ips``, checked before the server starts."""
    from .wire.http import Proxies

    try:
        Proxies(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    return value


def _database_url(database_url: str) -> URL:
    """The parsed ``--database-url``, or a one-line error for one Casework cannot use."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise _bad("--database-url", "not a database URL (e.g. sqlite:////path/casework.db "
                   "or postgresql+psycopg://user:pw@host/db)") from None
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # Each of the server's connections would get a database of its own.
        raise _bad("--database-url", "an in-memory SQLite database cannot be shared by the "
                   "server's connections; for a throwaway store use `casework serve --ephemeral`")
    return url


def _writable_data_dir(data_dir: Path) -> None:
    """Create the data directory (not its parents), or a one-line error saying why not."""
    where = data_dir.absolute()
    if not data_dir.exists():
        if not data_dir.parent.is_dir():
            raise _bad("--data-dir",
                       f"{where}: the parent directory {where.parent} does not exist")
        try:
            data_dir.mkdir()
        except OSError as error:
            raise _bad("--data-dir", f"cannot create {where}: {error.strerror}") from None
    try:  # a real write: permission bits say nothing to root about a read-only mount
        tempfile.TemporaryFile(dir=data_dir).close()
    except OSError as error:
        raise _bad("--data-dir", f"{where} is not writable: {error.strerror}") from None


@contextmanager
def _database_errors(url: str):
    """Turn a database that cannot be reached or used into a one-line error."""
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        yield
    except ArgumentError as error:  # NoSuchModuleError: an unknown dialect or driver
        raise click.ClickException(f"cannot use the database {shown}: {error}") from None
    except ImportError as error:
        raise click.ClickException(f"cannot use the database {shown}: its driver is not "
                                   f"installed ({error})") from None
    except DBAPIError as error:
        raise click.ClickException(f"cannot open the database {shown}: {_reason(error)}") \
            from None
    except InterruptedLoad as error:
        raise click.ClickException(f"cannot use the database {shown}: {error}") from None


def _reason(error: DBAPIError) -> str:
    """The first line of the driver's own message."""
    text = str(error.orig if error.orig is not None else error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _open_store(data_dir: Path, database_url: str | None, create: bool = False,
                bulk_load: bool = False) -> Store:
    """The existing store named by ``--data-dir``/``--database-url`` (migrated to this version).

    Management commands must work on the store a server uses, so a missing one is an error
    naming where it was looked for, not a new empty store; ``create`` is for ``casework init``.
    """
    settings = Settings(data_dir=data_dir, database_url=database_url)
    if database_url:
        url = _database_url(database_url)
        where = f"the database {url.render_as_string(hide_password=True)}"
        sqlite_file = Path(url.database) if url.get_backend_name() == "sqlite" else None
    else:
        sqlite_file = data_dir / "casework.db"
        where = f"{data_dir.absolute()} (looked for {sqlite_file.absolute()})"
        if create:
            _writable_data_dir(data_dir)
    missing = (f"no Casework store in {where}. Run this where `casework serve` keeps its data, "
               f"or {POINT_ELSEWHERE}; `casework init` creates a new store.")
    if sqlite_file is not None and not create and not sqlite_file.is_file():
        raise click.ClickException(missing)
    if not database_url or datadir.sqlite_path(database_url) is not None:
        datadir.prepare(data_dir, settings.url)  # 0700 directory, 0600 files
    with _database_errors(settings.url):
        store = Store(settings.url, pool_size=2)
        if not create:
            with store.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    raise click.ClickException(missing)
        store.migrate(bulk_load=bulk_load)
    return store


def _open_keys(store: Store, data_dir: Path) -> MasterKey:
    """The master key of the store (checked, plaintext secrets sealed); for the commands
    that handle secrets."""
    env_value = os.environ.get(MASTER_KEY_ENV)
    if not env_value:  # the key file lives in the data directory (PostgreSQL too)
        datadir.prepare(data_dir, str(store.url))
    try:
        return open_keys(store, data_dir, env_value)
    except MasterKeyError as error:
        raise click.ClickException(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="casework")
def main() -> None:
    """Casework: self-hosted AWS Support and Amazon Connect Cases.

    `casework serve` runs the server; the other commands manage the store it uses (the one in
    --data-dir, ./casework-data by default, or --database-url), so run them with the same
    settings as the server.
    """
    # Everything Casework writes (database, WAL, attachments, keys, backups) is private.
    datadir.private_umask()


@main.command()
@click.option("--host", envvar="CASEWORK_HOST", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 or :: for every interface).")
@click.option("--port", envvar="CASEWORK_PORT", default=4566, show_default=True,
              type=click.IntRange(0, 65535), help="Port to listen on; 0 picks a free one (the "
              "banner names it).")
@_store_options
@click.option("--ephemeral", envvar="CASEWORK_EPHEMERAL", is_flag=True,
              help="Throwaway store for test suites: SQLite in a new temporary directory that "
              "is removed at exit; --data-dir and --database-url are ignored.")
@click.option("--allow-reset", envvar="CASEWORK_ALLOW_RESET", is_flag=True,
              help="Accept POST /_casework/reset, which deletes all data (for test suites).")
@click.option("--attachment-set-ttl", envvar="CASEWORK_ATTACHMENT_SET_TTL", default=3600,
              show_default=True, type=click.IntRange(min=1),
              help="Seconds an attachment set stays usable.")
@click.option("--threads", envvar="CASEWORK_THREADS", default=8, show_default=True,
              type=click.IntRange(min=1),
              help="PostgreSQL: connections per process for requests' reads, and as many for "
                   "their writes (requests run on the event loop; see store/runner.py). "
                   "SQLite runs reads and writes on the event loop, group-committed by one "
                   "committer thread, and searches on two threads beside it.")
@click.option("--workers", envvar="CASEWORK_WORKERS", default=1, show_default=True,
              type=click.IntRange(min=1),
              help="Server processes sharing the port (each with its own event loop and "
                   "database connections).")
@click.option("--access-log/--no-access-log", envvar="CASEWORK_ACCESS_LOG", default=False,
              show_default=True, help="Log every request: operation, account, status, latency, "
              "request id, and why a signature was refused. Errors are always logged.")
@click.option("--log-format", envvar="CASEWORK_LOG_FORMAT", default="text", show_default=True,
              type=click.Choice(["text", "json"]), help="Log lines as text or JSON objects.")
@click.option("--header-timeout", envvar="CASEWORK_HEADER_TIMEOUT", default=30.0,
              show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a client has to send a request's headers before it is cut off.")
@click.option("--body-timeout", envvar="CASEWORK_BODY_TIMEOUT", default=30.0, show_default=True,
              type=click.FloatRange(min=0.1),
              help="Seconds a request body may stall (no bytes arriving) before it is cut off.")
@click.option("--keep-alive-timeout", envvar="CASEWORK_KEEP_ALIVE_TIMEOUT", default=75.0,
              show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds an idle connection is kept open for its next request; keep it "
              "above a load balancer's idle timeout.")
@click.option("--max-connections", envvar="CASEWORK_MAX_CONNECTIONS", default=4096,
              show_default=True, type=click.IntRange(min=16),
              help="Open connections per process; beyond it the oldest connection still "
              "sending headers, else the one idle longest, is closed.")
@click.option("--forwarded-allow-ips", envvar="CASEWORK_FORWARDED_ALLOW_IPS",
              default="127.0.0.1,::1", show_default=True, callback=_proxies,
              help="Proxies whose X-Forwarded-Proto is believed: addresses or networks, "
              "comma-separated, * for any, or empty for none.")
@click.option("--max-body-memory", envvar="CASEWORK_MAX_BODY_MEMORY", default=256 * 1024 * 1024,
              show_default=True, type=click.IntRange(min=1024 * 1024),
              help="Bytes all request bodies being received may hold together (more: 503).")
@click.option("--log-level", envvar="CASEWORK_LOG_LEVEL", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              help="Server log level.")
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
@click.option("--default-key/--no-default-key", envvar="CASEWORK_DEFAULT_KEY", default=True,
              show_default=True,
              help="Keep the out-of-the-box test/test key; --no-default-key deletes it at start "
                   "(shared deployments).")
@click.option("--faults", envvar="CASEWORK_FAULTS", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON fault-injection rules (errors, latency) for resilience tests; "
                   "re-read when it changes.")
@click.option("--search-drive-limit", envvar="CASEWORK_SEARCH_DRIVE_LIMIT", default=1000,
              show_default=True, type=click.IntRange(min=0),
              help="SearchCases reads and sorts an index answer of at most this many cases, "
                   "and SearchAllRelatedItems the items of the types it filters by when they "
                   "are at most this many; larger ones they walk in sort order.")
@click.option("--search-total-cap", envvar="CASEWORK_SEARCH_TOTAL_CAP", default=10_000,
              show_default=True, type=click.IntRange(min=1),
              help="SearchCases' totalCount is exact up to this many matches, and this number "
                   "beyond.")
@click.option("--search-walk-cases", envvar="CASEWORK_SEARCH_WALK_CASES", default=32_000,
              show_default=True, type=click.IntRange(min=0),
              help="Cases a SearchCases walk tests (about, on SQLite) before, its page not full, "
                   "it sorts its narrowest index answer instead, when that holds at most 100 "
                   "times --search-drive-limit cases; 0: walks run to the end.")
@click.option("--console-session-ttl", envvar="CASEWORK_CONSOLE_SESSION_TTL",
              default=12 * 3600, show_default=True, type=click.IntRange(min=1),
              help="Seconds an agent's console session lasts after signing in.")
@_support_options
@_event_options
@_mail_options
def serve(host, port, data_dir, database_url, ephemeral, **options) -> None:
    """Serve the AWS APIs until SIGTERM or SIGINT (in-flight requests finish first).

    The database is created or migrated on start. The endpoint is printed once the port is
    bound.
    """
    scratch = Path(tempfile.mkdtemp(prefix="casework-")) if ephemeral else None
    try:
        if scratch is not None:
            data_dir, database_url = scratch, None
        _serve(host, port, data_dir, database_url, **options)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _serve(host, port, data_dir, database_url, **options) -> None:
    from uvicorn.supervisors import Multiprocess

    from .app import WORKER_SETTINGS, create_app
    from .faults import Faults, FaultsError
    from .keys import DEFAULT_KEY_ID, DEFAULT_SECRET, find_key
    from .support.catalog import CatalogError, load_catalog
    from .support.mail import PASSWORD_ENV, MailSettingsError
    from .support.mail import check_settings as check_mail_settings
    from .wire.http import GuardedHttpToolsProtocol

    if database_url:
        _database_url(database_url)
    else:
        _writable_data_dir(data_dir)
    listener = _bind(host, port)
    app = None
    try:
        # The real port (--port 0 picks one) is the one presigned URLs fall back to.
        settings = Settings(host=host, port=listener.getsockname()[1], data_dir=data_dir,
                            database_url=database_url,
                            master_key=os.environ.get(MASTER_KEY_ENV),
                            smtp_password=os.environ.get(PASSWORD_ENV) or None, **options)
        try:  # mail settings that could never send stop the start
            check_mail_settings(settings)
        except MailSettingsError as error:
            raise click.ClickException(str(error)) from None
        try:  # a broken operator catalog stops the start, not a request
            load_catalog(settings.catalog)
        except CatalogError as error:
            raise click.ClickException(str(error)) from None
        with _database_errors(settings.url):
            try:
                if settings.workers > 1:
                    # The parent prepares the store (migrations, keys) once; each spawned
                    # process then builds its own app on it.
                    if settings.faults:
                        Faults(settings.faults)  # a bad rules file stops the start here
                    datadir.prepare(settings.data_dir, settings.url)
                    store = Store(settings.url, pool_size=1)
                    store.migrate()
                    master = open_keys(store, settings.data_dir, settings.master_key,
                                       settings.default_key)
                else:
                    app = create_app(settings)
                    store, master = app.store, app.master
            except (MasterKeyError, FaultsError) as error:
                raise click.ClickException(str(error)) from None
            with store.transaction(write=False) as conn:
                default = find_key(conn, master, DEFAULT_KEY_ID)
            if app is None:
                store.dispose()
    except BaseException:
        listener.close()
        raise
    endpoint = _endpoint(host, settings.port)
    url = make_url(settings.url)
    click.echo(f"Casework {__version__} serving AWS Support and Amazon Connect Cases")
    click.echo(f"  endpoint:    {endpoint}   (export AWS_ENDPOINT_URL={endpoint})")
    click.echo(f"  database:    {url.render_as_string(hide_password=True)}")
    if settings.workers > 1:
        click.echo(f"  processes:   {settings.workers}")
    if default is not None and default.secret == DEFAULT_SECRET:  # well known: nothing to keep
        click.echo("  credentials: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
                   "(account 000000000000)")
    else:
        click.echo("  credentials: no default key (`casework keys create` makes keys)")
    click.echo(f"  console:     {endpoint}/console   (`casework agents create EMAIL --all` "
               "makes an agent)")
    if settings.smtp_host:
        sender = settings.mail_from or "casework@<this host>"
        click.echo(f"  mail:        SMTP {settings.smtp_host}, from {sender}")
    for url in settings.event_webhooks:
        signed = ("signed" if settings.event_webhook_secret
                  else "unsigned: no --event-webhook-secret")
        click.echo(f"  events:      webhook {url} ({signed})")
    if settings.eventbridge_endpoint:
        source = (f", sources {settings.eventbridge_source_prefix.rstrip('.')}.*"
                  if settings.eventbridge_source_prefix else "")
        click.echo(f"  events:      EventBridge {settings.eventbridge_endpoint}, bus "
                   f"{settings.eventbridge_bus}{source}")
    common = {"log_level": settings.log_level, "access_log": False, "lifespan": "on",
              "timeout_graceful_shutdown": 30, "http": GuardedHttpToolsProtocol,
              "timeout_keep_alive": settings.keep_alive_timeout,
              # X-Forwarded-Proto is read by the protocol, for the console and API calls alike.
              "proxy_headers": False}
    if settings.workers > 1:
        os.environ[WORKER_SETTINGS] = settings.to_json()
        config = uvicorn.Config("casework.app:worker_app", factory=True,
                                workers=settings.workers, **common)
        Multiprocess(config, sockets=[listener]).run()
        return
    config = uvicorn.Config(app, **common)
    # uvicorn re-raises the signal that stopped it once it has drained; with these handlers in
    # place that re-raise is a no-op, so a graceful stop exits 0.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, lambda *_: None)
    uvicorn.Server(config).run(sockets=[listener])
    app.store.dispose()


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything is announced; a busy port is one line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise _bad("--host", f"cannot listen on {host}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(2048)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use: stop what holds it, or choose "
                "another with --port (0 picks a free one)") from None
        raise click.ClickException(f"cannot listen on {host} port {port}: "
                                   f"{error.strerror}") from None
    listener.set_inheritable(True)  # worker processes may serve the same socket
    return listener


def _endpoint(host: str, port: int) -> str:
    """The URL a client on this machine uses: a wildcard address becomes the loopback."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


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


@main.command()
@_store_options
def init(data_dir, database_url):
    """Create the store (or migrate it to this version) without serving, e.g. to add keys first."""
    store = _open_store(data_dir, database_url, create=True)
    click.echo(f"store ready: {store.url.render_as_string(hide_password=True)}")


@main.group()
def keys() -> None:
    """Access keys: each maps to an account; accounts never see each other's data."""


@keys.command("create")
@_store_options
@click.option("--account", "account_id", required=True, help="12-digit account id.")
@click.option("--email", default=None, help="The account's e-mail (new accounts only).")
@click.option("--access-key-id", default=None, help="Default: a new random AKIA... id.")
@click.option("--secret-access-key", default=None, help="Default: a new random secret.")
@click.option("--principal", default=None,
              help="role/NAME or user/NAME the key speaks for (AWS Support signs "
                   "communications 'NAME (Role) <email>'); default: the account's root user.")
@click.option("--allow", "allow", default=None,
              help="Comma-separated IAM-style action patterns the key may call, e.g. "
                   "'connectcases:Get*,connectcases:List*,support:Describe*'; default: all.")
def keys_create(data_dir, database_url, account_id, email, access_key_id, secret_access_key,
                principal, allow):
    """Create an access key for ACCOUNT (created too if new) and print it.

    The secret is printed this once and kept only sealed with the master key.
    """
    from .keys import check_principal, normalize_allowed
    from .wire.model import load_service

    if len(account_id) != 12 or not account_id.isdigit():
        raise click.BadParameter("must be 12 digits", param_hint="--account")
    if secret_access_key is not None and not 1 <= len(secret_access_key) <= 128:
        raise click.BadParameter("must be 1 to 128 characters", param_hint="--secret-access-key")
    if access_key_id is not None and not (1 <= len(access_key_id) <= 128
                                          and access_key_id.isascii()
                                          and access_key_id.isprintable()
                                          and "/" not in access_key_id
                                          and " " not in access_key_id):
        raise click.BadParameter("must be 1 to 128 printable ASCII characters without '/' or "
                                 "spaces", param_hint="--access-key-id")
    try:
        if principal is not None:
            check_principal(principal)
        if allow is not None:
            allow = normalize_allowed(allow, {
                name: list(load_service(name).operations) for name in ("support", "connectcases")})
    except ValueError as error:
        hint = "--principal" if principal is not None and "role/" in str(error) else "--allow"
        raise click.BadParameter(str(error), param_hint=hint) from None
    alphabet = string.ascii_uppercase + string.digits
    access_key_id = access_key_id or "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret_access_key = secret_access_key or secrets.token_urlsafe(30)[:40]
    store = _open_store(data_dir, database_url)
    master = _open_keys(store, data_dir)
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
            access_key_id=access_key_id, secret_access_key=None,
            secret_sealed=master.seal(access_key_id, secret_access_key),
            account_id=account_id, created_at=now_ms(), principal=principal,
            allowed_actions=allow))
    click.echo(f"AWS_ACCESS_KEY_ID={access_key_id}")
    click.echo(f"AWS_SECRET_ACCESS_KEY={secret_access_key}")
    click.echo(f"# account {account_id}, {principal or 'root user'}, allowed: {allow or '*'}")
    click.echo("# the secret is shown this once; Casework keeps it encrypted")


@keys.command("list")
@_store_options
def keys_list(data_dir, database_url):
    """List access keys: id, account, principal and allowed actions (never secrets)."""
    store = _open_store(data_dir, database_url)
    with store.transaction(write=False) as conn:
        for row in conn.execute(select(access_keys.c.access_key_id, access_keys.c.account_id,
                                       access_keys.c.principal, access_keys.c.allowed_actions)
                                .order_by(access_keys.c.account_id,
                                          access_keys.c.access_key_id)):
            click.echo(f"{row.access_key_id}\t{row.account_id}\t{row.principal or 'root'}\t"
                       f"{row.allowed_actions or '*'}")


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
    from .support.queries import cases as support_queries

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
    from .support.queries import cases as support_queries

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

    from .support.advisor import ResultsError, load_results, parse_results
    from .support.queries import cases as support_queries

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
    """The support side's API under /_casework/support/ for scripts (operator token); people
    use the console (`casework agents`)."""


@agent.command("token")
@_store_options
@click.option("--rotate", is_flag=True, help="Replace the token; the old one stops working.")
def agent_token(data_dir, database_url, rotate):
    """Print the operator token for the agent API (Authorization: Bearer <token>)."""
    from .support.agent import operator_token, rotate_operator_token

    store = _open_store(data_dir, database_url)
    click.echo(rotate_operator_token(store) if rotate else operator_token(store))


@main.group("agents")
def agents_group() -> None:
    """People who sign in to the agent console at /console (not the operator token of
    `casework agent token`, which authenticates scripts calling /_casework/support/)."""


def _agent_password(password_stdin: bool) -> tuple[str, bool]:
    """The password read from stdin (first line), or a new strong one; and whether generated."""
    from .console.passwords import check_chosen, generate_password

    if not password_stdin:
        return generate_password(), True
    password = click.get_text_stream("stdin").readline().rstrip("\r\n")
    try:
        check_chosen(password)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    return password, False


@agents_group.command("create")
@_store_options
@click.argument("email")
@click.option("--accounts", "account_ids", default=None,
              help="Comma-separated 12-digit account ids whose cases the agent sees.")
@click.option("--all", "all_accounts", is_flag=True, help="The agent sees every account.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of stdin (at least 12 characters); "
                   "default: generate a strong one and print it once.")
def agents_create(data_dir, database_url, email, account_ids, all_accounts, password_stdin):
    """Create a console agent who signs in with EMAIL and sees the granted accounts."""
    from .console import agents as console_agents

    if all_accounts == (account_ids is not None):
        raise click.UsageError("give either --accounts ID,... or --all")
    try:
        ids = console_agents.parse_accounts(account_ids)
        if not all_accounts and not ids:
            raise console_agents.AgentError("--accounts names no account")
        password, generated = _agent_password(password_stdin)
        store = _open_store(data_dir, database_url)
        console_agents.create(store, email, ids, all_accounts, password)
    except console_agents.AgentError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"agent {email.strip().lower()} created; accounts: "
               f"{'all' if all_accounts else ','.join(ids)}")
    if generated:
        click.echo(f"password: {password}")
        click.echo("# the password is shown this once; Casework keeps only its scrypt hash")


@agents_group.command("list")
@_store_options
def agents_list(data_dir, database_url):
    """List console agents: e-mail, granted accounts (* for all), and whether locked."""
    from .console import agents as console_agents

    for row in console_agents.listing(_open_store(data_dir, database_url)):
        click.echo(f"{row['email']}\t{row['accounts']}\t{'locked' if row['locked'] else 'ok'}")


@agents_group.command("delete")
@_store_options
@click.argument("email")
def agents_delete(data_dir, database_url, email):
    """Delete a console agent; its sessions end at once."""
    from .console import agents as console_agents

    try:
        console_agents.delete(_open_store(data_dir, database_url), email)
    except console_agents.AgentError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"deleted {email.strip().lower()}")


@agents_group.command("reset-password")
@_store_options
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from the first line of stdin; default: generate one.")
def agents_reset_password(data_dir, database_url, email, password_stdin):
    """Give a console agent a new password; unlocks it and ends its sessions."""
    from .console import agents as console_agents

    password, generated = _agent_password(password_stdin)
    try:
        console_agents.reset_password(_open_store(data_dir, database_url), email, password)
    except console_agents.AgentError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"password of {email.strip().lower()} reset")
    if generated:
        click.echo(f"password: {password}")


@main.group()
def contacts() -> None:
    """The contact registry: the channel and connection time of Amazon Connect contacts.

    Connect Cases reports them on Contact related items; contacts not registered here are
    recorded as VOICE contacts connected when they were linked.
    """


@contacts.command("put")
@_store_options
@click.argument("contact_arn")
@click.option("--account", "account_id", default=None,
              help="The account whose registry holds the contact; default: the ARN's account.")
@click.option("--channel", required=True, help="The contact's channel: VOICE, CHAT, TASK, ...")
@click.option("--connected-at", default=None,
              help="ISO 8601 time the contact connected (naive times are UTC); default: now.")
def contacts_put(data_dir, database_url, contact_arn, account_id, channel, connected_at):
    """Register (or replace) the contact CONTACT_ARN in an account's registry.

    Each account sees only its own registry's contacts on its Contact related items.
    """
    from datetime import UTC, datetime

    from .cases.arns import CONTACT_ARN
    from .cases.queries import contacts as contact_rows

    if not re.fullmatch(CONTACT_ARN, contact_arn):
        raise click.BadParameter("must be arn:aws:connect:<region>:<account>:instance/<id>/"
                                 "contact/<id>", param_hint="CONTACT_ARN")
    account_id = account_id or contact_arn.split(":")[4]
    if len(account_id) != 12 or not account_id.isdigit():
        raise click.BadParameter("must be 12 digits", param_hint="--account")
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
        contact_rows.put(conn, account_id, contact_arn, channel, at_ms)
    connected = datetime.fromtimestamp(at_ms / 1000, UTC).isoformat()
    click.echo(f"{account_id}\t{contact_arn}\t{channel}\t{connected}")


@main.command()
@_store_options
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup(data_dir, database_url, dest):
    """Copy the SQLite data directory into the new directory DEST, while the server runs.

    DEST is a data directory of its own: `casework serve --data-dir DEST` serves the copy.
    The database is copied with SQLite's online backup API (one consistent snapshot), then
    the large attachment files it refers to, and the master key file.
    """
    settings = Settings(data_dir=data_dir, database_url=database_url)
    try:
        done = datadir.backup(data_dir, settings.url, dest)
    except datadir.BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"backed up {data_dir} to {dest}: database, {done['part_files']} attachment "
               f"part file(s)" + (", master key" if done["master_key"] else ""))
    if done["parts_dropped"]:
        click.echo(f"  {done['parts_dropped']} part(s) of unfinished uploads changed during the "
                   "backup and must be uploaded again from the copy")


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

    from .seed import ConnectSeeder, bulk_mode, seed_support, start
    from .store.bulk import StoreInUse

    if len(account_id) != 12 or not account_id.isdigit():
        raise click.BadParameter("must be 12 digits", param_hint="--account")
    # A new store is fine to fill; one whose seed was cut short is finished first.
    store = _open_store(data_dir, database_url, create=True, bulk_load=True)
    try:
        if start(store):
            click.echo("built the indexes of a seed that was cut short")
    except StoreInUse as error:
        store.dispose()
        raise click.ClickException(str(error)) from None
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


@main.group()
def events() -> None:
    """The outbox: case events (and e-mail) waiting for, or done with, delivery."""


@events.command("list")
@_store_options
@click.option("--status", type=click.Choice(["pending", "dead", "delivered"]), default=None,
              help="Only messages in this state; default: all.")
def events_list(data_dir, database_url, status):
    """One line per message and sink, oldest first: id, type, case id, status, attempts,
    sink, and the last error of an undelivered one."""
    from .outbox import queries as outbox_queries

    store = _open_store(data_dir, database_url)
    with store.transaction(write=False) as conn:
        rows = outbox_queries.listing(conn, status)
    for row in rows:
        line = (f"{row.message_id}\t{row.kind}\t{row.case_id or '-'}\t{row.status}\t"
                f"{row.attempts}\t{row.channel}")
        if row.status != "delivered" and row.last_error:
            line += "\t" + " ".join(row.last_error.split())[:200]
        click.echo(line)


@events.command("retry")
@_store_options
@click.argument("message_id", required=False)
@click.option("--dead", is_flag=True, help="Retry every dead message.")
def events_retry(data_dir, database_url, message_id, dead):
    """Deliver MESSAGE_ID (each sink it has not reached) or every --dead message again now,
    with a fresh count of attempts; a running server picks them up within a second."""
    from .outbox import queries as outbox_queries

    if (message_id is None) == (not dead):
        raise click.UsageError("give a message id or --dead (not both)")
    store = _open_store(data_dir, database_url)
    with store.transaction() as conn:
        count = outbox_queries.retry(conn, now_ms(), message_id=message_id, dead=dead)
    if message_id is not None and not count:
        raise click.ClickException(f"no undelivered message {message_id}")
    click.echo(f"{count} message(s) due for delivery again")


def _show_envvars(command: click.Command) -> None:
    """Every option's help names its CASEWORK_* variable."""
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar:
            param.show_envvar = True
    for sub in getattr(command, "commands", {}).values():
        _show_envvars(sub)


_show_envvars(main)
