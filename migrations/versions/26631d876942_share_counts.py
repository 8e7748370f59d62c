"""Share counts: visits each share source brought to a petition, per day (issue 18.1).

A count per petition, source and day: no address, no cookie, nothing about a person.

Revision ID: 26631d876942
Revises: 7084da766fc2
Create Date: 2026-12-07 21:29:55.794425

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "26631d876942"
down_revision = "7084da766fc2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "share_counts",
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_share_counts_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("petition_id", "source", "day", name=op.f("pk_share_counts")),
    )


def downgrade():
    op.drop_table("share_counts")
