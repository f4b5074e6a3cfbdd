"""``POST /_casework/reset``: forget every case, account, key and file, for test suites.

Refused (403) unless the server runs with ``--allow-reset``. A reset deletes every row of
every table in one transaction, then puts back what a new store starts with: account
``000000000000`` (plan ``enterprise``) and its key ``test``/``test``. The server's secrets
stay, so the operator token (`casework agent token`) keeps working; pagination tokens issued
before the reset stay valid but point at nothing. Files of large attachments are removed after
the commit.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

from sqlalchemy import delete, insert, text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .config import Settings
from .schema import metadata
from .store import Store
from .store.engine import now_ms
from .store.tables import access_keys, accounts, server_secrets
from .support.blobs import blob_store
from .support.tables import account_plans

# What the first migrations create in a new store (0001_initial, support_0002_plans_advisor).
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_EMAIL = "support@example.com"
DEFAULT_PLAN = "enterprise"


class Reset:
    """The reset route, bound to the running store; ``forget`` clears in-memory caches."""

    def __init__(self, settings: Settings, store: Store, forget: list[Callable[[], None]]):
        self.settings = settings
        self.store = store
        self.forget = forget

    def routes(self) -> list[Route]:
        return [Route("/_casework/reset", self.reset, methods=["POST"])]

    async def reset(self, request: Request) -> JSONResponse:
        if not self.settings.allow_reset:
            return JSONResponse(
                {"__type": "AccessDeniedException",
                 "message": "Reset is disabled: start the server with --allow-reset "
                            "(CASEWORK_ALLOW_RESET=1) to allow it."}, status_code=403)
        await run_in_threadpool(self.wipe)
        return JSONResponse({"status": "reset"})

    def wipe(self) -> None:
        now = now_ms()
        with self.store.transaction() as conn:
            for table in reversed(metadata.sorted_tables):  # children before parents
                if table is not server_secrets:
                    conn.execute(delete(table))
            # The search indexes are dialect-specific (FTS5 / tsvector, and SQLite's
            # vocabulary and substring index), outside the metadata; left behind, their rows
            # would collide with the next cases' row ids.
            conn.execute(text("DELETE FROM cases_search_terms"))
            if conn.dialect.name == "sqlite":
                conn.execute(text("DELETE FROM cases_search_words"))
                conn.execute(text("DELETE FROM cases_search_substrings"))
            conn.execute(insert(accounts).values(account_id=DEFAULT_ACCOUNT, email=DEFAULT_EMAIL,
                                                 created_at=now))
            conn.execute(insert(access_keys).values(access_key_id="test",
                                                    secret_access_key="test",
                                                    account_id=DEFAULT_ACCOUNT, created_at=now))
            conn.execute(insert(account_plans).values(account_id=DEFAULT_ACCOUNT,
                                                      plan=DEFAULT_PLAN, updated_at=now))
        shutil.rmtree(blob_store(self.settings.data_dir).root, ignore_errors=True)
        for forget in self.forget:
            forget()
