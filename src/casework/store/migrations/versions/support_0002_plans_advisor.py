"""AWS Support: support plans per account, Trusted Advisor results and refreshes

Revision ID: support_0002
Revises: 0001
"""

import time

import sqlalchemy as sa
from alembic import op

revision = "support_0002"
down_revision = "0001"
branch_labels = ("support",)
depends_on = None

# The out-of-the-box account gets the plan that allows everything, so that the default
# `test` key works fully without any setup.
DEFAULT_ACCOUNT = "000000000000"


def upgrade() -> None:
    op.create_table(
        "support_account_plans",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"],
                                name=op.f("fk_support_account_plans_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_support_account_plans")),
    )
    op.create_table(
        "support_advisor_results",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("check_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checked_at", sa.BigInteger(), nullable=False),
        sa.Column("resources_processed", sa.BigInteger(), nullable=False),
        sa.Column("resources_flagged", sa.BigInteger(), nullable=False),
        sa.Column("resources_ignored", sa.BigInteger(), nullable=False),
        sa.Column("resources_suppressed", sa.BigInteger(), nullable=False),
        sa.Column("estimated_monthly_savings", sa.Float(), nullable=False),
        sa.Column("estimated_percent_monthly_savings", sa.Float(), nullable=False),
        sa.Column("flagged_resources", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"],
                                name=op.f("fk_support_advisor_results_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", "check_id", name=op.f("pk_support_advisor_results")),
    )
    op.create_table(
        "support_advisor_refreshes",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("check_id", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"],
                                name=op.f("fk_support_advisor_refreshes_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", "check_id",
                                name=op.f("pk_support_advisor_refreshes")),
    )
    op.bulk_insert(
        sa.table("support_account_plans", sa.column("account_id"), sa.column("plan"),
                 sa.column("updated_at")),
        [{"account_id": DEFAULT_ACCOUNT, "plan": "enterprise",
          "updated_at": time.time_ns() // 1_000_000}],
    )


def downgrade() -> None:
    op.drop_table("support_advisor_refreshes")
    op.drop_table("support_advisor_results")
    op.drop_table("support_account_plans")
