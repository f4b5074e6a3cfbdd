"""AWS Support on PostgreSQL: display ids from one sequence

Revision ID: pgw_0001
Revises: support_0002
"""

from alembic import op

revision = "pgw_0001"
down_revision = "support_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite keeps the per-account counters (its writers run one at a time). On PostgreSQL
    # a sequence hands out numbers without a row lock; it starts past every number the
    # counters gave, so that no account sees a display id twice.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE SEQUENCE support_display_ids")
    op.execute("SELECT setval('support_display_ids', coalesce((SELECT max(value) FROM counters "
               "WHERE name = 'display_id'), 0) + 1, false)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP SEQUENCE support_display_ids")
