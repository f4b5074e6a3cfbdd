"""Connect Cases search from indexes: values keyed by domain, the search-term index, related
items by their exact content key

* ``cases_case_values.domain_id`` (the case's domain) and three indexes
  ``(domain_id, field_id, value, case_seq)``, one per typed value column (text by its first 256
  characters), which field filters range-scan and sorts walk in order;
* ``ix_cases_cases_domain_seq``: a domain's cases newest first;
* ``cases_search_terms``: one document of words per case for ``searchTerm`` (SQLite: an FTS5
  table, rowid = case seq; PostgreSQL: a tsvector with a GIN index);
* ``cases_related_items.search_key`` (contact ARN, file ARN, case id or SLA name) and an index
  ``(domain_id, type, search_key, association_time, seq)`` for SearchAllRelatedItems.

Existing rows are filled in.

Revision ID: cases_0007_search_indexes
Revises: cases_0006_sealed_keys
"""

import re

import orjson
import sqlalchemy as sa
from alembic import op

revision = "cases_0007_search_indexes"
down_revision = "cases_0006_sealed_keys"
branch_labels = None
depends_on = None

# Frozen copies of what the code computes (a migration must not change when the code does).
_WORD = re.compile(r"[^\W_]+")
_KEY_MEMBER = {"Contact": "contactArn", "File": "fileArn", "ConnectCase": "caseId",
               "Sla": "name"}


def _words(text: str) -> set[str]:
    return {word[:100] for word in _WORD.findall(text.casefold())}


def upgrade() -> None:
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    op.add_column("cases_case_values", sa.Column("domain_id", sa.String(36), nullable=True))
    conn.execute(sa.text(
        "UPDATE cases_case_values SET domain_id = (SELECT domain_id FROM cases_cases "
        "WHERE cases_cases.seq = cases_case_values.case_seq)"))
    op.create_index("ix_cases_case_values_string", "cases_case_values",
                    ["domain_id", "field_id", sa.text("substr(string_value, 1, 256)"),
                     "case_seq"])
    op.create_index("ix_cases_case_values_double", "cases_case_values",
                    ["domain_id", "field_id", "double_value", "case_seq"])
    op.create_index("ix_cases_case_values_boolean", "cases_case_values",
                    ["domain_id", "field_id", "boolean_value", "case_seq"])
    op.create_index("ix_cases_cases_domain_seq", "cases_cases", ["domain_id", "seq"])

    op.add_column("cases_related_items", sa.Column("search_key", sa.String(500), nullable=True))
    rows = conn.execute(sa.text("SELECT seq, type, content FROM cases_related_items")).all()
    for seq, item_type, content in rows:
        member = _KEY_MEMBER.get(item_type)
        if member:
            conn.execute(sa.text("UPDATE cases_related_items SET search_key = :key "
                                 "WHERE seq = :seq"),
                         {"key": orjson.loads(content).get(member), "seq": seq})
    op.create_index("ix_cases_related_items_search_key", "cases_related_items",
                    ["domain_id", "type", "search_key", "association_time", "seq"])

    if sqlite:
        op.execute("CREATE VIRTUAL TABLE cases_search_terms USING "
                   "fts5(terms, tokenize='unicode61 remove_diacritics 0')")
    else:
        op.execute("CREATE TABLE cases_search_terms ("
                   "case_seq INTEGER PRIMARY KEY REFERENCES cases_cases (seq) ON DELETE CASCADE,"
                   " terms tsvector NOT NULL)")
        op.execute("CREATE INDEX ix_cases_search_terms_terms ON cases_search_terms "
                   "USING gin (terms)")
    documents: dict[int, set[str]] = {}
    for seq, value in conn.execute(sa.text(
            "SELECT case_seq, string_value FROM cases_case_values "
            "WHERE kind IN ('stringValue', 'userArnValue')")):
        documents.setdefault(seq, set()).update(_words(value))
    for seq in conn.execute(sa.text("SELECT seq FROM cases_cases")).scalars():
        words = sorted(documents.get(seq, ()))
        if sqlite:
            conn.execute(sa.text("INSERT INTO cases_search_terms (rowid, terms) "
                                 "VALUES (:seq, :terms)"), {"seq": seq, "terms": " ".join(words)})
        else:
            conn.execute(sa.text("INSERT INTO cases_search_terms (case_seq, terms) "
                                 "VALUES (:seq, array_to_tsvector(CAST(:words AS text[])))"),
                         {"seq": seq, "words": words})


def downgrade() -> None:
    op.execute("DROP TABLE cases_search_terms")
    op.drop_index("ix_cases_related_items_search_key", table_name="cases_related_items")
    with op.batch_alter_table("cases_related_items") as batch_op:
        batch_op.drop_column("search_key")
    op.drop_index("ix_cases_cases_domain_seq", table_name="cases_cases")
    for name in ("string", "double", "boolean"):
        op.drop_index(f"ix_cases_case_values_{name}", table_name="cases_case_values")
    with op.batch_alter_table("cases_case_values") as batch_op:
        batch_op.drop_column("domain_id")
