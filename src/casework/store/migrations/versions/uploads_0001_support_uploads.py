"""AWS Support large-file uploads: support_uploads, support_upload_parts

Revision ID: uploads_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "uploads_0001"
down_revision = "0001"
branch_labels = ("uploads",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "support_uploads",
        sa.Column("upload_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("part_size", sa.BigInteger(), nullable=False),
        sa.Column("total_parts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("attachment_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"],
            name=op.f("fk_support_uploads_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["attachment_id"], ["support_attachments.attachment_id"],
            name=op.f("fk_support_uploads_attachment_id_support_attachments"),
        ),
        sa.PrimaryKeyConstraint("upload_id", name=op.f("pk_support_uploads")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_support_uploads_storage_key")),
        sa.UniqueConstraint("attachment_id", name=op.f("uq_support_uploads_attachment_id")),
    )
    with op.batch_alter_table("support_uploads", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_uploads_expiry", ["attachment_id", "expires_at"], unique=False
        )

    op.create_table(
        "support_upload_parts",
        sa.Column("upload_id", sa.String(length=128), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("etag", sa.String(length=32), nullable=True),
        sa.Column("file_name", sa.String(length=64), nullable=True),
        sa.Column("uploaded_at", sa.BigInteger(), nullable=True),
        sa.Column("reported_etag", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(
            ["upload_id"], ["support_uploads.upload_id"],
            name=op.f("fk_support_upload_parts_upload_id_support_uploads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("upload_id", "part_index", name=op.f("pk_support_upload_parts")),
    )


def downgrade() -> None:
    op.drop_table("support_upload_parts")
    with op.batch_alter_table("support_uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_support_uploads_expiry")
    op.drop_table("support_uploads")
