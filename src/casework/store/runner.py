"""How request work meets the database: reads in place, writes by group commit.

Measured on the request path (bench/RESULTS.md): handing every request to one of 32 threads,
each checking a connection out of a pool, cost more than the work itself and grew with the
number of clients (GIL contention). So each kind of work goes where the database can use it:

* **SQLite reads** run on the calling thread (the event loop) in a read transaction of a
  connection that thread owns: a primary-key read costs microseconds, and a hand-off to a
  thread would cost more than it. WAL readers never wait for the writer. A read that may take
  long (a search, ``aside``) runs on one of SEARCH_THREADS threads instead, each with its own
  connection: SQLite lets go of the GIL while it works, so the loop serves other requests
  meanwhile. Measured at a million cases: GetCase calls made while searches of 1.1 s ran
  took 1.09 s (p50) when those searches ran on the loop.
* **SQLite writes** are admitted in batches by group commit: one ``BEGIN IMMEDIATE``, each
  request in its own ``SAVEPOINT`` (a failure rolls back only that request), one ``COMMIT`` —
  one fsync acknowledges the whole batch, so ``synchronous=FULL`` durability is kept while
  the fsync's cost is shared. SQLite admits one writer anyway. The requests' statements run
  on the event loop; only ``BEGIN IMMEDIATE`` (which may wait for another process's writer)
  and ``COMMIT`` (the fsync) run in the committer thread. Measured: a writer thread running
  the statements itself took the GIL back from the loop after every statement, and those
  hand-offs cost more CPU than the statements.
* **PostgreSQL** work runs on the event loop too, each job in a greenlet on a connection of its
  own (``store/green.py``): where psycopg would block on the socket, the greenlet hands the
  socket to the loop, which serves other requests meanwhile. The server runs writers
  concurrently and groups their commits itself. A write is one transaction; a read runs in
  autocommit on a connection whose transactions are read-only (under READ COMMITTED every
  statement takes its own snapshot, in a transaction or not, so a BEGIN and a COMMIT would
  only add two round trips). Measured against the pool of threads this replaced, with the
  libpq statements of ``store/pg.py``: 30-52% less server CPU per request (bench/RESULTS.md).

A job is ``fn(conn) -> result``; it runs inside the transaction and must not end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from sqlalchemy import Connection, text

log = logging.getLogger("casework.store")

Job = Callable[[Connection], Any]
# PostgreSQL connections a process keeps beside the runner's: key lookups, background workers.
ENGINE_RESERVE = 4
# How many more connections PostgreSQL would accept from this role into this database now: the
# least of what max_connections (less the superusers' reserve, and PostgreSQL 16's
# reserved_connections, counted as out of reach even for the roles granted them), the role's
# limit and the database's limit leave (a limit of -1 is none; a superuser is bound by
# max_connections only).
_ROOM = """
SELECT least(
    current_setting('max_connections')::int
    - CASE WHEN r.rolsuper THEN 0 ELSE current_setting('superuser_reserved_connections')::int
        + coalesce(current_setting('reserved_connections', true)::int, 0) END
    - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
    CASE WHEN r.rolsuper OR r.rolconnlimit < 0 THEN NULL ELSE r.rolconnlimit
        - (SELECT count(*) FROM pg_stat_activity WHERE usename = current_user) END,
    CASE WHEN r.rolsuper OR d.datconnlimit < 0 THEN NULL ELSE d.datconnlimit
        - (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) END)
FROM pg_roles r, pg_database d
WHERE r.rolname = current_user AND d.datname = current_database()
"""
# SQLite threads for reads that may take long (``Runner.read(aside=True)``): one search can run
# while another is long; each more holds a connection and would share the same cores.
SEARCH_THREADS = 2
MAX_BATCH = 64  # requests one COMMIT may acknowledge; bounds the latency a batch adds
CHECKPOINT_SECONDS = 0.5
# WAL frames (pages) past which the writer lets SQLite start the WAL over (see _begin).
WAL_RESTART_FRAMES = 4096


class _Write:
    __slots__ = ("context", "fn", "future", "rollback")

    def __init__(self, fn: Job, rollback: bool, future, context):
        self.fn, self.rollback, self.future, self.context = fn, rollback, future, context


class Runner:
    """Runs jobs in transactions of ``store`` as the module docstring describes."""

    def __init__(self, store, threads: int = 4):
        self.store = store
        if store.is_sqlite:
            self._reader: Connection | None = None  # the event loop's, for reads
            self._searchers = ThreadPoolExecutor(SEARCH_THREADS,
                                                 thread_name_prefix="casework-search")
            self._searcher = threading.local()  # .conn: each search thread's, for its reads
            self._pending: deque[_Write] = deque()  # writes waiting for the next batch
            self._writing = False  # a batch is between its BEGIN and its COMMIT
            self._idle: asyncio.Event | None = None  # set by close() to hear the last COMMIT
            self._writer: Connection | None = None
            self._committer = ThreadPoolExecutor(1, thread_name_prefix="casework-commit")
            self._restart_wal = False  # set by the checkpoint thread: see _begin
            self._stop = threading.Event()
            threading.Thread(target=self._checkpoint_loop, name="casework-checkpoint",
                             daemon=True).start()
        else:
            from . import green, pg  # need psycopg and greenlet, which SQLite does not

            self._green = green
            self._libpq = pg
            self._pg = {write: _Connections(lambda w=write: self._pg_connection(w), threads,
                                            self._unwatch) for write in (False, True)}

    # ------------------------------------------------------------------ the public face

    async def read(self, fn: Job, aside: bool = False) -> Any:
        """Run ``fn`` in a read-only transaction and return its result; ``aside``: a read
        that may take long (a search), which on SQLite runs beside the event loop."""
        if not self.store.is_sqlite:
            return await self._on_loop(fn, write=False, rollback=False)
        if aside:
            return await asyncio.get_running_loop().run_in_executor(
                self._searchers, contextvars.copy_context().run, self._read_aside, fn)
        return self._run_sqlite_read(self._read_connection(), fn)

    async def write(self, fn: Job, rollback: bool = False) -> Any:
        """Run ``fn`` in a write transaction (rolled back if ``rollback``: dry runs)."""
        if not self.store.is_sqlite:
            return await self._on_loop(fn, write=True, rollback=rollback)
        future = asyncio.get_running_loop().create_future()
        self._pending.append(_Write(fn, rollback, future, contextvars.copy_context()))
        if not self._writing:
            self._writing = True
            self._begin_batch()
        return await future

    def open(self) -> None:
        """Open the PostgreSQL connections before the first request: a connect costs up to a
        tenth of a second here, which the first burst of requests waited for (p99 263 ms on
        one bench row). A connection that cannot be opened now is opened when needed."""
        if not self.store.is_sqlite:
            self._size_to_database()
            # One of each kind in turn: should the database refuse some, both kinds have some.
            kinds = list(self._pg.values())
            while kinds:
                kinds = [connections for connections in kinds if connections.fill_one()]

    def _size_to_database(self) -> None:
        """Fewer connections per kind than ``threads`` when PostgreSQL has no room for them
        (its ``max_connections``, the role's or the database's limit, less what is open),
        leaving ENGINE_RESERVE for the rest of the process: a connection the database refuses
        would fail a key lookup or a background worker."""
        try:
            with self.store.engine.connect() as conn:
                room = conn.execute(text(_ROOM)).scalar()
        except Exception:  # not allowed to read the settings: the pools find out as they grow
            log.warning("could not read PostgreSQL's connection limits", exc_info=True)
            return
        wanted = self._pg[False].size
        each = max(1, min(wanted, (room - ENGINE_RESERVE) // 2))
        if each < wanted:
            log.warning("PostgreSQL has room for %d more connections: %d for reads and %d for "
                        "writes (--threads %d), the rest for key lookups and background work; "
                        "raise max_connections (or the role's connection limit) for more",
                        room, each, each, wanted)
            for connections in self._pg.values():
                connections.size = each

    async def close(self) -> None:
        """Stop, once the batch being written (if any) has committed."""
        if self.store.is_sqlite:
            if self._writing:
                self._idle = asyncio.Event()
                await self._idle.wait()
            self._stop.set()
            self._committer.shutdown(wait=True)
            self._searchers.shutdown(wait=True)
        else:
            for connections in self._pg.values():
                connections.close()

    # ------------------------------------------------------------------ connections

    def _read_connection(self) -> Connection:
        """The event loop's SQLite connection for reads, opened once and kept (no pool
        checkout per job)."""
        if self._reader is None:
            self._reader = self._sqlite_reader()
        return self._reader

    def _read_aside(self, fn: Job) -> Any:
        """Run a read in a search thread, on that thread's connection."""
        conn = getattr(self._searcher, "conn", None)
        if conn is None:
            conn = self._searcher.conn = self._sqlite_reader()
        return self._run_sqlite_read(conn, fn)

    def _sqlite_reader(self) -> Connection:
        """A new SQLite connection for reads only."""
        conn = self.store.engine.connect()
        conn.execution_options(casework_write=False)  # SQLite's begin listener reads it
        # It only reads: a handler registered as a read that tried to write would fail
        # loudly here rather than wait on the writer's lock. (On the driver: through
        # SQLAlchemy the pragma would open a transaction first.)
        conn.connection.driver_connection.execute("PRAGMA query_only=ON")
        return conn

    @staticmethod
    def _run_sqlite_read(conn: Connection, fn: Job) -> Any:
        # BEGIN and COMMIT straight on the driver: through SQLAlchemy they cost as much as the
        # read. A statement run through SQLAlchemy inside joins this transaction (the begin
        # listener sees it open), and then SQLAlchemy's commit ends it.
        raw = conn.connection.driver_connection
        raw.execute("BEGIN")
        try:
            return fn(conn)
        finally:
            if conn.in_transaction():
                conn.rollback()  # a read changes nothing (the connection is query_only)
            else:
                raw.execute("ROLLBACK")

    # ------------------------------------------------------------------ PostgreSQL

    def _pg_connection(self, write: bool) -> Connection:
        """A new connection for the runner's writes, or for its reads (autocommit, and any
        write refused by the server: a read handler that wrote would fail loudly)."""
        conn = self.store.engine.connect()
        if not write:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET SESSION default_transaction_read_only = on")
            conn.commit()
        pgconn = conn.connection.driver_connection.pgconn

        def idle() -> bool:
            try:
                pgconn.consume_input()
            except Exception:
                return False
            return True

        # Remembered: a lost connection no longer tells its socket, which must be unwatched.
        conn.info["casework_socket"] = pgconn.socket
        self._green.watch(asyncio.get_running_loop(), pgconn.socket, idle)
        return conn

    def _unwatch(self, fileno: int) -> None:
        self._green.unwatch(asyncio.get_running_loop(), fileno)

    async def _on_loop(self, fn: Job, write: bool, rollback: bool) -> Any:
        """Run ``fn`` on a free connection of its kind, in a greenlet on the event loop."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        context = contextvars.copy_context()
        connections = self._pg[write]

        def start(conn: Connection) -> None:
            def done(ok: bool, value: Any) -> None:
                connections.release(conn, ok)
                _settle(future, ok, value)

            body = (lambda: _pg_write(conn, fn, rollback, self._libpq)) if write else (
                lambda: _pg_read(conn, fn, self._libpq.forget_queued))
            self._green.run(loop, body, context, done)

        connections.submit(start, lambda error: _settle(future, False, error))
        return await future

    # ------------------------------------------------------------------ group commit

    def _checkpoint_loop(self) -> None:
        """Copy the WAL into the database every CHECKPOINT_SECONDS, beside the writer.

        PASSIVE: it never waits for, nor blocks, readers or the writer; what it cannot copy
        yet it copies next time. Measured: with SQLite's automatic checkpoints, which run
        inside a commit, the p99 latency of writes was several times their median.
        """
        conn = None
        while not self._stop.wait(CHECKPOINT_SECONDS):
            try:
                if conn is None:
                    conn = self.store.engine.raw_connection()
                _, frames, _ = conn.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                self._restart_wal = frames > WAL_RESTART_FRAMES
            except Exception:  # a locked or busy database: try again next time
                log.debug("WAL checkpoint skipped", exc_info=True)

    def _begin_batch(self) -> None:
        """Open the next batch's transaction in the committer thread, then run it here."""
        begun = asyncio.get_running_loop().run_in_executor(self._committer, self._begin)
        begun.add_done_callback(self._run_batch)

    def _begin(self) -> Connection:
        self.store.write_lock.acquire()  # other writers, here and in other processes, wait
        try:
            conn = self._writer
            if conn is None:
                conn = self._writer = self.store.engine.connect()
                conn.execution_options(casework_write=True)
                # The writer never checkpoints the WAL itself (a checkpoint inside a commit
                # stalls every request of the batch): the checkpoint thread does it.
                conn.connection.driver_connection.execute("PRAGMA wal_autocheckpoint=0")
                # Each request of a batch runs in a SAVEPOINT, whose journal of the pages it
                # changes SQLite spills to a temporary file past 64 KiB: a Connect CreateCase
                # wrote that file on every request (its inserts: 84 -> 54 us in memory; the
                # request 394-408 -> 294-337 us of CPU, bench/RESULTS.md run 9). Only here:
                # elsewhere (a migration's CREATE INDEX) temporary data may be large.
                conn.connection.driver_connection.execute("PRAGMA temp_store=MEMORY")
            raw = conn.connection.driver_connection
            if self._restart_wal:
                # SQLite writes the WAL from its start again only when a write transaction
                # begins with every frame copied into the database. Under a steady load
                # the next batch always began before the checkpoint thread had copied the
                # last one, so the WAL grew without end (170 MB in 9 s of CreateCase, and
                # reads look pages up through its whole index). So once it is long, the
                # frames committed since the checkpoint thread's last pass (a few batches)
                # are copied here, between two batches, and this batch starts it over.
                self._restart_wal = False
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            raw.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store.write_lock.release()
            raise
        return conn

    def _run_batch(self, begun: asyncio.Future) -> None:
        batch = [self._pending.popleft() for _ in range(min(MAX_BATCH, len(self._pending)))]
        try:
            conn = begun.result()
        except BaseException as error:  # no transaction could be opened: nothing was written
            log.error("could not begin a write transaction: %s", error)
            self._settle_batch(batch, [(False, error)] * len(batch))
            return
        raw = conn.connection.driver_connection
        try:
            at_end: list[tuple[str, tuple]] = []
            outcomes = [_in_savepoint(raw, conn, job, at_end) for job in batch]
            for sql, params in at_end:
                raw.execute(sql, params)
        except BaseException as error:  # a savepoint could not be undone: drop the batch
            log.exception("write batch of %d requests failed", len(batch))
            outcomes = [(False, error)] * len(batch)
            committed = self._committer.submit(self._end, conn, False)
        else:
            committed = self._committer.submit(self._end, conn, True)
        asyncio.wrap_future(committed).add_done_callback(
            partial(self._committed, batch, outcomes))

    def _end(self, conn: Connection, commit: bool) -> None:
        """COMMIT (or ROLLBACK) the batch's transaction, in the committer thread."""
        try:
            if not commit:
                _rollback(conn)
            elif conn.in_transaction():
                conn.commit()  # SQLAlchemy joined the transaction: it must see it end
            else:
                conn.connection.driver_connection.execute("COMMIT")
        except BaseException:
            log.exception("group commit failed")
            with contextlib.suppress(Exception):
                _rollback(conn)
            raise
        finally:
            self.store.write_lock.release()

    def _committed(self, batch: list[_Write], outcomes: list[tuple[bool, Any]],
                   committed: asyncio.Future) -> None:
        error = committed.exception()
        if error is not None:  # the batch's COMMIT failed: nothing is durable
            outcomes = [(False, error)] * len(batch)
        self._settle_batch(batch, outcomes)

    def _settle_batch(self, batch: list[_Write], outcomes: list[tuple[bool, Any]]) -> None:
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            _settle(job.future, ok, value)
        if self._pending:
            self._begin_batch()
        else:
            self._writing = False
            if self._idle is not None:
                self._idle.set()


def _in_savepoint(raw, conn: Connection, job: _Write,
                  at_end: list[tuple[str, tuple]]) -> tuple[bool, Any]:
    """Run one write in its own savepoint: its failure (or dry run) undoes only its own
    changes, and drops the statements it left for the batch's end (``at_end``). Raises only
    when the savepoint itself cannot be undone."""
    raw.execute("SAVEPOINT job")
    mine = conn.info[_AT_BATCH_END] = []
    try:
        outcome: tuple[bool, Any] = (True, job.context.run(job.fn, conn))
    except Exception as error:
        outcome = (False, error)
    finally:
        del conn.info[_AT_BATCH_END]
    if not outcome[0] or job.rollback:
        raw.execute("ROLLBACK TO job")
    else:
        at_end.extend(mine)
    raw.execute("RELEASE job")
    return outcome


_AT_BATCH_END = "casework_at_batch_end"


def at_batch_end(conn: Connection) -> list[tuple[str, tuple]] | None:
    """Where a job may leave statements to run once every job of its group-commit batch has
    run, before the COMMIT: a list of ``(SQLite SQL, parameters)`` to append to; None when
    ``conn`` is not writing a batch (PostgreSQL, the CLI), where the caller runs them itself
    (on PostgreSQL ``Prepared.defer`` sends them with the transaction's next statement).

    For statements whose effect nothing later in the batch reads, the job's own statements
    and the other jobs' alike, and which cannot fail on their own: such a statement failing
    at the end fails the whole batch. Kept for the search index, whose FTS5 table writes a
    new segment at the end of every savepoint that changed it (one per request), but one per
    transaction for what is written outside any savepoint.
    """
    return conn.info.get(_AT_BATCH_END)


def _rollback(conn: Connection) -> None:
    """Roll back whichever took part: SQLAlchemy (then it rolls the driver back), or the
    driver alone (a no-op when idle; on PostgreSQL it also forgets what was deferred or
    queued, green.GreenConnection)."""
    if conn.in_transaction():
        conn.rollback()
    else:
        conn.connection.driver_connection.rollback()


def _pg_write(conn: Connection, fn: Job, rollback: bool, libpq) -> Any:
    # The transaction is libpq's: store/pg.py sends BEGIN with its first statement and COMMIT
    # with the deferred ones. SQLAlchemy takes part only if the job ran a statement through it
    # (it then began its own bookkeeping); its begin and commit otherwise cost 4% of a request.
    raw = conn.connection.driver_connection
    try:
        if rollback:
            libpq.begin(raw)  # a dry run's statements must not commit on their own (run_alone)
        result = fn(conn)
        if not rollback:
            libpq.commit(raw)
    except BaseException:
        _rollback(conn)
        raise
    if rollback:
        _rollback(conn)
    elif conn.in_transaction():
        conn.commit()  # SQLAlchemy's bookkeeping: the connection is idle already
    return result


def _pg_read(conn: Connection, fn: Job, forget_queued: Callable) -> Any:
    try:
        return fn(conn)
    finally:
        if conn.in_transaction():
            conn.rollback()  # SQLAlchemy's own bookkeeping: in autocommit nothing is sent
        # A read that failed may leave a queued check (or a held error) behind, which must
        # not travel with the next job's statements: nothing rolls an autocommit read back.
        forget_queued(conn.connection.driver_connection)


class _Connections:
    """The runner's PostgreSQL connections of one kind, each running one job at a time.

    Opened as they are first needed, up to ``size``; jobs beyond that wait for one to be
    released, in order.
    """

    def __init__(self, open_connection: Callable[[], Connection], size: int,
                 unwatch: Callable[[int], None]):
        self._open = open_connection
        self._unwatch = unwatch
        self.size = max(1, size)
        self.opened = 0
        self.free: list[Connection] = []
        self.waiting: deque[tuple[Callable[[Connection], None],
                                  Callable[[BaseException], None]]] = deque()

    def submit(self, start: Callable[[Connection], None],
               fail: Callable[[BaseException], None]) -> None:
        """``start(conn)`` on a connection of this kind, now or once one is released;
        ``fail(error)`` if none is open and none can be opened."""
        if self.free:
            start(self.free.pop())
        elif self.opened < self.size:
            self.opened += 1
            try:
                conn = self._open()
            except BaseException as error:
                self.opened -= 1
                if not self.opened:
                    fail(error)
                    return
                # The database refused one more (its max_connections, a role's connection
                # limit): wait for one of those open, and ask for no more.
                log.warning("the database refused a connection (%s); going on with %d",
                            str(error).strip(), self.opened)
                self.size = self.opened
                self.waiting.append((start, fail))
                return
            start(conn)
        else:
            self.waiting.append((start, fail))

    def fill_one(self) -> bool:
        """Open one more connection ahead of need; False once ``size`` are open or the
        database refuses one."""
        if self.opened >= self.size:
            return False
        try:
            conn = self._open()
        except Exception:
            log.warning("could not open a database connection ahead of need", exc_info=True)
            return False
        self.opened += 1
        self.free.append(conn)
        return True

    def release(self, conn: Connection, ok: bool) -> None:
        if not ok and (conn.invalidated or conn.connection.driver_connection.closed):
            # Lost (the server restarted, the network failed): the next job opens another.
            self.opened -= 1
            self._forget(conn)
            if self.waiting:
                self._later(lambda job: self.submit(*job), self.waiting.popleft())
            return
        if self.waiting:
            # Started from the loop, not from inside the job that just ended: a queue of jobs
            # that end without waiting would otherwise nest one call deeper each.
            self._later(self.waiting.popleft()[0], conn)
        else:
            self.free.append(conn)

    @staticmethod
    def _later(fn: Callable, arg: Any) -> None:
        asyncio.get_running_loop().call_soon(fn, arg)

    def close(self) -> None:
        for conn in self.free:
            self._forget(conn)
        self.free.clear()

    def _forget(self, conn: Connection) -> None:
        with contextlib.suppress(Exception):
            self._unwatch(conn.info.pop("casework_socket"))
        with contextlib.suppress(Exception):
            conn.close()


def _settle(future: asyncio.Future, ok: bool, value: Any) -> None:
    if future.done():  # the request was abandoned meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
