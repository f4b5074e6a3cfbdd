"""Connect Cases search: each value index holds only the rows of its own type

A value row fills exactly one of ``string_value``, ``double_value`` and ``boolean_value``, but
every row went into all three ``(domain_id, field_id, value, case_seq)`` indexes, two of them
with a NULL key nothing ever looks up. Each index is now partial (``WHERE <column> IS NOT
NULL``): a case of fifteen values writes fifteen index entries instead of forty-five, and the
queries that read the indexes say ``<column> IS NOT NULL`` so that both databases use them.

Revision ID: search_0002
Revises: cases_0007_search_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "search_0002"
down_revision = "cases_0007_search_indexes"
branch_labels = None
depends_on = None

_KEYS = {"string": sa.text("substr(string_value, 1, 256)"), "double": "double_value",
         "boolean": "boolean_value"}


def _create(partial: bool) -> None:
    for name, key in _KEYS.items():
        where = sa.text(f"{name}_value IS NOT NULL") if partial else None
        op.create_index(f"ix_cases_case_values_{name}", "cases_case_values",
                        ["domain_id", "field_id", key, "case_seq"],
                        sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    for name in _KEYS:
        op.drop_index(f"ix_cases_case_values_{name}", table_name="cases_case_values")
    _create(partial=True)


def downgrade() -> None:
    for name in _KEYS:
        op.drop_index(f"ix_cases_case_values_{name}", table_name="cases_case_values")
    _create(partial=False)
