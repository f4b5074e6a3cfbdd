"""Connect Cases search: SQLite's substring index answers a contains test exactly

``cases_search_substrings`` is rebuilt keeping each trigram's positions (``detail=full``) and
without case folding (``case_sensitive 1``), its documents' ASCII letters lowered: a phrase
query of a pattern, lowered as SQLite's LIKE ignores case, finds exactly the values that
contain it, so that counting the matches of a common pattern reads the index alone instead of
every candidate's text. The rebuilt table is merged into one segment and merges segments
sixteen at a time, as before. PostgreSQL is unchanged.

Revision ID: search_0008
Revises: search_0007
"""

from alembic import op

revision = "search_0008"
down_revision = "search_0007"
branch_labels = None
depends_on = None


def _rebuild(tokenize: str, detail: str, text: str) -> None:
    op.execute("CREATE VIRTUAL TABLE cases_search_substrings_new USING "
               f"fts5(text, tokenize='{tokenize}', detail={detail}, columnsize=0)")
    op.execute("INSERT INTO cases_search_substrings_new (rowid, text) "
               f"SELECT id, {text} FROM cases_search_substrings_content ORDER BY id")
    op.execute("INSERT INTO cases_search_substrings_new (cases_search_substrings_new) "
               "VALUES ('optimize')")
    op.execute("INSERT INTO cases_search_substrings_new (cases_search_substrings_new, rank) "
               "VALUES ('automerge', 16)")
    op.execute("DROP TABLE cases_search_substrings")
    op.execute("ALTER TABLE cases_search_substrings_new RENAME TO cases_search_substrings")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's lower() folds ASCII letters only, as its LIKE ignores their case.
        _rebuild("trigram case_sensitive 1", "full", "lower(c0)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("trigram", "none", "c0")
