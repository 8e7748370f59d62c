"""The signatures' emails: the confirmation link (or, to a confirmed signer, a reminder)."""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import external_url, make_token


def send_signature_confirmation_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send the link that confirms a signature, with a link to withdraw it; to someone who
    signs again after confirming, a reminder with the withdrawal link. False when there is
    nothing to send any more (withdrawn, invalidated or erased in the meantime)."""

    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    sendable = {SignatureStatus.PENDING, SignatureStatus.CONFIRMED}
    if signature is None or signature.status not in sendable or not signature.email_ciphertext:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    confirm_url = external_url(
        "signatures.confirmation", token=make_token("confirm", signature, utcnow())
    )
    withdraw_url = external_url(
        "signatures.withdrawal", token=make_token("withdraw", signature, utcnow())
    )
    already_confirmed = signature.status == SignatureStatus.CONFIRMED
    # To someone who signs again: the page where they manage the signature they have.
    manage_url = (
        external_url("privacy.my_data", token=make_token("rights", signature, utcnow()))
        if already_confirmed
        else None
    )
    subject, text, html = render_email(
        "signature_confirmation",
        signature.language,
        signature=signature,
        already_confirmed=already_confirmed,
        manage_url=manage_url,
        petition_title=petition.text(signature.language).title,
        confirm_url=confirm_url,
        withdraw_url=withdraw_url,
        max_age_days=current_app.config["CONFIRMATION_TOKEN_MAX_AGE"] // 86400,
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


def reachable_signer(outbox: OutboxMessage) -> Signature | None:
    """The outbox row's signer, unless they withdrew or their address was erased."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if (
        signature is None
        or signature.status == SignatureStatus.WITHDRAWN
        or not signature.email_ciphertext
    ):
        return None
    return signature


def load_signers(messages: Sequence[OutboxMessage]) -> list[object]:
    """A drain batch's signers and their petitions (with their texts), in two queries."""
    signature_ids = {m.signature_id for m in messages if m.signature_id is not None}
    if not signature_ids:
        return []
    signers = db.session.scalars(select(Signature).where(Signature.id.in_(signature_ids))).all()
    petitions = db.session.scalars(
        select(Petition).where(Petition.id.in_({s.petition_id for s in signers}))
    ).all()
    return [*signers, *petitions]


SENDERS = {EmailKind.SIGNATURE_CONFIRMATION: send_signature_confirmation_email}
