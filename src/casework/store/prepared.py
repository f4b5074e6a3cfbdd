"""Statements written once in SQLAlchemy Core, compiled once per dialect, run on the DB-API.

Running a prebuilt statement through SQLAlchemy's ``Connection.execute`` costs about 90 µs on
this project's hot paths (cache key, execution context, result metadata), while the same SQL on
the driver's cursor costs under 10 µs: more than everything else a request does. A
:class:`Prepared` statement keeps what SQLAlchemy is good at (one dialect-neutral definition,
bind and result type processing) and skips the per-call machinery. It runs inside the
transaction the caller's SQLAlchemy ``Connection`` has begun, on its DB-API connection.

Use it for the statements of the hottest operations; everything else stays plain
``conn.execute``. Errors are the driver's own (``sqlite3.IntegrityError``, ...), so a caller that
catches SQLAlchemy's exceptions keeps using ``conn.execute``.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.sql import ClauseElement

_REQUIRED = object()
_pg: Any = None  # store.pg, once a statement for PostgreSQL is compiled


class _Compiled:
    """One statement in one dialect: SQL text, how to build its parameters, how to read rows."""

    __slots__ = ("_compiled", "_defaults", "_dollar", "_processors", "_takes", "columns",
                 "expanding", "named", "plan", "postgresql", "processors", "row", "sql",
                 "variants")

    def __init__(self, statement: ClauseElement, dialect):
        compiled = statement.compile(dialect=dialect)
        if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch",
                                                                 None):
            raise ValueError("Prepared statements take every value as a parameter "
                             "(column defaults that run in Python are not applied)")
        self.named = not compiled.positional
        self.expanding = [compiled.bind_names[bind]
                          for bind in getattr(compiled, "post_compile_params", ())]
        self.variants: dict[tuple[int, ...], tuple[str, list]] = {}
        self._compiled = compiled
        defaults = {name: (bind.value if not bind.required and bind.callable is None
                           else _REQUIRED) for bind, name in compiled.bind_names.items()}
        self._defaults = defaults
        self._processors = compiled._bind_processors
        if not self.expanding:
            names = (compiled.positiontup if compiled.positional
                     else list(compiled.bind_names.values()))
            self.sql = compiled.string
            self.plan = self._plan(names)
        self.columns = compiled._result_columns
        # Result processors need the driver's type codes (PostgreSQL's numeric types), so
        # they are worked out from the first result (``processors_for``).
        self.processors: list | None = None
        self.row = (namedtuple("Row", [col[0] for col in self.columns], rename=True)
                    if self.columns else None)
        # PostgreSQL runs on libpq directly (store/pg.py), which takes $n parameters.
        self.postgresql = dialect.name == "postgresql" and dialect.driver == "psycopg"
        if self.postgresql:
            global _pg
            from . import pg as _pg  # psycopg is there: this is its dialect
        self._dollar: dict[str, tuple[bytes, list[int]]] = {}
        self._takes: dict[tuple[str, ...], tuple[bytes, list[int], list]] = {}

    def dollar(self, sql: str, plan: list, values: list) -> tuple[bytes, list]:
        """``sql`` with ``$n`` parameters, and ``values`` (in plan order) in ``$n`` order."""
        found = self._dollar.get(sql)
        if found is None:
            found = self._dollar[sql] = _to_dollar(sql, [entry[0] for entry in plan])
        text, order = found
        return text, [values[i] for i in order]

    def positional(self, names: tuple[str, ...]) -> tuple[bytes, list[int], list]:
        """For values given as one list in the order of ``names`` (PostgreSQL, no IN lists):
        the ``$n`` SQL, the list index of each ``$n``'s value, and the ``($n index,
        processor)`` pairs to apply."""
        found = self._takes.get(names)
        if found is None:
            where = {name: i for i, name in enumerate(names)}
            # dollar() of the plan's own positions: the plan entry of each $n.
            text, order = self.dollar(self.sql, self.plan, list(range(len(self.plan))))
            entries = [self.plan[i] for i in order]
            found = self._takes[names] = (
                text, [where[entry[1]] for entry in entries],
                [(n, entry[4]) for n, entry in enumerate(entries) if entry[4] is not None])
        return found

    def processors_for(self, description, dialect) -> list:
        """The (column index, processor) pairs of this statement's result columns."""
        if self.processors is None:
            codes = [entry[1] for entry in description or ()] or [None] * len(self.columns)
            self.processors = [
                (i, proc) for i, (col, code) in enumerate(zip(self.columns, codes, strict=False))
                if (proc := col[3]._cached_result_processor(dialect, code)) is not None]
        return self.processors

    def _plan(self, names, base_of=None) -> list:
        """(parameter name in the SQL, caller's name, list index or None, default, processor)."""
        plan = []
        for name in names:
            source, index = (base_of or {}).get(name, (name, None))
            plan.append((name, source, index, self._defaults.get(source, _REQUIRED),
                         self._processors.get(source)))
        return plan

    def sql_and_plan(self, params: dict) -> tuple[str, list]:
        if not self.expanding:
            return self.sql, self.plan
        # An IN list is given by the caller, or fixed in the statement (its default).
        lists = {name: params[name] if name in params else self._defaults[name]
                 for name in self.expanding}
        key = tuple(len(values) for values in lists.values())
        variant = self.variants.get(key)
        if variant is None:
            sample = {**{n: v for n, v in self._defaults.items() if v is not _REQUIRED},
                      **params, **lists}
            state = self._compiled.construct_expanded_state(sample)
            base_of = {f"{name}_{i + 1}": (name, i) for name, values in lists.items()
                       for i in range(len(values))}
            names = state.positiontup if not self.named else list(state.parameters)
            variant = self.variants[key] = (state.statement, self._plan(names, base_of))
        return variant


_PYFORMAT = re.compile(r"%%|%\(([^)]+)\)s")


def _to_dollar(sql: str, names: list[str]) -> tuple[bytes, list[int]]:
    """Turn psycopg's ``%(name)s`` placeholders into libpq's ``$n`` (the same name, the same
    ``$n``); returns the SQL and, for each ``$n``, the index of its value in ``names``."""
    first = {}
    for i, name in enumerate(names):
        first.setdefault(name, i)
    order: list[int] = []
    number: dict[str, int] = {}

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in number:
            order.append(first[name])
            number[name] = len(order)
        return f"${number[name]}"

    return _PYFORMAT.sub(replace, sql).encode(), order


class Prepared:
    """A statement run on the DB-API connection of the caller's transaction."""

    __slots__ = ("_by_dialect", "statement")

    def __init__(self, statement: ClauseElement | Callable[[str], ClauseElement]):
        """``statement``, or a function of the dialect name that returns it, for the few
        statements (upserts) whose construct is dialect-specific."""
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect) -> _Compiled:
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            statement = self.statement
            if callable(statement) and not isinstance(statement, ClauseElement):
                statement = statement(dialect.name)
            compiled = self._by_dialect[dialect.name] = _Compiled(statement, dialect)
        return compiled

    def _cursor(self, conn: Connection, params: dict, defer: bool = False, then=None,
                alone: bool = False):
        compiled = self._compiled(conn.dialect)
        sql, plan = compiled.sql_and_plan(params)
        values = []
        for _name, source, index, default, processor in plan:
            value = params.get(source, default)
            if value is _REQUIRED:
                raise KeyError(f"statement parameter {source!r} not given")
            if index is not None:
                value = value[index]
            if processor is not None and value is not None:
                value = processor(value)
            values.append(value)
        raw = conn.connection.driver_connection
        if compiled.postgresql:
            if then is not None:
                return compiled, _pg.queue(raw, *compiled.dollar(sql, plan, values), then)
            run = _pg.defer if defer else _pg.execute_alone if alone else _pg.execute
            return compiled, run(raw, *compiled.dollar(sql, plan, values))
        if compiled.named:
            values = {entry[0]: v for entry, v in zip(plan, values, strict=True)}
        return compiled, raw.execute(sql, values)

    def _rows(self, compiled: _Compiled, fetched: list, cursor, conn: Connection) -> list:
        make = compiled.row._make
        processors = compiled.processors
        if processors is None:
            processors = compiled.processors_for(cursor.description, conn.dialect)
        if not processors:
            return [make(r) for r in fetched]
        out = []
        for r in fetched:
            r = list(r)
            for i, proc in processors:
                r[i] = proc(r[i])
            out.append(make(r))
        return out

    @staticmethod
    def _direct(compiled: _Compiled, cursor, conn: Connection) -> bool:
        """Whether the rows can be made by the driver itself (PostgreSQL's row loaders build
        the namedtuples directly when no column needs a result processor)."""
        if not compiled.postgresql:
            return False
        processors = compiled.processors
        if processors is None:
            processors = compiled.processors_for(cursor.description, conn.dialect)
        return not processors

    def all(self, conn: Connection, params: dict | None = None) -> list:
        """Every row (namedtuples: attribute and index access, like SQLAlchemy's rows)."""
        compiled, cursor = self._cursor(conn, params or {})
        if self._direct(compiled, cursor, conn):
            return cursor.fetchall(compiled.row._make)
        return self._rows(compiled, cursor.fetchall(), cursor, conn)

    def first(self, conn: Connection, params: dict | None = None) -> Any:
        """The first row, or None."""
        return self._first(conn, *self._cursor(conn, params or {}))

    def _first(self, conn: Connection, compiled: _Compiled, cursor) -> Any:
        if self._direct(compiled, cursor, conn):
            return cursor.fetchone(compiled.row._make)
        row = cursor.fetchone()
        return None if row is None else self._rows(compiled, [row], cursor, conn)[0]

    def first_later(self, conn: Connection, params: dict,
                    check: Callable[[Any], Any] | None = None) -> Later:
        """The first row (or None), read with the transaction's next statement: on
        PostgreSQL the statement waits and travels with that one (``store.pg.queue``), one
        round trip less; on SQLite it runs now. ``check(row)``, if given, runs as soon as
        the row arrives, before that next statement returns, and its result is the value:
        a check that raises ends the request in the order the statements were written."""
        compiled = self._compiled(conn.dialect)
        later = Later(conn)

        def arrived(cursor) -> None:
            row = self._first(conn, compiled, cursor)
            later.value = row if check is None else check(row)
            later.arrived = True

        if compiled.postgresql:
            self._cursor(conn, params, then=arrived)
        else:
            arrived(self._cursor(conn, params)[1])
        return later

    def scalar(self, conn: Connection, params: dict | None = None) -> Any:
        """The first column of the first row, or None."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def run(self, conn: Connection, params: dict | None = None) -> int:
        """Execute a statement without result rows; returns the row count."""
        return self._cursor(conn, params or {})[1].rowcount

    def run_alone(self, conn: Connection, params: dict | None = None) -> int:
        """Execute a write that is the whole of its request when it changes a row: the caller
        writes nothing more after a row count above zero. On PostgreSQL, when the request
        has no transaction open yet, the statement (with the reads queued before it) is its
        own transaction, committed in the same round trip: it must test itself what the
        queued checks test (``store.pg.execute_alone``). What the request runs after it
        begins a new transaction. Elsewhere, and in an open transaction, it is :meth:`run`."""
        return self._cursor(conn, params or {}, alone=True)[1].rowcount

    def defer(self, conn: Connection, params: dict | None = None) -> None:
        """Execute a statement whose result nobody reads. On PostgreSQL it is sent with the
        transaction's next statement or with its COMMIT (``store.pg.defer``): one round trip
        less, and a row lock it takes is held only while the server commits. Its error, if
        any, is raised there and fails the request all the same. On SQLite it runs now."""
        self._cursor(conn, params or {}, defer=True)

    def defer_values(self, conn: Connection, names: tuple[str, ...], values: list) -> None:
        """:meth:`defer` with ``values[i]`` the value of the parameter ``names[i]``: no dict
        of parameters is built, nor looked up one by one (a many-row insert has dozens)."""
        compiled = self._compiled(conn.dialect)
        if not compiled.postgresql or compiled.expanding:
            self.defer(conn, dict(zip(names, values, strict=True)))
            return
        sql, order, processors = compiled.positional(names)
        values = [values[i] for i in order]
        for n, processor in processors:
            if values[n] is not None:
                values[n] = processor(values[n])
        _pg.defer(conn.connection.driver_connection, sql, values)


class Later:
    """A value :meth:`Prepared.first_later` reads with the transaction's next statement."""

    __slots__ = ("arrived", "conn", "value")

    def __init__(self, conn: Connection):
        self.conn, self.value, self.arrived = conn, None, False

    def get(self) -> Any:
        """The value; sends the queued statements now if it has not arrived yet."""
        if not self.arrived:
            send_queued(self.conn)
            if not self.arrived:  # a rollback dropped it, or its check raised before
                raise RuntimeError("a queued read was dropped before its value arrived")
        return self.value


def send_queued(conn: Connection) -> None:
    """Send what :meth:`Prepared.first_later` queued on ``conn`` now, so that every check
    has run, and raise what one raised; nothing to do on SQLite, where they ran at once."""
    if _pg is None or conn.dialect.name != "postgresql":
        return
    raw = conn.connection.driver_connection
    if "_casework_pg" in raw.__dict__:
        _pg.send_checks(raw)


class Inserter:
    """``INSERT`` of row dicts into ``table``: one :class:`Prepared` per set of columns given.

    Columns left out get their scalar Python-side default here, since a :class:`Prepared`
    statement runs no defaults of its own.
    """

    def __init__(self, table: Table, returning=None):
        self.table = table
        self.returning = returning
        self._defaults = {c.name: c.default.arg for c in table.columns
                          if c.default is not None and c.default.is_scalar}
        self._by_columns: dict[frozenset[str], Prepared] = {}

    def __call__(self, conn: Connection, row: dict) -> Any:
        """Insert ``row``; returns the ``returning`` column's value, if one was named."""
        prepared, row = self._prepared(row)
        if self.returning is not None:
            return prepared.scalar(conn, row)
        prepared.run(conn, row)
        return None

    def defer(self, conn: Connection, row: dict) -> None:
        """Insert ``row`` with :meth:`Prepared.defer` (nothing is returned)."""
        prepared, row = self._prepared(row)
        prepared.defer(conn, row)

    def _prepared(self, row: dict) -> tuple[Prepared, dict]:
        if self._defaults.keys() - row.keys():
            row = {**self._defaults, **row}
        key = frozenset(row)
        prepared = self._by_columns.get(key)
        if prepared is None:
            statement = insert(self.table).values({name: bindparam(name) for name in row})
            if self.returning is not None:
                statement = statement.returning(self.returning)
            prepared = self._by_columns[key] = Prepared(statement)
        return prepared, row
