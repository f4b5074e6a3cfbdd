"""initial schema: accounts, keys, AWS Support

Revision ID: 0001
Revises:
"""

import time

import sqlalchemy as sa
from alembic import op

# The out-of-the-box credentials: key `test`, secret `test`, account 000000000000.
DEFAULT_ACCOUNT = "000000000000"

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "counters",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "name", name=op.f("pk_counters")),
    )
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_server_secrets")),
    )
    op.create_table(
        "access_keys",
        sa.Column("access_key_id", sa.String(length=128), nullable=False),
        sa.Column("secret_access_key", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.account_id"], name=op.f("fk_access_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("access_key_id", name=op.f("pk_access_keys")),
    )
    op.create_table(
        "support_cases",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=80), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("display_id", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("service_code", sa.String(length=100), nullable=False),
        sa.Column("category_code", sa.String(length=100), nullable=False),
        sa.Column("severity_code", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("issue_type", sa.String(length=32), nullable=False),
        sa.Column("submitted_by", sa.String(length=320), nullable=False),
        sa.Column("cc_email_addresses", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_support_cases_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_support_cases")),
        sa.UniqueConstraint("case_id", name=op.f("uq_support_cases_case_id")),
    )
    with op.batch_alter_table("support_cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_cases_account_display", ["account_id", "display_id"], unique=True
        )
        batch_op.create_index("ix_support_cases_account_seq", ["account_id", "seq"], unique=False)

    op.create_table(
        "support_communications",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_seq", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("submitted_by", sa.String(length=400), nullable=False),
        sa.Column("cc_email_addresses", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_seq"],
            ["support_cases.seq"],
            name=op.f("fk_support_communications_case_seq_support_cases"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_support_communications")),
    )
    with op.batch_alter_table("support_communications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_communications_case_seq", ["case_seq", "seq"], unique=False
        )

    op.create_table(
        "support_attachment_sets",
        sa.Column("attachment_set_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("communication_seq", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_support_attachment_sets_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["communication_seq"],
            ["support_communications.seq"],
            name=op.f("fk_support_attachment_sets_communication_seq_support_communications"),
        ),
        sa.PrimaryKeyConstraint("attachment_set_id", name=op.f("pk_support_attachment_sets")),
    )
    with op.batch_alter_table("support_attachment_sets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_attachment_sets_expiry", ["communication_seq", "expires_at"], unique=False
        )

    op.create_table(
        "support_attachments",
        sa.Column("attachment_id", sa.String(length=200), nullable=False),
        sa.Column("attachment_set_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_set_id"],
            ["support_attachment_sets.attachment_set_id"],
            name=op.f("fk_support_attachments_attachment_set_id_support_attachment_sets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_support_attachments")),
    )
    with op.batch_alter_table("support_attachments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_support_attachments_set", ["attachment_set_id", "position"], unique=False
        )

    now = time.time_ns() // 1_000_000
    op.bulk_insert(
        sa.table("accounts", sa.column("account_id"), sa.column("email"), sa.column("created_at")),
        [{"account_id": DEFAULT_ACCOUNT, "email": "support@example.com", "created_at": now}],
    )
    op.bulk_insert(
        sa.table(
            "access_keys",
            sa.column("access_key_id"),
            sa.column("secret_access_key"),
            sa.column("account_id"),
            sa.column("created_at"),
        ),
        [
            {
                "access_key_id": "test",
                "secret_access_key": "test",
                "account_id": DEFAULT_ACCOUNT,
                "created_at": now,
            }
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("support_attachments", schema=None) as batch_op:
        batch_op.drop_index("ix_support_attachments_set")

    op.drop_table("support_attachments")
    with op.batch_alter_table("support_attachment_sets", schema=None) as batch_op:
        batch_op.drop_index("ix_support_attachment_sets_expiry")

    op.drop_table("support_attachment_sets")
    with op.batch_alter_table("support_communications", schema=None) as batch_op:
        batch_op.drop_index("ix_support_communications_case_seq")

    op.drop_table("support_communications")
    with op.batch_alter_table("support_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_support_cases_account_seq")
        batch_op.drop_index("ix_support_cases_account_display")

    op.drop_table("support_cases")
    op.drop_table("access_keys")
    op.drop_table("server_secrets")
    op.drop_table("counters")
    op.drop_table("accounts")
