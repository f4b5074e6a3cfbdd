"""PostgreSQL on the event loop: synchronous handlers, non-blocking round trips.

A handler is a plain synchronous function that calls ``conn.execute`` and reads the rows at
once. To run it without a thread, each job runs in a greenlet on the event loop's thread, on a
psycopg connection of the :class:`GreenConnection` class. Every psycopg operation is a
generator that says which socket event it waits for (psycopg's own design: its blocking and
asyncio connections share these generators); where a blocking connection would wait in
``poll``, this one switches back to the event loop with the file descriptor and the event. The
loop resumes the greenlet when the socket is ready (:func:`run`), and meanwhile serves other
requests, whose jobs wait on other connections.

Outside a job greenlet (CLI commands, background worker threads, start-up) the same connection
class blocks as usual, so that one engine serves both.

Measured against the pool of threads this replaces, together with the libpq statements of
``store/pg.py``: 30-52% less server CPU per PostgreSQL request (bench/RESULTS.md). A wait on the
loop costs about 15 µs more CPU than a blocking one; it buys the overlap of the server's work
with the database's, and no thread or GIL hand-offs.
"""

from __future__ import annotations

import asyncio
import contextvars
import select
from collections.abc import Callable
from typing import Any

import psycopg
from greenlet import getcurrent, greenlet
from psycopg.waiting import READY_R, READY_W, WAIT_R, WAIT_W


class Job(greenlet):
    """A greenlet that runs one job on the event loop; its waits go back to the loop."""


class GreenConnection(psycopg.Connection):
    """A psycopg connection that, inside a :class:`Job`, waits by switching to the loop."""

    def wait(self, gen, interval: float = 0.1, timeout: float | None = None):
        job = getcurrent()
        if type(job) is not Job:
            return super().wait(gen, interval=interval, timeout=timeout)
        try:
            state = next(gen)
            fileno = self.pgconn.socket
            loop = job.parent
            while True:
                # The loop watches ``fileno`` for the events of ``state`` and switches back
                # with the ones that happened.
                state = gen.send(loop.switch((fileno, state)))
        except StopIteration as done:
            return done.value

    # Statements deferred or queued on the connection (store/pg.py ``defer``, ``queue``) go
    # with its COMMIT whichever way it commits, and are forgotten, with a held check error,
    # when it rolls back. A statement run through psycopg's cursor (SQLAlchemy's
    # ``conn.execute``) sends them first, so that it sees what they wrote; a check that fails
    # then is held (``send_deferred``), not raised inside SQLAlchemy.

    def commit(self) -> None:
        state = self.__dict__.get("_casework_pg")
        if state is not None and (state.deferred or state.held is not None):
            from .pg import commit

            commit(self)
        super().commit()

    def cursor(self, *args, **kwargs):
        state = self.__dict__.get("_casework_pg")
        if state is not None and state.deferred:
            from .pg import send_deferred

            send_deferred(self, hold=True)
        return super().cursor(*args, **kwargs)

    def rollback(self) -> None:
        from .pg import forget_queued

        forget_queued(self)
        super().rollback()


def wait(fileno: int, state: int = WAIT_R) -> int:
    """Wait until ``fileno`` is ready for ``state`` (psycopg's ``WAIT_R``, ``WAIT_W`` or
    ``WAIT_RW``); returns what it is ready for (``READY_R``...). In a job, the loop runs other
    work meanwhile."""
    job = getcurrent()
    if type(job) is Job:
        return job.parent.switch((fileno, state))
    # poll, not select: a busy server's sockets may be numbered past select's limit of 1024.
    poller = select.poll()
    poller.register(fileno, (select.POLLIN if state & WAIT_R else 0)
                    | (select.POLLOUT if state & WAIT_W else 0))
    events = 0
    for _fd, happened in poller.poll():
        events |= happened
    # An error or a hang-up counts as readable: the read that follows reports it.
    return ((READY_R if events & (select.POLLIN | select.POLLERR | select.POLLHUP) else 0)
            | (READY_W if events & select.POLLOUT else 0))


def run(loop: asyncio.AbstractEventLoop, body: Callable[[], Any],
        context: contextvars.Context, done: Callable[[bool, Any], None]) -> None:
    """Run ``body()`` in a job greenlet on ``loop``'s thread (the caller's).

    ``done(ok, value)`` is called on the loop when the body has returned (``ok``) or raised
    (``value`` is the exception). It is called whatever happens to the request that wanted the
    result: a job, once started, always runs to its end, so a connection is never left in the
    middle of a round trip.

    Job greenlets are kept and reused: a new one cost a frame stack of its own, allocated from
    the system (``mmap``) and given back at its end, on every request (bench/RESULTS.md).
    """
    job = _idle.pop() if _idle else Job(_serve)
    job.gr_context = context
    job.loop = loop
    job.callback = done
    job.fileno = -1
    job.watching = 0
    _step(job, body)


_idle: list[Job] = []  # job greenlets between two jobs
_DONE = object()  # what a job greenlet hands the loop with its body's outcome


def _serve(body: Callable[[], Any]) -> None:
    """A job greenlet's life: run a body, hand its outcome to the loop, wait for the next."""
    while True:
        try:
            outcome = (_DONE, True, body())
        except BaseException as error:  # handed to done(); a greenlet must not raise to the loop
            outcome = (_DONE, False, error)
        body = getcurrent().parent.switch(outcome)


# Sockets the loop watches for good (the runner's own connections), each with the job waiting
# to read it, if any: one epoll registration per connection instead of one per round trip.
_watched: dict[int, Job | None] = {}
_MISSING = object()


def watch(loop: asyncio.AbstractEventLoop, fileno: int, idle: Callable[[], bool]) -> None:
    """Watch ``fileno`` for reading until :func:`unwatch`. When it is readable with no job
    waiting (a notice from the server, or the server closed it), ``idle()`` reads what came and
    returns False if the socket is unusable, which ends the watch."""
    _watched[fileno] = None
    loop.add_reader(fileno, _readable, loop, fileno, idle)


def unwatch(loop: asyncio.AbstractEventLoop, fileno: int) -> None:
    if _watched.pop(fileno, _MISSING) is not _MISSING:
        loop.remove_reader(fileno)


def _readable(loop: asyncio.AbstractEventLoop, fileno: int, idle: Callable[[], bool]) -> None:
    job = _watched.get(fileno)
    if job is not None:
        _ready(job, READY_R)
    elif not idle():
        unwatch(loop, fileno)


def _step(job: Job, value: Any) -> None:
    """Switch into ``job`` with ``value``; on its next wait, watch its socket."""
    request = job.switch(value)
    if request[0] is _DONE:
        callback = job.callback
        job.callback = None
        job.gr_context = None  # the request's context is not kept alive by an idle job
        _idle.append(job)
        callback(request[1], request[2])
        return
    fileno, state = request
    job.fileno = fileno
    job.watching = state
    if state & WAIT_R:
        if fileno in _watched:
            _watched[fileno] = job
        else:
            job.loop.add_reader(fileno, _ready, job, READY_R)
    if state & WAIT_W:
        job.loop.add_writer(fileno, _ready, job, READY_W)


def _ready(job: Job, ready: int) -> None:
    loop, fileno, state = job.loop, job.fileno, job.watching
    if not state:
        return  # woken already, by the other of the two events it waited for
    job.watching = 0
    if state & WAIT_R:
        watcher = _watched.get(fileno, _MISSING)
        if watcher is job:
            _watched[fileno] = None  # the socket stays watched, for the next job
        elif watcher is _MISSING:
            loop.remove_reader(fileno)
    if state & WAIT_W:
        loop.remove_writer(fileno)
    _step(job, ready)
