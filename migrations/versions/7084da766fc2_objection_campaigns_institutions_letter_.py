"""objection campaigns: institutions, letter templates, content-free letter steps

Revision ID: 7084da766fc2
Revises: 599ecda38f39
Create Date: 2026-12-07 21:50:11.954616

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "7084da766fc2"
down_revision = "599ecda38f39"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "objection_institutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("portal_url", sa.String(length=500), nullable=False),
        sa.Column("postal_address", sa.Text(), nullable=False),
        sa.Column("answer_days", sa.Integer(), nullable=False),
        sa.Column("departements", sa.String(length=1000), nullable=False),
        sa.Column("portal_steps", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection_institutions")),
        sa.UniqueConstraint("key", name=op.f("uq_objection_institutions_key")),
    )
    op.create_table(
        "objection_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_objection_letters_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection_letters")),
        sa.UniqueConstraint("petition_id", name=op.f("uq_objection_letters_petition_id")),
    )
    op.create_table(
        "objection_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signature_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("remind_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["objection_institutions.id"],
            name=op.f("fk_objection_events_institution_id_objection_institutions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signatures.id"],
            name=op.f("fk_objection_events_signature_id_signatures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection_events")),
    )
    with op.batch_alter_table("objection_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_objection_events_institution_id"), ["institution_id"], unique=False
        )
        batch_op.create_index(
            "ix_objection_events_signature", ["signature_id", "institution_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("objection_events", schema=None) as batch_op:
        batch_op.drop_index("ix_objection_events_signature")
        batch_op.drop_index(batch_op.f("ix_objection_events_institution_id"))

    op.drop_table("objection_events")
    op.drop_table("objection_letters")
    op.drop_table("objection_institutions")
