"""The outbox's parts every channel and every writer shares: channels, enqueue, the retry rule."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from ..store.prepared import Inserter
from .tables import PENDING, outbox

FIRST_RETRY_MS = 1_000  # the first retry waits 1 s; each next one twice as long ...
MAX_RETRY_MS = 60_000  # ... but never more than 60 s
DEFAULT_MAX_ATTEMPTS = 10  # deliveries tried before a message is dead (--event-max-attempts)

# The groups of channels a writer addresses: every configured channel of the group gets a row.
EVENTS = "events"  # case events: webhooks, EventBridge
MAIL = "mail"


class PermanentFailure(Exception):
    """Raised by :meth:`Channel.deliver` when retrying cannot help (the receiver refused the
    message itself): the row is marked dead at once."""


@dataclass(frozen=True)
class Message:
    """One row being delivered to one channel."""

    seq: int
    message_id: str
    channel: str
    account_id: str
    case_id: str | None
    kind: str
    payload: str  # JSON text, as enqueued
    attempts: int  # failed deliveries so far

    def data(self) -> Any:
        return orjson.loads(self.payload)


class Channel:
    """A sink messages are delivered to. Subclasses set ``name`` (unique, stored with each row,
    e.g. ``webhook:1``) and ``group`` (which messages it takes, e.g. :data:`EVENTS`), and
    implement :meth:`deliver`."""

    name: str
    group: str
    timeout: float = 10.0  # seconds one delivery may take before it counts as failed

    async def deliver(self, message: Message) -> None:
        """Deliver ``message``; return normally once the receiver has it. Raise
        :class:`PermanentFailure` when retrying cannot help, anything else to retry later."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what the channel holds (HTTP connections, ...); called at shutdown."""


# provider(settings) -> the channels those settings configure (often none).
Provider = Callable[[Any], list[Channel]]
_providers: list[Provider] = []
_configured: dict[int, tuple[Any, list[Channel]]] = {}
_lock = threading.Lock()


def channel_provider(provider: Provider) -> Provider:
    """Register ``provider(settings) -> [Channel, ...]`` (a decorator), called once per
    process to build the channels the server's settings configure."""
    _providers.append(provider)
    return provider


def configured_channels(settings) -> list[Channel]:
    """Every channel ``settings`` configure, built once per settings object (so per process)."""
    found = _configured.get(id(settings))
    if found is not None and found[0] is settings:
        return found[1]
    with _lock:
        found = _configured.get(id(settings))
        if found is None or found[0] is not settings:
            channels = [channel for provider in _providers for channel in provider(settings)]
            names = [channel.name for channel in channels]
            if len(set(names)) != len(names):
                raise ValueError(f"outbox channel names must be unique: {names}")
            found = _configured[id(settings)] = (settings, channels)
    return found[1]


def channel_names(settings, group: str) -> tuple[str, ...]:
    """The names of the configured channels of ``group``; empty when none is configured, and
    then writers store nothing."""
    return tuple(channel.name for channel in configured_channels(settings)
                 if channel.group == group)


_insert = Inserter(outbox)


def enqueue(conn: Connection, channels: Iterable[str], *, message_id: str, account_id: str,
            case_id: str | None, kind: str, payload: Any, now: int) -> int:
    """Write one row per channel in the caller's transaction (a handler's ``ctx.conn``);
    returns the number written (0 for no channels: nothing is stored).

    ``payload`` is JSON-able (or JSON text already); the rows are delivered once the
    transaction commits, and never if it rolls back. Call :func:`notify` after the commit
    (``ctx.after_commit``) so this process delivers them at once; :func:`publish` does both.
    """
    written = 0
    text = None
    for channel in channels:
        if text is None:
            text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        _insert(conn, {"message_id": message_id, "channel": channel, "account_id": account_id,
                       "case_id": case_id, "kind": kind, "payload": text, "status": PENDING,
                       "attempts": 0, "next_attempt_at": now, "lease": None,
                       "last_error": None, "created_at": now, "delivered_at": None})
        written += 1
    return written


def publish(ctx, group: str, *, message_id: str, case_id: str | None, kind: str,
            payload: Any, account_id: str | None = None) -> int:
    """:func:`enqueue` for a handler: to every configured channel of ``group``, in the
    request's transaction, with this process's outbox woken once it commits."""
    channels = channel_names(ctx.settings, group)
    if not channels:
        return 0
    written = enqueue(ctx.conn, channels, message_id=message_id,
                      account_id=account_id or ctx.account_id, case_id=case_id, kind=kind,
                      payload=payload, now=ctx.now)
    if notify not in ctx.after_commit:
        ctx.after_commit.append(notify)
    return written


def retry_delay_ms(attempts: int) -> int:
    """How long a message waits after its ``attempts``-th failed delivery: 1 s, 2 s, 4 s, ...,
    at most 60 s."""
    return min(MAX_RETRY_MS, FIRST_RETRY_MS << min(max(attempts - 1, 0), 16))


# The running workers of this process, woken by notify() from any thread.
_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()


def register_waiter(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    _waiters.add((loop, event))


def unregister_waiter(loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
    _waiters.discard((loop, event))


def notify() -> None:
    """Wake this process's outbox worker: rows were committed. Safe from any thread; call it
    only after the commit, or the worker may look before the rows are visible."""
    for loop, event in list(_waiters):
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop has closed
            _waiters.discard((loop, event))
