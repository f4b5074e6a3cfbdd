"""AWS Support on PostgreSQL: no foreign keys from cases to accounts, nor from communications
to cases

Revision ID: pgw_0002
Revises: pgw_0001
"""

from alembic import op

revision = "pgw_0002"
down_revision = "pgw_0001"
branch_labels = None
depends_on = None

# (table, constraint, column, parent table, parent column)
_KEYS = [
    ("support_cases", "fk_support_cases_account_id_accounts", "account_id", "accounts",
     "account_id"),
    ("support_communications", "fk_support_communications_case_seq_support_cases", "case_seq",
     "support_cases", "seq"),
]


def upgrade() -> None:
    # On PostgreSQL a foreign key's check takes a share lock on the parent row, and
    # concurrent holders of one row's share lock make a MultiXact each time one joins: every
    # CreateCase of an account locked the account's row, every reply its case's. Neither
    # parent is ever deleted (AWS Support has no DeleteCase; accounts stay), and each insert
    # finds its parent itself (the account of the caller's key; the case, in the same
    # statement), so these two keys guarded nothing there. SQLite keeps them: its writers run
    # one at a time and take no row locks.
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, _column, _parent, _parent_column in _KEYS:
        op.drop_constraint(name, table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, name, column, parent, parent_column in _KEYS:
        op.create_foreign_key(name, table, parent, [column], [parent_column])
