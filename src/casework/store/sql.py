"""Statements that make a read-then-write one atomic statement, on SQLite and PostgreSQL alike.

Both databases spell ``INSERT ... ON CONFLICT`` the same way (SQLite since 3.24, ``RETURNING``
since 3.35), but SQLAlchemy builds it with each dialect's own ``insert``: these helpers pick the
one of the connection, so that the service query modules stay free of dialect names.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.dialects import postgresql, sqlite

from .prepared import Prepared


def dialect_insert(dialect_name: str, table: Table):
    """The ``insert`` construct of the named dialect, which has ``on_conflict_*``."""
    return (postgresql if dialect_name == "postgresql" else sqlite).insert(table)


def _insert(conn: Connection, table: Table):
    return dialect_insert(conn.dialect.name, table)


def upsert(conn: Connection, table: Table, values: dict, conflict: list[str], changes: dict,
           returning=None, where=None):
    """Insert ``values``, or apply ``changes`` to the row that has the same ``conflict``
    columns (only if ``where`` holds, when given), in one statement.

    ``changes`` may refer to the proposed row as ``excluded(table).column`` and to the stored
    one as ``table.c.column``. Returns the ``returning`` column of the row written, or None
    (nothing written because ``where`` did not hold).
    """
    statement = _insert(conn, table).values(**values)
    statement = statement.on_conflict_do_update(index_elements=conflict, set_=changes,
                                                where=where)
    if returning is None:
        conn.execute(statement)
        return None
    return conn.execute(statement.returning(returning)).scalar()


def one_statement_writes(conn: Connection) -> bool:
    """Whether the connection's database writes several tables in one statement
    (PostgreSQL's data-modifying ``WITH``), the rows of one feeding the next; SQLite, whose
    writes run one at a time anyway, takes one statement per table."""
    return conn.dialect.name == "postgresql"


def concurrent_writers(conn: Connection) -> bool:
    """Whether transactions of the connection's database write concurrently (PostgreSQL), so
    that a row every writer updates (a counter) makes them wait for each other's commits;
    SQLite's writers run one at a time anyway."""
    return conn.dialect.name == "postgresql"


def excluded(conn: Connection, table: Table):
    """The proposed row of an upsert (``EXCLUDED``), for use in ``changes``."""
    return _insert(conn, table).excluded


class RowsInserter:
    """``INSERT`` of several rows of ``columns`` into ``table``, each row a tuple in that order.

    SQLite: the driver's ``executemany`` of the one-row statement, with no parameter dict to
    build (measured: six value rows of a Connect case alone, 24 µs against 54 µs for one
    multi-row ``VALUES`` statement through :class:`Prepared`; a whole CreateCase called in a
    loop on one connection, 310 against 315-328 µs). PostgreSQL: one multi-row ``INSERT``, a
    :class:`Prepared` statement per row count, deferred with its values as one list
    (``Prepared.defer_values``): it travels with the transaction's next statement, which sees
    its rows, and its error fails the request there.
    """

    def __init__(self, table: Table, columns: tuple[str, ...]):
        self.table, self.columns = table, columns
        self._sqlite: str | None = None
        self._multi: dict[int, tuple[tuple[str, ...], Prepared]] = {}

    def __call__(self, conn: Connection, rows: list[tuple]) -> None:
        if not rows:
            return
        if conn.dialect.name == "sqlite":
            sql = self._sqlite
            if sql is None:
                compiled = insert(self.table).values(
                    {name: bindparam(name) for name in self.columns}).compile(
                    dialect=conn.dialect)
                if list(compiled.positiontup) != list(self.columns):
                    raise ValueError("unexpected parameter order")
                sql = self._sqlite = compiled.string
            conn.connection.driver_connection.executemany(sql, rows)
            return
        count = len(rows)
        found = self._multi.get(count)
        if found is None:
            names = tuple(f"{name}_{i}" for i in range(count) for name in self.columns)
            found = self._multi[count] = (names, Prepared(insert(self.table).values([
                {name: bindparam(f"{name}_{i}") for name in self.columns}
                for i in range(count)])))
        names, prepared = found
        prepared.defer_values(conn, names, [value for row in rows for value in row])
