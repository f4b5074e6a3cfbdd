"""Amazon Connect Cases: domains, definitions (fields, layouts, templates, case rules), field
options, cases and their values, related items, contact links, the contact registry, tags

Revision ID: cases_0001
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "cases_0001"
down_revision = "0001"
branch_labels = ("connectcases",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases_cases",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("template_id", sa.String(length=36), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cases_cases")),
    )
    with op.batch_alter_table("cases_cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_cases_case", ["domain_id", "case_id"], unique=True)
        batch_op.create_index("ix_cases_cases_token", ["domain_id", "client_token"], unique=True)

    op.create_table(
        "cases_contacts",
        sa.Column("contact_arn", sa.String(length=500), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("connected_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("contact_arn", name=op.f("pk_cases_contacts")),
    )
    op.create_table(
        "cases_definitions",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("modified_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cases_definitions")),
    )
    with op.batch_alter_table("cases_definitions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_definitions_item", ["domain_id", "kind", "item_id"], unique=True
        )
        batch_op.create_index(
            "ix_cases_definitions_listing", ["domain_id", "kind", "deleted", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_cases_definitions_name", ["domain_id", "kind", "name"], unique=False
        )

    op.create_table(
        "cases_field_options",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("field_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cases_field_options")),
    )
    with op.batch_alter_table("cases_field_options", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_field_options_listing", ["domain_id", "field_id", "seq"], unique=False
        )
        batch_op.create_index(
            "ix_cases_field_options_value", ["domain_id", "field_id", "value"], unique=True
        )

    op.create_table(
        "cases_tags",
        sa.Column("resource_arn", sa.String(length=700), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("resource_arn", "key", name=op.f("pk_cases_tags")),
    )
    with op.batch_alter_table("cases_tags", schema=None) as batch_op:
        batch_op.create_index("ix_cases_tags_domain", ["domain_id"], unique=False)

    op.create_table(
        "cases_case_values",
        sa.Column("case_seq", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("string_value", sa.Text(), nullable=True),
        sa.Column("double_value", sa.Float(), nullable=True),
        sa.Column("boolean_value", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_seq"],
            ["cases_cases.seq"],
            name=op.f("fk_cases_case_values_case_seq_cases_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_seq", "field_id", name=op.f("pk_cases_case_values")),
    )
    op.create_table(
        "cases_contact_links",
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("contact_arn", sa.String(length=500), nullable=False),
        sa.Column("case_seq", sa.Integer(), nullable=False),
        sa.Column("link_seq", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_seq"],
            ["cases_cases.seq"],
            name=op.f("fk_cases_contact_links_case_seq_cases_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "domain_id", "contact_arn", "case_seq", name=op.f("pk_cases_contact_links")
        ),
    )
    with op.batch_alter_table("cases_contact_links", schema=None) as batch_op:
        batch_op.create_index("ix_cases_contact_links_case", ["case_seq"], unique=False)
        batch_op.create_index(
            "ix_cases_contact_links_listing", ["domain_id", "contact_arn", "link_seq"], unique=False
        )

    op.create_table(
        "cases_domains",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.account_id"],
            name=op.f("fk_cases_domains_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cases_domains")),
        sa.UniqueConstraint("domain_id", name=op.f("uq_cases_domains_domain_id")),
    )
    with op.batch_alter_table("cases_domains", schema=None) as batch_op:
        batch_op.create_index("ix_cases_domains_account_name", ["account_id", "name"], unique=True)
        batch_op.create_index("ix_cases_domains_account_seq", ["account_id", "seq"], unique=False)

    op.create_table(
        "cases_related_items",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("domain_id", sa.String(length=36), nullable=False),
        sa.Column("case_seq", sa.Integer(), nullable=False),
        sa.Column("related_item_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        sa.Column("last_updated_user", sa.Text(), nullable=True),
        sa.Column("association_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_seq"],
            ["cases_cases.seq"],
            name=op.f("fk_cases_related_items_case_seq_cases_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_cases_related_items")),
    )
    with op.batch_alter_table("cases_related_items", schema=None) as batch_op:
        batch_op.create_index("ix_cases_related_items_case", ["case_seq", "seq"], unique=False)
        batch_op.create_index(
            "ix_cases_related_items_item", ["case_seq", "related_item_id"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("cases_related_items", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_related_items_item")
        batch_op.drop_index("ix_cases_related_items_case")

    op.drop_table("cases_related_items")
    with op.batch_alter_table("cases_domains", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_domains_account_seq")
        batch_op.drop_index("ix_cases_domains_account_name")

    op.drop_table("cases_domains")
    with op.batch_alter_table("cases_contact_links", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_contact_links_listing")
        batch_op.drop_index("ix_cases_contact_links_case")

    op.drop_table("cases_contact_links")
    op.drop_table("cases_case_values")
    with op.batch_alter_table("cases_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_tags_domain")

    op.drop_table("cases_tags")
    with op.batch_alter_table("cases_field_options", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_field_options_value")
        batch_op.drop_index("ix_cases_field_options_listing")

    op.drop_table("cases_field_options")
    with op.batch_alter_table("cases_definitions", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_definitions_name")
        batch_op.drop_index("ix_cases_definitions_listing")
        batch_op.drop_index("ix_cases_definitions_item")

    op.drop_table("cases_definitions")
    op.drop_table("cases_contacts")
    with op.batch_alter_table("cases_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_cases_token")
        batch_op.drop_index("ix_cases_cases_case")

    op.drop_table("cases_cases")
