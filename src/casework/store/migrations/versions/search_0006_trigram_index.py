"""Connect Cases search: PostgreSQL's trigram index for contains tests

``ix_cases_case_values_trigrams`` (PostgreSQL only): a GIN index of the trigrams of
``lower(string_value)`` (``pg_trgm``'s ``gin_trgm_ops``) over the ``stringValue`` values of
cases but those the service sets, the values SQLite's substring index holds (search_0005). The
extension is trusted from PostgreSQL 13: a role with CREATE on the database may create it, and
nothing is needed when an administrator already has. SQLite is unchanged.

Revision ID: search_0006
Revises: search_0005
"""

from alembic import op

revision = "search_0006"
down_revision = "search_0005"
branch_labels = None
depends_on = None

# Frozen copy of casework.cases.queries.search.SERVICE_MAINTAINED.
_SERVICE_MAINTAINED = ("'case_id', 'reference_number', 'created_datetime', "
                       "'last_updated_datetime', 'last_closed_datetime', 'last_updated_user'")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_cases_case_values_trigrams ON cases_case_values "
               "USING gin (lower(string_value) gin_trgm_ops) "
               f"WHERE kind = 'stringValue' AND field_id NOT IN ({_SERVICE_MAINTAINED})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_cases_case_values_trigrams")
