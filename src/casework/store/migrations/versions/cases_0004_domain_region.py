"""Connect Cases: the region a domain was created in, which every ARN inside it names

Revision ID: cases_0004_domain_region
Revises: cases_0003_merges
"""

import sqlalchemy as sa
from alembic import op

revision = "cases_0004_domain_region"
down_revision = "cases_0003_merges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Domains made before regions were recorded named us-east-1 in their ARNs; keep them so.
    with op.batch_alter_table("cases_domains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("region", sa.String(length=32), nullable=False, server_default="us-east-1")
        )


def downgrade() -> None:
    with op.batch_alter_table("cases_domains", schema=None) as batch_op:
        batch_op.drop_column("region")
