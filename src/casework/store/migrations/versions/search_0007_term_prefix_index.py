"""Connect Cases search: SQLite's term index keeps a prefix index of one-character starts

``cases_search_terms`` is rebuilt with FTS5's ``prefix='22'``: beside each scoped word (a
21-character domain scope, then the word) it indexes the word's first character under the
scope, so that a search word of one character reads one posting list, newest first, instead of
FTS5 merging the lists of every word it starts (a second at a million cases for ``a``). The
rebuilt table is merged into one segment. PostgreSQL is unchanged.

Revision ID: search_0007
Revises: search_0006
"""

from alembic import op

revision = "search_0007"
down_revision = "search_0006"
branch_labels = None
depends_on = None


def _rebuild(options: str) -> None:
    op.execute("CREATE VIRTUAL TABLE cases_search_terms_new USING "
               f"fts5(terms, tokenize='unicode61 remove_diacritics 0'{options})")
    op.execute("INSERT INTO cases_search_terms_new (rowid, terms) "
               "SELECT rowid, terms FROM cases_search_terms ORDER BY rowid")
    op.execute("INSERT INTO cases_search_terms_new (cases_search_terms_new) VALUES ('optimize')")
    op.execute("DROP TABLE cases_search_terms")
    op.execute("ALTER TABLE cases_search_terms_new RENAME TO cases_search_terms")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(", prefix='22'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("")
