"""The privacy emails: the link to a signer's own data."""

from __future__ import annotations

from flask import current_app

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.privacy.services import rights_link_recipient
from campaign.tokens import external_url, make_token


def send_rights_link_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send a signer the link to see, download, change or erase their signature's data.
    False when the address did not sign (or is over its daily links), or when there is
    nothing left to show (withdrawn or erased in the meantime)."""
    signature = rights_link_recipient(outbox, utcnow())
    if signature is None:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    subject, text, html = render_email(
        "rights_link",
        signature.language,
        petition_title=petition.text(signature.language).title,
        rights_url=external_url("privacy.my_data", token=make_token("rights", signature, utcnow())),
        max_age_days=current_app.config["PRIVACY_RIGHTS_LINK_MAX_AGE"] // 86400,
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


SENDERS = {EmailKind.RIGHTS_LINK: send_rights_link_email}
