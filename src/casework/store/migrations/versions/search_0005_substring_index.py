"""Connect Cases search: SQLite's substring index for contains tests

``cases_search_substrings`` (SQLite only): an FTS5 table with the trigram tokenizer holding one
document per ``stringValue`` value of a case but those the service sets, keyed by the value's
field's definition seq above the case's seq (``search_queries.substring_key``); it merges
segments sixteen at a time. PostgreSQL is unchanged.

Revision ID: search_0005
Revises: search_0004
"""

from alembic import op

revision = "search_0005"
down_revision = "search_0004"
branch_labels = None
depends_on = None

# Frozen copy of search_queries.SERVICE_MAINTAINED.
_SERVICE_MAINTAINED = ("'case_id', 'reference_number', 'created_datetime', "
                       "'last_updated_datetime', 'last_closed_datetime', 'last_updated_user'")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE VIRTUAL TABLE cases_search_substrings USING fts5(text, "
               "tokenize='trigram', detail=none, columnsize=0)")
    op.execute("INSERT INTO cases_search_substrings (rowid, text) "
               "SELECT (d.seq << 31) | v.case_seq, v.string_value "
               "FROM cases_case_values AS v JOIN cases_definitions AS d "
               "ON d.domain_id = v.domain_id AND d.kind = 'field' AND d.item_id = v.field_id "
               "WHERE v.kind = 'stringValue' AND v.string_value <> '' "
               f"AND v.field_id NOT IN ({_SERVICE_MAINTAINED}) ORDER BY 1")
    # FTS5 merges a level's segments once it holds this many (its default is 4): each group
    # commit writes a small segment of many distinct trigrams, and merging them four at a time
    # was most of the index's cost to a CreateCase (bench/SEARCH.md).
    op.execute("INSERT INTO cases_search_substrings (cases_search_substrings, rank) "
               "VALUES ('automerge', 16)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE cases_search_substrings")
