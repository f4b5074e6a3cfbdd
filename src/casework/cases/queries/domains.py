"""Domains, and removing everything a domain holds."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, func, insert, literal_column, select

from ...store.prepared import Later, Prepared
from ...store.tables import accounts
from ..tables import (
    audit_events,
    case_values,
    cases,
    contact_links,
    definitions,
    domains,
    field_options,
    merges,
    related_items,
    tags,
)
from . import search as search_queries

# How a request holds its domain until it ends (on PostgreSQL; SQLite takes none, its write
# transactions run one at a time):
#   WRITE   (a shared advisory lock on the domain's id): writes inside the domain; they never
#           wait for each other, only keep the domain from being deleted under them. Not a
#           share lock on the domain's row: PostgreSQL records the holders of a row's share
#           lock in a MultiXact, a new one each time a holder joins, written to the row's
#           header and to the WAL; with every write of a busy domain taking it, that cost a
#           tenth to a quarter of the database's CPU per CreateRelatedItem;
#   DEFINE  (FOR NO KEY UPDATE of the row): changes to what the domain defines (fields,
#           options, layouts, templates, case rules, tags, event configuration), one at a
#           time, so that a count-based quota or a name's uniqueness is checked and used by one
#           request;
#   DELETE  (the advisory lock, exclusive, then FOR UPDATE of the row): DeleteDomain, alone,
#           once the writes and changes under way have ended. In that order: a write's
#           foreign-key checks (batch requests, merges) share-lock the domain's row, so a
#           DeleteDomain holding the row while it waits for the writes would deadlock with
#           them. (So the lock is taken for any domain id a caller names; a DeleteDomain that
#           answers 404 holds it for its own short transaction.)
# The advisory lock is taken by a statement of its own, before the statement that reads the
# domain: each statement reads a snapshot of its own (READ COMMITTED), so a write that waited
# for a DeleteDomain finds the domain gone. Two domains whose ids hash alike share a lock:
# a DeleteDomain may then wait for the other's writes too, nothing more.
WRITE, DEFINE, DELETE = "write", "define", "delete"
_ROW_LOCKS = {DEFINE: {"key_share": True}, DELETE: {}}
_KEY = func.hashtextextended(bindparam("domain_id"), literal_column("0"))
_HOLD = {WRITE: Prepared(select(func.pg_advisory_xact_lock_shared(_KEY))),
         DELETE: Prepared(select(func.pg_advisory_xact_lock(_KEY)))}


_FIND_QUERY = select(domains).where(domains.c.account_id == bindparam("account_id"),
                                    domains.c.domain_id == bindparam("domain_id"))
_FIND_PLAIN = Prepared(_FIND_QUERY)
_FIND = {None: _FIND_PLAIN, WRITE: _FIND_PLAIN,
         **{lock: Prepared(_FIND_QUERY.with_for_update(**how))
            for lock, how in _ROW_LOCKS.items()}}


def hold(conn: Connection, domain_id: str, lock: str | None) -> None:
    """Take the advisory lock of ``lock`` (WRITE, DELETE) on the domain, with the request's
    next statement and before it; nothing on SQLite, nor for the other locks."""
    statement = _HOLD.get(lock)
    if statement is not None and conn.dialect.name == "postgresql":
        statement.defer(conn, {"domain_id": domain_id})


def find(conn: Connection, account_id: str, domain_id: str, lock: str | None = None):
    """The account's domain row in whichever region it lives, or None; ``lock`` (WRITE,
    DEFINE, DELETE) holds it."""
    hold(conn, domain_id, lock)
    return _FIND[lock].first(conn, {"account_id": account_id, "domain_id": domain_id})


def find_later(conn: Connection, account_id: str, domain_id: str, lock: str | None,
               check) -> Later:
    """``check`` of :func:`find`'s row, read with the next statement
    (``Prepared.first_later``)."""
    hold(conn, domain_id, lock)
    return _FIND[lock].first_later(conn, {"account_id": account_id, "domain_id": domain_id},
                                   check)


def lock_account(conn: Connection, account_id: str) -> None:
    """Hold the account's row until the transaction ends: CreateDomain checks the account's
    domain quota and the name's uniqueness one request at a time."""
    conn.execute(select(accounts.c.account_id).where(accounts.c.account_id == account_id)
                 .with_for_update(key_share=True)).first()


def lock_merges(conn: Connection, domain_id: str) -> None:
    """Hold the domain's merge records (DeleteDomain, after the domain's own row): a merge
    being applied finishes first, and none starts until the domain is gone."""
    conn.execute(select(merges.c.seq).where(merges.c.domain_id == domain_id)
                 .order_by(merges.c.seq).with_for_update()).all()


def count(conn: Connection, account_id: str, region: str) -> int:
    """How many domains the account has in ``region``."""
    return conn.scalar(select(func.count()).select_from(domains)
                       .where(domains.c.account_id == account_id, domains.c.region == region))


def name_taken(conn: Connection, account_id: str, region: str, name: str) -> bool:
    """Whether the account already has a domain called ``name`` in ``region``."""
    return conn.scalar(select(domains.c.seq).where(
        domains.c.account_id == account_id, domains.c.region == region,
        domains.c.name == name)) is not None


def insert_domain(conn: Connection, account_id: str, domain_id: str, name: str, region: str,
                  now: int) -> None:
    """Store a new domain."""
    conn.execute(insert(domains).values(domain_id=domain_id, account_id=account_id, name=name,
                                        region=region, created_at=now))


def page(conn: Connection, account_id: str, region: str, after_seq: int, limit: int) -> list:
    """Up to ``limit`` of the account's domains in ``region`` created after the cursor, oldest
    first."""
    return conn.execute(
        select(domains).where(domains.c.account_id == account_id, domains.c.region == region,
                              domains.c.seq > after_seq)
        .order_by(domains.c.seq).limit(limit)).all()


def delete_domain(conn: Connection, domain_id: str) -> None:
    """Remove the domain and every row below it."""
    case_seqs = select(cases.c.seq).where(cases.c.domain_id == domain_id).scalar_subquery()
    search_queries.forget_cases(conn, case_seqs)
    search_queries.forget_domain_words(conn, domain_id)
    for table in (case_values, audit_events):
        conn.execute(delete(table).where(table.c.case_seq.in_(case_seqs)))
    conn.execute(delete(contact_links).where(contact_links.c.domain_id == domain_id))
    for table in (related_items, cases, field_options, definitions, tags):
        conn.execute(delete(table).where(table.c.domain_id == domain_id))
    conn.execute(delete(domains).where(domains.c.domain_id == domain_id))
