"""first signatories and the organisers' attestation

Revision ID: 252260d199ba
Revises: b56f5dbdd46b
Create Date: 2026-12-07 20:45:28.421725

A signature can be marked as a first signatory (first_signatory, and first_position: the
organisers' order), attested by the organiser who marked it (attested_by_id, attested_at).
A publication entry keeps the first signatory's rank (first_rank), which its canonical JSON
signs; entries published before have none and keep their leaves. On SQLite, the signatures
table is rebuilt for the foreign key, with AUTOINCREMENT kept (see 40a033485774).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "252260d199ba"
down_revision = "b56f5dbdd46b"
branch_labels = None
depends_on = None


def _rebuild_options() -> dict:
    # A batch rebuild on SQLite reflects the table, which forgets AUTOINCREMENT.
    if op.get_bind().dialect.name == "sqlite":
        return {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}}
    return {}


def upgrade():
    with op.batch_alter_table("publication_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_rank", sa.Integer(), nullable=True))

    with op.batch_alter_table("signatures", schema=None, **_rebuild_options()) as batch_op:
        batch_op.add_column(
            sa.Column("first_signatory", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("first_position", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attested_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attested_at", sa.DateTime(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_signatures_attested_by_id_users"),
            "users",
            ["attested_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("signatures", schema=None, **_rebuild_options()) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_signatures_attested_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("attested_at")
        batch_op.drop_column("attested_by_id")
        batch_op.drop_column("first_position")
        batch_op.drop_column("first_signatory")

    with op.batch_alter_table("publication_entries", schema=None) as batch_op:
        batch_op.drop_column("first_rank")
