"""Fields, layouts, templates and case rules: the domain's named, soft-deletable definitions.

Definitions are read by nearly every request inside a domain (CreateCase reads its template and
its fields) and change rarely, so each process keeps the ones it has read, per domain, under
the domain's ``definitions_version``: every change to a definition gives the domain's row a new
version in the same transaction (a random number, never reused, so that a version whose
transaction rolled back cannot come back with other contents), and a request that passes the
version it read from the domain's row (``version``) is answered from what was read under that
same version, by any request of this process. Processes (``serve --workers``, other machines)
share nothing but the database: each sees another's change through the version.

On PostgreSQL (READ COMMITTED) a request may read the domain's version before a change
commits and the definitions after it; what it keeps is then the newer definitions under the
older version, which only requests that read that older version, before the change committed,
can be answered from: they could have read the change themselves.

Only requests that do not change definitions pass a version (``common.load_domain`` notes it
for requests without a lock or with ``WRITE``): a request that changes definitions reads its
own changes from the database. What is kept is read-only: callers must not change the dicts
they get.
"""

from __future__ import annotations

import secrets

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, update

from ...store.prepared import Prepared
from ..tables import definitions, domains

# domain id -> (definitions_version, {(kind, item id): definition}); at most _KEPT domains.
_KEPT = 512
_cache: dict[str, tuple[int, dict[tuple[str, str], dict]]] = {}


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


def _kept(domain_id: str, version: int | None) -> dict[tuple[str, str], dict] | None:
    """What this process read of the domain's definitions under ``version``, if anything."""
    if version is None:
        return None
    entry = _cache.get(domain_id)
    return entry[1] if entry is not None and entry[0] == version else None


def _keep(domain_id: str, version: int, kind: str, found: dict[str, dict]) -> None:
    """Remember definitions read under ``version`` (replacing what was read under another)."""
    entry = _cache.get(domain_id)
    if entry is None or entry[0] != version:
        if entry is None and len(_cache) >= _KEPT:
            _cache.clear()
        entry = _cache[domain_id] = (version, {})
    held = entry[1]
    for item_id, definition in found.items():
        held[(kind, item_id)] = definition


def find(conn: Connection, domain_id: str, kind: str, item_id: str, *,
         version: int | None = None) -> dict | None:
    """One definition (deleted or not) as a dict of its body plus id/name/deleted/times.
    ``version``: the domain's ``definitions_version`` as this request read it (see above)."""
    held = _kept(domain_id, version)
    if held is not None:
        found = held.get((kind, item_id))
        if found is not None:
            return found
    found = _row(_FIND.first(conn, {"domain_id": domain_id, "kind": kind, "item_id": item_id}))
    if found is not None and version is not None:
        _keep(domain_id, version, kind, {item_id: found})
    return found


def find_many(conn: Connection, domain_id: str, kind: str, item_ids, *,
              version: int | None = None) -> dict[str, dict]:
    """The definitions among ``item_ids`` that exist (deleted or not), keyed by id.
    ``version``: as for :func:`find`."""
    held = _kept(domain_id, version)
    if held is not None:
        found = {}
        for item_id in item_ids:
            definition = held.get((kind, item_id))
            if definition is None:
                break
            found[item_id] = definition
        else:
            return found
    ids = sorted(set(item_ids))
    if not ids:
        return {}
    rows = _FIND_MANY.all(conn, {"domain_id": domain_id, "kind": kind, "item_ids": ids})
    found = {row.item_id: _row(row) for row in rows}
    if version is not None:
        _keep(domain_id, version, kind, found)
    return found


_NEW_VERSION = Prepared(update(domains).where(domains.c.domain_id == bindparam("domain_id"))
                        .values(definitions_version=bindparam("version")))
_NEW_VERSION_OF_ITEM = Prepared(update(domains).where(
    domains.c.domain_id == select(definitions.c.domain_id)
    .where(definitions.c.seq == bindparam("seq")).scalar_subquery())
    .values(definitions_version=bindparam("version")))


def _changed(conn: Connection, *, domain_id: str | None = None, seq: int | None = None) -> None:
    """Give the domain (named, or holding definition ``seq``) a new definitions version."""
    version = secrets.randbits(62)
    if domain_id is not None:
        _NEW_VERSION.run(conn, {"domain_id": domain_id, "version": version})
    else:
        _NEW_VERSION_OF_ITEM.run(conn, {"seq": seq, "version": version})


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
    _changed(conn, domain_id=domain_id)


def insert_many(conn: Connection, rows: list[dict]) -> None:
    """Store several new definitions (rows carry their own domain, kind and times)."""
    conn.execute(insert(definitions), [
        {**row, "body": orjson.dumps(row["body"]).decode(), "deleted": False} for row in rows])
    for domain_id in {row["domain_id"] for row in rows}:
        _changed(conn, domain_id=domain_id)


def save(conn: Connection, seq: int, name: str, body: dict, now: int) -> None:
    """Replace a definition's name and body."""
    conn.execute(update(definitions).where(definitions.c.seq == seq).values(
        name=name, body=orjson.dumps(body).decode(), modified_at=now))
    _changed(conn, seq=seq)


def mark_deleted(conn: Connection, seq: int, now: int) -> None:
    """Soft-delete a definition."""
    conn.execute(update(definitions).where(definitions.c.seq == seq)
                 .values(deleted=True, modified_at=now))
    _changed(conn, seq=seq)


def live_bodies_mentioning(conn: Connection, domain_id: str, kind: str, text: str) -> list[dict]:
    """Live definitions whose JSON body contains ``text`` (a quoted id): a cheap prefilter."""
    rows = conn.execute(select(definitions).where(
        definitions.c.domain_id == domain_id, definitions.c.kind == kind,
        definitions.c.deleted.is_(False), definitions.c.body.contains(text)))
    return [_row(row) for row in rows]
