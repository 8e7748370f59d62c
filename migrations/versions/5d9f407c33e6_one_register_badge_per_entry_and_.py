"""one register badge per entry and petition

Revision ID: 5d9f407c33e6
Revises: 40a033485774
Create Date: 2026-12-07 20:49:08.289144

The RPPS register is public: its badge now goes to one signature per register number and
petition (and the roster's to one signature per official and petition). Each signature keeps
a keyed digest of the register entry whose badge it holds, unique per petition, so that two
confirmations at once cannot both take it.

Existing signatures: per petition and RPPS number, the first confirmed signature found in
the register keeps the badge; later ones go back to the confirmed-address level (and so to
the moderators' queue). Roster badges are taken at the signature's next assessment: matching
an official needs the decrypted address, which a migration does not read.
"""

import hashlib
import hmac

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "5d9f407c33e6"
down_revision = "40a033485774"
branch_labels = None
depends_on = None


def _digest(key: bytes, number: str) -> str:
    # As campaign.personal_data.register_badge_digest("rpps", number), frozen here.
    return hmac.new(key, f"badge:rpps:{number}".encode(), hashlib.sha256).hexdigest()


def upgrade():
    op.add_column("signatures", sa.Column("register_badge", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_signatures_petition_register_badge",
        "signatures",
        ["petition_id", "register_badge"],
        unique=True,
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT s.id, s.petition_id, s.verification_level, c.rpps_number"
            " FROM signatures s JOIN verification_claims c ON c.signature_id = s.id"
            " WHERE c.rpps_number IS NOT NULL AND s.status != 'withdrawn'"
            " AND (s.verification_method = 'rpps'"
            " OR (s.verification_level = 'moderator' AND s.verified_profession IS NOT NULL))"
            " ORDER BY s.confirmed_at IS NULL, s.confirmed_at, s.id"
        )
    ).all()
    if not rows:
        return
    key = current_app.config["EMAIL_DIGEST_KEY"].encode()
    holders: set[tuple[int, str]] = set()
    for signature_id, petition_id, level, number in rows:
        if (petition_id, number) not in holders:
            holders.add((petition_id, number))
            bind.execute(
                sa.text("UPDATE signatures SET register_badge = :badge WHERE id = :id"),
                {"badge": _digest(key, number), "id": signature_id},
            )
        elif level == "registry":
            bind.execute(
                sa.text(
                    "UPDATE signatures SET verification_level = 'email',"
                    " verification_method = 'confirmation_link', verified_profession = NULL"
                    " WHERE id = :id"
                ),
                {"id": signature_id},
            )


def downgrade():
    op.drop_index("uq_signatures_petition_register_badge", table_name="signatures")
    op.drop_column("signatures", "register_badge")
