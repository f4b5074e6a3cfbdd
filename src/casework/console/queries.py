"""The console's SQL: agents, sessions, and the reads its pages need beyond the services'."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import orjson
from sqlalchemy import Column, Connection, Table, and_, delete, func, insert, or_, select, update

from ..cases.tables import cases as cases_cases
from ..cases.tables import domains as cases_domains
from ..cases.tables import related_items as cases_related
from ..store.sql import dialect_insert
from ..store.tables import accounts
from ..support.tables import cases as support_cases
from ..support.tables import communications
from .tables import agents, sessions, unknown_signins

# --- agents ----------------------------------------------------------------------------------


def insert_agent(conn: Connection, email: str, password_hash: str, all_accounts: bool,
                 account_ids: list[str], now: int) -> int:
    return conn.execute(insert(agents).values(
        email=email, password_hash=password_hash, all_accounts=all_accounts,
        accounts=orjson.dumps(sorted(set(account_ids))).decode(), created_at=now,
        failed_signins=0, locked_until=None).returning(agents.c.agent_id)).scalar_one()


def find_agent_by_email(conn: Connection, email: str):
    return conn.execute(select(agents).where(agents.c.email == email)).first()


def list_agents(conn: Connection) -> list:
    return conn.execute(select(agents).order_by(agents.c.email)).fetchall()


def delete_agent(conn: Connection, email: str) -> bool:
    found = find_agent_by_email(conn, email)
    if found is None:
        return False
    conn.execute(delete(sessions).where(sessions.c.agent_id == found.agent_id))
    conn.execute(delete(agents).where(agents.c.agent_id == found.agent_id))
    return True


def set_password(conn: Connection, email: str, password_hash: str) -> bool:
    """Replace the agent's password, unlock it and end its sessions; False if unknown."""
    found = find_agent_by_email(conn, email)
    if found is None:
        return False
    conn.execute(update(agents).where(agents.c.agent_id == found.agent_id).values(
        password_hash=password_hash, failed_signins=0, locked_until=None))
    conn.execute(delete(sessions).where(sessions.c.agent_id == found.agent_id))
    return True


@dataclass(frozen=True)
class Attempts:
    """Where the sign-in failures of an e-mail are counted: its agent's row, or, for an
    e-mail no agent has, its bucket in ``console_unknown_signins``. Both rows have
    ``failed_signins`` and ``locked_until``."""

    table: Table
    key: Column
    value: int


def agent_attempts(agent_id: int) -> Attempts:
    return Attempts(agents, agents.c.agent_id, agent_id)


UNKNOWN_BUCKETS = 2**20


def unknown_attempts(email: str, key: bytes) -> Attempts:
    """The bucket of an e-mail no agent has. The digest is keyed with a server secret: were
    it not, anyone could find a made-up e-mail sharing a given e-mail's bucket, lock the
    bucket with it, and tell an agent (its own row: not locked) from a stranger (locked)."""
    digest = hmac.new(key, email.encode(), hashlib.sha256).digest()
    return Attempts(unknown_signins, unknown_signins.c.bucket,
                    int.from_bytes(digest[:4], "big") % UNKNOWN_BUCKETS)


def _unlocked(table: Table, now: int):
    return or_(table.c.locked_until.is_(None), table.c.locked_until <= now)


def claim_attempt(conn: Connection, attempts: Attempts, lock_after: int, now: int) -> bool:
    """Count a sign-in attempt before its password is checked, in one statement: False when
    the e-mail is locked, or when ``lock_after`` attempts in a row are counted already (some
    still being checked), so that concurrent attempts cannot add up to more."""
    table = attempts.table
    if table is unknown_signins:  # a bucket's row exists from its first attempt on
        conn.execute(dialect_insert(conn.dialect.name, table).values(
            bucket=attempts.value, failed_signins=0, locked_until=None).on_conflict_do_nothing())
    claimed = conn.execute(update(table).where(
        attempts.key == attempts.value, _unlocked(table, now),
        table.c.failed_signins < lock_after).values(failed_signins=table.c.failed_signins + 1))
    return claimed.rowcount == 1


def record_failure(conn: Connection, attempts: Attempts, lock_after: int,
                   locked_until: int) -> bool:
    """A claimed attempt failed: lock the e-mail if ``lock_after`` attempts in a row are
    counted. True when this locked it."""
    table = attempts.table
    locked = conn.execute(update(table).where(
        attempts.key == attempts.value, table.c.failed_signins >= lock_after).values(
        failed_signins=0, locked_until=locked_until))
    return locked.rowcount == 1


def record_success(conn: Connection, agent_id: int, now: int) -> bool:
    """A claimed attempt had the right password: the count starts again, unless attempts
    failing meanwhile locked the agent (False then: no session)."""
    return conn.execute(update(agents).where(
        agents.c.agent_id == agent_id, _unlocked(agents, now))
        .values(failed_signins=0, locked_until=None)).rowcount == 1


def locked_until(conn: Connection, attempts: Attempts) -> int | None:
    return conn.execute(select(attempts.table.c.locked_until).where(
        attempts.key == attempts.value)).scalar()


def granted_accounts(agent) -> list[str] | None:
    """The account ids the agent may see; None: every account."""
    return None if agent.all_accounts else orjson.loads(agent.accounts)


def known_accounts(conn: Connection, account_ids: list[str] | None) -> list[str]:
    """Existing accounts among ``account_ids`` (None: all), sorted."""
    query = select(accounts.c.account_id).order_by(accounts.c.account_id)
    if account_ids is not None:
        query = query.where(accounts.c.account_id.in_(account_ids))
    return list(conn.scalars(query))


# --- sessions --------------------------------------------------------------------------------


def insert_session(conn: Connection, token_hash: str, agent_id: int, csrf: str, now: int,
                   expires_at: int) -> None:
    # Sign-in is rare: forgetting the expired sessions here keeps the table small.
    conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
    conn.execute(insert(sessions).values(token_hash=token_hash, agent_id=agent_id,
                                         csrf_token=csrf, created_at=now, expires_at=expires_at))


def find_session(conn: Connection, token_hash: str, now: int):
    """The live session with its agent (columns of both), or None."""
    return conn.execute(
        select(sessions.c.csrf_token, sessions.c.expires_at, agents)
        .join(agents, agents.c.agent_id == sessions.c.agent_id)
        .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)).first()


def delete_session(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.token_hash == token_hash))


# --- the AWS Support queue -------------------------------------------------------------------

SORTS = ("newest", "oldest")


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def support_queue(conn: Connection, *, account_ids: list[str] | None, statuses: list[str],
                  severities: list[str], service: str | None, created_from: int | None,
                  created_to: int | None, text: str | None, sort: str, cursor: int | None,
                  limit: int) -> list:
    """A page of cases in the given accounts (None: all), keyset-paged on ``seq`` (creation
    order): newest first, or oldest first; ``cursor`` is the last ``seq`` of the page before.

    Every filter is a condition on an indexed path in sort order (``seq``, or ``status, seq``
    and ``account_id, seq`` when those are given), so a page costs a short index walk at any
    depth; text matches the subject (case-insensitively), the display id or the case id.
    """
    conditions = []
    if account_ids is not None:
        conditions.append(support_cases.c.account_id.in_(account_ids))
    if statuses:
        conditions.append(support_cases.c.status.in_(statuses))
    if severities:
        conditions.append(support_cases.c.severity_code.in_(severities))
    if service:
        conditions.append(support_cases.c.service_code == service)
    if created_from is not None:
        conditions.append(support_cases.c.created_at >= created_from)
    if created_to is not None:
        conditions.append(support_cases.c.created_at <= created_to)
    if text:
        # SQLite's LIKE ignores ASCII case by itself (its ILIKE would wrap both sides in lower()).
        like = support_cases.c.subject.like if conn.dialect.name == "sqlite" \
            else support_cases.c.subject.ilike
        conditions.append(or_(like(_like(text), escape="\\"),
                              support_cases.c.display_id == text,
                              support_cases.c.case_id == text))
    newest = sort != "oldest"
    if cursor is not None:
        conditions.append(support_cases.c.seq < cursor if newest else support_cases.c.seq > cursor)
    order = support_cases.c.seq.desc() if newest else support_cases.c.seq.asc()
    return conn.execute(select(support_cases).where(and_(True, *conditions))
                        .order_by(order).limit(limit)).fetchall()


def find_support_case(conn: Connection, case_id: str):
    return conn.execute(select(support_cases).where(support_cases.c.case_id == case_id)).first()


def communications_after(conn: Connection, case_seq: int, after_seq: int) -> list:
    """The case's communications newer than ``after_seq``, oldest first."""
    return conn.execute(select(communications).where(
        communications.c.case_seq == case_seq, communications.c.seq > after_seq)
        .order_by(communications.c.seq)).fetchall()


def open_case_counts(conn: Connection, account_ids: list[str] | None) -> list:
    """``(status, severity_code, count)`` of the accounts' unresolved cases."""
    query = (select(support_cases.c.status, support_cases.c.severity_code, func.count())
             .where(support_cases.c.status != "resolved")
             .group_by(support_cases.c.status, support_cases.c.severity_code))
    if account_ids is not None:
        query = query.where(support_cases.c.account_id.in_(account_ids))
    return conn.execute(query).fetchall()


def oldest_unanswered(conn: Connection, account_ids: list[str] | None, agent_name: str,
                      limit: int) -> list:
    """Open cases whose newest communication is the customer's, longest waiting first:
    case columns and ``waiting_since``.

    Walks communications oldest first (the primary key) and keeps those that are the newest
    of their case (one index probe each), so it stops after ``limit`` finds instead of
    grouping every communication.
    """
    later = communications.alias("later")
    newer = select(later.c.seq).where(later.c.case_seq == communications.c.case_seq,
                                      later.c.seq > communications.c.seq).exists()
    query = (select(support_cases, communications.c.created_at.label("waiting_since"))
             .select_from(communications)
             .join(support_cases, support_cases.c.seq == communications.c.case_seq)
             .where(communications.c.submitted_by != agent_name,
                    support_cases.c.status != "resolved", ~newer)
             .order_by(communications.c.seq).limit(limit))
    if account_ids is not None:
        query = query.where(support_cases.c.account_id.in_(account_ids))
    return conn.execute(query).fetchall()


# --- Connect Cases ---------------------------------------------------------------------------


def connect_domains(conn: Connection, account_ids: list[str] | None) -> list:
    """The domains of the accounts (None: all), by account, region and age."""
    query = select(cases_domains).order_by(cases_domains.c.account_id, cases_domains.c.region,
                                           cases_domains.c.seq)
    if account_ids is not None:
        query = query.where(cases_domains.c.account_id.in_(account_ids))
    return conn.execute(query.limit(1000)).fetchall()


def find_connect_domain(conn: Connection, domain_id: str):
    return conn.execute(select(cases_domains).where(cases_domains.c.domain_id == domain_id)).first()


def sla_items(conn: Connection, account_ids: list[str] | None, limit: int) -> list:
    """SLA related items of the accounts' cases: ``(content, case_id, domain_id, account_id)``,
    newest first."""
    query = (select(cases_related.c.content, cases_cases.c.case_id, cases_cases.c.domain_id,
                    cases_domains.c.account_id)
             .join(cases_cases, cases_cases.c.seq == cases_related.c.case_seq)
             .join(cases_domains, cases_domains.c.domain_id == cases_cases.c.domain_id)
             .where(cases_related.c.type == "Sla")
             .order_by(cases_related.c.seq.desc()).limit(limit))
    if account_ids is not None:
        query = query.where(cases_domains.c.account_id.in_(account_ids))
    return conn.execute(query).fetchall()
