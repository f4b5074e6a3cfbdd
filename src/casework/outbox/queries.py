"""The SQL on the outbox: claiming due rows under a lease, recording outcomes, listing, retrying."""

from __future__ import annotations

from sqlalchemy import Connection, and_, bindparam, select, update

from ..store.prepared import Prepared
from .core import Message
from .tables import DEAD, DELIVERED, PENDING, outbox

_MESSAGE_COLUMNS = (outbox.c.seq, outbox.c.message_id, outbox.c.channel, outbox.c.account_id,
                    outbox.c.case_id, outbox.c.kind, outbox.c.payload, outbox.c.attempts)

# Polled every second by every process with channels: a read on the claiming index.
_ANY_DUE = Prepared(
    select(outbox.c.seq).where(outbox.c.status == PENDING,
                               outbox.c.channel == bindparam("channel"),
                               outbox.c.next_attempt_at <= bindparam("now")).limit(1))


def any_due(conn: Connection, channel: str, now: int) -> bool:
    """Whether ``channel`` has a row to deliver now (a read, before claiming in a write)."""
    return _ANY_DUE.first(conn, {"channel": channel, "now": now}) is not None


def claim(conn: Connection, channel: str, now: int, lease: str, lease_until: int,
          limit: int) -> list[Message]:
    """Take up to ``limit`` due rows of ``channel`` under ``lease`` until ``lease_until``.

    PostgreSQL locks the rows it picks and skips rows another transaction has locked
    (``FOR UPDATE SKIP LOCKED``), so concurrent claimers of several processes or servers each
    get different rows; SQLite runs one writer at a time (this runs through the runner's
    writer), and ignores the clause. A claimed row is no longer due until its lease ends.
    """
    due = (select(outbox.c.seq)
           .where(outbox.c.status == PENDING, outbox.c.channel == channel,
                  outbox.c.next_attempt_at <= now)
           .order_by(outbox.c.next_attempt_at, outbox.c.seq)
           .limit(limit)
           .with_for_update(skip_locked=True))
    seqs = list(conn.scalars(due))
    if not seqs:
        return []
    rows = conn.execute(update(outbox).where(outbox.c.seq.in_(seqs))
                        .values(lease=lease, next_attempt_at=lease_until)
                        .returning(*_MESSAGE_COLUMNS)).all()
    return sorted((Message(*row) for row in rows), key=lambda m: m.seq)


_DELIVERED = Prepared(
    update(outbox)
    .where(outbox.c.seq == bindparam("row"), outbox.c.lease == bindparam("held"))
    .values(status=DELIVERED, delivered_at=bindparam("now"), lease=None, last_error=None,
            attempts=outbox.c.attempts + 1))
_RELEASE = Prepared(
    update(outbox)
    .where(outbox.c.seq == bindparam("row"), outbox.c.lease == bindparam("held"))
    .values(lease=None, next_attempt_at=bindparam("due_at")))


def delivered(conn: Connection, message: Message, lease: str, now: int) -> None:
    """Mark a claimed row delivered (unless its lease ran out and another delivery holds it)."""
    _DELIVERED.run(conn, {"row": message.seq, "held": lease, "now": now})


def release(conn: Connection, message: Message, lease: str, due_at: int) -> None:
    """Give back a claimed row that was not tried, due again at ``due_at``."""
    _RELEASE.run(conn, {"row": message.seq, "held": lease, "due_at": due_at})


def failed(conn: Connection, message: Message, lease: str, now: int, error: str,
           retry_at: int | None) -> None:
    """Count a failed delivery: retried at ``retry_at``, or dead when that is None."""
    values = {"attempts": outbox.c.attempts + 1, "lease": None, "last_error": error[:2000]}
    if retry_at is None:
        values["status"] = DEAD
    else:
        values["next_attempt_at"] = retry_at
    conn.execute(update(outbox).where(outbox.c.seq == message.seq, outbox.c.lease == lease)
                 .values(**values))


def listing(conn: Connection, status: str | None, limit: int | None = None) -> list:
    """Rows oldest first, all or those with ``status``."""
    query = select(outbox).order_by(outbox.c.seq)
    if status is not None:
        query = query.where(outbox.c.status == status)
    if limit is not None:
        query = query.limit(limit)
    return conn.execute(query).all()


def retry(conn: Connection, now: int, *, message_id: str | None = None,
          dead: bool = False) -> int:
    """Make rows due now with a fresh count of attempts: the dead ones (``dead``) or every
    row of ``message_id`` that is not delivered. Returns the number of rows."""
    if dead:
        condition = outbox.c.status == DEAD
    else:
        condition = and_(outbox.c.message_id == message_id, outbox.c.status != DELIVERED)
    return conn.execute(update(outbox).where(condition).values(
        status=PENDING, attempts=0, next_attempt_at=now, lease=None)).rowcount
