"""Connect Cases search: SQLite's term index in last-updated order, and its vocabulary

On SQLite the rowid of a case's document in ``cases_search_terms`` becomes the epoch second of
the case's ``last_updated_datetime`` above its seq (the low 31 bits), so that a term's entries
read from the end are its cases most recently updated first; and ``cases_search_words`` lists
every word the index holds but those of hex digits alone, so that a search word's completions
are known before the index is read. PostgreSQL's index is unchanged.

Revision ID: search_0004
Revises: cases_0010_case_keys
"""

from alembic import op

revision = "search_0004"
down_revision = "cases_0010_case_keys"
branch_labels = None
depends_on = None

_FTS = "fts5(terms, tokenize='unicode61 remove_diacritics 0')"
# Frozen copy of search_queries.document_key, in SQL.
_KEY = ("(coalesce(CAST(strftime('%s', substr(v.string_value, 1, 19)) AS INTEGER), 0) << 31)"
        " | t.rowid")


def _rebuild(key: str, join: str) -> None:
    op.execute(f"CREATE VIRTUAL TABLE cases_search_terms_new USING {_FTS}")
    op.execute("INSERT INTO cases_search_terms_new (rowid, terms) "
               f"SELECT {key}, t.terms FROM cases_search_terms AS t {join} ORDER BY 1")
    op.execute("DROP TABLE cases_search_terms")
    op.execute("ALTER TABLE cases_search_terms_new RENAME TO cases_search_terms")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild(_KEY, "LEFT JOIN cases_case_values AS v ON v.case_seq = t.rowid "
                   "AND v.field_id = 'last_updated_datetime'")
    op.execute("CREATE TABLE cases_search_words (term TEXT PRIMARY KEY) WITHOUT ROWID")
    op.execute("CREATE VIRTUAL TABLE temp.cases_search_vocabulary "
               "USING fts5vocab(main, cases_search_terms, row)")
    # Words of hex digits alone are not listed (search_queries.listed); a scope is 21
    # characters.
    op.execute("INSERT INTO cases_search_words (term) "
               "SELECT term FROM temp.cases_search_vocabulary "
               "WHERE substr(term, 22) GLOB '*[^0-9a-f]*'")
    op.execute("DROP TABLE temp.cases_search_vocabulary")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE cases_search_words")
    _rebuild(f"t.rowid & {(1 << 31) - 1}", "")
