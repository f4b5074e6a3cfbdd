"""AWS Support tables: cases, communications, attachments, plans and Trusted Advisor."""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from ..store.tables import metadata

cases = Table(
    "support_cases",
    metadata,
    # Insertion order doubles as the newest-first sort key and the keyset cursor.
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(80), nullable=False, unique=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("display_id", String(20), nullable=False),
    Column("subject", Text, nullable=False),
    Column("status", String(32), nullable=False),
    Column("service_code", String(100), nullable=False),
    Column("category_code", String(100), nullable=False),
    Column("severity_code", String(32), nullable=False),
    Column("language", String(16), nullable=False),
    Column("issue_type", String(32), nullable=False),
    Column("submitted_by", String(320), nullable=False),
    Column("cc_email_addresses", Text, nullable=False),  # JSON list
    Column("created_at", BigInteger, nullable=False),  # epoch milliseconds
    Column("resolved_at", BigInteger),
    Index("ix_support_cases_account_seq", "account_id", "seq"),
    Index("ix_support_cases_account_display", "account_id", "display_id", unique=True),
    Index("ix_support_cases_status_seq", "status", "seq"),  # the console's queue by status
    # The console's overview counts open cases by status and severity from this index alone.
    Index("ix_support_cases_status_severity", "status", "severity_code", "account_id"),
)

communications = Table(
    "support_communications",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("case_seq", Integer, ForeignKey("support_cases.seq"), nullable=False),
    Column("body", Text, nullable=False),
    Column("submitted_by", String(400), nullable=False),
    Column("cc_email_addresses", Text, nullable=False),  # JSON list
    Column("created_at", BigInteger, nullable=False),
    Index("ix_support_communications_case_seq", "case_seq", "seq"),
)

attachment_sets = Table(
    "support_attachment_sets",
    metadata,
    Column("attachment_set_id", String(128), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    # Set when a case or communication consumes the set; a set is used once.
    Column("communication_seq", Integer, ForeignKey("support_communications.seq")),
    Index("ix_support_attachment_sets_expiry", "communication_seq", "expires_at"),
)

attachments = Table(
    "support_attachments",
    metadata,
    Column("attachment_id", String(200), primary_key=True),
    Column("attachment_set_id", String(128),
           ForeignKey("support_attachment_sets.attachment_set_id", ondelete="CASCADE"),
           nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("position", Integer, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_support_attachments_set", "attachment_set_id", "position"),
)

# An account's support plan; accounts without a row have the configured default plan.
account_plans = Table(
    "support_account_plans",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("plan", String(32), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# Trusted Advisor results as an operator loaded them (Casework cannot inspect real accounts).
advisor_results = Table(
    "support_advisor_results",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("check_id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("checked_at", BigInteger, nullable=False),  # the result's own timestamp
    Column("resources_processed", BigInteger, nullable=False),
    Column("resources_flagged", BigInteger, nullable=False),
    Column("resources_ignored", BigInteger, nullable=False),
    Column("resources_suppressed", BigInteger, nullable=False),
    Column("estimated_monthly_savings", Float, nullable=False),
    Column("estimated_percent_monthly_savings", Float, nullable=False),
    Column("flagged_resources", Text, nullable=False),  # JSON list, API-shaped
)

# The latest refresh request per account and check; its state follows from the clock.
advisor_refreshes = Table(
    "support_advisor_refreshes",
    metadata,
    Column("account_id", String(12), ForeignKey("accounts.account_id"), primary_key=True),
    Column("check_id", String(32), primary_key=True),
    Column("requested_at", BigInteger, nullable=False),
)
