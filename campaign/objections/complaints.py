"""Follow-through after a letter is sent: the supporter's word on the institution's answer
(answered satisfactorily, unsatisfactorily, or not at all), and, without a satisfactory
answer, the complaint to the authority, prepared with the dates filled in.

As with the letter, the complaint is rendered for the page or the PDF and never stored:
only that a complaint was prepared about an institution, and when (a `complaint_prepared`
step). The dates come from the steps Tribune keeps: when the supporter said "sent", and
the end of the institution's answer period after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import render_template
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import delete, func, select

from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver_soon, write
from campaign.mailings.templates import RenderedLetter
from campaign.objections.models import (
    COMPLAINABLE,
    EventKind,
    Institution,
    InstitutionKind,
    ObjectionEvent,
)
from campaign.objections.services import PreparedLetter
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature, SignatureStatus

ANSWER_KINDS = (EventKind.ANSWERED, EventKind.ANSWERED_UNSATISFACTORILY, EventKind.NO_ANSWER)
# The emails of links to say "sent" a supporter may ask for in a day: enough to ask again
# after losing one, too few to fill their mailbox.
SENT_LINKS_PER_DAY = 3


class NotSent(Exception):
    """The supporter has not said they sent their letter to this institution."""


class AnswerPeriodRunning(Exception):
    """ "No answer" said before the institution's answer period is over."""

    def __init__(self, due: datetime) -> None:
        super().__init__(due.isoformat())
        self.due = due


class NoComplaint(Exception):
    """No complaint to prepare: no unsatisfactory answer (or none) was said about this
    institution, it is not one that holds data, or the directory has no authority."""


@dataclass(frozen=True)
class FollowUp:
    """Where a supporter's sent letter stands: when they sent it, when the institution's
    answer period ends, what they said of the answer, when a complaint was prepared."""

    institution: Institution
    sent_at: datetime
    due: datetime
    answer: EventKind | None
    complaint_at: datetime | None

    def period_over(self, now: datetime) -> bool:
        """Whether the institution's time to answer has passed."""
        return now >= self.due

    @property
    def asks_answer(self) -> bool:
        """Only an institution that holds data owes an answer that a complaint can follow."""
        return self.institution.kind == InstitutionKind.HOLDER

    @property
    def complaint_offered(self) -> bool:
        """Whether the supporter said there was no satisfactory answer."""
        return self.answer in COMPLAINABLE


def _sent_event(signature_id: int, institution_id: int) -> ObjectionEvent | None:
    return db.session.scalar(
        select(ObjectionEvent).where(
            ObjectionEvent.signature_id == signature_id,
            ObjectionEvent.institution_id == institution_id,
            ObjectionEvent.kind == EventKind.SENT,
        )
    )


def follow_ups(signature_id: int) -> list[FollowUp]:
    """Every letter this supporter said they sent, with what followed, by institution name."""
    events = db.session.scalars(
        select(ObjectionEvent)
        .where(ObjectionEvent.signature_id == signature_id)
        .order_by(ObjectionEvent.at, ObjectionEvent.id)
    ).all()
    sent = {event.institution_id: event for event in events if event.kind == EventKind.SENT}
    answers = {event.institution_id: event.kind for event in events if event.kind in ANSWER_KINDS}
    complaints = {
        event.institution_id: event.at
        for event in events
        if event.kind == EventKind.COMPLAINT_PREPARED
    }
    rows = []
    for institution_id, event in sent.items():
        institution = db.session.get(Institution, institution_id)
        rows.append(
            FollowUp(
                institution=institution,
                sent_at=event.at,
                due=event.at + timedelta(days=institution.answer_days),
                answer=answers.get(institution_id),
                complaint_at=complaints.get(institution_id),
            )
        )
    return sorted(rows, key=lambda row: row.institution.name)


def follow_up_of(signature_id: int, institution_id: int) -> FollowUp:
    """The follow-up of one sent letter; raises NotSent."""
    for row in follow_ups(signature_id):
        if row.institution.id == institution_id:
            return row
    raise NotSent(institution_id)


def record_answer(
    signature: Signature, institution: Institution, answer: EventKind, now: datetime
) -> FollowUp:
    """Keep what the supporter says of the institution's answer (replacing what they said
    before: a wrong click is undone by the right one), and cancel the reminder it makes
    pointless. Raises NotSent, and AnswerPeriodRunning for "no answer" said too early."""
    if answer not in ANSWER_KINDS:
        raise ValueError(f"not an answer: {answer}")
    sent = _sent_event(signature.id, institution.id)
    if sent is None or institution.kind != InstitutionKind.HOLDER:
        raise NotSent(institution.id)
    due = sent.at + timedelta(days=institution.answer_days)
    if answer == EventKind.NO_ANSWER and now < due:
        raise AnswerPeriodRunning(due)
    db.session.execute(
        delete(ObjectionEvent).where(
            ObjectionEvent.signature_id == signature.id,
            ObjectionEvent.institution_id == institution.id,
            ObjectionEvent.kind.in_(ANSWER_KINDS),
        )
    )
    db.session.add(
        ObjectionEvent(
            signature_id=signature.id, institution_id=institution.id, kind=answer, at=now
        )
    )
    sent.remind_at = None
    db.session.commit()
    return follow_up_of(signature.id, institution.id)


def authority_for(signature: Signature) -> Institution | None:
    """The authority a complaint goes to: the first that serves the supporter's
    département (a national one serves all)."""
    rows = db.session.scalars(
        select(Institution)
        .where(Institution.kind == InstitutionKind.AUTHORITY)
        .order_by(Institution.name)
    )
    return next((row for row in rows if row.serves(signature.departement or "")), None)


@dataclass(frozen=True)
class PreparedComplaint:
    """The complaint about one institution, addressed to the authority."""

    follow_up: FollowUp
    complaint: PreparedLetter

    @property
    def authority(self) -> Institution:
        return self.complaint.institution


def prepare_complaint(
    signature: Signature, institution: Institution, details: str
) -> PreparedComplaint:
    """Render the complaint to the authority about `institution`, in the petition's language
    (the authority reads it), with the date the letter was sent, the end of the answer
    period, and `details` where the supporter's details go. Renders only: records nothing.
    Raises NotSent or NoComplaint."""
    follow_up = follow_up_of(signature.id, institution.id)
    authority = authority_for(signature)
    if not follow_up.complaint_offered or not follow_up.asks_answer or authority is None:
        raise NoComplaint(institution.id)
    petition = db.session.get(Petition, signature.petition_id)
    language = petition.language
    with force_locale(language):
        context = {
            "name": f"{signature.first_name} {signature.last_name}".strip(),
            "details": details,
            "institution": institution,
            "authority": authority,
            "no_answer": follow_up.answer == EventKind.NO_ANSWER,
            # In the site's time zone, as the supporter's page shows them.
            "sent_on": format_date(follow_up.sent_at, "long"),
            "due_on": format_date(follow_up.due, "long"),
            "petition_title": petition.text(language).title,
        }
        subject = _("Complaint about no satisfactory answer to my objection (GDPR, Article 21)")
        text = render_template("objections/complaint.txt", **context).strip() + "\n"
    letter = RenderedLetter(subject=subject, text=text, html=None)
    return PreparedComplaint(follow_up, PreparedLetter(authority, letter))


def record_complaint_prepared(signature: Signature, institution: Institution, now: datetime):
    """Keep that a complaint about this institution was prepared (once), and when: nothing
    of its content."""
    done = db.session.scalar(
        select(func.count(ObjectionEvent.id)).where(
            ObjectionEvent.signature_id == signature.id,
            ObjectionEvent.institution_id == institution.id,
            ObjectionEvent.kind == EventKind.COMPLAINT_PREPARED,
        )
    )
    if not done:
        db.session.add(
            ObjectionEvent(
                signature_id=signature.id,
                institution_id=institution.id,
                kind=EventKind.COMPLAINT_PREPARED,
                at=now,
            )
        )
        db.session.commit()


# --- "Sent" from the email -------------------------------------------------------------------


def letters_not_yet_sent(signature_id: int) -> list[Institution]:
    """The institutions a letter was prepared for that the supporter has not said sent."""
    sent = select(ObjectionEvent.institution_id).where(
        ObjectionEvent.signature_id == signature_id, ObjectionEvent.kind == EventKind.SENT
    )
    return list(
        db.session.scalars(
            select(Institution)
            .join(ObjectionEvent, ObjectionEvent.institution_id == Institution.id)
            .where(
                ObjectionEvent.signature_id == signature_id,
                ObjectionEvent.kind == EventKind.PREPARED,
                Institution.id.not_in(sent),
            )
            .distinct()
            .order_by(Institution.name)
        )
    )


def email_sent_links(signature: Signature, now: datetime) -> bool:
    """At the supporter's request, email them one link per letter they prepared, to say
    "sent" in one click once they have posted or sent it; False (nothing queued) when no
    letter waits, or after SENT_LINKS_PER_DAY such emails in a day."""
    if signature.status == SignatureStatus.WITHDRAWN or not letters_not_yet_sent(signature.id):
        return False
    today = db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.signature_id == signature.id,
            OutboxMessage.kind == EmailKind.OBJECTION_SENT_LINKS,
            OutboxMessage.created_at > now - timedelta(days=1),
        )
    )
    if today >= SENT_LINKS_PER_DAY:
        return False
    message_ids = write(EmailKind.OBJECTION_SENT_LINKS, now, signature_id=signature.id)
    db.session.commit()
    deliver_soon(*message_ids)
    return True
