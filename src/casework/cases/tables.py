"""Amazon Connect Cases tables.

Everything below a domain carries the domain's id, so that account isolation is one check (the
domain belongs to the caller) and DeleteDomain is one ``DELETE ... WHERE domain_id = ?`` per
table. Times are epoch milliseconds; documents the API only reads and writes whole (layout
content, template configuration, rule details, related-item content) are JSON text.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from ..store.tables import metadata

ID = 36  # uuid4 text; system field ids are shorter snake_case names

domains = Table(
    "cases_domains",
    metadata,
    # Insertion order is the listing order and the keyset cursor.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("domain_id", String(ID), nullable=False, unique=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # The region the domain was created through; every ARN inside the domain names it.
    Column("region", String(32), nullable=False, server_default="us-east-1"),
    # Changes (to a new random number) with every change to the domain's definitions: a
    # process reuses the definitions it has read while the domain's row shows the same
    # version (queries/definitions.py).
    Column("definitions_version", BigInteger, nullable=False, server_default="0"),
    # Domains are regional: names are unique, and listings run, per account and region.
    Index("ix_cases_domains_account_region_seq", "account_id", "region", "seq"),
    Index("ix_cases_domains_account_region_name", "account_id", "region", "name", unique=True),
)

# Fields, layouts, templates and case rules share one life cycle: named per domain, created,
# updated, soft-deleted (still readable by id, gone from listings), JSON-bodied. One table with
# a ``kind`` keeps their listing, naming and deletion rules in one place.
definitions = Table(
    "cases_definitions",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("domain_id", String(ID), nullable=False),
    Column("kind", String(16), nullable=False),  # field | layout | template | case-rule
    Column("item_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("body", Text, nullable=False),  # JSON: the kind's own members
    Column("deleted", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("modified_at", BigInteger, nullable=False),
    Index("ix_cases_definitions_item", "domain_id", "kind", "item_id", unique=True),
    Index("ix_cases_definitions_listing", "domain_id", "kind", "deleted", "seq"),
    Index("ix_cases_definitions_name", "domain_id", "kind", "name"),
)

field_options = Table(
    "cases_field_options",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("domain_id", String(ID), nullable=False),
    Column("field_id", String(64), nullable=False),
    Column("value", String(100), nullable=False),
    Column("name", String(100), nullable=False),
    Column("active", Boolean, nullable=False),
    Index("ix_cases_field_options_value", "domain_id", "field_id", "value", unique=True),
    Index("ix_cases_field_options_listing", "domain_id", "field_id", "seq"),
)

cases = Table(
    "cases_cases",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("domain_id", String(ID), nullable=False),
    Column("case_id", String(ID), nullable=False),
    Column("template_id", String(ID), nullable=False),
    Column("client_token", String(64)),
    Column("request_hash", String(64)),  # of the CreateCase body, for idempotent retries
    Column("created_at", BigInteger, nullable=False),
    # How many related items the case holds (the quota CreateRelatedItem checks), kept by
    # every statement that adds, moves or removes one (queries/related_items.py): counting
    # them on each call read a row per item on PostgreSQL (migration cases_0009).
    Column("related_item_count", Integer, nullable=False, server_default="0"),
    Index("ix_cases_cases_case", "domain_id", "case_id", unique=True),
    # Unique, so that two concurrent retries cannot both create a case (NULLs never clash).
    Index("ix_cases_cases_token", "domain_id", "client_token", unique=True),
    # A domain's cases newest first: SearchCases' order among cases without a sort value, and
    # its capped totalCount without a filter.
    Index("ix_cases_cases_domain_seq", "domain_id", "seq"),
)

# A case's rows below (values, related items, contact links, audit events) hang off it with
# ``ON DELETE CASCADE`` on SQLite. PostgreSQL drops these keys (migration cases_0010: each
# insert ran a locking check of the case): there every path that deletes a case or a domain
# deletes its rows itself (``queries.case_records.delete_case``,
# ``queries.domains.delete_domain``).

# One row per field value of a case. Typed columns (rather than JSON) so that a case search
# can compare and index values; ``domain_id`` (the case's) leads the search indexes, which
# ``queries/search.py`` declares next to the queries that use them.
case_values = Table(
    "cases_case_values",
    metadata,
    Column("case_seq", Integer, ForeignKey("cases_cases.seq", ondelete="CASCADE"),
           primary_key=True),
    Column("field_id", String(64), primary_key=True),
    Column("domain_id", String(ID)),
    Column("kind", String(16), nullable=False),  # the FieldValueUnion member
    Column("string_value", Text),
    Column("double_value", Float),
    Column("boolean_value", Boolean),
)

related_items = Table(
    "cases_related_items",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("domain_id", String(ID), nullable=False),
    Column("case_seq", Integer, ForeignKey("cases_cases.seq", ondelete="CASCADE"),
           nullable=False),
    Column("related_item_id", String(ID), nullable=False),
    Column("type", String(16), nullable=False),
    Column("content", Text, nullable=False),  # JSON RelatedItemContent member
    Column("created_by", Text),  # JSON UserUnion
    Column("last_updated_user", Text),  # JSON UserUnion
    Column("association_time", BigInteger, nullable=False),
    # The content member a SearchAllRelatedItems filter matches exactly (contactArn, fileArn,
    # caseId, SLA name; NULL for comments and custom items), so that the search is an index
    # range scan; see search_queries.RELATED_ITEMS_BY_KEY.
    Column("search_key", String(500)),
    Index("ix_cases_related_items_item", "case_seq", "related_item_id", unique=True),
    # Ends with the type so that a case's items are counted by type on the index alone.
    Index("ix_cases_related_items_case", "case_seq", "seq", "type"),
)

# The case <-> contact links behind ListCasesForContact: one row per (contact, case), carrying
# the newest Contact related item that links them, so listing is one index range scan.
contact_links = Table(
    "cases_contact_links",
    metadata,
    Column("domain_id", String(ID), primary_key=True),
    Column("contact_arn", String(500), primary_key=True),
    Column("case_seq", Integer, ForeignKey("cases_cases.seq", ondelete="CASCADE"),
           primary_key=True),
    Column("link_seq", Integer, nullable=False),  # related_items.seq of the newest link
    Index("ix_cases_contact_links_listing", "domain_id", "contact_arn", "link_seq"),
    Index("ix_cases_contact_links_case", "case_seq"),
)

# The contact registry: what Amazon Connect would answer for DescribeContact, filled by
# operators (`casework contacts put`) so that Contact related items carry real values. Each
# account has its own: one account's contact details never show through another's items.
contacts = Table(
    "cases_account_contacts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("contact_arn", String(500), primary_key=True),
    Column("channel", String(100), nullable=False),
    Column("connected_at", BigInteger, nullable=False),
)

tags = Table(
    "cases_tags",
    metadata,
    Column("resource_arn", String(700), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
    Column("domain_id", String(ID), nullable=False),
    Index("ix_cases_tags_domain", "domain_id"),
)


# --- audit history and event configuration -------------------------------------------------
# Audit events hang off their case as a case's other rows do (above); the event configuration
# hangs off its domain with ``ON DELETE CASCADE`` (SQLite runs with ``foreign_keys=ON``).

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
    # Serves the newest-first listing of one case and the deletes of its history.
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


# --- batch client tokens and merges --------------------------------------------------------
# Both hang off the domain with ``ON DELETE CASCADE``, so DeleteDomain's final delete of the
# domain row takes them along without the domain code knowing they exist. Case ids (not case
# sequence numbers) are stored: a merge stays on record after either case is deleted, as the
# rule "a secondary case is never merged twice" needs.

# One row per clientToken of BatchUpdateCase / BatchCreateRelatedItem: the hash of the request
# and the answer given, so that a retry gets the same answer and a reuse a ConflictException.
batch_requests = Table(
    "cases_batch_requests",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("domain_id", String(ID),
           ForeignKey("cases_domains.domain_id", ondelete="CASCADE"), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("client_token", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text),  # JSON output, written in the same transaction as the work
    Column("created_at", BigInteger, nullable=False),
    # Unique: of two concurrent first tries, the second waits for the first and then reads it.
    Index("ix_cases_batch_requests_token", "domain_id", "operation", "client_token",
          unique=True),
    Index("ix_cases_batch_requests_age", "created_at"),
)

# One row per StartMergeCases. ``status`` is IN_PROGRESS until the merge worker has applied
# the merge (COMPLETED) or found that it no longer can (FAILED, e.g. a case was deleted).
merges = Table(
    "cases_merges",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("merge_id", String(ID), nullable=False),
    Column("domain_id", String(ID),
           ForeignKey("cases_domains.domain_id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("primary_case_id", String(ID), nullable=False),
    Column("secondary_case_id", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("request", Text, nullable=False),  # JSON: fieldIds, relatedItems, performedBy
    Column("started_at", BigInteger, nullable=False),
    Column("run_after", BigInteger, nullable=False),  # when the worker may apply it
    Column("attempts", Integer, nullable=False),
    Column("finished_at", BigInteger),
    Column("failure", Text),
    Index("ix_cases_merges_merge", "merge_id", unique=True),
    Index("ix_cases_merges_primary", "domain_id", "primary_case_id", "status"),
    Index("ix_cases_merges_secondary", "domain_id", "secondary_case_id", "status"),
    Index("ix_cases_merges_due", "status", "run_after"),
)
