"""users: the time step of the last second-factor code accepted

Revision ID: 149312c830ef
Revises: e348f59e9968
Create Date: 2026-12-07 20:59:05.999830

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '149312c830ef'
down_revision = 'e348f59e9968'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')

