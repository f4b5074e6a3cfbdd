"""The contact registry: what Amazon Connect's DescribeContact would say about a contact.

Each account has its own registry, as each AWS account has its own Connect instances.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from ...store.sql import upsert
from ..tables import contacts


def find(conn: Connection, account_id: str, contact_arn: str):
    """The account's record of a contact (channel, connected_at), or None."""
    return conn.execute(select(contacts).where(contacts.c.account_id == account_id,
                                               contacts.c.contact_arn == contact_arn)).first()


def put(conn: Connection, account_id: str, contact_arn: str, channel: str,
        connected_at: int) -> None:
    """Insert or replace a contact in the account's registry."""
    upsert(conn, contacts,
           {"account_id": account_id, "contact_arn": contact_arn, "channel": channel,
            "connected_at": connected_at},
           ["account_id", "contact_arn"], {"channel": channel, "connected_at": connected_at})
