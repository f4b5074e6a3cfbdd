"""Connect Cases: audit history of cases, case event configuration of domains

Revision ID: cases_0002_audit
Revises: search_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "cases_0002_audit"
down_revision = "search_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases_audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("case_seq", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("related_item_type", sa.String(length=16), nullable=True),
        sa.Column("performed_at", sa.BigInteger(), nullable=False),
        sa.Column("performed_by", sa.Text(), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("merge_metadata", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_seq"], ["cases_cases.seq"],
                                name=op.f("fk_cases_audit_events_case_seq_cases_cases"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cases_audit_events")),
    )
    with op.batch_alter_table("cases_audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_cases_audit_events_case", ["case_seq", "seq"], unique=False)

    op.create_table(
        "cases_event_configurations",
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("configuration", sa.Text(), nullable=False),
        sa.Column("modified_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"], ["cases_domains.domain_id"],
            name=op.f("fk_cases_event_configurations_domain_id_cases_domains"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("domain_id", name=op.f("pk_cases_event_configurations")),
    )


def downgrade() -> None:
    op.drop_table("cases_event_configurations")
    with op.batch_alter_table("cases_audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_audit_events_case")
    op.drop_table("cases_audit_events")
