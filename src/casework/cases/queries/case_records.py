"""Cases and their field values."""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from .. import search_queries
from ..tables import case_values, cases, contact_links, related_items, tags

_COLUMN = {"stringValue": "string_value", "userArnValue": "string_value",
           "doubleValue": "double_value", "booleanValue": "boolean_value"}


def find(conn: Connection, domain_id: str, case_id: str):
    """The case row, or None."""
    return conn.execute(select(cases).where(
        cases.c.domain_id == domain_id, cases.c.case_id == case_id)).first()


def find_by_token(conn: Connection, domain_id: str, client_token: str):
    """The case created with ``client_token``, or None."""
    return conn.execute(select(cases).where(
        cases.c.domain_id == domain_id, cases.c.client_token == client_token)).first()


def insert_case(conn: Connection, row: dict) -> int:
    """Store a new case; returns its sequence number."""
    return conn.execute(insert(cases).values(**row).returning(cases.c.seq)).scalar_one()


def values(conn: Connection, case_seq: int) -> dict[str, dict]:
    """Every stored value of a case as ``{field id: FieldValueUnion dict}``."""
    found = {}
    for row in conn.execute(select(case_values).where(case_values.c.case_seq == case_seq)):
        found[row.field_id] = {row.kind: getattr(row, _COLUMN[row.kind])}
    return found


def write_values(conn: Connection, domain_id: str, case_seq: int,
                 changes: dict[str, dict]) -> None:
    """Set (or, for ``emptyValue``, remove) the given values, and bring the case's search-term
    document up to date in the same transaction."""
    if not changes:
        return
    conn.execute(delete(case_values).where(case_values.c.case_seq == case_seq,
                                           case_values.c.field_id.in_(list(changes))))
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
        conn.execute(insert(case_values), rows)
    search_queries.reindex_cases(conn, [case_seq])


def delete_case(conn: Connection, case_seq: int, arns: list[str]) -> None:
    """Remove a case, its values, related items, contact links and the tags of ``arns``."""
    conn.execute(delete(tags).where(tags.c.resource_arn.in_(arns)))
    search_queries.forget_cases(conn, [case_seq])
    for table in (case_values, contact_links, related_items):
        conn.execute(delete(table).where(table.c.case_seq == case_seq))
    conn.execute(delete(cases).where(cases.c.seq == case_seq))
