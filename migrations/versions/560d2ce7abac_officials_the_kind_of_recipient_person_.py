"""officials: the kind of recipient, person or authority

Revision ID: 560d2ce7abac
Revises: 1d7dd79bede0
Create Date: 2026-12-07 23:55:00

Authorities (the CNIL, the health insurance funds, a ministry's department) become a kind
of recipient of their own (issue 17.6): `officials.kind` is "authority" for the records whose
role is "autorite", "person" for the others.

Mailings' selections change meaning with it: the criteria (roles, chambers, départements)
now select people, and authorities are ticked one by one (`authority_ids`). A letter whose
roles named "autorite" gets the authorities its criteria matched as ticked ones, and the
role is dropped; when it was the only role, the chambers and départements went with it
(they narrowed the authorities, and would otherwise select every person of them).
Authorities picked by hand move to `authority_ids` as well.
"""

import json

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "560d2ce7abac"
down_revision = "1d7dd79bede0"
branch_labels = None
depends_on = None

officials = sa.table(
    "officials",
    sa.column("id", sa.Integer),
    sa.column("role", sa.String),
    sa.column("kind", sa.String),
    sa.column("chamber", sa.String),
    sa.column("departement", sa.String),
    sa.column("active", sa.Boolean),
)
mailings = sa.table(
    "mailings",
    sa.column("id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("selection", sa.JSON),
)


def _authorities_matching(connection, selection: dict) -> list[int]:
    query = sa.select(officials.c.id).where(
        officials.c.role == "autorite", officials.c.active.is_(True)
    )
    if selection.get("chambers"):
        query = query.where(officials.c.chamber.in_(selection["chambers"]))
    if selection.get("departements"):
        query = query.where(officials.c.departement.in_(selection["departements"]))
    return list(connection.scalars(query))


def upgrade():
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="person", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_officials_kind"), ["kind"], unique=False)
    connection = op.get_bind()
    connection.execute(
        officials.update().where(officials.c.role == "autorite").values(kind="authority")
    )
    authorities = set(
        connection.scalars(sa.select(officials.c.id).where(officials.c.kind == "authority"))
    )
    rows = connection.execute(
        sa.select(mailings.c.id, mailings.c.selection).where(mailings.c.kind == "letter")
    ).all()
    for mailing_id, selection in rows:
        if isinstance(selection, str):
            selection = json.loads(selection)
        selection = dict(selection or {})
        roles = list(selection.get("roles") or [])
        picked = list(selection.get("official_ids") or [])
        picked_authorities = [id_ for id_ in picked if id_ in authorities]
        if "autorite" not in roles and not picked_authorities:
            continue
        found = _authorities_matching(connection, selection) if "autorite" in roles else []
        selection["authority_ids"] = sorted(
            {*selection.get("authority_ids", []), *found, *picked_authorities}
        )
        selection["official_ids"] = [id_ for id_ in picked if id_ not in authorities]
        if "autorite" in roles:
            selection["roles"] = [role for role in roles if role != "autorite"]
            if not selection["roles"]:
                selection["chambers"], selection["departements"] = [], []
        connection.execute(
            mailings.update().where(mailings.c.id == mailing_id).values(selection=selection)
        )


def downgrade():
    # The ticked authorities stay in the selections, where the older code ignores them.
    with op.batch_alter_table("officials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_officials_kind"))
        batch_op.drop_column("kind")
