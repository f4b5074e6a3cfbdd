"""Options of single-select fields."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update

from ..tables import field_options


def find(conn: Connection, domain_id: str, field_id: str, values) -> dict:
    """The options among ``values`` that exist, keyed by value."""
    values = list(set(values))
    if not values:
        return {}
    rows = conn.execute(select(field_options).where(
        field_options.c.domain_id == domain_id, field_options.c.field_id == field_id,
        field_options.c.value.in_(values)))
    return {row.value: row for row in rows}


def count(conn: Connection, domain_id: str, field_id: str) -> int:
    """How many options a field has."""
    return conn.scalar(select(func.count()).select_from(field_options).where(
        field_options.c.domain_id == domain_id, field_options.c.field_id == field_id))


def add(conn: Connection, domain_id: str, field_id: str, value: str, name: str,
        active: bool) -> None:
    """Store a new option."""
    conn.execute(insert(field_options).values(
        domain_id=domain_id, field_id=field_id, value=value, name=name, active=active))


def change(conn: Connection, seq: int, name: str, active: bool) -> None:
    """Rename or (de)activate an option."""
    conn.execute(update(field_options).where(field_options.c.seq == seq)
                 .values(name=name, active=active))


def page(conn: Connection, domain_id: str, field_id: str, after_seq: int, limit: int,
         value: str | None) -> list:
    """Options in the order they were added, optionally only the one with ``value``."""
    query = select(field_options).where(
        field_options.c.domain_id == domain_id, field_options.c.field_id == field_id,
        field_options.c.seq > after_seq)
    if value is not None:
        query = query.where(field_options.c.value == value)
    return conn.execute(query.order_by(field_options.c.seq).limit(limit)).all()
