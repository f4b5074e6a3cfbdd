"""The runner's PostgreSQL connections of one kind, when the database refuses more of them.

The pool's bookkeeping alone, with stand-ins for connections: a database that refuses a
connection at a chosen moment (another process reaching max_connections after this one sized its
pools) is not something a test can arrange on a shared server. The end-to-end counterpart, a
role with a connection limit, is in ``tests/e2e/test_concurrency.py``.
"""

from __future__ import annotations

import asyncio

from casework.store.runner import _Connections


class Refused(Exception):
    pass


class Stand:
    """A connection stand-in, numbered in the order opened."""

    def __init__(self, number: int):
        self.number = number


def pool(allowed: int, size: int) -> tuple[_Connections, list[int]]:
    """A pool of ``size`` whose database accepts ``allowed`` connections; and the list of
    connection numbers opened."""
    opened: list[int] = []

    def open_connection():
        if len(opened) >= allowed:
            raise Refused("sorry, too many clients already")
        opened.append(len(opened))
        return Stand(len(opened) - 1)

    return _Connections(open_connection, size, lambda fileno: None), opened


def test_a_refused_connection_makes_jobs_wait_for_the_open_ones():
    async def scenario():
        connections, opened = pool(allowed=2, size=8)
        ran: list[tuple[int, int]] = []
        failed: list[BaseException] = []
        held: list[Stand] = []

        def job(number):
            def start(conn):
                ran.append((number, conn.number))
                held.append(conn)
            return start

        for number in range(5):
            connections.submit(job(number), failed.append)
        # Two ran at once on the two connections the database gave; the rest wait for them.
        assert ran == [(0, 0), (1, 1)] and not failed
        assert connections.size == 2 and len(connections.waiting) == 3
        while held:
            connections.release(held.pop(0), ok=True)
            await asyncio.sleep(0)  # a waiting job starts from the loop
        assert [number for number, _ in ran] == [0, 1, 2, 3, 4]
        assert {conn for _, conn in ran} == {0, 1}
        assert not failed and opened == [0, 1]  # no more asked for once refused

    asyncio.run(scenario())


def test_a_job_fails_only_when_no_connection_can_be_opened_at_all():
    connections, _ = pool(allowed=0, size=8)
    failed: list[BaseException] = []
    connections.submit(lambda conn: None, failed.append)
    assert len(failed) == 1 and isinstance(failed[0], Refused)
    assert connections.opened == 0
