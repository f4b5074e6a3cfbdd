"""Builds the application: the AWS gateway, Casework's own ``/_casework/`` routes and the
agent console (the latter two as ASGI apps)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import time

from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import __version__, datadir, logs, outbox
from .cases import registry as cases_registry
from .config import Settings
from .console import web as console_web
from .faults import Faults
from .handlers import Context, Registered, Registry
from .keys import KeyRecord, MasterKey, check_allowed, find_key, open_keys
from .limits import Limiter
from .reset import Reset
from .store import Store
from .store.engine import now_ms
from .store.runner import SEARCH_THREADS, Runner
from .support import registry as support_registry
from .support.agent import AgentApi
from .support.transfer import TRANSFER_PATHS, Transfers
from .tokens import TokenSigner
from .wire import http
from .wire.errors import ServiceError
from .wire.gateway import Gateway
from .wire.model import Operation, Service, load_service
from .wire.protocol import WireRequest
from .wire.sigv4 import Principal

SERVICE_NAMES = ("support", "connectcases")
KEY_CACHE_SECONDS = 2.0
REGISTRIES: tuple[Registry, ...] = (support_registry, cases_registry)
log = logging.getLogger("casework.auth")


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

    def __init__(self, settings: Settings, store: Store, master: MasterKey):
        self.settings = settings
        self.store = store
        self.master = master
        # Fault injection for users' resilience tests (--faults); None when off.
        self.faults = Faults(settings.faults) if settings.faults else None
        self.tokens = TokenSigner(store.secret("pagination-tokens"))
        self.handlers = handler_table()
        self._keys: dict[str, tuple[float, KeyRecord]] = {}
        self._unknown: set[str] = set()  # unknown key ids already logged
        services = load_services()
        # Throttling and per-account call limits, shared through the database (off: free).
        self.limiter = Limiter(settings, services)
        self.gateway = Gateway(
            services,
            implemented=set(self.handlers),
            lookup=self.lookup_secret,
            invoke=self.invoke,
            max_body_bytes=settings.max_body_bytes,
            max_body_memory=settings.max_body_memory,
        )
        self.runner = Runner(store, settings.threads)
        # Presigned attachment URLs (AWS Support large files) are served here, not by S3.
        self.transfers = Transfers(settings, store)
        # Background workers the service packages register (Registry.worker), e.g. the one
        # that applies Connect Cases merges; daemon threads whose state lives in the database.
        self.workers = [start(store, settings) for registry in REGISTRIES
                        for start in registry.workers]
        agent_api = AgentApi(store, settings, self.runner, self.tokens)
        self.console = Starlette(routes=[Route("/_casework/health", self.health),
                                         *self.transfers.routes(),
                                         *agent_api.routes(),
                                         *Reset(settings, store, forget=[
                                             self._keys.clear, self._unknown.clear]).routes()],
                                 exception_handlers={404: self._unrouted, 405: self._unrouted},
                                 lifespan=self._lifespan)
        # The agent console (casework.console): every path under /console.
        self.agent_console = console_web.build(self)

    async def _unrouted(self, request, error) -> Response:
        """A path under /_casework that no route matches (404), or a method its route does not
        take (405): answered in the shape of the routes around it, S3's XML for presigned
        transfer URLs and AWS's JSON for the rest, never plain text."""
        status = error.status_code
        if request.url.path.startswith(TRANSFER_PATHS):
            return self.transfers.refusal(status, request.method)
        code = "UnknownOperationException" if status == 404 else "MethodNotAllowedException"
        return JSONResponse({"__type": code, "message": f"No route takes {request.method} "
                             f"{request.url.path}."}, status_code=status,
                            headers={"x-amzn-ErrorType": code})

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app):
        self.runner.open()
        # The outbox's deliveries (case events, ...) run on this loop, for the channels the
        # settings configure; none configured: no worker (and nothing is ever enqueued).
        channels = outbox.configured_channels(self.settings)
        delivering = (outbox.OutboxWorker(self.runner, channels, self.settings.event_max_attempts)
                      if channels else None)
        if delivering is not None:
            delivering.start()
        # What the process holds from here on (models, shapes, compiled statements, modules)
        # lives as long as the process: moved out of the collector's sight, a full collection
        # walks only what requests allocate instead of pausing every request for milliseconds.
        gc.collect()
        gc.freeze()
        yield
        # Shutdown, after uvicorn has finished the requests in flight: the background workers
        # stop after what they are doing, the writer after its last batch.
        if delivering is not None:
            await delivering.close()
        for worker in self.workers:
            worker.close()
        await self.runner.close()

    async def __call__(self, scope, receive, send) -> None:
        # AWS calls never arrive here: the connection hands them to the gateway itself
        # (gateway_for, wire/http.py). What does: the console and Casework's own routes.
        path = scope.get("path", "")
        if path == "/console" or path.startswith("/console/"):
            await self.agent_console(scope, receive, send)
        else:
            await self.console(scope, receive, send)

    def gateway_for(self, path: str) -> Gateway | None:
        """The gateway when ``path`` is an AWS API path (not the console's nor Casework's own);
        HTTP connections hand such requests to it directly (``wire/http.py``)."""
        if path == "/console" or path.startswith(("/console/", "/_casework/")):
            return None
        return self.gateway

    async def health(self, request) -> JSONResponse:
        # The process id tells `serve --workers N` processes apart.
        found = {"status": "ok", "version": __version__, "process": os.getpid()}
        if self.faults is not None:
            found["faults"] = self.faults.report()
        return JSONResponse(found)

    def lookup_secret(self, access_key_id: str) -> tuple[str, str] | None:
        """The key's (secret, account), remembered for KEY_CACHE_SECONDS."""
        record = self.key_record(access_key_id)
        return None if record is None else (record.secret, record.account_id)

    def key_record(self, access_key_id: str) -> KeyRecord | None:
        """The key's secret (unsealed), account and allowance, remembered for KEY_CACHE_SECONDS.

        Looking a key up costs a transaction, as much as a small operation itself; a deleted
        key therefore keeps working for at most that long. Unknown keys are not remembered, so
        a key created with ``casework keys create`` works at once.
        """
        now = time.monotonic()
        cached = self._keys.get(access_key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self.store.transaction(write=False) as conn:
            found = find_key(conn, self.master, access_key_id)
        if found is None:
            self._keys.pop(access_key_id, None)
            self._unknown_key(access_key_id)
            return None
        self._keys[access_key_id] = (now + KEY_CACHE_SECONDS, found)
        return found

    def _unknown_key(self, access_key_id: str) -> None:
        """Say once per key id which store lacked it: the usual cause is a key created with
        ``casework keys create`` in another data directory."""
        if access_key_id in self._unknown or len(self._unknown) >= 1000:
            return
        self._unknown.add(access_key_id)
        if self.settings.database_url:
            where = f"the database {self.store.url.render_as_string(hide_password=True)}"
        else:
            where = f"the data directory {self.settings.data_dir.absolute()}"
        log.warning("unknown access key id %r: no such key in %s (create keys with `casework "
                    "keys create` and the server's --data-dir or --database-url)",
                    access_key_id[:128], where)

    async def invoke(self, op: Operation, params: dict, request: WireRequest) -> dict:
        principal = request.principal
        record = self.key_record(principal.access_key_id)
        # A scoped key (casework keys create --allow) is refused before any work is done.
        check_allowed(record, op.service.name, op.name)
        if self.faults is not None:
            delay, error = self.faults.plan(op.service.name, op.name, principal.access_key_id)
            if delay:
                await asyncio.sleep(delay)
            if error is not None:
                raise error
        registered = self.handlers[(op.service.name, op.name)]
        if self.limiter.limited(op):
            # Counted in a transaction of its own, before the operation's: a refused call
            # does nothing, and read-only operations stay read-only.
            now = now_ms()
            refused = await self.runner.write(
                lambda conn: self.limiter.take(conn, op, principal.account_id, now))
            if refused is not None:
                raise refused
        dry_run = params.pop("dryRun", False) if "dryRun" in op.input_shape.members else False

        def job(conn):
            ctx = self._context(conn, principal, request, record)
            return registered.run(ctx, params), ctx.after_commit

        if dry_run:
            # Run the whole operation, checks included, then throw its changes away.
            await self.runner.write(job, rollback=True)
            raise ServiceError("DryRunOperationException",
                               "The request would have succeeded, but the DryRun flag is set.")
        if registered.writes:
            result, after_commit = await self.runner.write(job)
        else:
            result, after_commit = await self.runner.read(job, aside=registered.aside)
        for callback in after_commit:
            callback()
        return result

    def _context(self, conn, principal: Principal, request: WireRequest,
                 record: KeyRecord | None) -> Context:
        ctx = Context(conn=conn, account_id=principal.account_id, request=request,
                      access_key_id=principal.access_key_id, region=principal.region,
                      settings=self.settings, tokens=self.tokens, now=now_ms())
        if record is not None:  # the key the request was verified with: no lookup needed
            ctx.__dict__["key_principal"] = record.principal  # the cached_properties' own slots
            ctx.__dict__["account_email"] = record.email
        return ctx


def create_app(settings: Settings, migrate: bool = True) -> Casework:
    """Open (creating or migrating) the database and build the application."""
    datadir.prepare(settings.data_dir, settings.url)  # 0700 directory, 0600 files
    # The runner's threads and (SQLite) search threads, plus room for key lookups, background
    # workers and console routes.
    store = Store(settings.url, pool_size=settings.threads + SEARCH_THREADS + 4)
    if migrate:
        store.migrate()
    master = open_keys(store, settings.data_dir, settings.master_key, settings.default_key)
    logs.configure(settings)
    http.configure(settings.header_timeout, settings.body_timeout, settings.max_connections,
                   settings.forwarded_allow_ips)
    return Casework(settings, store, master)


WORKER_SETTINGS = "CASEWORK_WORKER_SETTINGS"


def worker_app() -> Casework:
    """The app of one ``serve --workers N`` process; the parent migrated the database and put
    the settings in the environment (processes are spawned, not forked)."""
    return create_app(Settings.from_json(os.environ[WORKER_SETTINGS]), migrate=False)
