"""The objection campaign's email: the one reminder a supporter asked for."""

from __future__ import annotations

from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.objections.models import EventKind, Institution, ObjectionEvent
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.signatures.emails import reachable_signer
from campaign.tokens import external_url, make_token


def send_objection_reminder_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Remind a supporter that the institutions they wrote to had to answer by now, with the
    link to say whether they did. False when the signer withdrew or erased their data."""
    signature = reachable_signer(outbox)
    if signature is None:
        return False
    institutions = list(
        db.session.scalars(
            select(Institution.name)
            .join(ObjectionEvent, ObjectionEvent.institution_id == Institution.id)
            .where(
                ObjectionEvent.signature_id == signature.id,
                ObjectionEvent.kind == EventKind.REMINDED,
            )
            .distinct()
            .order_by(Institution.name)
        )
    )
    if not institutions:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    subject, text, html = render_email(
        "objection_reminder",
        signature.language,
        petition_title=petition.text(signature.language).title,
        institutions=institutions,
        rights_url=external_url("privacy.my_data", token=make_token("rights", signature, utcnow())),
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


SENDERS = {EmailKind.OBJECTION_REMINDER: send_objection_reminder_email}
