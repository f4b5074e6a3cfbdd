"""The SQL of Trusted Advisor: loaded results and refresh requests per account and check."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, delete, select

from ...store.sql import upsert
from ..tables import advisor_refreshes, advisor_results


def results_of(conn: Connection, account_id: str, check_ids: list[str]) -> dict:
    """``{check id: row}`` of the account's loaded results for those checks."""
    rows = conn.execute(select(advisor_results).where(
        advisor_results.c.account_id == account_id, advisor_results.c.check_id.in_(check_ids)))
    return {row.check_id: row for row in rows}


def refreshes_of(conn: Connection, account_id: str, check_ids: list[str]) -> dict[str, int]:
    """``{check id: requested_at}`` of the account's latest refresh of those checks."""
    rows = conn.execute(select(advisor_refreshes).where(
        advisor_refreshes.c.account_id == account_id,
        advisor_refreshes.c.check_id.in_(check_ids)))
    return {row.check_id: row.requested_at for row in rows}


def request_refresh(conn: Connection, account_id: str, check_id: str, now: int) -> None:
    """Record a new refresh of the check, replacing the previous one (one upsert, so that two
    first refreshes at once both succeed; they start the same refresh)."""
    upsert(conn, advisor_refreshes,
           {"account_id": account_id, "check_id": check_id, "requested_at": now},
           ["account_id", "check_id"], {"requested_at": now})


def store_result(conn: Connection, account_id: str, row: dict) -> None:
    """Insert or replace the account's result for ``row["check_id"]``."""
    values = {**row, "flagged_resources": orjson.dumps(row["flagged_resources"]).decode()}
    upsert(conn, advisor_results, {"account_id": account_id, **values},
           ["account_id", "check_id"], values)


def delete_results(conn: Connection, account_id: str) -> int:
    """Forget every loaded result of the account; returns how many there were."""
    return conn.execute(delete(advisor_results)
                        .where(advisor_results.c.account_id == account_id)).rowcount
