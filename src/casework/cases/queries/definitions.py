"""Fields, layouts, templates and case rules: the domain's named, soft-deletable definitions."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, update

from ...store.prepared import Prepared
from ..tables import definitions


def _row(row) -> dict | None:
    if row is None:
        return None
    return {"seq": row.seq, "id": row.item_id, "name": row.name, "deleted": row.deleted,
            "created_at": row.created_at, "modified_at": row.modified_at,
            **orjson.loads(row.body)}


_FIND = Prepared(select(definitions).where(
    definitions.c.domain_id == bindparam("domain_id"), definitions.c.kind == bindparam("kind"),
    definitions.c.item_id == bindparam("item_id")))


_FIND_MANY = Prepared(select(definitions).where(
    definitions.c.domain_id == bindparam("domain_id"), definitions.c.kind == bindparam("kind"),
    definitions.c.item_id.in_(bindparam("item_ids", expanding=True))))


def find(conn: Connection, domain_id: str, kind: str, item_id: str) -> dict | None:
    """One definition (deleted or not) as a dict of its body plus id/name/deleted/times."""
    return _row(_FIND.first(conn, {"domain_id": domain_id, "kind": kind, "item_id": item_id}))


def find_many(conn: Connection, domain_id: str, kind: str, item_ids) -> dict[str, dict]:
    """The definitions among ``item_ids`` that exist (deleted or not), keyed by id."""
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    rows = _FIND_MANY.all(conn, {"domain_id": domain_id, "kind": kind, "item_ids": ids})
    return {row.item_id: _row(row) for row in rows}


def all_live(conn: Connection, domain_id: str, kind: str) -> list[dict]:
    """Every live definition of ``kind``, in creation order."""
    rows = conn.execute(select(definitions).where(
        definitions.c.domain_id == domain_id, definitions.c.kind == kind,
        definitions.c.deleted.is_(False)).order_by(definitions.c.seq))
    return [_row(row) for row in rows]


def page(conn: Connection, domain_id: str, kind: str, after_seq: int, limit: int) -> list[dict]:
    """Up to ``limit`` live definitions after the cursor, in creation order."""
    rows = conn.execute(select(definitions).where(
        definitions.c.domain_id == domain_id, definitions.c.kind == kind,
        definitions.c.deleted.is_(False), definitions.c.seq > after_seq)
        .order_by(definitions.c.seq).limit(limit))
    return [_row(row) for row in rows]


def count(conn: Connection, domain_id: str, kind: str, *, deleted: bool) -> int:
    """How many live (or deleted) definitions of ``kind`` the domain holds."""
    return conn.scalar(select(func.count()).select_from(definitions).where(
        definitions.c.domain_id == domain_id, definitions.c.kind == kind,
        definitions.c.deleted.is_(deleted)))


def live_name_owner(conn: Connection, domain_id: str, kind: str, name: str) -> str | None:
    """The id of the live definition called ``name``, if any."""
    return conn.scalar(select(definitions.c.item_id).where(
        definitions.c.domain_id == domain_id, definitions.c.kind == kind,
        definitions.c.name == name, definitions.c.deleted.is_(False)))


def insert_definition(conn: Connection, domain_id: str, kind: str, item_id: str, name: str,
                      body: dict, now: int) -> None:
    """Store a new definition."""
    conn.execute(insert(definitions).values(
        domain_id=domain_id, kind=kind, item_id=item_id, name=name,
        body=orjson.dumps(body).decode(), deleted=False, created_at=now, modified_at=now))


def insert_many(conn: Connection, rows: list[dict]) -> None:
    """Store several new definitions (rows carry their own domain, kind and times)."""
    conn.execute(insert(definitions), [
        {**row, "body": orjson.dumps(row["body"]).decode(), "deleted": False} for row in rows])


def save(conn: Connection, seq: int, name: str, body: dict, now: int) -> None:
    """Replace a definition's name and body."""
    conn.execute(update(definitions).where(definitions.c.seq == seq).values(
        name=name, body=orjson.dumps(body).decode(), modified_at=now))


def mark_deleted(conn: Connection, seq: int, now: int) -> None:
    """Soft-delete a definition."""
    conn.execute(update(definitions).where(definitions.c.seq == seq)
                 .values(deleted=True, modified_at=now))


def live_bodies_mentioning(conn: Connection, domain_id: str, kind: str, text: str) -> list[dict]:
    """Live definitions whose JSON body contains ``text`` (a quoted id): a cheap prefilter."""
    rows = conn.execute(select(definitions).where(
        definitions.c.domain_id == domain_id, definitions.c.kind == kind,
        definitions.c.deleted.is_(False), definitions.c.body.contains(text)))
    return [_row(row) for row in rows]
