"""The mailings' emails (through the outbox): the test letter sent to an organiser."""

from __future__ import annotations

from campaign.accounts.models import User
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.mailings.models import Mailing
from campaign.mailings.services import sample_letter
from campaign.mailings.templates import TemplateProblem
from campaign.petitions.models import Petition


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


SENDERS = {EmailKind.MAILING_TEST: send_mailing_test_email}
