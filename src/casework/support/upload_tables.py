"""Tables of AWS Support's large-file uploads (GetAttachmentUploadLinks and friends).

Only metadata lives here; the bytes of each part live in a file under the data directory
(see :mod:`casework.support.blobs`). A completed upload that is attached to a communication
becomes a row of ``support_attachments`` whose ``data`` is empty, and ``attachment_id`` below
says where its bytes are.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from ..store.tables import metadata

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
