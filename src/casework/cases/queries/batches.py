"""Client tokens of the batch operations and the answers given to them."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..tables import batch_requests


def claim(conn: Connection, domain_id: str, operation: str, client_token: str,
          request_hash: str, now: int) -> int | None:
    """Take the token for this request; its row's seq, or None if the token is already taken.

    The insert runs in a savepoint: when a concurrent request holds the token, the unique
    index makes this one wait for it and then fail, and the caller reads the earlier answer.
    """
    try:
        with conn.begin_nested():
            return conn.execute(insert(batch_requests).values(
                domain_id=domain_id, operation=operation, client_token=client_token,
                request_hash=request_hash, created_at=now,
            ).returning(batch_requests.c.seq)).scalar_one()
    except IntegrityError:
        return None


def find(conn: Connection, domain_id: str, operation: str, client_token: str):
    """The earlier request with this token as ``(request_hash, response dict)``, or None."""
    row = conn.execute(select(batch_requests.c.request_hash, batch_requests.c.response).where(
        batch_requests.c.domain_id == domain_id, batch_requests.c.operation == operation,
        batch_requests.c.client_token == client_token)).first()
    if row is None:
        return None
    return row.request_hash, orjson.loads(row.response) if row.response else None


def save_response(conn: Connection, seq: int, response: dict) -> None:
    """Remember the answer of a claimed token."""
    conn.execute(update(batch_requests).where(batch_requests.c.seq == seq)
                 .values(response=orjson.dumps(response).decode()))


def forget_before(conn: Connection, cutoff: int) -> None:
    """Drop tokens older than ``cutoff`` (epoch ms): an index range scan, usually empty."""
    conn.execute(delete(batch_requests).where(batch_requests.c.created_at < cutoff))
