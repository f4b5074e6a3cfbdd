"""Connect Cases on PostgreSQL: no foreign keys from a case's rows to the case

A case's values, related items, contact links, audit events and search document each carried
a foreign key to ``cases_cases``. On PostgreSQL every row inserted ran the key's check, a
trigger with a locking read of the case (``FOR KEY SHARE``): eight a CreateCase, about 150 µs
of the database's CPU, 17% of it (bench/RESULTS.md, run 14). The rows are written only with
their case, in its transaction or under its lock (``queries.case_records.find``), and every
path that deletes a case or a domain deletes its rows itself (``delete_case``,
``delete_domain``), so the keys guarded nothing there. SQLite keeps them, as it keeps AWS
Support's (pgw_0002): its writers run one at a time and its check is a lookup in-process.

Revision ID: cases_0010_case_keys
Revises: cases_0009_related_item_count
"""

from alembic import op

revision = "cases_0010_case_keys"
down_revision = "cases_0009_related_item_count"
branch_labels = None
depends_on = None

# (table, constraint): the search document's table was made in SQL, with PostgreSQL's name.
_KEYS = [
    ("cases_case_values", "fk_cases_case_values_case_seq_cases_cases"),
    ("cases_related_items", "fk_cases_related_items_case_seq_cases_cases"),
    ("cases_contact_links", "fk_cases_contact_links_case_seq_cases_cases"),
    ("cases_audit_events", "fk_cases_audit_events_case_seq_cases_cases"),
    ("cases_search_terms", "cases_search_terms_case_seq_fkey"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name in _KEYS:
        op.drop_constraint(name, table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name in _KEYS:
        op.create_foreign_key(name, table, "cases_cases", ["case_seq"], ["seq"],
                              ondelete="CASCADE")
