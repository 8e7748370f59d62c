"""The objection campaign's emails: the one reminder a supporter asked for ("did they
answer?"), and the links to say "sent" they may ask for. Each link opens a page with one
button (mail scanners open links), and each email carries the one-click stop link."""

from __future__ import annotations

from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.objections.complaints import letters_not_yet_sent
from campaign.objections.models import EventKind, Institution, InstitutionKind, ObjectionEvent
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.signatures.emails import reachable_signer
from campaign.signatures.models import Signature
from campaign.tokens import external_url, make_token


def _links(signature: Signature) -> tuple[str, dict[str, str]]:
    """The rights token of these links, and the links every email carries."""
    token = make_token("rights", signature, utcnow())
    return token, {
        "rights_url": external_url("privacy.my_data", token=token),
        "stop_url": external_url("objections.confirm_stop_reminders", token=token),
    }


def _send(outbox, connection, signature: Signature, name: str, **context) -> None:
    petition = db.session.get(Petition, signature.petition_id)
    subject, text, html = render_email(
        name, signature.language, petition_title=petition.text(signature.language).title, **context
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)


def send_objection_reminder_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Remind a supporter that the institutions they wrote to had to answer by now, and ask,
    per institution, whether they did. False when the signer withdrew or erased their data."""
    signature = reachable_signer(outbox)
    if signature is None:
        return False
    # The letters of the latest reminder: an earlier one's were asked about already.
    latest = (
        select(func.max(ObjectionEvent.at))
        .where(
            ObjectionEvent.signature_id == signature.id,
            ObjectionEvent.kind == EventKind.REMINDED,
        )
        .scalar_subquery()
    )
    institutions = list(
        db.session.scalars(
            select(Institution)
            .join(ObjectionEvent, ObjectionEvent.institution_id == Institution.id)
            .where(
                ObjectionEvent.signature_id == signature.id,
                ObjectionEvent.kind == EventKind.REMINDED,
                ObjectionEvent.at == latest,
            )
            .distinct()
            .order_by(Institution.name)
        )
    )
    if not institutions:
        return False
    token, links = _links(signature)
    questions = [
        {
            "name": institution.name,
            "asks_answer": institution.kind == InstitutionKind.HOLDER,
            "answers": {
                choice: external_url(
                    "objections.confirm_answer",
                    token=token,
                    institution_id=institution.id,
                    choice=choice,
                )
                for choice in ("satisfactory", "unsatisfactory", "none")
            },
        }
        for institution in institutions
    ]
    _send(outbox, connection, signature, "objection_reminder", institutions=questions, **links)
    return True


def send_objection_sent_links_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """The links a supporter asked for, one per letter they prepared and have not said
    sent. False when the signer withdrew, or every letter is marked sent by now."""
    signature = reachable_signer(outbox)
    if signature is None:
        return False
    institutions = letters_not_yet_sent(signature.id)
    if not institutions:
        return False
    token, links = _links(signature)
    letters = [
        {
            "name": institution.name,
            "sent_url": external_url(
                "objections.confirm_sent", token=token, institution_id=institution.id
            ),
        }
        for institution in institutions
    ]
    _send(outbox, connection, signature, "objection_sent_links", letters=letters, **links)
    return True


SENDERS = {
    EmailKind.OBJECTION_REMINDER: send_objection_reminder_email,
    EmailKind.OBJECTION_SENT_LINKS: send_objection_sent_links_email,
}
