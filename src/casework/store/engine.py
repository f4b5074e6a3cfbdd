"""The database engine, one transaction per request, and schema migrations."""

from __future__ import annotations

import fcntl
import os
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, event, select, update
from sqlalchemy.engine import make_url

from . import bulk
from .sql import dialect_insert
from .tables import server_secrets

MIGRATIONS = Path(__file__).parent / "migrations"


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds, the unit every table stores."""
    return time.time_ns() // 1_000_000


class WriterTurn:
    """Whose turn it is to write to a SQLite store, which admits one writer at a time.

    The threads of a process queue on a lock; processes (``serve --workers N``, CLI commands)
    queue on an flock of ``<database>-writer``, which the kernel hands to the next waiter
    when it is let go. Left to SQLite's busy handler, a waiting writer polls in sleeps of up
    to 100 ms, misses the gaps between another process's back-to-back batches, and waited up
    to a second (p99 of CreateCase with ``--workers 2``: 1,270 ms, 35 ms with the flock).
    """

    def __init__(self, database: str | None):
        self._lock = threading.Lock()
        self._path = f"{database}-writer" if database and database != ":memory:" else None
        self._fd: int | None = None

    def acquire(self) -> None:
        self._lock.acquire()
        if self._path is None:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._lock.release()
            raise

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._lock.release()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> WriterTurn:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Store:
    """Owns the engine. Nothing outside ``store/`` needs to know which database it is."""

    def __init__(self, url: str, pool_size: int = 32):
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.write_lock = WriterTurn(self.url.database if self.is_sqlite else None)
        if self.is_sqlite:
            self.engine = create_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=0,
                # Every transaction ends in an explicit commit or rollback, so the pool's own
                # rollback on check-in would only repeat work on every request.
                pool_reset_on_return=None,
                connect_args={"check_same_thread": False, "timeout": 30},
            )
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            # The runner keeps up to ``pool_size`` connections for reads and as many for
            # writes, checked out for good; the pool's overflow is what the rest (key
            # lookups, background workers, the console) draws from.
            self.engine = create_engine(self.url, pool_size=pool_size, max_overflow=pool_size,
                                        pool_pre_ping=True)
            # Its connections wait for the server without blocking when they run on the
            # event loop (store/green.py), and block as usual everywhere else.
            event.listen(self.engine, "do_connect", _green_connect)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Connection]:
        """One transaction: committed when the block ends, rolled back if it raises.

        ``write`` takes SQLite's write lock up front, so that concurrent writers queue
        instead of failing when a read transaction tries to upgrade.
        """
        with self._writer(write), self.engine.connect() as conn:
            conn.execution_options(casework_write=write)
            with conn.begin():
                yield conn

    def _writer(self, write: bool):
        """SQLite admits one writer: writers queue for their turn (:class:`WriterTurn`)
        rather than in SQLite's busy handler, which sleeps in growing steps."""
        if write and self.is_sqlite:
            return self.write_lock
        return nullcontext()

    def migrate(self, bulk_load: bool = False) -> None:
        """Create or upgrade the schema to the newest migration.

        A SQLite store holding a bulk load that did not finish (``store/bulk.py``) lacks
        indexes: refused (``InterruptedLoad``) unless ``bulk_load`` (``casework seed``, which
        finishes it)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as conn:
            # Before any migration: one could need an index the load dropped.
            if (self.is_sqlite and not bulk_load
                    and bulk.interrupted(conn.connection.driver_connection)):
                raise bulk.InterruptedLoad(bulk.INTERRUPTED)
            config.attributes["connection"] = conn
            # Each service owns a branch of migrations; "heads" upgrades them all.
            command.upgrade(config, "heads")
            conn.commit()

    def secret(self, name: str) -> str:
        """A random server secret, created on first use and kept in the database. Processes
        starting together on a new database (``--workers``) all get the one that was stored
        first."""
        stored = select(server_secrets.c.value).where(server_secrets.c.name == name)
        with self.transaction(write=False) as conn:
            value = conn.scalar(stored)
        if value is not None:  # the usual case: no write at start-up
            return value
        with self.transaction() as conn:
            conn.execute(dialect_insert(conn.dialect.name, server_secrets).values(
                name=name, value=secrets.token_hex(32)).on_conflict_do_nothing())
            return conn.scalar(stored)

    def rotate_secret(self, name: str) -> str:
        """Replace a server secret with a new random value and return it."""
        self.secret(name)
        value = secrets.token_hex(32)
        with self.transaction() as conn:
            conn.execute(update(server_secrets).where(server_secrets.c.name == name)
                         .values(value=value))
        return value

    def dispose(self) -> None:
        self.engine.dispose()
        self.write_lock.close()


def _green_connect(_dialect, _record, cargs, cparams):
    from .green import GreenConnection

    # The hot statements are prepared by store/pg.py, on each connection once. psycopg's own
    # automatic preparing is off: it would also DEALLOCATE ALL on every ROLLBACK, theirs and
    # ours, so that each failed write would cost the next requests their prepared statements.
    # JIT compilation is off (unless the URL's ``options`` turn it on again): it pays off for
    # long analytic queries, never for ours, yet a search the planner overestimates (a
    # trigram lookup before ANALYZE has seen the index) crossed jit_above_cost and spent 20 ms
    # compiling a query that ran in 1.
    options = " ".join(filter(None, ("-c jit=off", cparams.get("options"))))
    return GreenConnection.connect(*cargs, **{**cparams, "prepare_threshold": None,
                                              "options": options})


def _sqlite_connect(dbapi_connection, _record) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is lazy).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before the request is acknowledged, even across power loss.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    if conn.connection.driver_connection.in_transaction:
        return  # begun on the driver connection already (store/runner.py)
    write = conn.get_execution_options().get("casework_write", True)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
