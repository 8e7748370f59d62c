"""organisations sign

Revision ID: d915a9176542
Revises: 252260d199ba
Create Date: 2026-12-07 20:58:00

A signature is a person's or an organisation's (kind). Every existing signature is a
person's. An added column with a server default: SQLite adds it in place (no table rebuild,
so AUTOINCREMENT stays).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "d915a9176542"
down_revision = "252260d199ba"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="person", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("signatures", schema=None) as batch_op:
        batch_op.drop_column("kind")
