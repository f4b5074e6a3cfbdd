"""The SQL of AWS Support: every read and write the handlers need, named for what it does."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from ..store.sql import upsert
from ..store.tables import accounts as store_accounts
from ..store.tables import counters
from .tables import account_plans, attachment_sets, attachments, cases, communications

RECENT_COMMUNICATIONS = 5  # CaseDetails.recentCommunications holds the five newest


def next_counter(conn: Connection, account_id: str, name: str) -> int:
    """Bump and return a per-account counter (1, 2, 3, ...).

    One upsert: concurrent first uses from several processes cannot both insert the row, and
    concurrent bumps queue on its row lock, so every caller gets a number of its own.
    """
    return upsert(conn, counters, {"account_id": account_id, "name": name, "value": 1},
                  ["account_id", "name"], {"value": counters.c.value + 1},
                  returning=counters.c.value)


def lock_account(conn: Connection, account_id: str) -> None:
    """Hold the account's row until the transaction ends, so that a count-based limit of the
    account (open cases, new attachment sets) is checked and used by one request at a time.
    On SQLite the clause is not rendered: its write transactions already run one at a time."""
    conn.execute(select(store_accounts.c.account_id)
                 .where(store_accounts.c.account_id == account_id)
                 .with_for_update(key_share=True)).first()


def insert_case(conn: Connection, row: dict) -> int:
    """Store a new case; returns its sequence number."""
    row = {**row, "cc_email_addresses": orjson.dumps(row["cc_email_addresses"]).decode()}
    return conn.execute(insert(cases).values(**row).returning(cases.c.seq)).scalar_one()


# The statements of the hottest paths are built once: constructing a statement costs more than
# running it on SQLite.
_INSERT_COMMUNICATION = insert(communications).returning(communications.c.seq)
_FIND_CASE = select(cases).where(cases.c.case_id == bindparam("case_id"),
                                 cases.c.account_id == bindparam("account_id"))
# Writers lock the case they change: its status is read, then written from what was read.
_FIND_CASE_LOCKED = _FIND_CASE.with_for_update(key_share=True)
_SET_CASE_STATUS = (update(cases).where(cases.c.seq == bindparam("case_seq"))
                    .values(status=bindparam("new_status"),
                            resolved_at=bindparam("new_resolved_at")))
_ACCOUNT_PLAN = select(account_plans.c.plan).where(account_plans.c.account_id
                                                   == bindparam("account_id"))


def insert_communication(conn: Connection, case_seq: int, body: str, submitted_by: str,
                         cc: list[str], created_at: int) -> int:
    return conn.execute(_INSERT_COMMUNICATION, {
        "case_seq": case_seq, "body": body, "submitted_by": submitted_by,
        "cc_email_addresses": orjson.dumps(cc).decode(), "created_at": created_at,
    }).scalar_one()


def find_case(conn: Connection, account_id: str, case_id: str, *, lock: bool = False):
    """The case row, or None when the account has no such case; ``lock`` holds the row until
    the transaction ends (PostgreSQL; SQLite writers run one at a time anyway)."""
    return conn.execute(_FIND_CASE_LOCKED if lock else _FIND_CASE,
                        {"case_id": case_id, "account_id": account_id}).first()


def find_cases(conn: Connection, account_id: str, case_ids: list[str]) -> dict:
    rows = conn.execute(
        select(cases.c.case_id).where(cases.c.account_id == account_id,
                                      cases.c.case_id.in_(case_ids))
    )
    return {row.case_id for row in rows}


def set_case_status(conn: Connection, case_seq: int, status: str, resolved_at: int | None) -> None:
    conn.execute(_SET_CASE_STATUS,
                 {"case_seq": case_seq, "new_status": status, "new_resolved_at": resolved_at})


def list_cases(conn: Connection, account_id: str, *, case_ids: list[str] | None,
               display_id: str | None, after: int | None, before: int | None,
               include_resolved: bool, language: str | None, below_seq: int | None,
               limit: int) -> list:
    """A page of the account's cases, newest first, that pass every given filter."""
    conditions = [cases.c.account_id == account_id]
    if case_ids:
        conditions.append(cases.c.case_id.in_(case_ids))
    if display_id is not None:
        conditions.append(cases.c.display_id == display_id)
    if after is not None:
        conditions.append(cases.c.created_at >= after)
    if before is not None:
        conditions.append(cases.c.created_at <= before)
    if not include_resolved:
        conditions.append(cases.c.status != "resolved")
    if language is not None:
        conditions.append(cases.c.language == language)
    if below_seq is not None:
        conditions.append(cases.c.seq < below_seq)
    query = select(cases).where(and_(*conditions)).order_by(cases.c.seq.desc()).limit(limit)
    return conn.execute(query).fetchall()


def recent_communications(conn: Connection, case_seqs: list[int]) -> dict[int, list]:
    """Up to six newest communications per case (five to show, one to know there are more)."""
    if not case_seqs:
        return {}
    rank = func.row_number().over(
        partition_by=communications.c.case_seq, order_by=communications.c.seq.desc()
    ).label("rank")
    ranked = select(communications, rank).where(communications.c.case_seq.in_(case_seqs)).subquery()
    rows = conn.execute(
        select(ranked).where(ranked.c.rank <= RECENT_COMMUNICATIONS + 1)
        .order_by(ranked.c.case_seq, ranked.c.seq.desc())
    )
    found: dict[int, list] = {}
    for row in rows:
        found.setdefault(row.case_seq, []).append(row)
    return found


def list_communications(conn: Connection, case_seq: int, *, after: int | None,
                        before: int | None, below_seq: int | None, limit: int) -> list:
    conditions = [communications.c.case_seq == case_seq]
    if after is not None:
        conditions.append(communications.c.created_at >= after)
    if before is not None:
        conditions.append(communications.c.created_at <= before)
    if below_seq is not None:
        conditions.append(communications.c.seq < below_seq)
    query = (select(communications).where(and_(*conditions))
             .order_by(communications.c.seq.desc()).limit(limit))
    return conn.execute(query).fetchall()


def attachments_of(conn: Connection, communication_seqs: list[int]) -> dict[int, list]:
    """``{communication seq: [(attachment id, file name), ...]}`` in upload order."""
    if not communication_seqs:
        return {}
    rows = conn.execute(
        select(attachment_sets.c.communication_seq, attachments.c.attachment_id,
               attachments.c.file_name)
        .join(attachments, attachments.c.attachment_set_id == attachment_sets.c.attachment_set_id)
        .where(attachment_sets.c.communication_seq.in_(communication_seqs))
        .order_by(attachments.c.position)
    )
    found: dict[int, list] = {}
    for row in rows:
        found.setdefault(row.communication_seq, []).append(
            {"attachmentId": row.attachment_id, "fileName": row.file_name})
    return found


def find_attachment_set(conn: Connection, account_id: str, set_id: str, *, lock: bool = False):
    """The account's attachment set, or None; ``lock`` holds its row until the transaction
    ends, so that adding to a set, and using it, happen one request at a time."""
    query = select(attachment_sets).where(attachment_sets.c.attachment_set_id == set_id,
                                          attachment_sets.c.account_id == account_id)
    return conn.execute(query.with_for_update(key_share=True) if lock else query).first()


def insert_attachment_set(conn: Connection, account_id: str, set_id: str, created_at: int,
                          expires_at: int) -> None:
    conn.execute(insert(attachment_sets).values(
        attachment_set_id=set_id, account_id=account_id, created_at=created_at,
        expires_at=expires_at))


def count_attachments(conn: Connection, set_id: str) -> int:
    return conn.scalar(
        select(func.count()).select_from(attachments)
        .where(attachments.c.attachment_set_id == set_id)
    )


def insert_attachment(conn: Connection, row: dict) -> None:
    conn.execute(insert(attachments).values(**row))


def consume_attachment_set(conn: Connection, set_id: str, communication_seq: int) -> bool:
    """Give an unused set to a communication; False if another request used it first."""
    return conn.execute(update(attachment_sets)
                        .where(attachment_sets.c.attachment_set_id == set_id,
                               attachment_sets.c.communication_seq.is_(None))
                        .values(communication_seq=communication_seq)).rowcount == 1


def delete_stale_attachment_sets(conn: Connection, older_than: int) -> None:
    """Forget unused sets that expired before ``older_than`` (their attachments go with them)."""
    stale = select(attachment_sets.c.attachment_set_id).where(
        attachment_sets.c.communication_seq.is_(None), attachment_sets.c.expires_at < older_than)
    conn.execute(delete(attachments).where(attachments.c.attachment_set_id.in_(stale)))
    conn.execute(delete(attachment_sets).where(
        attachment_sets.c.communication_seq.is_(None), attachment_sets.c.expires_at < older_than))


def find_attachment(conn: Connection, account_id: str, attachment_id: str):
    return conn.execute(
        select(attachments.c.file_name, attachments.c.data)
        .where(attachments.c.attachment_id == attachment_id,
               attachments.c.account_id == account_id)
    ).first()


# --- support plans -------------------------------------------------------------------------

def account_plan(conn: Connection, account_id: str) -> str | None:
    """The plan stored for the account, or None when it has the default."""
    return conn.scalar(_ACCOUNT_PLAN, {"account_id": account_id})


def account_exists(conn: Connection, account_id: str) -> bool:
    return conn.scalar(
        select(store_accounts.c.account_id).where(store_accounts.c.account_id == account_id)
    ) is not None


def account_created_at(conn: Connection, account_id: str) -> int:
    return conn.scalar(
        select(store_accounts.c.created_at).where(store_accounts.c.account_id == account_id))


def set_account_plan(conn: Connection, account_id: str, plan: str, now: int) -> None:
    """Store the account's plan, replacing any earlier one."""
    upsert(conn, account_plans, {"account_id": account_id, "plan": plan, "updated_at": now},
           ["account_id"], {"plan": plan, "updated_at": now})


def list_account_plans(conn: Connection) -> list:
    """Every account with its stored plan (None: the default)."""
    return conn.execute(
        select(store_accounts.c.account_id, store_accounts.c.email, account_plans.c.plan)
        .outerjoin(account_plans, account_plans.c.account_id == store_accounts.c.account_id)
        .order_by(store_accounts.c.account_id)
    ).fetchall()


# --- limits ----------------------------------------------------------------------------------

def count_open_cases(conn: Connection, account_id: str) -> int:
    return conn.scalar(select(func.count()).select_from(cases).where(
        cases.c.account_id == account_id, cases.c.status != "resolved"))


def count_attachment_sets_since(conn: Connection, account_id: str, since: int) -> int:
    return conn.scalar(select(func.count()).select_from(attachment_sets).where(
        attachment_sets.c.account_id == account_id, attachment_sets.c.created_at >= since))


# --- the support side (agent API) ------------------------------------------------------------

def find_case_any_account(conn: Connection, case_id: str, *, lock: bool = False):
    """The case row whatever its account (the support side sees every account's cases);
    ``lock`` holds it until the transaction ends (a status is read, then written)."""
    query = select(cases).where(cases.c.case_id == case_id)
    return conn.execute(query.with_for_update(key_share=True) if lock else query).first()
