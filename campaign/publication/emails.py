"""The publication's emails: a newly published signer's receipt."""

from __future__ import annotations

from sqlalchemy import select

from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.publication.models import Publication, PublicationEntry
from campaign.signatures.models import Signature
from campaign.tokens import external_url


def send_publication_receipt_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send a newly published signer their receipt (the leaf hash of their entry), the
    publication that added it and the links to check it. False when their name is no longer
    published or their address is gone."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if signature is None or not signature.published or not signature.email_ciphertext:
        return False
    # The same entry as publication.services.receipt_for(): the open one, latest first.
    entry = db.session.execute(
        select(PublicationEntry.leaf, PublicationEntry.since_sequence)
        .where(
            PublicationEntry.signature_id == signature.id, PublicationEntry.until_sequence.is_(None)
        )
        .order_by(PublicationEntry.since_sequence.desc())
        .limit(1)
    ).first()
    if entry is None:
        return False
    publication = db.session.scalar(
        select(Publication).where(
            Publication.petition_id == signature.petition_id,
            Publication.sequence == entry.since_sequence,
        )
    )
    petition = db.session.get(Petition, signature.petition_id)
    subject, text, html = render_email(
        "publication_receipt",
        signature.language,
        first_name=signature.first_name or signature.last_name,
        petition_title=petition.text(signature.language).title,
        receipt=entry.leaf,
        publication=publication,
        proof_url=external_url("publication.proof", slug=petition.slug, receipt=entry.leaf),
        press_url=external_url("publication.press", slug=petition.slug),
        rights_url=external_url("privacy.request_petition_link", slug=petition.slug),
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


SENDERS = {EmailKind.PUBLICATION_RECEIPT: send_publication_receipt_email}
