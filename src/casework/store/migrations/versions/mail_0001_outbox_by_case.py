"""E-mail: the outbox's rows found by their case (the support-side case view)

Revision ID: mail_0001
Revises: (none: the mail branch's own base; needs the outbox table)
"""

from alembic import op

revision = "mail_0001"
down_revision = None
branch_labels = ("mail",)
depends_on = "outbox_0001"


def upgrade() -> None:
    op.create_index("ix_outbox_case", "outbox", ["case_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_outbox_case", table_name="outbox")
