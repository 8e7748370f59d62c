"""op-ed fields and petition images

Revision ID: e6c5f50d7c9b
Revises: e3f974be3467
Create Date: 2026-12-07 21:29:41.471138

The op-ed as newspapers publish it (issue 16.3): initiators, the newspaper, its date and
the article's address, a press contact, and an image (its bytes in petition_images, one per
petition; its digest, size and text alternative on the petition). Added columns with server
defaults or nullable: SQLite adds them in place; existing petitions have none of them.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e6c5f50d7c9b"
down_revision = "e3f974be3467"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "petition_images",
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["petition_id"],
            ["petitions.id"],
            name=op.f("fk_petition_images_petition_id_petitions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("petition_id", name=op.f("pk_petition_images")),
    )
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("initiators", sa.String(length=500), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("newspaper", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("published_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("article_url", sa.String(length=500), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("press_contact", sa.String(length=300), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("image_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("image_width", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("image_height", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("image_alt", sa.String(length=300), server_default="", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.drop_column("image_alt")
        batch_op.drop_column("image_height")
        batch_op.drop_column("image_width")
        batch_op.drop_column("image_sha256")
        batch_op.drop_column("press_contact")
        batch_op.drop_column("article_url")
        batch_op.drop_column("published_on")
        batch_op.drop_column("newspaper")
        batch_op.drop_column("initiators")

    op.drop_table("petition_images")
