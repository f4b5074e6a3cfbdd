"""AWS Support tables: cases, communications, attachments, plans and Trusted Advisor."""

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Sequence,
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
    # PostgreSQL drops this key and communications' (migration pgw_0002: each insert would
    # share-lock the parent row).
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

# PostgreSQL: the numbers of display ids, shared by all accounts (migration pgw_0001). SQLite
# takes them from each account's counter (store.tables.counters).
display_ids = Sequence("support_display_ids", metadata=metadata)

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


# --- large-file uploads --------------------------------------------------------------------
# Tables of AWS Support's large-file uploads (GetAttachmentUploadLinks and friends).
#
# Only metadata lives here; the bytes of each part live in a file under the data directory
# (see :mod:`casework.support.blobs`). A completed upload that is attached to a communication
# becomes a row of ``support_attachments`` whose ``data`` is empty, and ``attachment_id`` below
# says where its bytes are.

uploads = Table(
    "support_uploads",
    metadata,
    Column("upload_id", String(128), primary_key=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("file_name", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("part_size", BigInteger, nullable=False),
    Column("total_parts", Integer, nullable=False),
    # attachment-not-ready -> attachment-ready | failed (the model's UploadStatus values)
    Column("status", String(32), nullable=False),
    # Directory of the part files: random and unrelated to the upload id, so that file
    # names on disk reveal nothing a client could use.
    Column("storage_key", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),  # epoch milliseconds
    Column("expires_at", BigInteger, nullable=False),
    # Set once the upload is attached to a communication; from then on it never expires.
    Column("attachment_id", String(200),
           ForeignKey("support_attachments.attachment_id"), unique=True),
    Index("ix_support_uploads_expiry", "attachment_id", "expires_at"),
)

upload_parts = Table(
    "support_upload_parts",
    metadata,
    Column("upload_id", String(128), ForeignKey("support_uploads.upload_id", ondelete="CASCADE"),
           primary_key=True),
    Column("part_index", Integer, primary_key=True),  # 1-based, as in the model
    # Filled by the PUT of the part: its size, MD5 (the ETag) and file name in the directory.
    Column("size", BigInteger),
    Column("etag", String(32)),
    Column("file_name", String(64)),
    Column("uploaded_at", BigInteger),
    # Filled by CompleteAttachmentUpload: the ETag the client reports for the part.
    Column("reported_etag", String(256)),
)
