"""email digests under the wider canonical form

The canonical address now folds "+tag" sub-addressing for every provider that documents it
(not Gmail alone) and writes internationalised domains in their ASCII form, so the keyed
digests stored before no longer match the same address typed again. The addresses are kept
encrypted until the retention purge: recompute the digests of every row that still has one.
A row whose address has been erased keeps no digest, and needs none.

Two signatures of one petition that the new form makes one mailbox (alice+x@outlook.fr
and alice@outlook.fr) cannot share a digest (unique per petition): the later one keeps its
old digest, and the count of such rows is printed for the operator to review.

Revision ID: e348f59e9968
Revises: d915a9176542
Create Date: 2026-12-07

"""

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import InvalidToken

# revision identifiers, used by Alembic.
revision = "e348f59e9968"
down_revision = "d915a9176542"
branch_labels = None
depends_on = None

signatures = sa.table(
    "signatures",
    sa.column("id", sa.Integer),
    sa.column("petition_id", sa.Integer),
    sa.column("email_digest", sa.String),
    sa.column("email_domain_digest", sa.String),
    sa.column("email_ciphertext", sa.LargeBinary),
)
addresses = sa.table(
    "professional_addresses",
    sa.column("id", sa.Integer),
    sa.column("email_digest", sa.String),
    sa.column("email_ciphertext", sa.LargeBinary),
)


def _address(ciphertext: bytes) -> str | None:
    from campaign.personal_data import decrypt_email

    try:
        return decrypt_email(ciphertext)
    except InvalidToken:
        return None


def upgrade():
    from campaign.personal_data import email_digest, email_domain_digest

    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            signatures.c.id,
            signatures.c.petition_id,
            signatures.c.email_digest,
            signatures.c.email_domain_digest,
            signatures.c.email_ciphertext,
        )
        .where(signatures.c.email_ciphertext.is_not(None))
        .order_by(signatures.c.id)
    ).all()
    taken = {(row.petition_id, row.email_digest) for row in rows}
    kept = 0
    for row in rows:
        address = _address(row.email_ciphertext)
        if address is None:
            continue
        digest, domain_digest = email_digest(address), email_domain_digest(address)
        values = {}
        if digest != row.email_digest:
            if (row.petition_id, digest) in taken:
                kept += 1
            else:
                taken.discard((row.petition_id, row.email_digest))
                taken.add((row.petition_id, digest))
                values["email_digest"] = digest
        if domain_digest != row.email_domain_digest:
            values["email_domain_digest"] = domain_digest
        if values:
            connection.execute(
                signatures.update().where(signatures.c.id == row.id).values(**values)
            )
    if kept:
        print(
            f"{kept} signature(s) kept their old digest: another one of the same petition "
            "is the same mailbox under the new canonical form"
        )
    for row in connection.execute(
        sa.select(addresses.c.id, addresses.c.email_digest, addresses.c.email_ciphertext)
    ).all():
        address = _address(row.email_ciphertext)
        if address is not None and email_digest(address) != row.email_digest:
            connection.execute(
                addresses.update()
                .where(addresses.c.id == row.id)
                .values(email_digest=email_digest(address))
            )


def downgrade():
    # The old digests cannot be told apart from the new ones without recomputing them under
    # the old rules, which the code no longer has: the new ones stay (a downgrade folds fewer
    # spellings, so some addresses typed again will not match until re-signed).
    pass
