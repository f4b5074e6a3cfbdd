"""The case event-publishing configuration of domains."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, bindparam, delete, insert, select

from ...store.prepared import Prepared
from ..tables import event_configurations

# Read by every case change once an event sink is configured (cases/events.py).
_FIND = Prepared(select(event_configurations.c.configuration)
                 .where(event_configurations.c.domain_id == bindparam("domain_id")))


def find(conn: Connection, domain_id: str) -> dict | None:
    """The configuration last put for the domain, or None."""
    text = _FIND.scalar(conn, {"domain_id": domain_id})
    return None if text is None else orjson.loads(text)


def save(conn: Connection, domain_id: str, configuration: dict, now: int) -> None:
    """Replace the domain's configuration (delete then insert: the same SQL on every database)."""
    conn.execute(delete(event_configurations)
                 .where(event_configurations.c.domain_id == domain_id))
    conn.execute(insert(event_configurations).values(
        domain_id=domain_id, configuration=orjson.dumps(configuration).decode(),
        modified_at=now))
