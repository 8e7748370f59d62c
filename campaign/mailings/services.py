"""Mailings: compose, choose recipients, start, pause, resume, cancel, retry, progress.

Starting a mailing moves it out of draft with a conditional update (a double-clicked
"send" starts one run) and, in the same transaction, writes one Delivery row per recipient
with a unique idempotency key and the time before which it may not leave (pacing and the
per-domain cap live in the data, so they survive restarts and hold across workers). Only
then are the workers woken up.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, insert, select, update

import campaign.audit as audit
from campaign.clock import utcnow
from campaign.errors import DomainError
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, deliver_soon, write
from campaign.mailings.jobs import (
    finish_if_complete,
    mark_stale_deliveries_unknown,
    stalled_mailings,
    wake_senders,
)
from campaign.mailings.merge_fields import (
    letter_context,
    official_context,
    petition_context,
)
from campaign.mailings.models import (
    ACTIVE,
    DELIVERY_TRANSITIONS,
    EDITABLE,
    OPEN_DELIVERIES,
    Delivery,
    DeliveryStatus,
    Mailing,
    MailingKind,
    MailingStatus,
    ReplyAddress,
)
from campaign.mailings.recipients import (
    bouncing_officials,
    clean_selection,
    selected_officials,
)
from campaign.mailings.templates import (
    MergeFields,
    RenderedLetter,
    one_line,
    render_letter,
    used_fields,
)
from campaign.officials.models import Official, OfficialKind, OfficialRole
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature, SignatureStatus


class NoRecipients(DomainError):
    """The mailing's selection matches nobody."""


class MailingNotEditable(DomainError):
    """Only a draft mailing can be changed."""


class RecipientsChanged(DomainError):
    """The recipients are no longer those the organiser confirmed (an import, an
    unsubscription, a saved change in between): confirm again."""


class ReplyToNotConfirmed(DomainError):
    """The mailing's Reply-To address has not been confirmed from its inbox yet."""


class CountNotConfirmed(DomainError):
    """A large mailing needs its number of recipients typed, and it was not (or wrongly)."""


# ---------------------------------------------------------------------------------------
# Composing


@dataclass
class MailingFields:
    """What an organiser sets on a mailing."""

    name: str = ""
    subject_template: str = ""
    body_template: str = ""
    roles: list[str] = field(default_factory=list)
    chambers: list[str] = field(default_factory=list)
    departements: list[str] = field(default_factory=list)
    official_ids: list[int] = field(default_factory=list)
    authority_ids: list[int] = field(default_factory=list)
    per_minute: int = 0
    domain_cap_per_hour: int = 0
    official_daily_cap: int = 50
    hold_for_moderation: bool = False
    send_at: datetime | None = None
    sender_name: str = ""
    reply_to_address: str = ""

    def selection(self) -> dict[str, list]:
        """The recipients chosen, as the mailing stores them (see mailings.recipients)."""
        return clean_selection(
            {
                "roles": self.roles,
                "chambers": self.chambers,
                "departements": self.departements,
                "official_ids": self.official_ids,
                "authority_ids": self.authority_ids,
            }
        )


def fields_of(mailing: Mailing) -> MailingFields:
    """A mailing's settings, to fill the compose form."""
    selection = mailing.selection or {}
    return MailingFields(
        name=mailing.name,
        subject_template=mailing.subject_template,
        body_template=mailing.body_template,
        roles=list(selection.get("roles", [])),
        chambers=list(selection.get("chambers", [])),
        departements=list(selection.get("departements", [])),
        official_ids=list(selection.get("official_ids", [])),
        authority_ids=list(selection.get("authority_ids", [])),
        per_minute=mailing.per_minute,
        domain_cap_per_hour=mailing.domain_cap_per_hour,
        official_daily_cap=mailing.official_daily_cap,
        hold_for_moderation=mailing.hold_for_moderation,
        send_at=mailing.send_at,
        sender_name=mailing.sender_name,
        reply_to_address=mailing.reply_to_address,
    )


def _apply(mailing: Mailing, fields: MailingFields) -> None:
    mailing.name = fields.name.strip()
    mailing.subject_template = fields.subject_template
    mailing.body_template = fields.body_template
    mailing.selection = fields.selection()
    mailing.per_minute = max(0, fields.per_minute)
    mailing.domain_cap_per_hour = max(0, fields.domain_cap_per_hour)
    mailing.official_daily_cap = max(1, fields.official_daily_cap)
    mailing.hold_for_moderation = fields.hold_for_moderation
    mailing.send_at = fields.send_at
    mailing.sender_name = one_line(fields.sender_name or "")[:100]
    mailing.reply_to_address = (fields.reply_to_address or "").strip().lower()


# A confirmation link is sent again on save only after this long: saving twice is not two
# emails to the campaign's inbox.
REPLY_TO_RESEND_AFTER = timedelta(minutes=10)


def reply_address(petition_id: int, email: str) -> ReplyAddress | None:
    """The petition's record of this Reply-To address, if one was asked for."""
    return db.session.scalar(
        select(ReplyAddress).where(
            ReplyAddress.petition_id == petition_id, ReplyAddress.email == email.strip().lower()
        )
    )


def _ask_reply_address_confirmation(mailing: Mailing, actor, now: datetime) -> int | None:
    """When the mailing names a Reply-To address its petition has not confirmed, add the
    confirmation email to the transaction; its outbox id (None: nothing to send)."""
    email = mailing.reply_to_address
    if not email:
        return None
    record = reply_address(mailing.petition_id, email)
    if record is not None and (
        record.confirmed_at is not None or now - record.requested_at < REPLY_TO_RESEND_AFTER
    ):
        return None
    if record is None:
        record = ReplyAddress(petition_id=mailing.petition_id, email=email)
        db.session.add(record)
    record.requested_at = now
    record.requested_by_id = getattr(actor, "id", None)
    db.session.flush()
    [outbox_id] = write(
        EmailKind.REPLY_TO_CONFIRMATION,
        now,
        user_id=getattr(actor, "id", None),
        petition_id=mailing.petition_id,
        detail=str(record.id),
    )
    return outbox_id


def confirm_reply_address(record_id: int, now: datetime) -> bool:
    """Someone who reads the address followed its link and confirmed: mailings of the
    petition may now use it. False when it was confirmed already."""
    record = db.session.get(ReplyAddress, record_id)
    if record is None or record.confirmed_at is not None:
        return False
    record.confirmed_at = now
    audit.record(
        "mailing.reply_to_confirmed", now, petition_id=record.petition_id, detail=record.email
    )
    db.session.commit()
    return True


def reply_address_state(mailing: Mailing) -> str | None:
    """ "confirmed" or "pending" for the mailing's Reply-To address; None without one."""
    if not mailing.reply_to_address:
        return None
    record = reply_address(mailing.petition_id, mailing.reply_to_address)
    return "confirmed" if record is not None and record.confirmed_at else "pending"


def reply_to_confirmed(mailing: Mailing) -> bool:
    """Whether the mailing's Reply-To may be used: its own confirmed address, or none
    (the organiser's account address then)."""
    if not mailing.reply_to_address:
        return True
    record = reply_address(mailing.petition_id, mailing.reply_to_address)
    return record is not None and record.confirmed_at is not None


def create_mailing(
    petition: Petition, kind: MailingKind, fields: MailingFields, actor, now: datetime
) -> Mailing:
    """A new draft mailing of `petition`. Template errors are allowed in a draft."""
    mailing = Mailing(
        petition_id=petition.id,
        kind=kind,
        created_by_id=getattr(actor, "id", None),
        created_at=now,
        updated_at=now,
    )
    _apply(mailing, fields)
    db.session.add(mailing)
    db.session.flush()
    outbox_id = _ask_reply_address_confirmation(mailing, actor, now)
    db.session.commit()
    if outbox_id is not None:
        deliver_soon(outbox_id)
    return mailing


def update_mailing(mailing: Mailing, fields: MailingFields, now: datetime, actor=None) -> Mailing:
    """Change a draft mailing; a new Reply-To address gets its confirmation email. Raises
    MailingNotEditable once it has left draft."""
    if mailing.status not in EDITABLE and mailing.kind != MailingKind.REPRESENTATIVES:
        raise MailingNotEditable(mailing.id)
    _apply(mailing, fields)
    mailing.updated_at = now
    outbox_id = _ask_reply_address_confirmation(mailing, actor, now)
    db.session.commit()
    if outbox_id is not None:
        deliver_soon(outbox_id)
    return mailing


# ---------------------------------------------------------------------------------------
# Recipients


def subscribed_signatures(petition_id: int) -> list[Signature]:
    """Confirmed signatories of the petition who asked to be kept informed."""
    return list(
        db.session.scalars(
            select(Signature)
            .where(
                Signature.petition_id == petition_id,
                Signature.status == SignatureStatus.CONFIRMED,
                Signature.contact_ok.is_(True),
                Signature.email_ciphertext.is_not(None),
            )
            .order_by(Signature.id)
        )
    )


# How many recipients the confirmation names before "and N others".
NAMED_IN_CONFIRMATION = 5


@dataclass(frozen=True)
class RecipientSet:
    """Who a mailing writes to as things stand: the ids (officials, or signatures for an
    update), a few names to show, and a digest that a confirmation carries back."""

    ids: list[int]
    first_names: list[str]
    digest: str
    # Officials the selection names but whose address bounces: skipped.
    bouncing: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.ids)


def _digest_of(mailing: Mailing, ids: list[int]) -> str:
    # The templates are part of what is confirmed: a change saved in another tab after the
    # confirmation page was shown is not sent without a second look.
    material = "\n".join([mailing.subject_template, mailing.body_template, ",".join(map(str, ids))])
    return hashlib.sha256(material.encode()).hexdigest()


def recipient_set(mailing: Mailing) -> RecipientSet:
    """The recipients the mailing would write to now, for its confirmation."""
    if mailing.kind == MailingKind.UPDATE:
        people = subscribed_signatures(mailing.petition_id)
        names = [f"{person.first_name} {person.last_name}".strip() for person in people]
    elif mailing.kind == MailingKind.LETTER:
        people = selected_officials(mailing.selection or {})
        names = [person.recipient_name for person in people]
    else:
        people, names = [], []
    ids = sorted(person.id for person in people)
    bouncing = (
        [official.recipient_name for official in bouncing_officials(mailing.selection or {})]
        if mailing.kind == MailingKind.LETTER
        else []
    )
    return RecipientSet(
        ids=ids,
        first_names=names[:NAMED_IN_CONFIRMATION],
        digest=_digest_of(mailing, ids),
        bouncing=bouncing,
    )


def typing_required(count: int) -> bool:
    """Whether a mailing to `count` recipients is confirmed by typing that number."""
    return count > current_app.config["MAILING_CONFIRM_TYPED_ABOVE"]


def recipient_count(mailing: Mailing) -> int:
    """How many people the mailing would write to now."""
    if mailing.kind == MailingKind.LETTER:
        return len(selected_officials(mailing.selection or {}))
    if mailing.kind == MailingKind.UPDATE:
        return len(subscribed_signatures(mailing.petition_id))
    return 0


# ---------------------------------------------------------------------------------------
# Rendering


def render_for_official(mailing: Mailing, official: Official) -> RenderedLetter:
    """The letter `official` would receive. Raises TemplateProblem."""
    petition = db.session.get(Petition, mailing.petition_id)
    context = letter_context(petition_context(petition), petition.language, official=official)
    return render_letter(mailing.subject_template, mailing.body_template, context)


def render_for_signature(mailing: Mailing, signature: Signature) -> RenderedLetter:
    """The update `signature`'s signer would receive. Raises TemplateProblem."""
    petition = db.session.get(Petition, mailing.petition_id)
    context = letter_context(petition_context(petition), petition.language, signature=signature)
    return render_letter(mailing.subject_template, mailing.body_template, context)


def sample_signature(petition_id: int) -> Signature:
    """A stand-in signatory to preview an update with."""
    return Signature(petition_id=petition_id, first_name="Camille", last_name="Martin")


# Recipients a template is tried on before a mailing starts, and on each view of its page:
# a sample, not everyone (each render is bounded; a mailing may have thousands of them).
SAMPLE_SIZE = 3


def check_templates(mailing: Mailing) -> None:
    """Render the templates for a sample of the recipients (or a stand-in); raises
    TemplateProblem at the first failure, so that nothing leaves with a hole in it. A
    recipient whose own data makes the letter fail later is marked failed alone."""
    petition = db.session.get(Petition, mailing.petition_id)
    base = petition_context(petition)
    locale = petition.language
    if mailing.kind == MailingKind.UPDATE:
        render_letter(
            mailing.subject_template,
            mailing.body_template,
            letter_context(base, locale, signature=sample_signature(petition.id)),
        )
        return
    officials = selected_officials(mailing.selection or {})[:SAMPLE_SIZE]
    if mailing.kind == MailingKind.REPRESENTATIVES:
        officials = officials[:1] or [stand_in_official()]
    for official in officials:
        render_letter(
            mailing.subject_template,
            mailing.body_template,
            letter_context(base, locale, official=official),
        )


@dataclass(frozen=True)
class EmptyField:
    """A merge field the templates write that is empty for `empty` of `total` recipients."""

    field: str
    empty: int
    total: int


def empty_fields(mailing: Mailing) -> list[EmptyField]:
    """The merge fields a letter's templates write that are empty for some of its
    recipients, with how many: the letter would have a blank there. Reads the officials'
    data only; renders nothing."""
    if mailing.kind != MailingKind.LETTER:
        return []
    used = used_fields(mailing.subject_template) | used_fields(mailing.body_template)
    if not used:
        return []
    petition = db.session.get(Petition, mailing.petition_id)
    officials = selected_officials(mailing.selection or {})
    if not officials:
        return []
    base = petition_context(petition)
    counts: dict[str, int] = defaultdict(int)
    for field_name in used:
        group, _dot, key = field_name.partition(".")
        if isinstance(base.get(group), MergeFields) and base[group].get(key) in ("", None):
            counts[field_name] = len(officials)
    wanted = sorted(name.partition(".")[2] for name in used if name.startswith("official."))
    if wanted:
        for official in officials:
            values = official_context(official, petition.language)
            for key in wanted:
                if key in values and values[key] in ("", None):
                    counts[f"official.{key}"] += 1
    return [EmptyField(name, count, len(officials)) for name, count in sorted(counts.items())]


# ---------------------------------------------------------------------------------------
# Starting


def spread(
    domains: list[str],
    start: datetime,
    per_minute: int,
    domain_cap_per_hour: int,
    domain_starts: dict[str, datetime] | None = None,
) -> list[datetime]:
    """The earliest departure time of each message, in order: evenly spaced at
    `per_minute`, and no more than `domain_cap_per_hour` to one domain in any hour; a domain
    of `domain_starts` gets nothing before its time there."""
    gap = timedelta(seconds=60 / per_minute) if per_minute else timedelta(0)
    domain_gap = timedelta(seconds=3600 / domain_cap_per_hour) if domain_cap_per_hour else None
    next_slot = start
    next_for_domain: dict[str, datetime] = defaultdict(lambda: start)
    for domain, moment in (domain_starts or {}).items():
        next_for_domain[domain] = max(start, moment)
    times = []
    for domain in domains:
        moment = max(next_slot, next_for_domain[domain]) if domain_gap else next_slot
        times.append(moment)
        next_slot = moment + gap
        if domain_gap:
            next_for_domain[domain] = moment + domain_gap
    return times


# Deliveries that took a departure slot, for pacing what comes after them.
SLOTTED = (
    DeliveryStatus.QUEUED,
    DeliveryStatus.SENDING,
    DeliveryStatus.SENT,
    DeliveryStatus.UNKNOWN,
)


def departures_after_booked(
    mailing: Mailing, domains: list[str], now: datetime, besides: Sequence[int] = ()
) -> list[datetime]:
    """Departure times for deliveries added to a mailing that already sends (supporters'
    letters, released letters), in order: after the slots its other deliveries (all but
    `besides`) already took, at its pace and its per-domain cap. The caller serialises
    writers of the mailing."""
    per_minute, cap = mailing.per_minute, mailing.domain_cap_per_hour
    if not (per_minute or cap):
        return [now] * len(domains)
    # Both rules look back an hour at most: the gap is a minute or less, or an hour/cap.
    recent = [
        Delivery.mailing_id == mailing.id,
        Delivery.status.in_(SLOTTED),
        Delivery.not_before > now - timedelta(hours=1),
    ]
    if besides:
        recent.append(Delivery.id.not_in(besides))
    start = now
    if per_minute:
        last = db.session.scalar(select(func.max(Delivery.not_before)).where(*recent))
        if last is not None:
            start = max(now, last + timedelta(seconds=60 / per_minute))
    domain_starts: dict[str, datetime] = {}
    if cap and domains:
        rows = db.session.execute(
            select(Delivery.recipient_domain, func.max(Delivery.not_before))
            .where(*recent, Delivery.recipient_domain.in_(set(domains)))
            .group_by(Delivery.recipient_domain)
        )
        domain_starts = {domain: last + timedelta(seconds=3600 / cap) for domain, last in rows}
    return spread(domains, start, per_minute, cap, domain_starts)


def _interleave_domains(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Round-robin over recipient domains, so a cap on one domain does not hold back the
    others behind it."""
    by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_domain[row["recipient_domain"]].append(row)
    queues = sorted(by_domain.values(), key=len, reverse=True)
    ordered = []
    for index in range(max((len(queue) for queue in queues), default=0)):
        ordered.extend(queue[index] for queue in queues if index < len(queue))
    return ordered


def _confirmed(people: list, mailing: Mailing) -> list:
    """Those of `people` the organiser confirmed (all of them for a mailing started before
    confirmations were recorded): nobody who matches only later is written to."""
    if mailing.confirmed_recipients is None:
        return people
    confirmed = set(mailing.confirmed_recipients)
    return [person for person in people if person.id in confirmed]


def _delivery_rows(mailing: Mailing, now: datetime) -> list[dict[str, Any]]:
    if mailing.kind == MailingKind.LETTER:
        return [
            {
                "mailing_id": mailing.id,
                "idempotency_key": f"{mailing.id}:official:{official.id}",
                "official_id": official.id,
                "recipient_domain": official.email_domain,
                "status": DeliveryStatus.QUEUED,
                "created_at": now,
            }
            for official in _confirmed(selected_officials(mailing.selection or {}), mailing)
        ]
    return [
        {
            "mailing_id": mailing.id,
            "idempotency_key": f"{mailing.id}:signature:{signature.id}",
            "signature_id": signature.id,
            "recipient_domain": decrypt_email(signature.email_ciphertext).rpartition("@")[2],
            "status": DeliveryStatus.QUEUED,
            "created_at": now,
        }
        for signature in _confirmed(subscribed_signatures(mailing.petition_id), mailing)
    ]


def _materialise(mailing: Mailing, now: datetime) -> int:
    rows = _delivery_rows(mailing, now)
    if mailing.domain_cap_per_hour:
        rows = _interleave_domains(rows)
    times = spread(
        [row["recipient_domain"] for row in rows],
        now,
        mailing.per_minute,
        mailing.domain_cap_per_hour,
    )
    for row, moment in zip(rows, times, strict=True):
        row["not_before"] = moment
    if rows:
        db.session.execute(insert(Delivery), rows)
    return len(rows)


def check_before_start(mailing: Mailing) -> None:
    """What "Send" checks before asking for a confirmation. Raises TemplateProblem,
    ReplyToNotConfirmed or NoRecipients."""
    check_templates(mailing)
    if not reply_to_confirmed(mailing):
        raise ReplyToNotConfirmed(mailing.id)
    if mailing.kind != MailingKind.REPRESENTATIVES and recipient_count(mailing) == 0:
        raise NoRecipients(mailing.id)


def start_mailing(
    mailing_id: int,
    actor,
    now: datetime,
    confirmed: str | None = None,
    typed_count: int | None = None,
) -> bool:
    """Send a draft mailing now, or schedule it for its send_at, to exactly the recipients
    confirmed: `confirmed` is the digest of the RecipientSet the organiser saw (None: the
    caller confirms the current one), `typed_count` their number as typed, required above
    MAILING_CONFIRM_TYPED_ABOVE. False when it already left draft (a second click). Raises
    TemplateProblem, ReplyToNotConfirmed, NoRecipients, RecipientsChanged or
    CountNotConfirmed, changing nothing."""
    mailing = db.session.get(Mailing, mailing_id)
    if mailing is None or mailing.status not in EDITABLE:
        return False
    check_templates(mailing)
    if not reply_to_confirmed(mailing):
        raise ReplyToNotConfirmed(mailing_id)
    recipients = recipient_set(mailing)
    if mailing.kind != MailingKind.REPRESENTATIVES:
        if recipients.count == 0:
            raise NoRecipients(mailing_id)
        if confirmed is not None:
            if confirmed != recipients.digest:
                raise RecipientsChanged(mailing_id)
            if typing_required(recipients.count) and typed_count != recipients.count:
                raise CountNotConfirmed(mailing_id)
    later = mailing.send_at is not None and mailing.send_at > now
    to = MailingStatus.SCHEDULED if later else MailingStatus.SENDING
    values: dict[str, Any] = {
        "reply_to": mailing.reply_to_address or getattr(actor, "email", "") or "",
        "confirmed_recipients": recipients.ids,
    }
    if not later:
        values["started_at"] = now
    if not Mailing.move(db.session, mailing_id, EDITABLE, to, **values):
        db.session.rollback()
        return False
    db.session.refresh(mailing, ["confirmed_recipients"])
    count = (
        0 if later or mailing.kind == MailingKind.REPRESENTATIVES else _materialise(mailing, now)
    )
    audit.record(
        "mailing.schedule" if later else "mailing.send",
        now,
        actor=actor,
        petition_id=mailing.petition_id,
        detail=f"mailing {mailing_id}: {mailing.name}",
        count=count,
    )
    db.session.commit()

    if later:
        from campaign.jobs import enqueue_at

        enqueue_at(mailing.send_at, start_scheduled_mailing, mailing_id)
    else:
        wake_senders(mailing_id, "start")
    return True


def start_scheduled_mailing(mailing_id: int) -> None:
    """Job: start a scheduled mailing whose time has come (the sweeper does it too)."""
    if mailing_id in start_due_mailings(utcnow()):
        wake_senders(mailing_id, "scheduled")


def start_due_mailings(now: datetime) -> list[int]:
    """Scheduled mailings whose time has come: recipients materialised, now sending."""
    due = db.session.scalars(
        select(Mailing.id).where(Mailing.status == MailingStatus.SCHEDULED, Mailing.send_at <= now)
    ).all()
    started = []
    for mailing_id in due:
        mailing = db.session.get(Mailing, mailing_id)
        if not Mailing.move(
            db.session,
            mailing_id,
            frozenset({MailingStatus.SCHEDULED}),
            MailingStatus.SENDING,
            started_at=now,
        ):
            db.session.rollback()
            continue
        if mailing.kind != MailingKind.REPRESENTATIVES:
            _materialise(mailing, now)
        db.session.commit()
        started.append(mailing_id)
    return started


# ---------------------------------------------------------------------------------------
# Pause, resume, cancel, retry


def pause_mailing(mailing_id: int, actor, now: datetime) -> bool:
    """Stop taking new deliveries; those in flight finish."""
    moved = Mailing.move(
        db.session, mailing_id, frozenset({MailingStatus.SENDING}), MailingStatus.PAUSED
    )
    if moved:
        audit.record("mailing.pause", now, actor=actor, detail=f"mailing {mailing_id}")
    db.session.commit()
    return moved


def _respace(mailing: Mailing, now: datetime) -> None:
    """Spread the queued deliveries again from `now`, in their current order."""
    rows = db.session.execute(
        select(Delivery.id, Delivery.recipient_domain)
        .where(Delivery.mailing_id == mailing.id, Delivery.status == DeliveryStatus.QUEUED)
        .order_by(Delivery.not_before, Delivery.id)
    ).all()
    times = spread(
        [domain for _, domain in rows], now, mailing.per_minute, mailing.domain_cap_per_hour
    )
    if rows:
        db.session.execute(
            update(Delivery),
            [
                {"id": delivery_id, "not_before": moment}
                for (delivery_id, _), moment in zip(rows, times, strict=True)
            ],
        )


def resume_mailing(mailing_id: int, actor, now: datetime) -> bool:
    """Take up a paused mailing where it stopped, paced from now."""
    moved = Mailing.move(
        db.session, mailing_id, frozenset({MailingStatus.PAUSED}), MailingStatus.SENDING
    )
    if not moved:
        db.session.rollback()
        return False
    _respace(db.session.get(Mailing, mailing_id), now)
    audit.record("mailing.resume", now, actor=actor, detail=f"mailing {mailing_id}")
    db.session.commit()

    wake_senders(mailing_id, f"resume-{int(now.timestamp())}")
    return True


def cancel_mailing(mailing_id: int, actor, now: datetime) -> bool:
    """Stop a mailing for good: whatever has not left is cancelled."""
    moved = Mailing.move(
        db.session,
        mailing_id,
        frozenset(
            {
                MailingStatus.DRAFT,
                MailingStatus.SCHEDULED,
                MailingStatus.SENDING,
                MailingStatus.PAUSED,
            }
        ),
        MailingStatus.CANCELLED,
        finished_at=now,
    )
    if not moved:
        db.session.rollback()
        return False
    cancelled = DELIVERY_TRANSITIONS.move(
        db.session,
        Delivery,
        (DeliveryStatus.QUEUED, DeliveryStatus.HELD),
        DeliveryStatus.CANCELLED,
        Delivery.mailing_id == mailing_id,
    )
    audit.record(
        "mailing.cancel", now, actor=actor, detail=f"mailing {mailing_id}", count=cancelled
    )
    db.session.commit()
    return True


def _requeue(
    mailing_id: int, statuses: set[DeliveryStatus], actor, now: datetime, action: str
) -> int:
    mailing = db.session.get(Mailing, mailing_id)
    if mailing is None or mailing.status == MailingStatus.CANCELLED:
        return 0
    count = DELIVERY_TRANSITIONS.move(
        db.session,
        Delivery,
        statuses,
        DeliveryStatus.QUEUED,
        Delivery.mailing_id == mailing_id,
        attempts=0,
        not_before=now,
        claim_token=None,
    )
    if count and mailing.status == MailingStatus.DONE:
        Mailing.move(
            db.session,
            mailing_id,
            frozenset({MailingStatus.DONE}),
            MailingStatus.SENDING,
            finished_at=None,
        )
    audit.record(action, now, actor=actor, detail=f"mailing {mailing_id}", count=count)
    db.session.commit()
    if count and mailing.status in ACTIVE:
        wake_senders(mailing_id, f"{action}-{int(now.timestamp())}")
    return count


def retry_failed(mailing_id: int, actor, now: datetime) -> int:
    """Queue the failed deliveries again; returns how many."""
    return _requeue(mailing_id, {DeliveryStatus.FAILED}, actor, now, "mailing.retry_failed")


def resend_unknown(mailing_id: int, actor, now: datetime) -> int:
    """The organiser decided that the deliveries of unknown outcome should go again (the
    recipient may then get two copies): queue them; returns how many."""
    return _requeue(mailing_id, {DeliveryStatus.UNKNOWN}, actor, now, "mailing.resend_unknown")


def mark_unknown_sent(mailing_id: int, actor, now: datetime) -> int:
    """The organiser decided that the deliveries of unknown outcome did leave."""
    count = DELIVERY_TRANSITIONS.move(
        db.session,
        Delivery,
        DeliveryStatus.UNKNOWN,
        DeliveryStatus.SENT,
        Delivery.mailing_id == mailing_id,
        sent_at=Delivery.claimed_at,
    )
    audit.record(
        "mailing.unknown_marked_sent", now, actor=actor, detail=f"mailing {mailing_id}", count=count
    )
    db.session.commit()
    return count


# ---------------------------------------------------------------------------------------
# Progress


@dataclass(frozen=True)
class Progress:
    """Where a mailing stands, for the workspace's live progress bar."""

    status: str
    total: int
    counts: dict[str, int]
    per_minute: float
    eta_minutes: int | None

    @property
    def remaining(self) -> int:
        return sum(self.counts.get(status, 0) for status in OPEN_DELIVERIES)

    @property
    def done_percent(self) -> int:
        if not self.total:
            return 0
        settled = self.total - self.remaining - self.counts.get(DeliveryStatus.CANCELLED, 0)
        return math.floor(100 * settled / self.total)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "total": self.total,
            "sent": self.counts.get(DeliveryStatus.SENT, 0),
            "failed": self.counts.get(DeliveryStatus.FAILED, 0),
            "unknown": self.counts.get(DeliveryStatus.UNKNOWN, 0),
            "held": self.counts.get(DeliveryStatus.HELD, 0),
            "cancelled": self.counts.get(DeliveryStatus.CANCELLED, 0),
            "remaining": self.remaining,
            "percent": self.done_percent,
            "per_minute": round(self.per_minute, 1),
            "eta_minutes": self.eta_minutes,
        }


RATE_WINDOW = timedelta(minutes=5)


def mailing_progress(mailing: Mailing, now: datetime) -> Progress:
    """Counts per delivery status, the recent sending rate and the time left at that rate."""
    counts = {
        status: count
        for status, count in db.session.execute(
            select(Delivery.status, func.count(Delivery.id))
            .where(Delivery.mailing_id == mailing.id)
            .group_by(Delivery.status)
        )
    }
    since = max(now - RATE_WINDOW, mailing.started_at or now - RATE_WINDOW)
    recent = db.session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.mailing_id == mailing.id,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at >= since,
        )
    )
    minutes = max((now - since).total_seconds() / 60, 1 / 60)
    rate = recent / minutes
    progress = Progress(
        status=mailing.status,
        total=sum(counts.values()),
        counts=counts,
        per_minute=rate,
        eta_minutes=None,
    )
    if rate and progress.remaining and mailing.status in ACTIVE:
        progress = Progress(
            status=mailing.status,
            total=progress.total,
            counts=counts,
            per_minute=rate,
            eta_minutes=math.ceil(progress.remaining / rate),
        )
    return progress


def failed_deliveries(mailing_id: int, limit: int = 500) -> list[tuple[Delivery, Official | None]]:
    """Failed and unknown deliveries with their recipient, for the failures list."""
    return list(
        db.session.execute(
            select(Delivery, Official)
            .outerjoin(Official, Official.id == Delivery.official_id)
            .where(
                Delivery.mailing_id == mailing_id,
                Delivery.status.in_({DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN}),
            )
            .order_by(Delivery.status, Delivery.id)
            .limit(limit)
        ).all()
    )


def mailings_of(petition_id: int) -> list[Mailing]:
    """A petition's mailings, newest first."""
    return list(
        db.session.scalars(
            select(Mailing).where(Mailing.petition_id == petition_id).order_by(Mailing.id.desc())
        )
    )


def text_digest(text: str) -> str:
    """Digest of a letter's words, ignoring case, spacing and punctuation: letters copied
    from one another share it."""
    words = re.findall(r"\w+", text.casefold())
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


# ---------------------------------------------------------------------------------------
# Test letters


def active_officials() -> list[Official]:
    """Every active person of the directory, by name: those an organiser may pick by hand
    (authorities have their own group)."""
    return list(
        db.session.scalars(
            select(Official)
            .where(Official.active.is_(True), Official.kind == OfficialKind.PERSON)
            .order_by(Official.last_name, Official.first_name, Official.id)
        )
    )


def sample_letter(mailing: Mailing, official_id: int | None = None) -> tuple[str, RenderedLetter]:
    """The name of the recipient a preview or a test stands for, and their letter: the
    selected official `official_id`, else the first one (or a stand-in); a stand-in
    signatory for an update. Raises TemplateProblem."""
    if mailing.kind == MailingKind.UPDATE:
        signature = sample_signature(mailing.petition_id)
        name = f"{signature.first_name} {signature.last_name}"
        return name, render_for_signature(mailing, signature)
    officials = selected_officials(mailing.selection or {})
    chosen = [official for official in officials if official.id == official_id]
    official = (chosen or officials or [stand_in_official()])[0]
    return official.recipient_name, render_for_official(mailing, official)


def stand_in_official() -> Official:
    """An official to preview a letter with when the selection is empty (never saved)."""
    return Official(
        first_name="Camille",
        last_name="Martin",
        role=OfficialRole.DEPUTE,
        chamber="Assemblée nationale",
        departement="75",
        constituency="",
    )


def send_test_letter(mailing: Mailing, actor, now: datetime) -> None:
    """Email the organiser the letter as its first recipient would receive it, "[TEST]"
    before its subject. Raises TemplateProblem, queueing nothing."""
    sample_letter(mailing)
    outbox_ids = write(
        EmailKind.MAILING_TEST,
        now,
        user_id=actor.id,
        petition_id=mailing.petition_id,
        detail=str(mailing.id),
    )
    db.session.commit()
    deliver_soon(*outbox_ids)


# ---------------------------------------------------------------------------------------
# The sweeper


def sweep_mailings(now: datetime) -> dict[str, int]:
    """Start due scheduled mailings, mark dead sends unknown, wake lost senders, and close
    finished mailings. The database is the truth; this rebuilds Redis's part from it."""
    started = start_due_mailings(now)
    for mailing_id in started:
        wake_senders(mailing_id, "scheduled")
    unknown = mark_stale_deliveries_unknown(now)
    stalled = stalled_mailings(now)
    for mailing_id in stalled:
        wake_senders(mailing_id, f"sweep-{int(now.timestamp()) // 60}")
    sending = db.session.scalars(
        select(Mailing.id).where(
            Mailing.status == MailingStatus.SENDING, Mailing.kind != MailingKind.REPRESENTATIVES
        )
    ).all()
    finished = sum(finish_if_complete(mailing_id, now) for mailing_id in sending)
    return {
        "started": len(started),
        "unknown": unknown,
        "woken": len(stalled),
        "finished": finished,
    }
