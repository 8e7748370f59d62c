"""links bound to a per-row key; signatures never reuse an id

Revision ID: 40a033485774
Revises: 97392997d778
Create Date: 2026-12-07 18:59:36.972916

Every emailed link is now signed for its row's random link_key (campaign/tokens.py): the
existing rows get one each, so links emailed before this release stop working (a signer
asks for a fresh one). On SQLite, both tables are rebuilt with AUTOINCREMENT, so that an
id freed by a purge is never given to the next signer (PostgreSQL's sequences never reuse).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "40a033485774"
down_revision = "97392997d778"
branch_labels = None
depends_on = None

TABLES = ("professional_addresses", "signatures")


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _rebuild_options() -> dict:
    # A batch rebuild on SQLite reflects the table, which forgets AUTOINCREMENT.
    if _sqlite():
        return {"recreate": "always", "table_kwargs": {"sqlite_autoincrement": True}}
    return {}


def upgrade():
    random_key = (
        "lower(hex(randomblob(16)))" if _sqlite() else "md5(random()::text || id::text)"
    )
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("link_key", sa.String(length=32), nullable=True))
        op.execute(f"UPDATE {table} SET link_key = {random_key}")  # noqa: S608 (constants)
        with op.batch_alter_table(table, schema=None, **_rebuild_options()) as batch_op:
            batch_op.alter_column("link_key", existing_type=sa.String(length=32), nullable=False)


def downgrade():
    for table in reversed(TABLES):
        options = _rebuild_options() if table == "professional_addresses" else {}
        with op.batch_alter_table(table, schema=None, **options) as batch_op:
            batch_op.drop_column("link_key")
