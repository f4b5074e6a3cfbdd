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
* **PostgreSQL** work runs on a small pool of threads, each with its own connection and each
  request in its own transaction: the server runs writers concurrently and groups their
  commits itself, and a blocked network round trip must not stall the event loop.

A job is ``fn(conn) -> result``; it runs inside the transaction and must not end it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
            self._pool = ThreadPoolExecutor(threads, thread_name_prefix="casework-db")

    # ------------------------------------------------------------------ the public face

    async def read(self, fn: Job) -> Any:
        """Run ``fn`` in a read-only transaction and return its result."""
        if self.store.is_sqlite:
            return self._run_sqlite_read(self._connection(False), fn)
        return await self._in_pool(fn, write=False, rollback=False)

    async def write(self, fn: Job, rollback: bool = False) -> Any:
        """Run ``fn`` in a write transaction (rolled back if ``rollback``: dry runs)."""
        if not self.store.is_sqlite:
            return await self._in_pool(fn, write=True, rollback=rollback)
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
            self._pool.shutdown(wait=True)

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

    def _run(self, fn: Job, write: bool, rollback: bool) -> Any:
        """Run ``fn`` in its own transaction (PostgreSQL, on a pool thread)."""
        conn = self._connection(write)
        trans = conn.begin()
        try:
            result = fn(conn)
        except BaseException:
            trans.rollback()
            raise
        if rollback:
            trans.rollback()
        else:
            trans.commit()
        return result

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

    async def _in_pool(self, fn: Job, write: bool, rollback: bool) -> Any:
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, context.run, self._run, fn, write, rollback)

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


def _settle(future: asyncio.Future, ok: bool, value: Any) -> None:
    if future.done():  # the request was abandoned meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
