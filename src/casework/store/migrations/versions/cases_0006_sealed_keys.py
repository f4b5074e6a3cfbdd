"""access keys: secrets sealed with the master key, principal, allowed actions; contacts by account

Revision ID: cases_0006_sealed_keys
Revises: cases_0005_domains_per_region
"""

import sqlalchemy as sa
from alembic import op

revision = "cases_0006_sealed_keys"
down_revision = "cases_0005_domains_per_region"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plaintext secrets stay where they are until a process holding the master key seals them
    # (casework.keys.seal_plaintext_secrets, run at every start); the migration cannot.
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.alter_column("secret_access_key", existing_type=sa.String(length=128),
                              nullable=True)
        batch_op.add_column(sa.Column("secret_sealed", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("principal", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("allowed_actions", sa.Text(), nullable=True))
    # The contact registry is per account: the account named in the ARN for existing rows.
    op.create_table(
        "cases_account_contacts",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("contact_arn", sa.String(length=500), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("connected_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "contact_arn",
                                name=op.f("pk_cases_account_contacts")),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT contact_arn, channel, connected_at FROM cases_contacts"))
    moved = [{"account_id": row.contact_arn.split(":")[4], "contact_arn": row.contact_arn,
              "channel": row.channel, "connected_at": row.connected_at} for row in rows]
    if moved:
        conn.execute(sa.text("INSERT INTO cases_account_contacts (account_id, contact_arn, "
                             "channel, connected_at) VALUES (:account_id, :contact_arn, "
                             ":channel, :connected_at)"), moved)
    op.drop_table("cases_contacts")


def downgrade() -> None:
    op.create_table(
        "cases_contacts",
        sa.Column("contact_arn", sa.String(length=500), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("connected_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("contact_arn", name=op.f("pk_cases_contacts")),
    )
    op.drop_table("cases_account_contacts")
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.drop_column("allowed_actions")
        batch_op.drop_column("principal")
        batch_op.drop_column("secret_sealed")
