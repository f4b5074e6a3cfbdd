"""What every operation handler gets and how handlers are registered.

A handler is a plain synchronous function ``handler(ctx, params) -> dict``: ``params`` are the
validated input members, the returned dict is shaped like the output shape. It runs inside one
database transaction (``ctx.conn``) and raises :class:`~casework.wire.errors.ServiceError` for
AWS errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, bindparam, select

from .config import Settings
from .store.prepared import Prepared, send_queued
from .store.tables import access_keys, accounts
from .tokens import TokenSigner


@dataclass
class Context:
    """One request's view of the world: the caller, the transaction and the settings."""

    conn: Connection
    account_id: str
    access_key_id: str
    region: str  # the region the request was signed for
    settings: Settings
    tokens: TokenSigner
    now: int  # epoch milliseconds, fixed for the whole request
    request: Any = None  # the WireRequest being answered (None off the request path)
    memo: dict[str, Any] = field(default_factory=dict)  # lookups made at most once a request
    # Run once the transaction has committed (not after a rollback or dry run): e.g. waking a
    # background worker, which must not look for the request's rows before they are visible.
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    @property
    def origin(self) -> str | None:
        """``scheme://host`` the client reached (None off the request path): presigned URLs
        name the host the client used."""
        return self.request.origin() if self.request is not None else None

    @cached_property
    def account_email(self) -> str:
        return _ACCOUNT_EMAIL.scalar(self.conn, {"account_id": self.account_id})

    @cached_property
    def key_principal(self) -> str | None:
        """The principal the caller's access key speaks for (None: the account's root user).
        The server primes it from the key it verified the request with (a key's principal is
        fixed when the key is made); elsewhere it is read once."""
        return _KEY_PRINCIPAL.scalar(self.conn, {"key_id": self.access_key_id})


_ACCOUNT_EMAIL = Prepared(select(accounts.c.email).where(
    accounts.c.account_id == bindparam("account_id")))
_KEY_PRINCIPAL = Prepared(select(access_keys.c.principal).where(
    access_keys.c.access_key_id == bindparam("key_id")))
Handler = Callable[[Context, dict], dict]
# guard(ctx, operation name): runs before every handler of its service and may raise
# ServiceError (e.g. a plan check); one place instead of a line in each handler.
Guard = Callable[[Context, str], None]
# start(store, settings) -> a running worker with close(); see Registry.worker.
WorkerStart = Callable[[Any, Settings], Any]


@dataclass(frozen=True)
class Registered:
    handler: Handler
    writes: bool
    name: str = ""
    guards: list[Guard] = field(default_factory=list)
    aside: bool = False  # its read may take long: run beside the event loop (store/runner.py)

    def run(self, ctx: Context, params: dict) -> dict:
        """Run the service's guards, then the handler.

        A guard may queue its read (``Prepared.first_later``) to travel with the handler's
        first statement; its check then runs when that statement returns, or here, before
        the handler's own answer or error counts, if the handler ran none (or its failure
        was held: see ``store.pg.send_deferred``)."""
        for guard in self.guards:
            guard(ctx, self.name)
        try:
            result = self.handler(ctx, params)
        except Exception:
            send_queued(ctx.conn)
            raise
        send_queued(ctx.conn)
        return result


class Registry:
    """The handlers of one service, keyed by operation name."""

    def __init__(self, service: str):
        self.service = service
        self.handlers: dict[str, Registered] = {}
        self.guards: list[Guard] = []
        self.workers: list[WorkerStart] = []

    def guard(self, func: Guard) -> Guard:
        """Register ``func(ctx, operation_name)`` to run before every handler of the service."""
        self.guards.append(func)
        return func

    def worker(self, start: WorkerStart) -> WorkerStart:
        """Register ``start(store, settings)``, called once when the app is built, to start a
        background worker of the service; it returns an object with ``close()``."""
        self.workers.append(start)
        return start

    def operation(self, name: str, *, writes: bool,
                  aside: bool = False) -> Callable[[Handler], Handler]:
        """Register ``name``'s handler; ``writes`` says whether it changes anything,
        ``aside`` whether its read may take long (a search: see ``Runner.read``)."""

        def register(func: Handler) -> Handler:
            if name in self.handlers:
                raise ValueError(f"{self.service} {name} registered twice")
            # The guard list is shared, so guards registered later still apply.
            self.handlers[name] = Registered(func, writes, name, self.guards, aside)
            return func

        return register
