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


def _store_options(func):
    func = click.option("--database-url", envvar="CASEWORK_DATABASE_URL", default=None,
                        help="SQLAlchemy URL; default: SQLite in the data directory.")(func)
    func = click.option("--data-dir", envvar="CASEWORK_DATA_DIR", default="casework-data",
                        show_default=True, type=click.Path(file_okay=False, path_type=Path),
                        help="Where the SQLite database lives.")(func)
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
def serve(host, port, data_dir, database_url, attachment_set_ttl, threads, log_level) -> None:
    """Serve the AWS APIs until SIGTERM or SIGINT (in-flight requests finish first)."""
    from .app import create_app

    settings = Settings(host=host, port=port, data_dir=data_dir, database_url=database_url,
                        attachment_set_ttl=attachment_set_ttl, threads=threads,
                        log_level=log_level)
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
    """Delete an access key; requests signed with it are refused from then on."""
    store = _open_store(data_dir, database_url)
    with store.transaction() as conn:
        gone = conn.execute(delete(access_keys)
                            .where(access_keys.c.access_key_id == access_key_id)).rowcount
    if not gone:
        raise click.ClickException(f"no access key {access_key_id}")
    click.echo(f"deleted {access_key_id}")
