"""Tables of what happens to cases: the audit history and the event-publishing configuration.

Kept apart from ``tables.py`` because they belong to the audit and event-configuration
modules alone. Both hang off a parent row with ``ON DELETE CASCADE`` (SQLite runs with
``foreign_keys=ON``), so deleting a case or a domain can never leave history behind, whichever
code path deletes it.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from ..store.tables import metadata
from .tables import ID

# One row per audit event. The event's members that are lists or structures (fields,
# performedBy, mergeMetadata) are only ever read and written whole, so they are JSON text.
audit_events = Table(
    "cases_audit_events",
    metadata,
    # Insertion order is the history's order and the keyset cursor.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("domain_id", String(ID), nullable=False),
    Column("case_seq", Integer, ForeignKey("cases_cases.seq", ondelete="CASCADE"),
           nullable=False),
    Column("event_id", String(ID), nullable=False),
    Column("type", String(32), nullable=False),
    Column("related_item_type", String(16)),
    Column("performed_at", BigInteger, nullable=False),
    Column("performed_by", Text, nullable=False),  # JSON AuditEventPerformedBy
    Column("fields", Text, nullable=False),  # JSON list of AuditEventField
    Column("merge_metadata", Text),  # JSON AuditMergeMetadata, merges only
    # Serves the newest-first listing of one case and the cascade from cases_cases.
    Index("ix_cases_audit_events_case", "case_seq", "seq"),
)

# At most one row per domain: the EventBridgeConfiguration last put, as given.
event_configurations = Table(
    "cases_event_configurations",
    metadata,
    Column("domain_id", String(ID),
           ForeignKey("cases_domains.domain_id", ondelete="CASCADE"), primary_key=True),
    Column("configuration", Text, nullable=False),  # JSON EventBridgeConfiguration
    Column("modified_at", BigInteger, nullable=False),
)
