"""The petitions' emails: a milestone of the goal, to the organiser."""

from __future__ import annotations

from campaign.accounts.models import User
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver
from campaign.mail.transport import MailConnection, render_email
from campaign.petitions.models import Petition
from campaign.tokens import external_url


def send_goal_milestone_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Tell a petition's organiser it passed a milestone of its goal."""
    user = db.session.get(User, outbox.user_id) if outbox.user_id else None
    petition = db.session.get(Petition, outbox.petition_id) if outbox.petition_id else None
    if user is None or petition is None or not user.active:
        return False
    subject, text, html = render_email(
        "goal_milestone",
        petition.language,
        petition=petition,
        title=petition.text(petition.language).title,
        percent=int(outbox.detail or 0),
        petition_url=external_url("petitions.show", slug=petition.slug),
    )
    deliver(outbox, connection, user.email, subject, text, html)
    return True


SENDERS = {EmailKind.GOAL_MILESTONE: send_goal_milestone_email}
