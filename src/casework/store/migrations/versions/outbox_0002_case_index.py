"""Outbox: rows found by their case (the e-mail states of a case's communications)

Revision ID: outbox_0002
Revises: outbox_0001
"""

from alembic import op

revision = "outbox_0002"
down_revision = "outbox_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_outbox_case", "outbox", ["case_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_outbox_case", table_name="outbox")
