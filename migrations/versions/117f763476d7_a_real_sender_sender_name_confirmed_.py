"""a real sender: sender name, confirmed reply-to addresses

Revision ID: 117f763476d7
Revises: 573fba118d34
Create Date: 2026-12-07 21:47:10

Each organiser's mailing names its sender ("<campaign> via <site>") and may name the
campaign's address for replies, usable once confirmed from its inbox (reply_addresses, one
row per petition and address) (issue 17.3). Existing mailings get empty values: they keep
the platform's From and the organiser's own address as Reply-To, as before. Columns with a
server default: SQLite adds them in place, no table rebuild.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "117f763476d7"
down_revision = "573fba118d34"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reply_addresses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("link_key", sa.String(length=32), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_reply_addresses_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_reply_addresses_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply_addresses")),
        sa.UniqueConstraint(
            "petition_id", "email", name=op.f("uq_reply_addresses_petition_id_email")
        ),
    )
    with op.batch_alter_table("mailings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sender_name", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "reply_to_address", sa.String(length=254), server_default="", nullable=False
            )
        )


def downgrade():
    with op.batch_alter_table("mailings", schema=None) as batch_op:
        batch_op.drop_column("reply_to_address")
        batch_op.drop_column("sender_name")
    op.drop_table("reply_addresses")
