"""Agent console: console_unknown_signins (sign-in failures of e-mails no agent has)

Revision ID: console_0002
Revises: console_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "console_0002"
down_revision = "console_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_unknown_signins",
        sa.Column("bucket", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("failed_signins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_console_unknown_signins")),
    )


def downgrade() -> None:
    op.drop_table("console_unknown_signins")
