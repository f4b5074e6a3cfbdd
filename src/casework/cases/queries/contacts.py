"""The contact registry: what Amazon Connect's DescribeContact would say about a contact."""

from __future__ import annotations

from sqlalchemy import Connection, select

from ...store.sql import upsert
from ..tables import contacts


def find(conn: Connection, contact_arn: str):
    """The registry's record of a contact (channel, connected_at), or None."""
    return conn.execute(select(contacts).where(contacts.c.contact_arn == contact_arn)).first()


def put(conn: Connection, contact_arn: str, channel: str, connected_at: int) -> None:
    """Insert or replace a contact in the registry."""
    upsert(conn, contacts,
           {"contact_arn": contact_arn, "channel": channel, "connected_at": connected_at},
           ["contact_arn"], {"channel": channel, "connected_at": connected_at})
