"""Tags of every taggable resource, keyed by the resource's ARN."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, delete, insert, select

from ...store.prepared import Prepared
from ..tables import tags

_OF = Prepared(select(tags.c.key, tags.c.value).where(tags.c.resource_arn == bindparam("arn")))


def of(conn: Connection, arn: str) -> dict[str, str]:
    """The tags of a resource."""
    return {key: value for key, value in _OF.all(conn, {"arn": arn})}


def put(conn: Connection, domain_id: str, arn: str, new: dict[str, str]) -> None:
    """Add or overwrite the given tags."""
    if not new:
        return
    conn.execute(delete(tags).where(tags.c.resource_arn == arn, tags.c.key.in_(list(new))))
    conn.execute(insert(tags), [{"resource_arn": arn, "key": k, "value": v,
                                 "domain_id": domain_id} for k, v in new.items()])


def remove(conn: Connection, arn: str, keys: list[str]) -> None:
    """Remove the given tag keys (missing ones are ignored)."""
    if keys:
        conn.execute(delete(tags).where(tags.c.resource_arn == arn, tags.c.key.in_(keys)))


def remove_all(conn: Connection, arn: str) -> None:
    """Remove every tag of a resource."""
    conn.execute(delete(tags).where(tags.c.resource_arn == arn))
