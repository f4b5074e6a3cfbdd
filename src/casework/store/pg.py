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

:func:`defer` queues a statement whose result nobody reads, to be sent with the transaction's
next statement or with its COMMIT: the same work in one round trip less. :func:`queue` does the
same for a statement whose result is wanted, handed to a callback when it arrives.
:func:`execute_alone` runs a request's only write as its whole transaction, committed in the
round trip that runs it.
"""

from __future__ import annotations

from typing import Any

from psycopg import errors
from psycopg.adapt import PyFormat, Transformer
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

    __slots__ = ("counter", "deferred", "encoding", "formats", "held", "names", "tx")

    def __init__(self, raw):
        self.tx = Transformer(raw)
        self.names: dict[tuple, bytes] = {}
        self.counter = 0  # names are never reused: a failed request may have prepared one
        self.encoding = raw.info.encoding
        self.formats: dict[int, list] = {}
        # Statements to send with the next one (defer, queue): (statement, then or None).
        self.deferred: list[tuple] = []
        self.held: BaseException | None = None  # what a ``then`` raised: see send_deferred


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


def _state(raw) -> _State:
    state = raw.__dict__.get("_casework_pg")
    if state is None:
        state = raw._casework_pg = _State(raw)
    return state


def _statement(state: _State, sql: bytes, values: list) -> tuple:
    """``(key, sql, types, params, formats)``: the statement with its parameters dumped."""
    tx = state.tx
    formats = state.formats.get(len(values))
    if formats is None:
        formats = state.formats[len(values)] = [_AUTO] * len(values)
    params = tx.dump_sequence(values, formats)
    types = tx.types or ()
    return (sql, types), sql, types, params, tx.formats  # dump_sequence makes new lists


def execute(raw, sql: bytes, values: list) -> Result:
    """Run ``sql`` (``$n`` parameters) with ``values`` on the psycopg connection ``raw``.

    Statements deferred or queued on the connection (:func:`defer`, :func:`queue`) travel
    in the same round trip, before this one. An error a check raised while held
    (:func:`send_deferred`) is raised here, before this statement is sent."""
    state = _state(raw)
    if state.held is not None:
        _raise_held(state)
    statement = _statement(state, sql, values)
    name = state.names.get(statement[0])
    pgconn = raw.pgconn
    begin = not raw.autocommit and pgconn.transaction_status == _IDLE
    if name is None or begin or state.deferred:
        statements = [*state.deferred, (statement, None)]
        state.deferred.clear()
        result = _pipeline(raw, state, begin, statements, commit=False)
    else:
        pgconn.send_query_prepared(name, statement[3], param_formats=statement[4])
        _flush(pgconn)
        result = _one(pgconn)
        if result.status == _FATAL:
            _raise(state, result)
    return Result(result, state.tx)


def execute_alone(raw, sql: bytes, values: list) -> Result:
    """Run ``sql`` as a transaction of its own when ``raw`` has none open: it is sent with
    the statements queued on ``raw`` and no BEGIN, and the server commits them all in the
    same round trip (an implicit transaction, ended by the pipeline's sync).

    A queued check (:func:`queue`) is therefore decided after the commit: ``sql`` must test
    itself what the checks test, and change nothing when they would fail. When it changed
    rows, its own tests passed, a moment after the checks read: the request took effect, and
    a check that failed meanwhile (its data changed in between) is dropped. Otherwise what a
    check raised is held for the next statement (:func:`send_deferred`). In an open
    transaction it runs as :func:`execute` runs it. Statements after it begin a new
    transaction."""
    state = _state(raw)
    if state.held is not None or raw.pgconn.transaction_status != _IDLE:
        return execute(raw, sql, values)
    statement = _statement(state, sql, values)
    statements = [*state.deferred, (statement, None)]
    state.deferred.clear()
    result = _pipeline(raw, state, False, statements, commit=False, hold=True)
    if result.command_tuples:
        state.held = None
    return Result(result, state.tx)


def begin(raw) -> None:
    """Open a transaction on ``raw`` now, so that no statement of the job commits on its own
    (:func:`execute_alone`): a dry run's, which is rolled back whatever it ran."""
    if raw.pgconn.transaction_status == _IDLE:
        _command(raw, b"BEGIN")


def defer(raw, sql: bytes, values: list) -> None:
    """Queue ``sql`` to be sent with the transaction's next statement, or with its COMMIT
    (:func:`commit`): the same work, one round trip less. For a statement whose result
    nobody reads; its error, if any, is raised by that next statement or by the commit, and
    fails the transaction all the same. A rollback forgets it (``green.GreenConnection``)."""
    state = _state(raw)
    state.deferred.append((_statement(state, sql, values), None))


def queue(raw, sql: bytes, values: list, then) -> None:
    """Queue ``sql`` like :func:`defer`, and call ``then(result)`` with its :class:`Result`
    when it arrives, before the statement it travels with returns. The server runs the queued
    statements first, each on a snapshot of its own (READ COMMITTED), so a read queued after a
    row lock sees what the lock waited for. What ``then`` raises, the statement raises
    instead of its own result or error (the order of errors is the order of the statements),
    or, when psycopg sends them for SQLAlchemy, the next statement that can
    (:func:`send_deferred`'s ``hold``)."""
    state = _state(raw)
    state.deferred.append((_statement(state, sql, values), then))


def send_deferred(raw, commit: bool = False, hold: bool = False) -> None:
    """Send the statements deferred on ``raw`` now, in one round trip (before a statement
    that does not go through :func:`execute`), followed by COMMIT if ``commit`` and no check
    is among them (one that fails must stop the COMMIT: :func:`commit` sends it after them).

    With ``hold`` (psycopg is about to run a statement for SQLAlchemy, which would turn any
    error into its own), what a ``then`` raises is kept rather than raised: the next
    :func:`execute`, or the next call here without ``hold``, raises it."""
    state = _state(raw)
    if state.deferred:
        statements = list(state.deferred)
        state.deferred.clear()
        begin = not raw.autocommit and raw.pgconn.transaction_status == _IDLE
        commit = commit and state.held is None and all(then is None for _, then in statements)
        _pipeline(raw, state, begin, statements, commit=commit, hold=hold)
    if not hold and state.held is not None:
        _raise_held(state)


def _raise_held(state: _State) -> None:
    error, state.held = state.held, None
    raise error


def send_checks(raw) -> None:
    """Send the statements queued on ``raw`` now if one of them has a ``then`` (statements
    only deferred wait for the COMMIT), and raise what a ``then`` raised, held or not."""
    state = _state(raw)
    if any(then is not None for _, then in state.deferred) or state.held is not None:
        send_deferred(raw)


def forget_queued(raw) -> None:
    """Drop what is queued or held on ``raw``: its job is over (a rollback does the same)."""
    state = raw.__dict__.get("_casework_pg")
    if state is not None:
        state.deferred.clear()
        state.held = None


def _raise(state: _State, result) -> None:
    error = errors.error_from_result(result, encoding=state.encoding)
    if error.sqlstate in _STALE:
        state.names.clear()
    raise error


def commit(raw) -> None:
    """COMMIT the transaction open on ``raw``, if any, in one round trip of its own with the
    statements deferred on it; psycopg's ``commit`` (SQLAlchemy's, after this) then finds the
    connection idle and sends nothing."""
    state = raw.__dict__.get("_casework_pg")
    if state is not None and (state.deferred or state.held is not None):
        send_deferred(raw, commit=True)  # raises what a check raised; else may have committed
    if raw.pgconn.transaction_status != _IDLE:
        _command(raw, b"COMMIT")


def _command(raw, command: bytes) -> None:
    """Run a transaction command in a round trip of its own; raise its error, if any."""
    pgconn = raw.pgconn
    pgconn.send_query_params(command, None)
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


def _pipeline(raw, state: _State, begin: bool, statements: list, commit: bool,
              hold: bool = False):
    """In one round trip: BEGIN (if ``begin``), each ``(statement, then)`` (prepared first if
    the connection has not prepared it yet), and COMMIT (if ``commit``).

    Returns the last statement's result. Going through the results in order, it hands each
    to its ``then`` (:func:`queue`; what one raises is kept if ``hold``: see
    :func:`send_deferred`) and raises the first error (the server skips what follows it,
    COMMIT included, and the transaction is left failed, to be rolled back)."""
    pgconn = raw.pgconn
    names = state.names
    prepared: dict[tuple, bytes] = {}
    # Per result to come: (the (key, name) a PREPARE makes, or None; a statement's ``then``,
    # or None).
    expected: list[tuple] = []
    pgconn.enter_pipeline_mode()
    try:
        if begin:
            pgconn.send_query_params(b"BEGIN", None)
            expected.append((None, None))
        for (key, sql, types, params, formats), then in statements:
            name = names.get(key) or prepared.get(key)
            if name is None:
                state.counter += 1
                name = prepared[key] = b"casework_%d" % state.counter
                pgconn.send_prepare(name, sql, param_types=types)
                expected.append(((key, name), None))
            pgconn.send_query_prepared(name, params, param_formats=formats)
            expected.append((None, then))
        if commit:
            pgconn.send_query_params(b"COMMIT", None)
            expected.append((None, None))
        pgconn.pipeline_sync()
        _flush(pgconn)
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
    if len(results) != len(expected):
        raise errors.InternalError(f"{len(results)} results in a pipeline of {len(expected)}")
    # Only a statement the server has prepared is remembered: one skipped after an error
    # is prepared again next time.
    for result, (prepare, _then) in zip(results, expected, strict=True):
        if prepare is not None and result.status != _FATAL and result.status != _ABORTED:
            names[prepare[0]] = prepare[1]
    for result, (_prepare, then) in zip(results, expected, strict=True):
        if result.status == _FATAL:
            _raise(state, result)
        if then is not None and state.held is None:
            try:
                then(Result(result, state.tx))
            except Exception as error:
                if not hold:
                    raise
                state.held = error
    if any(result.status == _ABORTED for result in results):
        raise errors.InternalError("pipeline aborted without an error")
    return results[-2] if commit else results[-1]
