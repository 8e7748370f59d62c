"""mailings remember the recipients confirmed

Revision ID: 573fba118d34
Revises: e6c5f50d7c9b
Create Date: 2026-12-07 21:36:30

The ids of the recipients an organiser confirmed before sending (issue 17.4). Nullable, no
backfill: a mailing started before has none, and writes to whoever matched at its start, as
it did. A nullable added column: SQLite adds it in place, no table rebuild.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "573fba118d34"
down_revision = "e6c5f50d7c9b"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("mailings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_recipients", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("mailings", schema=None) as batch_op:
        batch_op.drop_column("confirmed_recipients")
