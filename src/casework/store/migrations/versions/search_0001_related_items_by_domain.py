"""Connect Cases search: related items of a domain in association-time order

SearchAllRelatedItems reads the related items of one domain, newest (or oldest) first; the
table's other indexes all start with the case, so without this one the search would scan every
domain's related items. SearchCases needs no index of its own: it reads the domain's cases
through ix_cases_cases_case and probes their values by primary key.

Revision ID: search_0001
Revises: cases_0001
"""

from alembic import op

revision = "search_0001"
down_revision = "cases_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases_related_items", schema=None) as batch_op:
        batch_op.create_index("ix_cases_related_items_domain_time",
                              ["domain_id", "association_time", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases_related_items", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_related_items_domain_time")
