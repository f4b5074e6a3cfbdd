"""How request work meets the database: reads in place, writes by group commit.

Measured on the request path (bench/RESULTS.md): handing every request to one of 32 threads,
each checking a connection out of a pool, cost more than the work itself and grew with the
number of clients (GIL contention). So each kind of work goes where the database can use it:

* **SQLite reads** run on the calling thread (the event loop) in a read transaction of a
  connection that thread owns: a primary-key read costs microseconds, and a hand-off to a
  thread would cost more than it. WAL readers never wait for the writer.
* **SQLite writes** queue for the one writer thread, which admits them in batches: one
  ``BEGIN IMMEDIATE``, each request in its own ``SAVEPOINT`` (a failure rolls back only that
  request), one ``COMMIT`` — one fsync acknowledges the whole batch, so ``synchronous=FULL``
  durability is kept while the fsync's cost is shared. SQLite admits one writer anyway.
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
import queue
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

log = logging.getLogger("casework.store")

Job = Callable[[Connection], Any]
MAX_BATCH = 64  # requests one COMMIT may acknowledge; bounds the latency a batch adds
CHECKPOINT_SECONDS = 0.5


class _Write:
    __slots__ = ("context", "fn", "future", "loop", "rollback")

    def __init__(self, fn: Job, rollback: bool, loop, future, context):
        self.fn, self.rollback, self.loop, self.future, self.context = (
            fn, rollback, loop, future, context)


class Runner:
    """Runs jobs in transactions of ``store`` as the module docstring describes."""

    def __init__(self, store, threads: int = 4):
        self.store = store
        self._local = threading.local()
        if store.is_sqlite:
            self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._write_loop, name="casework-writer",
                                            daemon=True)
            self._writer.start()
            self._stop = threading.Event()
            threading.Thread(target=self._checkpoint_loop, name="casework-checkpoint",
                             daemon=True).start()
        else:
            from . import green, pg  # need psycopg and greenlet, which SQLite does not

            self._green = green
            self._commit = pg.commit
            self._pg = {write: _Connections(lambda w=write: self._pg_connection(w), threads,
                                            self._unwatch) for write in (False, True)}

    # ------------------------------------------------------------------ the public face

    async def read(self, fn: Job) -> Any:
        """Run ``fn`` in a read-only transaction and return its result."""
        if self.store.is_sqlite:
            return self._run_sqlite_read(self._connection(False), fn)
        return await self._on_loop(fn, write=False, rollback=False)

    async def write(self, fn: Job, rollback: bool = False) -> Any:
        """Run ``fn`` in a write transaction (rolled back if ``rollback``: dry runs)."""
        if not self.store.is_sqlite:
            return await self._on_loop(fn, write=True, rollback=rollback)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Write(fn, rollback, loop, future, contextvars.copy_context()))
        return await future

    def close(self) -> None:
        if self.store.is_sqlite:
            self._stop.set()
            self._queue.put(None)
            self._writer.join(timeout=30)
        else:
            for connections in self._pg.values():
                connections.close()

    # ------------------------------------------------------------------ connections

    def _connection(self, write: bool) -> Connection:
        """This thread's own connection, opened once and kept (no pool checkout per job)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.store.engine.connect()
            if self.store.is_sqlite and not write:
                # The event loop's connection only reads: a handler registered as a read that
                # tried to write would fail loudly here rather than wait on the writer's lock.
                conn.exec_driver_sql("PRAGMA query_only=ON")
                conn.commit()
            elif self.store.is_sqlite:
                # The writer never checkpoints the WAL itself (a checkpoint inside a commit
                # stalls every request of the batch): the checkpoint thread does it.
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
                conn.commit()
            # Each thread's connection only ever reads or only ever writes (SQLite's begin
            # listener reads this; PostgreSQL ignores it).
            conn.execution_options(casework_write=write)
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

            body = (lambda: _pg_write(conn, fn, rollback, self._commit)) if write else (
                lambda: _pg_read(conn, fn))
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
                conn.cursor().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except Exception:  # a locked or busy database: try again next time
                log.debug("WAL checkpoint skipped", exc_info=True)

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(item)
            self._commit_batch(batch)

    def _commit_batch(self, batch: list[_Write]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        with self.store.write_lock:
            conn = self._connection(True)
            try:
                trans = conn.begin()
                for job in batch:
                    outcomes.append(self._in_savepoint(conn, job))
                trans.commit()
            except BaseException as error:  # the batch's COMMIT failed: nothing is durable
                log.exception("group commit of %d requests failed", len(batch))
                if conn.in_transaction():
                    conn.rollback()
                outcomes = [(False, error)] * len(batch)
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            job.loop.call_soon_threadsafe(_settle, job.future, ok, value)

    @staticmethod
    def _in_savepoint(conn: Connection, job: _Write) -> tuple[bool, Any]:
        savepoint = conn.begin_nested()
        try:
            result = job.context.run(job.fn, conn)
        except BaseException as error:
            savepoint.rollback()
            return False, error
        if job.rollback:
            savepoint.rollback()
        else:
            savepoint.commit()
        return True, result


def _pg_write(conn: Connection, fn: Job, rollback: bool, commit: Callable) -> Any:
    trans = conn.begin()
    try:
        result = fn(conn)
        if not rollback:
            commit(conn.connection.driver_connection)  # on libpq (store/pg.py)
    except BaseException:
        trans.rollback()
        raise
    if rollback:
        trans.rollback()
    else:
        trans.commit()  # SQLAlchemy's bookkeeping: the connection is idle already
    return result


def _pg_read(conn: Connection, fn: Job) -> Any:
    try:
        return fn(conn)
    finally:
        if conn.in_transaction():
            conn.rollback()  # SQLAlchemy's own bookkeeping: in autocommit nothing is sent


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
        ``fail(error)`` if none can be opened."""
        if self.free:
            start(self.free.pop())
        elif self.opened < self.size:
            self.opened += 1
            try:
                conn = self._open()
            except BaseException as error:
                self.opened -= 1
                fail(error)
                return
            start(conn)
        else:
            self.waiting.append((start, fail))

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
