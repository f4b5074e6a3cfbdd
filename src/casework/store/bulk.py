"""Bulk loads (``casework seed``): offline into a SQLite store, by COPY into PostgreSQL.

PostgreSQL (:class:`PostgresCopyLoad`) takes each batch in one transaction of ``COPY``
statements, the cheapest way into its tables, and keeps every index: the database may be
shared with other processes, which must never see a table without its indexes.

On SQLite a load of a million cases writes tens of millions of index entries; inserted one by
one at random places of B-trees far larger than the page cache they cost a page read and write
each. A bulk load instead:

* takes the database for itself (``locking_mode=EXCLUSIVE``): it refuses to start while any
  other connection (a running server) has the database open, and no server can open it until
  the load ends;
* unless it adds few rows to large tables (``drop_indexes``), records the ``CREATE INDEX``
  statements of the secondary indexes of the tables it fills in the table
  ``casework_bulk_load`` and drops those indexes, in one durable transaction, before writing
  anything;
* appends the rows in large transactions in rollback-journal mode with ``synchronous=OFF``
  (a process that dies loses nothing committed; an operating-system crash or power loss during
  the load may corrupt the database, as it may any SQLite database written without fsync: load
  into a store you can seed again);
* then builds every dropped index once (``CREATE INDEX`` sorts its entries, far faster than
  inserting them one by one), merges each full-text table it filled into one segment (each
  batch wrote segments of its own, which every later search would read one by one), and drops
  ``casework_bulk_load`` in one transaction committed with ``synchronous=FULL``, and returns
  the database to write-ahead logging.

A store whose load was cut short still holds ``casework_bulk_load``: it lacks indexes, so it
must not look complete. ``Store.migrate`` (run by ``casework serve`` and every management
command) refuses such a store, naming the command that finishes it: ``casework seed`` builds
the recorded indexes before it adds anything.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

PENDING = "casework_bulk_load"


class StoreInUse(Exception):
    """Another connection has the database open."""


class InterruptedLoad(RuntimeError):
    """The store holds a bulk load that did not finish."""


def interrupted(dbapi_connection) -> bool:
    """Whether a SQLite database holds an unfinished bulk load."""
    return dbapi_connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (PENDING,)
    ).fetchone() is not None


INTERRUPTED = ("this store holds a bulk load (`casework seed`) that did not finish, and lacks "
               "indexes until it does; run `casework seed` on it (with no cases to add, or "
               "more) to build them")


def _exclusive(conn: sqlite3.Connection, path: str) -> None:
    """Begin an exclusive transaction, or raise ``StoreInUse``."""
    try:
        conn.execute("BEGIN EXCLUSIVE")
    except sqlite3.OperationalError as error:
        if "locked" not in str(error) and "busy" not in str(error):
            raise
        raise StoreInUse(f"the database {path} is in use (is a server running on it?); "
                         "stop it before seeding") from None


def ensure_unused(path: str) -> None:
    """Raise ``StoreInUse`` when another connection has the database open."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.2)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        _exclusive(conn, path)
        conn.execute("ROLLBACK")
    finally:
        conn.close()


class SqliteBulkLoad:
    """One bulk load into the SQLite file of ``path``, into ``tables`` and the FTS5 tables
    ``full_text`` (names)."""

    def __init__(self, path: str, tables: Sequence[str], drop_indexes: bool = True,
                 full_text: Sequence[str] = ()):
        self.path, self.tables, self.drop_indexes = path, list(tables), drop_indexes
        self.full_text = list(full_text)
        self.conn: sqlite3.Connection | None = None

    def __enter__(self) -> SqliteBulkLoad:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=0.2)
        self.conn = conn
        try:
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("PRAGMA foreign_keys=OFF")  # the rows are consistent by construction
            conn.execute(f"PRAGMA cache_size=-{_cache_kib(1_000_000)}")
            conn.execute("PRAGMA synchronous=FULL")
            _exclusive(conn, self.path)
            if self.drop_indexes and not interrupted(conn):
                found = conn.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT "
                    f"NULL AND tbl_name IN ({', '.join('?' * len(self.tables))}) ORDER BY name",
                    self.tables).fetchall()
                conn.execute(f"CREATE TABLE {PENDING} (name TEXT PRIMARY KEY, sql TEXT NOT NULL)")
                conn.executemany(f"INSERT INTO {PENDING} (name, sql) VALUES (?, ?)", found)
                for name, _ in found:
                    conn.execute(f'DROP INDEX "{name}"')
            conn.execute("COMMIT")  # on disk before any row is written without fsync
            # A rollback journal rather than the write-ahead log while loading: pages added at
            # the end of the file need no journal, so each is written once (no WAL copy and
            # checkpoint); a process that dies mid-batch leaves a journal that rolls it back.
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=OFF")
        except BaseException:
            conn.close()
            raise
        return self

    def next_seq(self, table: str) -> int:
        return (self.conn.execute(f"SELECT max(seq) FROM {table}").fetchone()[0] or 0) + 1

    def write(self, batches: Sequence[tuple[str, list[tuple]]]) -> None:
        """One transaction: each ``(INSERT statement, rows of its parameters)``."""
        conn = self.conn
        conn.execute("BEGIN")
        try:
            for statement, rows in batches:
                if rows:
                    conn.executemany(statement, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def finish(self) -> None:
        """Build the dropped indexes, merge the full-text tables (a load large enough to drop
        the indexes), end the load, and make it durable."""
        conn = self.conn
        # Each index is one sort: in memory where it fits (a million cases' value index is
        # about 1.5 GB), with a second thread of SQLite's sorter.
        conn.execute(f"PRAGMA cache_size=-{_cache_kib(4_000_000)}")
        conn.execute("PRAGMA threads=2")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN")
        if interrupted(conn):
            for (sql,) in conn.execute(f"SELECT sql FROM {PENDING} ORDER BY name").fetchall():
                conn.execute(sql)
            conn.execute(f"DROP TABLE {PENDING}")
        if self.drop_indexes:
            for name in self.full_text:
                conn.execute(f"INSERT INTO {name} ({name}) VALUES ('optimize')")
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")

    def __exit__(self, *exc) -> None:
        self.conn.close()
        self.conn = None


class PostgresCopyLoad:
    """Batches of rows copied into PostgreSQL, one transaction each (``COPY ... FROM
    STDIN``, text format: psycopg adapts each Python value as an INSERT would). After each
    batch the tables' serials move past the ``seq`` values the rows brought."""

    def __init__(self, store, serial_tables: Sequence[str]):
        self.store, self.serial_tables = store, serial_tables

    def write(self, batches: Sequence[tuple[str, list[tuple]]]) -> None:
        """One transaction: each ``(COPY statement, rows)`` (see :func:`copy_statement`)."""
        with self.store.transaction() as conn:
            for statement, rows in batches:
                copy_rows(conn, statement, rows)
            move_serials(conn, self.serial_tables)

    def finish(self) -> None:
        """Nothing is left to do: each batch was complete when it committed."""


def move_serials(conn, tables: Sequence[str]) -> None:
    """PostgreSQL: move the ``seq`` serial of each of ``tables`` past the values that rows
    brought with them."""
    for table in tables:
        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), "
                             f"(SELECT coalesce(max(seq), 1) FROM {table}))")


def copy_rows(conn, statement: str, rows: list[tuple]) -> None:
    """Send ``rows`` through the ``COPY`` ``statement`` (:func:`copy_statement`) in the
    transaction of ``conn``."""
    if rows:
        with conn.connection.driver_connection.cursor().copy(statement) as copy:
            for row in rows:
                copy.write_row(row)


def copy_statement(table: str, columns: Sequence[str]) -> str:
    """The ``COPY`` of rows holding ``columns`` of ``table``, in order, for
    :meth:`PostgresCopyLoad.write`."""
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"


def _cache_kib(wanted: int) -> int:
    """``wanted`` KiB of page cache, but at most a quarter of the machine's memory: beyond
    what fits, SQLite's sorter spills to temporary files instead of failing."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
    except (ValueError, OSError):
        return wanted
    return max(2_000, min(wanted, physical // 4))
