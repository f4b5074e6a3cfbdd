"""Connect Cases: client tokens of the batch operations, case merges

BatchUpdateCase and BatchCreateRelatedItem remember each clientToken with the answer given;
StartMergeCases records a merge that a background worker applies later (see cases/merges.py).

Revision ID: cases_0003_merges
Revises: cases_0002_audit
"""

import sqlalchemy as sa
from alembic import op

revision = "cases_0003_merges"
down_revision = "cases_0002_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases_batch_requests",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["cases_domains.domain_id"],
            name=op.f("fk_cases_batch_requests_domain_id_cases_domains"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cases_batch_requests")),
    )
    with op.batch_alter_table("cases_batch_requests", schema=None) as batch_op:
        batch_op.create_index("ix_cases_batch_requests_token",
                              ["domain_id", "operation", "client_token"], unique=True)
        batch_op.create_index("ix_cases_batch_requests_age", ["created_at"], unique=False)

    op.create_table(
        "cases_merges",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("merge_id", sa.String(length=36), nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("primary_case_id", sa.String(length=36), nullable=False),
        sa.Column("secondary_case_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("run_after", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["cases_domains.domain_id"],
            name=op.f("fk_cases_merges_domain_id_cases_domains"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cases_merges")),
    )
    with op.batch_alter_table("cases_merges", schema=None) as batch_op:
        batch_op.create_index("ix_cases_merges_merge", ["merge_id"], unique=True)
        batch_op.create_index("ix_cases_merges_primary",
                              ["domain_id", "primary_case_id", "status"], unique=False)
        batch_op.create_index("ix_cases_merges_secondary",
                              ["domain_id", "secondary_case_id", "status"], unique=False)
        batch_op.create_index("ix_cases_merges_due", ["status", "run_after"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases_merges", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_merges_due")
        batch_op.drop_index("ix_cases_merges_secondary")
        batch_op.drop_index("ix_cases_merges_primary")
        batch_op.drop_index("ix_cases_merges_merge")
    op.drop_table("cases_merges")
    with op.batch_alter_table("cases_batch_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_batch_requests_age")
        batch_op.drop_index("ix_cases_batch_requests_token")
    op.drop_table("cases_batch_requests")
