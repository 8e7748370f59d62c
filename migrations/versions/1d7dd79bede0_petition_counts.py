"""petition counts: counted signatures per category and level, and per département,
stored on the petition and backfilled from the signatures

Revision ID: 1d7dd79bede0
Revises: 54ad7d05c6ad
Create Date: 2026-12-07 23:42:34.163608

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "1d7dd79bede0"
down_revision = "54ad7d05c6ad"
branch_labels = None
depends_on = None

# The statuses counted at this revision (campaign/signatures/models.py: COUNTED).
COUNTED = "('confirmed')"


def upgrade():
    op.create_table(
        "petition_counts",
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("category_key", sa.String(length=40), nullable=False),
        sa.Column("verification_level", sa.String(length=20), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_petition_counts_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "petition_id", "category_key", "verification_level", name=op.f("pk_petition_counts")
        ),
    )
    op.create_table(
        "petition_departement_counts",
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("departement", sa.String(length=3), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_petition_departement_counts_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "petition_id", "departement", name=op.f("pk_petition_departement_counts")
        ),
    )
    # The backfill: what the COUNT queries answered until now.
    op.execute(
        "INSERT INTO petition_counts (petition_id, category_key, verification_level, count) "
        "SELECT petition_id, category_key, verification_level, COUNT(*) FROM signatures "
        f"WHERE status IN {COUNTED} "
        "GROUP BY petition_id, category_key, verification_level"
    )
    op.execute(
        "INSERT INTO petition_departement_counts (petition_id, departement, count) "
        "SELECT petition_id, departement, COUNT(*) FROM signatures "
        f"WHERE status IN {COUNTED} AND departement IS NOT NULL AND departement != '' "
        "GROUP BY petition_id, departement"
    )


def downgrade():
    op.drop_table("petition_departement_counts")
    op.drop_table("petition_counts")
