"""Connect Cases search: the search-term index is kept per domain

Every word of a case's document in ``cases_search_terms`` is now stored behind its domain's
scope (20 hex digits of a digest of the domain id, then ``x``), so that the index entries of a
word are those of one domain: SearchCases counts a search term's cases on the index alone and
reads only its own domain's entries. Existing documents are rewritten here, one domain at a
time; documents of cases that no longer exist are dropped.

Revision ID: search_0003
Revises: search_0002
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "search_0003"
down_revision = "search_0002"
branch_labels = None
depends_on = None

_FTS = "fts5(terms, tokenize='unicode61 remove_diacritics 0')"


def _scope(domain_id: str) -> str:
    # Frozen copy of search_queries.scope.
    return hashlib.blake2b(domain_id.encode(), digest_size=10).hexdigest() + "x"


def _rewrite(scoped: bool) -> None:
    conn = op.get_bind()
    domains = conn.execute(sa.text("SELECT DISTINCT domain_id FROM cases_cases")).scalars().all()
    if conn.dialect.name == "sqlite":
        op.execute(f"CREATE VIRTUAL TABLE cases_search_terms_new USING {_FTS}")
        for domain_id in domains:
            mark = _scope(domain_id)
            terms = ("CASE WHEN t.terms = '' THEN '' ELSE :mark || replace(t.terms, ' ', "
                     "' ' || :mark) END" if scoped else
                     "replace(substr(t.terms, length(:mark) + 1), ' ' || :mark, ' ')")
            conn.execute(sa.text(
                "INSERT INTO cases_search_terms_new (rowid, terms) "
                f"SELECT t.rowid, {terms} FROM cases_search_terms AS t "
                "JOIN cases_cases AS c ON c.seq = t.rowid WHERE c.domain_id = :domain"),
                {"mark": mark, "domain": domain_id})
        op.execute("DROP TABLE cases_search_terms")
        op.execute("ALTER TABLE cases_search_terms_new RENAME TO cases_search_terms")
        return
    for domain_id in domains:
        mark = _scope(domain_id)
        lexeme = ":mark || l" if scoped else "substr(l, length(:mark) + 1)"
        conn.execute(sa.text(
            "UPDATE cases_search_terms AS t SET terms = array_to_tsvector(ARRAY("
            f"SELECT {lexeme} FROM unnest(tsvector_to_array(t.terms)) AS l))::tsvector "
            "FROM cases_cases AS c WHERE c.seq = t.case_seq AND c.domain_id = :domain"),
            {"mark": mark, "domain": domain_id})


def upgrade() -> None:
    _rewrite(scoped=True)


def downgrade() -> None:
    _rewrite(scoped=False)
