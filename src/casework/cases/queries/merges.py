"""Case merges: their records, and the row moves a merge makes."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from ...store.prepared import Later, Prepared
from ..tables import cases, merges, tags
from . import related_items as related_item_queries

IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"


def _row(row) -> dict | None:
    if row is None:
        return None
    return {"seq": row.seq, "merge_id": row.merge_id, "domain_id": row.domain_id,
            "account_id": row.account_id, "primary": row.primary_case_id,
            "secondary": row.secondary_case_id, "status": row.status,
            "request": orjson.loads(row.request), "started_at": row.started_at,
            "run_after": row.run_after, "attempts": row.attempts}


def lock_cases(conn: Connection, case_seqs: list[int]) -> None:
    """Lock the case rows (in seq order, so two merges never deadlock) until commit, as every
    other change to a case does (``case_records.find`` with ``lock``).

    PostgreSQL takes row locks, so that two concurrent StartMergeCases on a shared case run
    one after the other; SQLite needs none, its writers already run one at a time.
    """
    conn.execute(select(cases.c.seq).where(cases.c.seq.in_(case_seqs))
                 .order_by(cases.c.seq).with_for_update(key_share=True)).all()


def involving(conn: Connection, domain_id: str, case_ids: list[str]) -> list[dict]:
    """The running merges of these cases, and the completed ones they were the secondary of."""
    rows = conn.execute(select(merges).where(
        merges.c.domain_id == domain_id,
        or_(merges.c.status == IN_PROGRESS, merges.c.status == COMPLETED),
        or_(merges.c.primary_case_id.in_(case_ids), merges.c.secondary_case_id.in_(case_ids))))
    return [_row(row) for row in rows
            if row.status == IN_PROGRESS or row.secondary_case_id in case_ids]


_RUNNING_MERGE_OF = Prepared(select(merges).where(
    merges.c.domain_id == bindparam("domain_id"), merges.c.status == IN_PROGRESS,
    or_(merges.c.primary_case_id == bindparam("case_id"),
        merges.c.secondary_case_id == bindparam("case_id"))))


def running_merge_of(conn: Connection, domain_id: str, case_id: str) -> dict | None:
    """The running merge the case takes part in, as primary or secondary, if any."""
    return _row(_RUNNING_MERGE_OF.first(conn, {"domain_id": domain_id, "case_id": case_id}))


def running_merge_of_later(conn: Connection, domain_id: str, case_id: str, check) -> Later:
    """``check`` of :func:`running_merge_of`, read with the next statement
    (``Prepared.first_later``)."""
    return _RUNNING_MERGE_OF.first_later(conn, {"domain_id": domain_id, "case_id": case_id},
                                         lambda row: check(_row(row)))


def insert_merge(conn: Connection, row: dict) -> None:
    """Record a new, running merge."""
    conn.execute(insert(merges).values(**{**row, "request": orjson.dumps(row["request"]).decode(),
                                          "status": IN_PROGRESS, "attempts": 0}))


def status_of(conn: Connection, domain_id: str, case_id: str) -> dict | None:
    """The merge a case is part of for GetMergeCasesStatus: a running one (either role),
    else the completed one it was the secondary case of; None otherwise."""
    running = conn.execute(select(merges).where(
        merges.c.domain_id == domain_id, merges.c.status == IN_PROGRESS,
        or_(merges.c.primary_case_id == case_id, merges.c.secondary_case_id == case_id))
        .order_by(merges.c.seq)).first()
    if running is not None:
        return _row(running)
    return _row(conn.execute(select(merges).where(
        merges.c.domain_id == domain_id, merges.c.status == COMPLETED,
        merges.c.secondary_case_id == case_id)).first())


def due(conn: Connection, now: int, limit: int) -> list[str]:
    """Ids of running merges whose time has come, oldest first."""
    return list(conn.scalars(select(merges.c.merge_id).where(
        merges.c.status == IN_PROGRESS, merges.c.run_after <= now)
        .order_by(merges.c.run_after, merges.c.seq).limit(limit)))


def next_due(conn: Connection) -> int | None:
    """When the next running merge may be applied (epoch ms), or None if none is running."""
    return conn.scalar(select(func.min(merges.c.run_after)).where(
        merges.c.status == IN_PROGRESS))


def take(conn: Connection, merge_id: str) -> dict | None:
    """The running merge, locked until commit; None if it is done or another process has it.

    SKIP LOCKED lets several PostgreSQL app processes share the work; on SQLite the clause
    is not rendered and the write lock does the same job.
    """
    return _row(conn.execute(select(merges).where(
        merges.c.merge_id == merge_id, merges.c.status == IN_PROGRESS)
        .with_for_update(skip_locked=True)).first())


def finish(conn: Connection, seq: int, status: str, now: int, failure: str | None = None):
    """Mark a merge COMPLETED or FAILED."""
    conn.execute(update(merges).where(merges.c.seq == seq).values(
        status=status, finished_at=now, failure=failure))


def retry_later(conn: Connection, merge_id: str, run_after: int, failure: str) -> int:
    """Count a failed attempt and postpone the merge; returns the attempts made so far."""
    conn.execute(update(merges).where(merges.c.merge_id == merge_id,
                                      merges.c.status == IN_PROGRESS).values(
        attempts=merges.c.attempts + 1, run_after=run_after, failure=failure))
    return conn.scalar(select(merges.c.attempts).where(merges.c.merge_id == merge_id)) or 0


def move_item(conn: Connection, item_seq: int, from_case_seq: int, to_case_seq: int,
              old_arn: str, new_arn: str) -> None:
    """Move a related item to another case of the domain, its tags with it (they are keyed
    by the item's ARN, which names the case)."""
    related_item_queries.move_item(conn, item_seq, from_case_seq, to_case_seq)
    conn.execute(update(tags).where(tags.c.resource_arn == old_arn)
                 .values(resource_arn=new_arn))
