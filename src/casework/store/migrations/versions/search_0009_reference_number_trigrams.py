"""Connect Cases search: PostgreSQL's trigram index of reference numbers

``ix_cases_case_values_reference_trigrams`` (PostgreSQL only): a GIN index of the trigrams of
``lower(string_value)`` (``pg_trgm``'s ``gin_trgm_ops``) over the cases' reference numbers,
which ``ix_cases_case_values_trigrams`` (search_0006) leaves out with the other values the
service sets. A contains test on a reference number looks its pattern up there instead of
testing each case of the domain (86 s for a rare pattern at a million cases). SQLite is
unchanged: its reference numbers are keys of the value index, scanned for a contains test.

Revision ID: search_0009
Revises: search_0008
"""

from alembic import op

revision = "search_0009"
down_revision = "search_0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_cases_case_values_reference_trigrams ON cases_case_values "
               "USING gin (lower(string_value) gin_trgm_ops) "
               "WHERE field_id = 'reference_number'")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_cases_case_values_reference_trigrams")
