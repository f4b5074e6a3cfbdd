"""The outbox worker: one per server process, delivering due rows to the configured channels."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from ..store.engine import now_ms
from . import queries
from .core import (
    DEFAULT_MAX_ATTEMPTS,
    Channel,
    Message,
    PermanentFailure,
    register_waiter,
    retry_delay_ms,
    unregister_waiter,
)

log = logging.getLogger("casework.outbox")

POLL_SECONDS = 1.0  # how often a channel looks for rows other processes wrote, and for retries
BATCH = 32  # rows one claim takes (delivered one after the other)
LEASE_MS = 60_000  # a claimed row is another claimer's again after this (a dead process)


class OutboxWorker:
    """Delivers the outbox's rows: one task per channel on the event loop.

    Each task claims its channel's due rows in a write through the runner (under a lease, see
    :func:`queries.claim`), delivers them in order, each within the channel's timeout, and
    records every outcome in one more write: delivered; or retried after
    :func:`~casework.outbox.core.retry_delay_ms`; or dead after ``max_attempts`` failed
    deliveries, or at once on :class:`PermanentFailure`. It wakes when this process commits
    rows (:func:`~casework.outbox.core.notify`) and polls every ``POLL_SECONDS`` otherwise.
    """

    def __init__(self, runner, channels: list[Channel],
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS):
        self.runner = runner
        self.channels = channels
        self.max_attempts = max_attempts
        self._tasks: list[asyncio.Task] = []
        self._wakes: list[asyncio.Event] = []
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start the channel tasks on the running loop."""
        self._loop = asyncio.get_running_loop()
        for channel in self.channels:
            wake = asyncio.Event()
            wake.set()  # look at once: rows may be waiting from before a restart
            register_waiter(self._loop, wake)
            self._wakes.append(wake)
            self._tasks.append(self._loop.create_task(self._run(channel, wake),
                                                      name=f"outbox {channel.name}"))

    async def close(self) -> None:
        """Stop after the deliveries in flight are recorded, and close the channels."""
        self._stopping = True
        for wake in self._wakes:
            wake.set()
            unregister_waiter(self._loop, wake)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for channel in self.channels:
            try:
                await channel.close()
            except Exception:
                log.exception("closing outbox channel %s failed", channel.name)

    async def _run(self, channel: Channel, wake: asyncio.Event) -> None:
        outcome = None  # the last batch's outcome, recorded with the next claim
        while not self._stopping:
            wake.clear()  # before looking, so a wake during the round is not lost
            try:
                busy, outcome = await self.round(channel, outcome)
            except Exception:  # the database may be briefly away: look again later
                log.exception("outbox channel %s: claiming or recording failed", channel.name)
                busy = False
            if busy or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL_SECONDS)
        if outcome is not None:
            try:
                await self.runner.write(outcome)
            except Exception:  # the rows stay leased: delivered again once the lease ends
                log.exception("outbox channel %s: recording failed", channel.name)

    async def round(self, channel: Channel, outcome=None) -> tuple[bool, object]:
        """Record the previous batch's ``outcome`` (if any) and claim the next batch of
        ``channel``'s due rows in one write, then deliver them; returns whether there were
        any, and the function that records how they went (for the next round).

        The batch is delivered one message after the other, oldest first, so that a
        receiver sees a case's events in the order they happened. When a delivery fails (not
        for good), the rest of the batch is not tried: it waits as long as the failed message
        without an attempt counted, so a sink that is down gets one try per retry, not one per
        message. A batch that runs long (slow answers) stops at half the lease, before
        another process could claim its rows.
        """
        now = now_ms()
        if outcome is None and not await self.runner.read(
                lambda conn: queries.any_due(conn, channel.name, now)):
            return False, None
        lease = secrets.token_hex(16)

        def record_and_claim(conn) -> list[Message]:
            if outcome is not None:
                outcome(conn)
            return queries.claim(conn, channel.name, now, lease, now + LEASE_MS, BATCH)

        messages = await self.runner.write(record_and_claim)
        if not messages:
            return False, None
        outcomes: dict[int, tuple[bool, str] | None] = {}
        started = time.monotonic()
        for message in messages:
            if time.monotonic() - started > LEASE_MS / 2000:
                break
            error = outcomes[message.seq] = await self._deliver(channel, message)
            if error is not None and not error[0]:
                break
        done = now_ms()

        def record(conn) -> None:
            resume_at = done  # when the messages not tried are due again
            for message in messages:
                if message.seq not in outcomes:
                    queries.release(conn, message, lease, resume_at)
                    continue
                error = outcomes[message.seq]
                if error is None:
                    queries.delivered(conn, message, lease, done)
                    continue
                permanent, text = error
                attempts = message.attempts + 1
                retry_at = (None if permanent or attempts >= self.max_attempts
                            else done + retry_delay_ms(attempts))
                if not permanent:
                    resume_at = retry_at if retry_at is not None else done + retry_delay_ms(1)
                queries.failed(conn, message, lease, done, text, retry_at)

        return True, record

    async def _deliver(self, channel: Channel, message: Message) -> tuple[bool, str] | None:
        """None when delivered, else (permanent, error text)."""
        try:
            await asyncio.wait_for(channel.deliver(message), channel.timeout)
        except PermanentFailure as error:
            log.warning("outbox %s: %s %s refused for good: %s", channel.name, message.kind,
                        message.message_id, error)
            return True, str(error) or type(error).__name__
        except TimeoutError:
            return False, f"no answer within {channel.timeout:g} s"
        except Exception as error:
            log.info("outbox %s: delivering %s %s failed (attempt %d): %s", channel.name,
                     message.kind, message.message_id, message.attempts + 1, error)
            return False, str(error) or type(error).__name__
        return None
