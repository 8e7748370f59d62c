"""Log publications (format 2): each entry's position in the petition's log, and each
publication's leaf count, removed leaves and tree frontier, so that a publication appends
its new entries to the tree instead of rehashing the list; an index to find the signatures
changed since a publication, and the first signatories (issue 16.4).

Revision ID: e3f974be3467
Revises: 26631d876942
Create Date: 2026-12-07 21:32:12.305862

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "e3f974be3467"
down_revision = "26631d876942"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("publication_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_publication_entries_log", ["petition_id", "position"], unique=False
        )
        batch_op.create_index(
            "ix_publication_entries_ranked", ["petition_id", "first_rank"], unique=False
        )

    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("leaf_count", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("removed_total", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("frontier", sa.Text(), nullable=True))
    # Earlier publications (format 1): every leaf is an entry of the list.
    op.execute("UPDATE publications SET leaf_count = entry_count")

    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signatures_petition_status_changed",
            ["petition_id", "status_changed_at"],
            unique=False,
        )
        # The first signatories, read by every incremental publication, without a scan.
        batch_op.create_index(
            "ix_signatures_petition_first", ["petition_id", "first_signatory"], unique=False
        )


def downgrade():
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_index("ix_signatures_petition_first")
        batch_op.drop_index("ix_signatures_petition_status_changed")

    with op.batch_alter_table("publications", schema=None) as batch_op:
        batch_op.drop_column("frontier")
        batch_op.drop_column("removed_total")
        batch_op.drop_column("leaf_count")

    with op.batch_alter_table("publication_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_publication_entries_ranked")
        batch_op.drop_index("ix_publication_entries_log")
        batch_op.drop_column("position")
