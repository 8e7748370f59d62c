"""The mailings' emails (through the outbox): the test letter sent to an organiser, and the
copy of their letters sent to a supporter."""

from __future__ import annotations

from campaign.accounts.models import User
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.mailings.letters import letters_of_request
from campaign.mailings.merge_fields import role_label
from campaign.mailings.models import DeliveryStatus, Mailing, ReplyAddress
from campaign.mailings.services import sample_letter
from campaign.mailings.templates import TemplateProblem
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import external_url, make_token


def send_mailing_test_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send an organiser the letter of their mailing (outbox.detail) as its first recipient
    would receive it, "[TEST]" before the subject. False when the mailing or the account is
    gone, or the templates no longer render."""
    user = db.session.get(User, outbox.user_id) if outbox.user_id else None
    mailing_id = int(outbox.detail) if (outbox.detail or "").isdigit() else None
    mailing = db.session.get(Mailing, mailing_id) if mailing_id else None
    if user is None or not user.active or mailing is None:
        return False
    try:
        recipient, letter = sample_letter(mailing)
    except TemplateProblem:
        return False
    petition = db.session.get(Petition, mailing.petition_id)
    subject, text, html = render_email(
        "mailing_test", petition.language, letter=letter, recipient=recipient, mailing=mailing
    )
    deliver(outbox, connection, user.email, subject, text, html)
    return True


def send_letter_copy_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send a supporter the copy of the letters they just wrote: to whom each went (or will
    go once a moderator approves it), and its text. False when the supporter withdrew or
    was erased, or no letter of that request is left."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if (
        signature is None
        or signature.status != SignatureStatus.CONFIRMED
        or not signature.email_ciphertext
        or not (outbox.detail or "").isdigit()
    ):
        return False
    letters = letters_of_request(int(outbox.detail), signature.id, outbox.created_at)
    if not letters:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    locale = signature.language
    recipients = [
        {
            "name": official.full_name,
            "role": role_label(official.role, locale, official.civility),
            "held": delivery.status == DeliveryStatus.HELD,
            "subject": delivery.subject or "",
            "body": delivery.body or "",
        }
        for delivery, official in letters
    ]
    subject, text, html = render_email(
        "letter_copy",
        locale,
        recipients=recipients,
        petition_title=petition.text(locale).title,
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


def send_reply_to_confirmation_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send the link that confirms a campaign's Reply-To address, to that address. False
    when the record is gone or already confirmed."""
    from flask import current_app

    from campaign.clock import utcnow

    record = db.session.get(ReplyAddress, int(outbox.detail)) if outbox.detail else None
    if record is None or record.confirmed_at is not None:
        return False
    petition = db.session.get(Petition, record.petition_id)
    confirm_url = external_url(
        "mailings.confirm_reply_to", token=make_token("reply_to", record, utcnow())
    )
    subject, text, html = render_email(
        "reply_to_confirmation",
        petition.language,
        petition_title=petition.text(petition.language).title,
        confirm_url=confirm_url,
        max_age_days=current_app.config["REPLY_TO_LINK_MAX_AGE"] // 86400,
    )
    deliver(outbox, connection, record.email, subject, text, html)
    return True


SENDERS = {
    EmailKind.REPLY_TO_CONFIRMATION: send_reply_to_confirmation_email,
    EmailKind.MAILING_TEST: send_mailing_test_email,
    EmailKind.LETTER_COPY: send_letter_copy_email,
}
