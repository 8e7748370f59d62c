"""The verification emails: the professional address's confirmation link, and a rejection."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.signatures.emails import reachable_signer
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import external_url, make_token
from campaign.verification.models import ProfessionalAddress, ReviewDecision, VerificationClaim


def send_professional_address_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send the link that confirms a signer's professional address, to that address. False
    when there is nothing to confirm any more (confirmed, replaced or erased, withdrawn)."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if signature is None or signature.status == SignatureStatus.WITHDRAWN:
        return False
    address = db.session.scalar(
        select(ProfessionalAddress).where(
            ProfessionalAddress.signature_id == signature.id,
            ProfessionalAddress.confirmed_at.is_(None),
        )
    )
    if address is None:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    subject, text, html = render_email(
        "professional_address",
        signature.language,
        petition_title=petition.text(signature.language).title,
        confirm_url=external_url(
            "verification.professional_address",
            token=make_token("verify_address", address, utcnow()),
        ),
        max_age_days=current_app.config["CONFIRMATION_TOKEN_MAX_AGE"] // 86400,
    )
    deliver(outbox, connection, decrypt_email(address.email_ciphertext), subject, text, html)
    return True


def send_verification_rejected_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Tell a signer that a moderator could not verify their category, and why; their
    signature stays. False when the decision changed or the signer left meanwhile."""
    signature = reachable_signer(outbox)
    if signature is None:
        return False
    claim = db.session.get(VerificationClaim, signature.id)
    if claim is None or claim.decision != ReviewDecision.REJECTED:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    category = next((c for c in petition.categories if c.key == signature.category_key), None)
    subject, text, html = render_email(
        "verification_rejected",
        signature.language,
        petition_title=petition.text(signature.language).title,
        category_label=category.label(signature.language) if category else signature.category_key,
        reason=claim.reason or "",
        rights_url=external_url("privacy.request_petition_link", slug=petition.slug),
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


SENDERS = {
    EmailKind.PROFESSIONAL_ADDRESS: send_professional_address_email,
    EmailKind.VERIFICATION_REJECTED: send_verification_rejected_email,
}
