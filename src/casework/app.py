"""Builds the ASGI application: the AWS gateway plus Casework's own ``/_casework/`` routes."""

from __future__ import annotations

import time

from sqlalchemy import bindparam, select
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import __version__
from .cases import registry as cases_registry
from .config import Settings
from .handlers import Context, Registered, Registry
from .limits import Limiter
from .store import Store
from .store.engine import now_ms
from .store.tables import access_keys
from .support import registry as support_registry
from .support.agent import AgentApi
from .support.transfer import Transfers, remember_origin
from .tokens import TokenSigner
from .wire.errors import ServiceError
from .wire.gateway import Gateway
from .wire.model import Operation, Service, load_service
from .wire.sigv4 import Principal

SERVICE_NAMES = ("support", "connectcases")
KEY_CACHE_SECONDS = 2.0
_FIND_KEY = (select(access_keys.c.secret_access_key, access_keys.c.account_id)
             .where(access_keys.c.access_key_id == bindparam("key_id")))
REGISTRIES: tuple[Registry, ...] = (support_registry, cases_registry)


def load_services() -> list[Service]:
    """Both botocore models, loaded once per process."""
    return [load_service(name) for name in SERVICE_NAMES]


def handler_table() -> dict[tuple[str, str], Registered]:
    """Every registered handler, keyed by (botocore service name, operation name)."""
    return {
        (registry.service, name): registered
        for registry in REGISTRIES
        for name, registered in registry.handlers.items()
    }


class Casework:
    """The running service: store, models and gateway wired together."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.tokens = TokenSigner(store.secret("pagination-tokens"))
        self.handlers = handler_table()
        self._keys: dict[str, tuple[float, tuple[str, str]]] = {}
        services = load_services()
        # Throttling and per-account call limits, shared through the database (off: free).
        self.limiter = Limiter(store, settings, services)
        self.gateway = Gateway(
            services,
            implemented=set(self.handlers),
            lookup=self.lookup_secret,
            invoke=self.invoke,
            max_body_bytes=settings.max_body_bytes,
            threads=settings.threads,
        )
        # Presigned attachment URLs (AWS Support large files) are served here, not by S3.
        self.transfers = Transfers(settings, store)
        # Background workers the service packages register (Registry.worker), e.g. the one
        # that applies Connect Cases merges; daemon threads whose state lives in the database.
        self.workers = [start(store, settings) for registry in REGISTRIES
                        for start in registry.workers]
        self.console = Starlette(routes=[Route("/_casework/health", self.health),
                                         *self.transfers.routes(),
                                         *AgentApi(store).routes()])

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_casework/"):
            remember_origin(scope)  # presigned URLs name the host the client used
            await self.gateway(scope, receive, send)
        else:
            await self.console(scope, receive, send)

    async def health(self, request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    def lookup_secret(self, access_key_id: str) -> tuple[str, str] | None:
        """The key's (secret, account), remembered for KEY_CACHE_SECONDS.

        Looking a key up costs a transaction, as much as a small operation itself; a deleted
        key therefore keeps working for at most that long. Unknown keys are not remembered, so
        a key created with ``casework keys create`` works at once.
        """
        now = time.monotonic()
        cached = self._keys.get(access_key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.store.transaction(write=False) as conn:
            row = conn.execute(_FIND_KEY, {"key_id": access_key_id}).first()
        if row is None:
            self._keys.pop(access_key_id, None)
            return None
        found = (row.secret_access_key, row.account_id)
        self._keys[access_key_id] = (now + KEY_CACHE_SECONDS, found)
        return found

    def invoke(self, op: Operation, params: dict, principal: Principal) -> dict:
        registered = self.handlers[(op.service.name, op.name)]
        self.limiter.admit(op, principal.account_id, now_ms())
        dry_run = params.pop("dryRun", False) if "dryRun" in op.input_shape.members else False
        if dry_run:
            # Run the whole operation, checks included, then throw its changes away.
            with self.store.rollback_only() as conn:
                registered.run(self._context(conn, principal), params)
            raise ServiceError("DryRunOperationException",
                               "The request would have succeeded, but the DryRun flag is set.")
        with self.store.transaction(write=registered.writes) as conn:
            ctx = self._context(conn, principal)
            result = registered.run(ctx, params)
        for callback in ctx.after_commit:
            callback()
        return result

    def _context(self, conn, principal: Principal) -> Context:
        return Context(conn=conn, account_id=principal.account_id,
                       access_key_id=principal.access_key_id, region=principal.region,
                       settings=self.settings,
                       tokens=self.tokens, now=now_ms())


def create_app(settings: Settings) -> Casework:
    """Open (creating or migrating) the database and build the application."""
    if not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.url, pool_size=settings.threads)
    store.migrate()
    return Casework(settings, store)
