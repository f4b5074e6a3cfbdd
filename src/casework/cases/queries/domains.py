"""Domains, and removing everything a domain holds."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select

from .. import search_queries
from ..tables import (
    case_values,
    cases,
    contact_links,
    definitions,
    domains,
    field_options,
    related_items,
    tags,
)


def find(conn: Connection, account_id: str, domain_id: str):
    """The account's domain row, or None."""
    return conn.execute(select(domains).where(
        domains.c.account_id == account_id, domains.c.domain_id == domain_id)).first()


def count(conn: Connection, account_id: str) -> int:
    """How many domains the account has."""
    return conn.scalar(select(func.count()).select_from(domains)
                       .where(domains.c.account_id == account_id))


def name_taken(conn: Connection, account_id: str, name: str) -> bool:
    """Whether the account already has a domain called ``name``."""
    return conn.scalar(select(domains.c.seq).where(
        domains.c.account_id == account_id, domains.c.name == name)) is not None


def insert_domain(conn: Connection, account_id: str, domain_id: str, name: str, region: str,
                  now: int) -> None:
    """Store a new domain."""
    conn.execute(insert(domains).values(domain_id=domain_id, account_id=account_id, name=name,
                                        region=region, created_at=now))


def page(conn: Connection, account_id: str, after_seq: int, limit: int) -> list:
    """Up to ``limit`` domains created after the cursor, oldest first."""
    return conn.execute(
        select(domains).where(domains.c.account_id == account_id, domains.c.seq > after_seq)
        .order_by(domains.c.seq).limit(limit)).all()


def delete_domain(conn: Connection, domain_id: str) -> None:
    """Remove the domain and every row below it."""
    case_seqs = select(cases.c.seq).where(cases.c.domain_id == domain_id).scalar_subquery()
    search_queries.forget_cases(conn, case_seqs)
    conn.execute(delete(case_values).where(case_values.c.case_seq.in_(case_seqs)))
    conn.execute(delete(contact_links).where(contact_links.c.domain_id == domain_id))
    for table in (related_items, cases, field_options, definitions, tags):
        conn.execute(delete(table).where(table.c.domain_id == domain_id))
    conn.execute(delete(domains).where(domains.c.domain_id == domain_id))
