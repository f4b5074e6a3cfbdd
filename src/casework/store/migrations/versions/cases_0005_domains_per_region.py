"""Connect Cases: domain names are unique, and domains listed, per account and region

Revision ID: cases_0005_domains_per_region
Revises: cases_0004_domain_region
"""

from alembic import op

revision = "cases_0005_domains_per_region"
down_revision = "cases_0004_domain_region"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases_domains", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_domains_account_name")
        batch_op.drop_index("ix_cases_domains_account_seq")
        batch_op.create_index("ix_cases_domains_account_region_name",
                              ["account_id", "region", "name"], unique=True)
        batch_op.create_index("ix_cases_domains_account_region_seq",
                              ["account_id", "region", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases_domains", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_domains_account_region_seq")
        batch_op.drop_index("ix_cases_domains_account_region_name")
        batch_op.create_index("ix_cases_domains_account_seq", ["account_id", "seq"], unique=False)
        batch_op.create_index("ix_cases_domains_account_name", ["account_id", "name"],
                              unique=True)
