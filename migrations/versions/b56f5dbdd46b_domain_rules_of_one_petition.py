"""domain rules of one petition

Revision ID: b56f5dbdd46b
Revises: 5d9f407c33e6
Create Date: 2026-12-07 20:55:25.097239

A domain rule may now belong to one petition (its organisers add it, and it verifies that
petition's signatures only); a rule without a petition is the site's, managed by admins and in
force on every petition. Existing rules stay the site's. One site rule per category and
pattern (a partial unique index), and one per petition.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "b56f5dbdd46b"
down_revision = "5d9f407c33e6"
branch_labels = None
depends_on = None

SITE_ONLY = sa.text("petition_id IS NULL")


def upgrade():
    with op.batch_alter_table("domain_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("petition_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint(
            batch_op.f("uq_domain_rules_category_key_pattern"), type_="unique"
        )
        batch_op.create_index(
            "uq_domain_rules_petition", ["petition_id", "category_key", "pattern"], unique=True
        )
        batch_op.create_index(
            "uq_domain_rules_site",
            ["category_key", "pattern"],
            unique=True,
            sqlite_where=SITE_ONLY,
            postgresql_where=SITE_ONLY,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_domain_rules_petition_id_petitions"),
            "petitions",
            ["petition_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade():
    # The petitions' own rules have no place in the older, site-wide table.
    op.execute("DELETE FROM domain_rules WHERE petition_id IS NOT NULL")
    with op.batch_alter_table("domain_rules", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_domain_rules_petition_id_petitions"), type_="foreignkey"
        )
        batch_op.drop_index("uq_domain_rules_site")
        batch_op.drop_index("uq_domain_rules_petition")
        batch_op.create_unique_constraint(
            batch_op.f("uq_domain_rules_category_key_pattern"), ["category_key", "pattern"]
        )
        batch_op.drop_column("petition_id")
