"""A supporter's objection letter: rendered from the petition's template for one
institution, shown, copied, or printed as a PDF; only the fact that it was prepared is kept.

The identifying details a supporter types (what the institution needs to find them) are
not stored anywhere: the page fills them in the browser; the PDF, when asked for, is made
from them in memory and they are dropped with the request.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import quote

from flask import render_template
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import case, delete, func, select, update

from campaign.extensions import db
from campaign.mail.outbox import EmailKind, deliver_soon, write
from campaign.mailings.templates import MergeFields, RenderedLetter, render_letter
from campaign.objections.models import (
    Channel,
    EventKind,
    Institution,
    ObjectionEvent,
    ObjectionLetter,
)
from campaign.petitions.models import Petition
from campaign.publication.formats import write_pdf
from campaign.signatures.models import Signature

# The merge fields of an objection letter, documented in docs/objections.md.
MERGE_FIELDS = (
    "supporter.first_name",
    "supporter.last_name",
    "supporter.details",
    "institution.name",
    "institution.postal_address",
    "petition.title",
    "today",
)
DETAILS_MAX = 500


@dataclass(frozen=True)
class PreparedLetter:
    """One letter, for one institution."""

    institution: Institution
    letter: RenderedLetter

    @property
    def mailto(self) -> str | None:
        """A mailto: link with the letter, when the institution takes email."""
        if self.institution.channel != Channel.EMAIL or not self.institution.email:
            return None
        subject, body = quote(self.letter.subject), quote(self.letter.text)
        return f"mailto:{self.institution.email}?subject={subject}&body={body}"


def objection_letter_of(petition_id: int) -> ObjectionLetter | None:
    """The petition's objection letter template, if organisers wrote one."""
    return db.session.scalar(
        select(ObjectionLetter).where(ObjectionLetter.petition_id == petition_id)
    )


def details_placeholder() -> str:
    """What the letter shows where the supporter's details go, until they type them."""
    return _("[your details: number, date of birth or address, as the institution asks]")


def _local_long_date(moment: datetime, language: str) -> str:
    """`moment`'s date, long form, in the site's time zone and the given language."""
    with force_locale(language):
        return format_date(moment, "long")


def letter_context(
    petition: Petition,
    institution: Institution,
    first_name: str,
    last_name: str,
    details: str,
    today: datetime,
) -> dict[str, object]:
    """The merge fields of one letter."""
    return {
        "supporter": MergeFields(
            "supporter", {"first_name": first_name, "last_name": last_name, "details": details}
        ),
        "institution": MergeFields(
            "institution",
            {"name": institution.name, "postal_address": institution.postal_address},
        ),
        "petition": MergeFields("petition", {"title": petition.text(petition.language).title}),
        # In the letter's language, whatever the page's: the institution reads it; the
        # date in the site's time zone (just after midnight in Paris is still "yesterday" in UTC).
        "today": _local_long_date(today, petition.language),
    }


def set_objection_letter(petition: Petition, subject: str, body: str, now: datetime) -> None:
    """Write (or replace) the petition's letter template; raises TemplateProblem, and changes
    nothing, when it cannot be rendered with sample fields."""
    sample = Institution(name="Caisse", postal_address="1 rue de l’Exemple\n75000 Paris")
    render_letter(subject, body, letter_context(petition, sample, "Alice", "Martin", "…", now))
    letter = objection_letter_of(petition.id)
    if letter is None:
        letter = ObjectionLetter(petition_id=petition.id, created_at=now)
        db.session.add(letter)
    letter.subject, letter.body, letter.updated_at = subject, body, now
    db.session.commit()


def prepare_letters(
    signature: Signature,
    template: ObjectionLetter,
    institutions: list[Institution],
    now: datetime,
    details: str | None = None,
) -> list[PreparedLetter]:
    """Render the supporter's letter for each institution; `details` None leaves the
    placeholder the page fills in. Renders only: records nothing."""
    petition = db.session.get(Petition, signature.petition_id)
    filled = details if details is not None else details_placeholder()
    return [
        PreparedLetter(
            institution,
            render_letter(
                template.subject,
                template.body,
                letter_context(
                    petition,
                    institution,
                    signature.first_name,
                    signature.last_name,
                    filled,
                    now,
                ),
            ),
        )
        for institution in institutions
    ]


def record_prepared(signature: Signature, institutions: list[Institution], now: datetime) -> None:
    """Keep that letters were prepared for these institutions, once each: no content."""
    done = set(
        db.session.scalars(
            select(ObjectionEvent.institution_id).where(
                ObjectionEvent.signature_id == signature.id,
                ObjectionEvent.kind == EventKind.PREPARED,
            )
        )
    )
    for institution in institutions:
        if institution.id not in done:
            db.session.add(
                ObjectionEvent(
                    signature_id=signature.id,
                    institution_id=institution.id,
                    kind=EventKind.PREPARED,
                    at=now,
                )
            )
    db.session.commit()


def mark_sent(
    signature: Signature, institution: Institution, remind: bool, now: datetime
) -> datetime:
    """Keep that the supporter sent their letter to this institution (once), and whether to
    remind them when its answer period is over; returns the end of that period."""
    sent = db.session.scalar(
        select(ObjectionEvent).where(
            ObjectionEvent.signature_id == signature.id,
            ObjectionEvent.institution_id == institution.id,
            ObjectionEvent.kind == EventKind.SENT,
        )
    )
    if sent is None:
        sent = ObjectionEvent(
            signature_id=signature.id,
            institution_id=institution.id,
            kind=EventKind.SENT,
            at=now,
        )
        db.session.add(sent)
    due = sent.at + timedelta(days=institution.answer_days)
    sent.remind_at = due if remind else None
    db.session.commit()
    return due


def stop_reminders(signature: Signature) -> int:
    """Cancel every reminder the supporter asked for; returns how many there were."""
    count = db.session.execute(
        update(ObjectionEvent)
        .where(ObjectionEvent.signature_id == signature.id, ObjectionEvent.remind_at.is_not(None))
        .values(remind_at=None)
    ).rowcount
    db.session.commit()
    return count


def remind_due_letters(now: datetime) -> int:
    """Queue one reminder email per supporter whose asked-for reminder has come (the answer
    period of a letter they sent is over), mark each letter `reminded` and clear its
    reminder, so that it is sent once; returns how many emails were queued."""
    due = list(
        db.session.scalars(
            select(ObjectionEvent).where(
                ObjectionEvent.kind == EventKind.SENT,
                ObjectionEvent.remind_at.is_not(None),
                ObjectionEvent.remind_at <= now,
            )
        )
    )
    signature_ids = sorted({event.signature_id for event in due})
    for event in due:
        event.remind_at = None
        db.session.add(
            ObjectionEvent(
                signature_id=event.signature_id,
                institution_id=event.institution_id,
                kind=EventKind.REMINDED,
                at=now,
            )
        )
    message_ids = write(EmailKind.OBJECTION_REMINDER, now, signature_id=signature_ids)
    db.session.commit()
    deliver_soon(*message_ids)
    return len(message_ids)


@dataclass(frozen=True)
class TimelineStep:
    """One step of the supporter's own timeline, as their rights page shows it."""

    institution: str
    kind: str
    at: datetime
    remind_at: datetime | None


def objection_timeline(signature_id: int) -> list[TimelineStep]:
    """Every step kept about this signature's letters, oldest first."""
    rows = db.session.execute(
        select(Institution.name, ObjectionEvent.kind, ObjectionEvent.at, ObjectionEvent.remind_at)
        .join(Institution, Institution.id == ObjectionEvent.institution_id)
        .where(ObjectionEvent.signature_id == signature_id)
        .order_by(ObjectionEvent.at, ObjectionEvent.id)
    )
    return [TimelineStep(name, str(kind), at, remind_at) for name, kind, at, remind_at in rows]


def letter_pdf(letter: PreparedLetter, now: datetime) -> bytes:
    """The letter as a PDF to print and post, the institution's postal address on it."""
    html = render_template(
        "objections/letter_pdf.html", letter=letter.letter, institution=letter.institution, now=now
    )
    target = io.BytesIO()
    write_pdf(html, target)
    return target.getvalue()


# --- Erasure ---------------------------------------------------------------------------------


def erase_objection_events(signature_ids) -> int:
    """Delete the timeline of these signatures (ids, or a subquery of them); returns how many
    rows went. The caller commits."""
    return db.session.execute(
        delete(ObjectionEvent).where(ObjectionEvent.signature_id.in_(signature_ids))
    ).rowcount


def on_signature_withdrawn(signature_id: int) -> None:
    """Receiver of campaign.signatures.events.withdrawn: the timeline goes in the
    withdrawal's transaction."""
    erase_objection_events([signature_id])


# --- Aggregates ------------------------------------------------------------------------------

STEPS = (EventKind.PREPARED, EventKind.SENT, EventKind.ANSWERED, EventKind.COMPLAINT_PREPARED)
# The step each kind counts towards: an answer is counted as answered, satisfactory or not;
# reminders and "no answer" are not steps of the aggregates.
STEP_OF = {
    EventKind.PREPARED: EventKind.PREPARED,
    EventKind.SENT: EventKind.SENT,
    EventKind.ANSWERED: EventKind.ANSWERED,
    EventKind.ANSWERED_UNSATISFACTORILY: EventKind.ANSWERED,
    EventKind.COMPLAINT_PREPARED: EventKind.COMPLAINT_PREPARED,
}
_STEP = case(
    *((ObjectionEvent.kind == kind, str(step)) for kind, step in STEP_OF.items()), else_=None
)


@dataclass(frozen=True)
class InstitutionTally:
    """How many supporters took each step towards one institution."""

    name: str
    counts: dict[str, int]


def objection_tallies(petition_id: int) -> list[InstitutionTally]:
    """Per institution, the number of supporters at each step: counts only, no one named."""
    step = _STEP.label("step")
    rows = db.session.execute(
        select(Institution.name, step, func.count(func.distinct(ObjectionEvent.signature_id)))
        .join(Institution, Institution.id == ObjectionEvent.institution_id)
        .join(Signature, Signature.id == ObjectionEvent.signature_id)
        .where(Signature.petition_id == petition_id, _STEP.is_not(None))
        .group_by(Institution.name, step)
        .order_by(Institution.name)
    )
    tallies: dict[str, dict[str, int]] = {}
    for name, kind, count in rows:
        tallies.setdefault(name, {})[str(kind)] = count
    return [InstitutionTally(name, counts) for name, counts in tallies.items()]


def steps_per_week(petition_id: int) -> list[tuple[date, dict[str, int]]]:
    """Per week (the Monday that starts it), oldest first, the letters that reached each
    step that week: counts only."""
    rows = db.session.execute(
        select(ObjectionEvent.kind, ObjectionEvent.at)
        .join(Signature, Signature.id == ObjectionEvent.signature_id)
        .where(Signature.petition_id == petition_id, ObjectionEvent.kind.in_(list(STEP_OF)))
    )
    weeks: dict[date, Counter] = {}
    for kind, moment in rows:
        monday = moment.date() - timedelta(days=moment.weekday())
        weeks.setdefault(monday, Counter())[str(STEP_OF[EventKind(kind)])] += 1
    return [(monday, dict(weeks[monday])) for monday in sorted(weeks)]
