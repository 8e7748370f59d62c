"""officials whose address bounces

Revision ID: 5cb34a199231
Revises: 117f763476d7
Create Date: 2026-12-07 22:05:00

A permanent SMTP refusal (5xx at RCPT or DATA) marks the official's address as bouncing;
mailings skip it until an import lists the official again (issue 17.7). Existing officials
do not bounce. A nullable column and one with a server default: SQLite adds both in place.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "5cb34a199231"
down_revision = "117f763476d7"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bouncing_since", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("bounce_reason", sa.String(length=300), server_default="", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.drop_column("bounce_reason")
        batch_op.drop_column("bouncing_since")
