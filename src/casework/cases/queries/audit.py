"""The audit history of cases."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, delete, select

from ...store.prepared import Inserter
from ..tables import audit_events

_INSERT_EVENT = Inserter(audit_events)


def insert_event(conn: Connection, row: dict) -> None:
    """Store one audit event; the JSON members are given as Python values. Nothing reads it
    back in the request: on PostgreSQL it travels with the next statement or the COMMIT."""
    row = {**row,
           "performed_by": orjson.dumps(row["performed_by"]).decode(),
           "fields": orjson.dumps(row["fields"]).decode(),
           "merge_metadata": (orjson.dumps(row["merge_metadata"]).decode()
                              if row.get("merge_metadata") else None)}
    _INSERT_EVENT.defer(conn, row)


def newest_first(conn: Connection, case_seq: int, before_seq: int | None,
                 limit: int) -> list[dict]:
    """Up to ``limit`` events of a case older than the cursor, newest first (one index range)."""
    query = select(audit_events).where(audit_events.c.case_seq == case_seq)
    if before_seq is not None:
        query = query.where(audit_events.c.seq < before_seq)
    rows = conn.execute(query.order_by(audit_events.c.seq.desc()).limit(limit))
    return [{"seq": row.seq, "event_id": row.event_id, "type": row.type,
             "related_item_type": row.related_item_type, "performed_at": row.performed_at,
             "performed_by": orjson.loads(row.performed_by),
             "fields": orjson.loads(row.fields),
             "merge_metadata": orjson.loads(row.merge_metadata) if row.merge_metadata else None}
            for row in rows]


def delete_for_case(conn: Connection, case_seq: int) -> None:
    """Remove a case's whole history."""
    conn.execute(delete(audit_events).where(audit_events.c.case_seq == case_seq))
