"""The steps of an authority's online complaint form (issue 20.3).

Revision ID: 54ad7d05c6ad
Revises: 5cb34a199231
Create Date: 2026-12-07 23:42:11.659651

"""

import sqlalchemy as sa
from alembic import op

revision = "54ad7d05c6ad"
down_revision = "5cb34a199231"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("objection_institutions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("complaint_steps", sa.Text(), server_default="", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("objection_institutions", schema=None) as batch_op:
        batch_op.drop_column("complaint_steps")
