"""embed origins of a petition: the sites allowed to frame /p/<slug>/embed (issue 18.4)

Revision ID: 599ecda38f39
Revises: 149312c830ef
Create Date: 2026-12-07 21:48:10.579373

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '599ecda38f39'
down_revision = '149312c830ef'
branch_labels = None
depends_on = None


def upgrade():
    # Existing petitions start with an empty list: no site may frame them until allowed.
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('embed_origins', sa.String(length=2000), nullable=False, server_default='')
        )


def downgrade():
    with op.batch_alter_table('petitions', schema=None) as batch_op:
        batch_op.drop_column('embed_origins')
