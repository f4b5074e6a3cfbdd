"""Connect Cases: each domain carries the version of its definitions

``cases_domains.definitions_version`` changes (to a new random number) in the transaction of
every change to the domain's fields, layouts, templates or case rules, so that a server
process can keep the definitions it has read and reuse them for as long as the domain's row,
which every request reads anyway, shows the same version (``cases/queries/definitions.py``).

Revision ID: ccw_0001
Revises: search_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "ccw_0001"
down_revision = "search_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases_domains") as batch:
        batch.add_column(sa.Column("definitions_version", sa.BigInteger(), nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("cases_domains") as batch:
        batch.drop_column("definitions_version")
