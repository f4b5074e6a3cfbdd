"""Prepared statements on PostgreSQL, run on libpq itself (psycopg's ``pq`` layer).

psycopg's ``Connection.execute`` costs about 30 µs of CPU for a primary-key SELECT (a cursor,
the query parsed for placeholders, prepare-cache bookkeeping, a generator per step); the same
statement sent with ``PQsendQueryPrepared`` and read with psycopg's C row loaders costs about
10 µs (bench/RESULTS.md). A hot request runs several, so :mod:`store.prepared` runs its
statements here:

* each statement is prepared on the server once per connection (``PQprepare``) and then only
  executed: the server plans it once, and the client sends the parameters alone;
* parameters and rows go through psycopg's own adapters (a ``Transformer`` of the
  connection), so values convert exactly as they would through psycopg;
* when a transaction has to begin (a write connection, idle), ``BEGIN`` travels with the
  first statement in one pipeline: one round trip instead of two;
* errors are psycopg's (``psycopg.errors.UniqueViolation``, ...), and the connection's state
  (in a transaction, failed) is libpq's, which psycopg reads too: its ``commit`` and
  ``rollback`` see the transaction begun here.

Waiting for the server goes through :func:`store.green.wait_readable`: on the event loop, it
lets other requests run meanwhile.

:func:`execute_apart` runs a statement in a transaction of its own, for numbers handed out to
concurrent requests (display ids), whose row would otherwise stay locked until each request's
commit had reached the disk: requests then commit one at a time instead of together.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors
from psycopg.adapt import PyFormat, Transformer
from psycopg.conninfo import make_conninfo
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.waiting import READY_R, WAIT_R, WAIT_RW

from .green import wait

_AUTO = PyFormat.AUTO
_FATAL = ExecStatus.FATAL_ERROR
_SYNC = ExecStatus.PIPELINE_SYNC
_ABORTED = ExecStatus.PIPELINE_ABORTED
_IDLE = TransactionStatus.IDLE
# A prepared statement the server no longer knows (DISCARD ALL) or whose result changed
# (the schema changed under it): forget the connection's statements and prepare them anew.
_STALE = {"26000", "0A000"}


class _State:
    """What one connection has prepared, and its adapters."""

    __slots__ = ("counter", "encoding", "formats", "names", "tx")

    def __init__(self, raw):
        self.tx = Transformer(raw)
        self.names: dict[tuple, bytes] = {}
        self.counter = 0  # names are never reused: a failed request may have prepared one
        self.encoding = raw.info.encoding
        self.formats: dict[int, list] = {}


class Result:
    """The rows of one statement, read the way a DB-API cursor's are."""

    __slots__ = ("_next", "_result", "_tx")

    def __init__(self, result, tx):
        self._result, self._tx, self._next = result, tx, 0

    @property
    def description(self) -> list[tuple[None, int]]:
        result = self._result
        return [(None, result.ftype(i)) for i in range(result.nfields)]

    @property
    def rowcount(self) -> int:
        count = self._result.command_tuples
        return -1 if count is None else count

    def fetchall(self, make=tuple) -> list:
        result, start = self._result, self._next
        end = self._next = result.ntuples
        if start >= end:
            return []
        self._tx.set_pgresult(result)
        return self._tx.load_rows(start, end, make)

    def fetchone(self, make=tuple) -> Any:
        result, row = self._result, self._next
        if row >= result.ntuples:
            return None
        self._next = row + 1
        self._tx.set_pgresult(result)
        return self._tx.load_row(row, make)


def execute(raw, sql: bytes, values: list) -> Result:
    """Run ``sql`` (``$n`` parameters) with ``values`` on the psycopg connection ``raw``."""
    state = raw.__dict__.get("_casework_pg")
    if state is None:
        state = raw._casework_pg = _State(raw)
    tx = state.tx
    formats = state.formats.get(len(values))
    if formats is None:
        formats = state.formats[len(values)] = [_AUTO] * len(values)
    params = tx.dump_sequence(values, formats)
    types = tx.types or ()
    key = (sql, types)
    name = state.names.get(key)
    pgconn = raw.pgconn
    begin = not raw.autocommit and pgconn.transaction_status == _IDLE
    if name is None or begin:
        prepare = None
        if name is None:
            state.counter += 1
            name = b"casework_%d" % state.counter
            prepare = (name, sql, types)
        prepared, result = _pipeline(pgconn, begin, prepare, name, params, tx.formats)
        if prepared:
            state.names[key] = name
    else:
        pgconn.send_query_prepared(name, params, param_formats=tx.formats)
        _flush(pgconn)
        result = _one(pgconn)
    if result.status == _FATAL:
        error = errors.error_from_result(result, encoding=state.encoding)
        if error.sqlstate in _STALE:
            state.names.clear()
        raise error
    return Result(result, tx)


# Idle side connections of this process (execute_apart), opened as needed: each serves one
# statement at a time, and a request holds one for a single round trip.
_apart: list = []


def execute_apart(raw, sql: bytes, values: list) -> Result:
    """Run ``sql`` like :func:`execute`, but in a transaction of its own on a side connection
    to ``raw``'s database, committed at once: a row it changes (a counter) is not held locked
    until the caller's transaction ends, so concurrent callers do not queue behind each
    other's commits.

    The side connection commits without waiting for the write-ahead log to reach the disk
    (``synchronous_commit = off``, for this session only). Nothing acknowledged is put at
    risk: the log is written in order, so the caller's own commit, which waits for the disk,
    makes this one durable too; a crash before it loses both, or leaves a number unused. A
    caller whose transaction rolls back leaves its number unused as well.
    """
    for attempt in (1, 2):
        side = _apart.pop() if _apart else _open_apart(raw)
        try:
            result = execute(side, sql, values)
        except psycopg.OperationalError:
            side.close()  # lost (the server restarted): once more on a new connection
            if attempt == 2:
                raise
            continue
        except BaseException:
            _release_apart(side)
            raise
        _release_apart(side)
        return result
    raise AssertionError("unreachable")


def _open_apart(raw):
    # The same server, database and credentials as ``raw`` (libpq's view of its connection,
    # password included), in autocommit.
    options = {opt.keyword.decode(): opt.val.decode() for opt in raw.pgconn.info
               if opt.val is not None and opt.keyword != b"replication"}
    side = type(raw).connect(make_conninfo(**options), autocommit=True, prepare_threshold=None)
    side.execute("SET synchronous_commit = off")
    return side


def _release_apart(side) -> None:
    if side.closed or side.pgconn.transaction_status != _IDLE:
        side.close()
    else:
        _apart.append(side)


def commit(raw) -> None:
    """COMMIT the transaction open on ``raw``, if any, in one round trip of its own; psycopg's
    ``commit`` (SQLAlchemy's, after this) then finds the connection idle and sends nothing."""
    pgconn = raw.pgconn
    if pgconn.transaction_status == _IDLE:
        return
    pgconn.send_query_params(b"COMMIT", None)
    _flush(pgconn)
    result = _one(pgconn)
    if result.status == _FATAL:
        raise errors.error_from_result(result, encoding=raw.info.encoding)


def _flush(pgconn) -> None:
    """Send what libpq holds (psycopg's connections are non-blocking: a long statement may
    not fit in the socket's buffer at once). Replies read meanwhile wait in libpq."""
    while pgconn.flush():
        if wait(pgconn.socket, WAIT_RW) & READY_R:
            pgconn.consume_input()


def _wait(pgconn) -> None:
    """Until a result can be read without blocking. ``is_busy`` parses what libpq has read
    already; the socket is read only once it is readable (one ``recv`` per reply)."""
    while pgconn.is_busy():
        wait(pgconn.socket, WAIT_R)
        pgconn.consume_input()


def _one(pgconn):
    """The result of the one command sent (and the end of its results)."""
    _wait(pgconn)
    result = pgconn.get_result()
    while True:
        _wait(pgconn)
        if pgconn.get_result() is None:
            return result


def _pipeline(pgconn, begin: bool, prepare, name: bytes, params, formats):
    """BEGIN (if ``begin``), PREPARE (if ``prepare``) and the statement, in one round trip.

    Returns whether the statement was prepared, and its result or the first error.
    """
    pgconn.enter_pipeline_mode()
    try:
        if begin:
            pgconn.send_query_params(b"BEGIN", None)
        if prepare:
            pgconn.send_prepare(prepare[0], prepare[1], param_types=prepare[2])
        pgconn.send_query_prepared(name, params, param_formats=formats)
        pgconn.pipeline_sync()
        _flush(pgconn)
        wanted = begin + bool(prepare) + 1
        results = []
        while True:
            _wait(pgconn)
            result = pgconn.get_result()
            if result is None:
                continue
            if result.status == _SYNC:
                break
            results.append(result)
    finally:
        pgconn.exit_pipeline_mode()
    if len(results) != wanted:
        raise errors.InternalError(f"{len(results)} results in a pipeline of {wanted}")
    prepared = bool(prepare) and results[begin].status != _FATAL
    for result in results:
        if result.status == _FATAL:
            return prepared, result
    if results[-1].status == _ABORTED:
        raise errors.InternalError("pipeline aborted without an error")
    return prepared, results[-1]
