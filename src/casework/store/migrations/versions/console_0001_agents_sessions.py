"""Agent console: console_agents, console_sessions; indexes of the support queue and overview

Revision ID: console_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "console_0001"
down_revision = "0001"
branch_labels = ("console",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_agents",
        sa.Column("agent_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("all_accounts", sa.Boolean(), nullable=False),
        sa.Column("accounts", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("failed_signins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_console_agents")),
        sa.UniqueConstraint("email", name=op.f("uq_console_agents_email")),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["console_agents.agent_id"],
                                name=op.f("fk_console_sessions_agent_id_console_agents"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_console_sessions")),
    )
    op.create_index("ix_console_sessions_agent", "console_sessions", ["agent_id"])
    # The queue filtered by status pages through this index in sort order.
    op.create_index("ix_support_cases_status_seq", "support_cases", ["status", "seq"])
    # The overview counts open cases by status and severity from this index alone.
    op.create_index("ix_support_cases_status_severity", "support_cases",
                    ["status", "severity_code", "account_id"])


def downgrade() -> None:
    op.drop_index("ix_support_cases_status_severity", table_name="support_cases")
    op.drop_index("ix_support_cases_status_seq", table_name="support_cases")
    op.drop_index("ix_console_sessions_agent", table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_table("console_agents")
