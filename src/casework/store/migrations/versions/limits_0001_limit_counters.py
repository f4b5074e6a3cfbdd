"""Request limits shared by all server processes: limit_counters

Revision ID: limits_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "limits_0001"
down_revision = "0001"
branch_labels = ("limits",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "limit_counters",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("level", sa.Float(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("admitted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "name", name=op.f("pk_limit_counters")),
    )


def downgrade() -> None:
    op.drop_table("limit_counters")
