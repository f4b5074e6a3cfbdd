"""Cases and their field values."""

from __future__ import annotations

import functools

from sqlalchemy import Connection, bindparam, delete, insert, select

from ...store.prepared import Inserter, Prepared
from ...store.sql import dialect_insert
from ..tables import case_values, cases, contact_links, related_items, tags
from . import search as search_queries

_COLUMN = {"stringValue": "string_value", "userArnValue": "string_value",
           "doubleValue": "double_value", "booleanValue": "boolean_value"}


_FIND_QUERY = select(cases).where(cases.c.domain_id == bindparam("domain_id"),
                                  cases.c.case_id == bindparam("case_id"))
_FIND = Prepared(_FIND_QUERY)
# FOR NO KEY UPDATE on PostgreSQL (SQLite renders no lock: its writers run one at a time).
_FIND_LOCKED = Prepared(_FIND_QUERY.with_for_update(key_share=True))
_FIND_BY_TOKEN = Prepared(select(cases).where(cases.c.domain_id == bindparam("domain_id"),
                                              cases.c.client_token == bindparam("client_token")))
_INSERT_CASE = Inserter(cases, returning=cases.c.seq)
_VALUES = Prepared(select(case_values).where(case_values.c.case_seq == bindparam("case_seq")))
_VALUE_COLUMNS = ("case_seq", "field_id", "domain_id", "kind", "string_value", "double_value",
                  "boolean_value")


@functools.cache
def _insert_values(count: int) -> Prepared:
    """One INSERT of ``count`` value rows (parameters ``<column>_<i>``): one round trip to
    PostgreSQL for all the values a request writes, instead of one per value."""
    return Prepared(insert(case_values).values([
        {name: bindparam(f"{name}_{i}") for name in _VALUE_COLUMNS} for i in range(count)]))


_DELETE_VALUES = Prepared(delete(case_values).where(
    case_values.c.case_seq == bindparam("case_seq"),
    case_values.c.field_id.in_(bindparam("field_ids", expanding=True))))


def find(conn: Connection, domain_id: str, case_id: str, *, lock: bool = False):
    """The case row, or None; ``lock`` holds it until the transaction ends.

    Every change to a case (its values, related items, merges, deletion) locks the case
    first, so that changes to one case run one at a time on PostgreSQL too (SQLite's write
    transactions already do): a quota counted, or a value read, is still true when written.
    FOR NO KEY UPDATE, so that rows referring to the case can still be added meanwhile.
    """
    return (_FIND_LOCKED if lock else _FIND).first(conn, {"domain_id": domain_id,
                                                          "case_id": case_id})


def lock_many(conn: Connection, domain_id: str, case_ids: list[str]) -> None:
    """Lock the existing cases among ``case_ids`` in one go, in a fixed order (by seq), so
    that two requests locking overlapping cases never deadlock (batch operations)."""
    conn.execute(select(cases.c.seq).where(cases.c.domain_id == domain_id,
                                           cases.c.case_id.in_(case_ids))
                 .order_by(cases.c.seq).with_for_update(key_share=True)).all()


def find_by_token(conn: Connection, domain_id: str, client_token: str):
    """The case created with ``client_token``, or None."""
    return _FIND_BY_TOKEN.first(conn, {"domain_id": domain_id, "client_token": client_token})


@functools.cache
def _insert_case_once(columns: frozenset[str]) -> Prepared:
    """The INSERT of a case with a client token, unless the token is taken: one statement
    per set of columns given (SDKs send a token with every CreateCase)."""
    return Prepared(lambda dialect: dialect_insert(dialect, cases).values(
        {name: bindparam(name) for name in sorted(columns)}).on_conflict_do_nothing(
        index_elements=["domain_id", "client_token"]).returning(cases.c.seq))


def insert_case(conn: Connection, row: dict) -> int | None:
    """Store a new case; returns its sequence number, or None when its client token is
    already taken (by a committed case, or one whose request this insert waited for)."""
    if row.get("client_token") is None:
        return _INSERT_CASE(conn, row)
    return _insert_case_once(frozenset(row)).scalar(conn, row)


def values(conn: Connection, case_seq: int) -> dict[str, dict]:
    """Every stored value of a case as ``{field id: FieldValueUnion dict}``."""
    found = {}
    for row in _VALUES.all(conn, {"case_seq": case_seq}):
        found[row.field_id] = {row.kind: getattr(row, _COLUMN[row.kind])}
    return found


def write_values(conn: Connection, domain_id: str, case_seq: int,
                 changes: dict[str, dict], *, new: bool = False) -> None:
    """Set (or, for ``emptyValue``, remove) the given values, and bring the case's search-term
    document up to date in the same transaction; ``new``: the case has no values yet."""
    if not changes:
        return
    if not new:
        _DELETE_VALUES.run(conn, {"case_seq": case_seq, "field_ids": list(changes)})
    rows = []
    for field_id, union in changes.items():
        kind, value = next(iter(union.items()))
        if kind == "emptyValue":
            continue
        row = {"case_seq": case_seq, "field_id": field_id, "domain_id": domain_id, "kind": kind,
               "string_value": None, "double_value": None, "boolean_value": None}
        row[_COLUMN[kind]] = value
        rows.append(row)
    if rows:
        _insert_values(len(rows)).run(conn, {f"{name}_{i}": row[name] for i, row in
                                             enumerate(rows) for name in _VALUE_COLUMNS})
    search_queries.reindex_cases(conn, [case_seq])


def delete_case(conn: Connection, case_seq: int, arns: list[str]) -> None:
    """Remove a case, its values, related items, contact links and the tags of ``arns``."""
    conn.execute(delete(tags).where(tags.c.resource_arn.in_(arns)))
    search_queries.forget_cases(conn, [case_seq])
    for table in (case_values, contact_links, related_items):
        conn.execute(delete(table).where(table.c.case_seq == case_seq))
    conn.execute(delete(cases).where(cases.c.seq == case_seq))
