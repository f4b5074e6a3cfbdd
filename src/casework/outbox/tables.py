"""The outbox: messages written in the transaction of the change that caused them.

One row per (message, channel): a case event configured for two webhooks and EventBridge is
three rows with the same ``message_id``, so that each sink is retried on its own and a sink
that is down holds up no other.
"""

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, UniqueConstraint

from ..store.tables import metadata

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"

outbox = Table(
    "outbox",
    metadata,
    # Insertion order: the order rows are claimed in when equally due.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    # Stable across retries and channels: the EventBridge event ``id``, an e-mail's Message-ID.
    Column("message_id", String(200), nullable=False),
    Column("channel", String(64), nullable=False),  # webhook:1, eventbridge, mail, ...
    Column("account_id", String(12), nullable=False),
    Column("case_id", String(200), nullable=True),
    Column("kind", String(64), nullable=False),  # the event's name, or "mail"
    Column("payload", Text, nullable=False),  # JSON: what the channel delivers
    Column("status", String(16), nullable=False),  # pending | delivered | dead
    Column("attempts", Integer, nullable=False),  # deliveries tried and failed (or done)
    # Epoch ms when the row may next be claimed. A claimed row's is moved to the end of its
    # lease, so a process that dies while delivering frees the row when the lease runs out.
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("lease", String(64), nullable=True),  # token of the delivery that holds the row
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    UniqueConstraint("message_id", "channel", name="uq_outbox_message_channel"),
    # Claiming: the due pending rows of one channel, oldest due first.
    Index("ix_outbox_due", "status", "channel", "next_attempt_at"),
    # A case's messages (the support-side view lists each communication's mail state).
    Index("ix_outbox_case", "case_id", "seq"),
)
