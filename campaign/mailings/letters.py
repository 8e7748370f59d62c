"""Supporters writing to their own representatives, from the organiser's template.

A confirmed signatory writes, in their own words, the paragraph the organiser's template
leaves them (its prompt line, "[Say why it matters to you]"), then signs; each député or
sénateur of the département they tick receives the template rendered for them (salutation,
role and gender, constituency) with that paragraph and the signature, and that letter is
stored as sent. Each (supporter, official, mailing)
is one Delivery row under a unique idempotency key, inserted with ON CONFLICT DO NOTHING, so
a second attempt, even a concurrent one, never makes a second row. An official receives at
most `official_daily_cap` letters of a mailing in 24 hours; texts that many supporters send
unchanged are flagged to the organiser; a mailing may hold every letter for a moderator.
The public ledger counts letters sent per official and day, never their content.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, distinct, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

import campaign.audit as audit
from campaign.departements import DEPARTEMENTS
from campaign.errors import DomainError
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, deliver_soon, write
from campaign.mailings.jobs import wake_senders
from campaign.mailings.merge_fields import role_label
from campaign.mailings.models import (
    ACTIVE,
    DELIVERY_TRANSITIONS,
    Delivery,
    DeliveryStatus,
    Mailing,
    MailingKind,
)
from campaign.mailings.services import departures_after_booked, render_for_official, text_digest
from campaign.mailings.templates import TemplateProblem, one_line
from campaign.officials.models import Official, OfficialRole
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import make_token

# The representatives a supporter writes to, in the order they are offered.
REPRESENTATIVE_ROLES = (OfficialRole.DEPUTE, OfficialRole.SENATEUR)
SUBJECT_MAX = 200
BODY_MAX = 10_000
# Characters a letter's body may hold besides printable ones.
BODY_CONTROLS = frozenset("\n\t")
PLACE_MAX = 100
# A line of the organiser's template in square brackets is the prompt the supporter's own
# words replace: "[Dites en quelques lignes pourquoi ce sujet vous tient à cœur.]".
PROMPT_LINE = re.compile(r"^[ \t]*\[([^\[\]\n]+)\][ \t]*$", re.MULTILINE)


class LetterRefused(DomainError):
    """The letter cannot be written at all; `message` says why in the reader's language,
    `field` names the form field at fault (None: the whole letter)."""

    def __init__(self, message: LazyString, field: str | None = None) -> None:
        super().__init__(str(field))
        self.message = message
        self.field = field


@dataclass
class LetterOutcome:
    """What became of one supporter's letter, official by official."""

    queued: list[Official] = field(default_factory=list)
    held: list[Official] = field(default_factory=list)
    refused: list[tuple[Official, LazyString]] = field(default_factory=list)
    delivery_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class LetterDraft:
    """The form's starting point: the matched officials, the subject rendered for the first
    of them (empty when there is none or the template cannot be rendered), and the prompt
    the supporter replaces with their own words."""

    officials: list[Official]
    subject: str
    prompt: str


@dataclass(frozen=True)
class LetterPreview:
    """The letter one official will receive."""

    official: Official
    subject: str
    body: str


@dataclass(frozen=True)
class LetterForModeration:
    """A supporter's letter as moderators see it."""

    id: int
    mailing_id: int
    supporter: str
    official: str
    official_role: str
    subject: str
    body: str
    flagged: bool
    status: str
    created_at: datetime


@dataclass(frozen=True)
class LedgerLine:
    """Letters sent to one official on one day (UTC): a count, nothing else."""

    day: date
    official: str
    role: str
    count: int


# ---------------------------------------------------------------------------------------
# Who to write to, and when


def representatives_for(departement: str | None) -> list[Official]:
    """Active députés then sénateurs of the département, by name."""
    if not departement or departement not in DEPARTEMENTS:
        return []
    role_order = case((Official.role == OfficialRole.DEPUTE, 0), else_=1)
    return list(
        db.session.scalars(
            select(Official)
            .where(
                Official.active.is_(True),
                # An address that bounces would only refuse the letter.
                Official.bouncing_since.is_(None),
                Official.departement == departement,
                Official.role.in_(REPRESENTATIVE_ROLES),
            )
            .order_by(role_order, Official.last_name, Official.first_name, Official.id)
        )
    )


def open_letter_mailing(petition_id: int) -> Mailing | None:
    """The petition's newest supporters' mailing open for letters (sending)."""
    return db.session.scalar(
        select(Mailing)
        .where(
            Mailing.petition_id == petition_id,
            Mailing.kind == MailingKind.REPRESENTATIVES,
            Mailing.status.in_(ACTIVE),
        )
        .order_by(Mailing.id.desc())
        .limit(1)
    )


def write_link_token(signature: Signature, now: datetime) -> str | None:
    """A token for the "write to your representatives" page, when this confirmed
    signatory's petition has letters open; None otherwise."""
    if signature.status != SignatureStatus.CONFIRMED:
        return None
    if open_letter_mailing(signature.petition_id) is None:
        return None
    return make_token("write", signature, now)


def letter_prompt(mailing: Mailing) -> str:
    """The organiser's prompt for the supporter's own words (the template's line in square
    brackets, brackets included); empty when the template has none."""
    found = PROMPT_LINE.search(mailing.body_template or "")
    return found.group(0).strip() if found else ""


def draft_letter(mailing: Mailing, departement: str | None) -> LetterDraft:
    """The officials of the département, the subject as the organisers wrote it, and the
    prompt the supporter replaces with their own words."""
    officials = representatives_for(departement)
    prompt = letter_prompt(mailing)
    if not officials:
        return LetterDraft(officials=[], subject="", prompt=prompt)
    try:
        letter = render_for_official(mailing, officials[0])
    except TemplateProblem:
        return LetterDraft(officials=officials, subject="", prompt=prompt)
    return LetterDraft(officials=officials, subject=letter.subject, prompt=prompt)


def sign_off(signature: Signature, place: str, departement: str | None) -> str:
    """How the supporter signs: their name, then their commune if they gave it, else their
    département."""
    name = f"{signature.first_name} {signature.last_name}".strip()
    where = place.strip()
    if not where and departement in DEPARTEMENTS:
        where = f"{DEPARTEMENTS[departement]} ({departement})"
    return f"{name}\n{where}" if where else name


def letter_for(
    mailing: Mailing, official: Official, subject: str, words: str, signed: str
) -> LetterPreview:
    """The letter `official` receives: the organisers' template rendered for them, the
    supporter's words in place of its prompt (after it when it has none), the signature
    last. The supporter's words are never run as a template. Raises LetterRefused."""
    try:
        rendered = render_for_official(mailing, official).text
    except TemplateProblem as problem:
        raise LetterRefused(
            _l("The organisers’ letter cannot be written out at the moment. Please try later.")
        ) from problem
    text = rendered.replace("\r\n", "\n").strip()
    words = words.strip()
    if PROMPT_LINE.search(text):
        # A function as replacement: backslashes in the supporter's words stay as typed.
        text = PROMPT_LINE.sub(lambda _match: words, text, count=1)
    elif words:
        text = f"{text}\n\n{words}"
    body = f"{text.strip()}\n\n{signed}\n"
    return LetterPreview(official=official, subject=subject, body=body)


def preview_letters(
    mailing: Mailing,
    signature: Signature,
    departement: str | None,
    officials: list[Official],
    subject: str,
    words: str,
    place: str,
) -> list[LetterPreview]:
    """The letter each official would receive, as the supporter has written it so far
    (nothing checked, nothing saved); empty when the template cannot be rendered."""
    signed = sign_off(signature, place, departement)
    try:
        return [
            letter_for(mailing, official, one_line(subject), words, signed)
            for official in officials
        ]
    except LetterRefused:
        return []


def already_written(signature_id: int, mailing_id: int) -> set[int]:
    """The officials this supporter has already written to in this mailing."""
    return set(
        db.session.scalars(
            select(Delivery.official_id).where(
                Delivery.mailing_id == mailing_id,
                Delivery.signature_id == signature_id,
                Delivery.official_id.is_not(None),
            )
        )
    )


# ---------------------------------------------------------------------------------------
# Writing


def _has_controls(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    return any(unicodedata.category(char) in {"Cc", "Cf"} and char not in allowed for char in text)


def checked_letter(subject: str, body: str) -> tuple[str, str]:
    """The subject (one line) and the supporter's words (LF line ends) as they will be
    sent. Raises LetterRefused: a subject with a line break could add a header."""
    subject = (subject or "").strip()
    if not subject:
        raise LetterRefused(_l("Write a subject."), "subject")
    if _has_controls(subject):
        raise LetterRefused(
            _l("The subject must be a single line, without line breaks or special characters."),
            "subject",
        )
    if len(subject) > SUBJECT_MAX:
        raise LetterRefused(_l("At most %(max)d characters.", max=SUBJECT_MAX), "subject")
    body = (body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        raise LetterRefused(_l("Write a few lines in your own words."), "body")
    if _has_controls(body, BODY_CONTROLS):
        raise LetterRefused(_l("This field contains characters that are not allowed."), "body")
    if len(body) > BODY_MAX:
        raise LetterRefused(_l("At most %(max)d characters.", max=BODY_MAX), "body")
    return subject, body


def _brackets_removed(text: str) -> str:
    return " ".join(text.strip().strip("[]").split()).casefold()


def check_own_words(words: str, prompt: str, minimum: int) -> None:
    """Refuse a letter whose own words are the organisers' prompt, still hold it, or are
    shorter than `minimum` characters besides it. Raises LetterRefused."""
    typed = " ".join(words.split()).casefold()
    hint = _brackets_removed(prompt) if prompt else ""
    if hint and (hint in typed or typed == hint):
        raise LetterRefused(
            _l("Replace the organisers’ prompt, in square brackets, with your own words."),
            "body",
        )
    if "[" in words and "]" in words and PROMPT_LINE.search(words):
        raise LetterRefused(
            _l("Replace the text in square brackets with your own words."),
            "body",
        )
    if len(typed) < minimum:
        raise LetterRefused(
            _l(
                "Write at least %(min)d characters in your own words: a letter in your words "
                "is the one that is read.",
                min=minimum,
            ),
            "body",
        )


def checked_place(place: str) -> str:
    """The commune the supporter signs from, one line. Raises LetterRefused."""
    place = " ".join((place or "").split())
    if _has_controls(place):
        raise LetterRefused(_l("This field contains characters that are not allowed."), "place")
    if len(place) > PLACE_MAX:
        raise LetterRefused(_l("At most %(max)d characters.", max=PLACE_MAX), "place")
    return place


def _open_mailing(mailing_id: int) -> Mailing:
    mailing = db.session.get(Mailing, mailing_id)
    if (
        mailing is None
        or mailing.kind != MailingKind.REPRESENTATIVES
        or mailing.status not in ACTIVE
    ):
        raise LetterRefused(_l("Letters to representatives are not open for this petition."))
    return mailing


def _supporter(signature_id: int, mailing: Mailing) -> Signature:
    signature = db.session.get(Signature, signature_id)
    if (
        signature is None
        or signature.petition_id != mailing.petition_id
        or signature.status != SignatureStatus.CONFIRMED
        or not signature.email_ciphertext
    ):
        raise LetterRefused(_l("Only confirmed signatories can write to their representatives."))
    if _has_controls(f"{signature.first_name}{signature.last_name}"):
        # The name goes into the From display name: never let it carry a line break.
        raise LetterRefused(
            _l("Your name as recorded cannot be put in an email. Please contact the organisers.")
        )
    return signature


def _chosen(departement: str | None, official_ids: list[int]) -> list[Official]:
    if not departement or departement not in DEPARTEMENTS:
        raise LetterRefused(_l("Choose your département."), "departement")
    offered = representatives_for(departement)
    wanted = set(official_ids)
    if not wanted:
        raise LetterRefused(_l("Choose at least one representative."), "officials")
    if wanted - {official.id for official in offered}:
        raise LetterRefused(
            _l("Choose among the representatives of the département shown."), "officials"
        )
    return [official for official in offered if official.id in wanted]


def _insert_once(values: dict[str, object]) -> int | None:
    """Insert a delivery unless its idempotency key exists (even one committed by a
    concurrent request meanwhile): its id, or None."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Delivery)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Delivery.id)
    )
    return db.session.scalar(statement)


def _letters_in_window(mailing_id: int, official_id: int, now: datetime, other_than: int) -> int:
    return db.session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.mailing_id == mailing_id,
            Delivery.official_id == official_id,
            Delivery.created_at > now - timedelta(hours=24),
            Delivery.status != DeliveryStatus.CANCELLED,
            Delivery.id != other_than,
        )
    )


def _flag_duplicates(mailing_id: int, digest: str) -> None:
    """Flag every letter of the mailing with this text once enough supporters sent it (a
    supporter writing the same text to three officials counts once)."""
    supporters = db.session.scalar(
        select(func.count(distinct(Delivery.signature_id))).where(
            Delivery.mailing_id == mailing_id, Delivery.text_digest == digest
        )
    )
    if supporters >= current_app.config["MAILING_DUPLICATE_THRESHOLD"]:
        db.session.execute(
            update(Delivery)
            .where(
                Delivery.mailing_id == mailing_id,
                Delivery.text_digest == digest,
                Delivery.flagged.is_(False),
            )
            .values(flagged=True)
            .execution_options(synchronize_session=False)
        )


def write_to_representatives(
    signature_id: int,
    mailing_id: int,
    departement: str | None,
    official_ids: list[int],
    subject: str,
    words: str,
    now: datetime,
    place: str = "",
) -> LetterOutcome:
    """Queue (or hold for moderation) one letter from a confirmed supporter to each chosen
    representative of the département, each rendered for its recipient with the
    supporter's own words and signature, in one transaction with the copy emailed to the
    supporter; then wake the senders. Raises LetterRefused, changing nothing; officials
    already written to, or at their daily cap, are refused one by one in the outcome."""
    mailing = _open_mailing(mailing_id)
    signature = _supporter(signature_id, mailing)
    subject, words = checked_letter(subject, words)
    check_own_words(words, letter_prompt(mailing), current_app.config["LETTER_MIN_OWN_WORDS"])
    place = checked_place(place)
    officials = _chosen(departement, official_ids)
    signed = sign_off(signature, place, departement)
    letters = [letter_for(mailing, official, subject, words, signed) for official in officials]
    held = mailing.hold_for_moderation
    if held:
        # A moderator's release gives them their departure times.
        departures = [now] * len(officials)
    else:
        _lock_for_pacing(mailing)
        domains = [official.email_domain for official in officials]
        departures = departures_after_booked(mailing, domains, now)
    cap = mailing.official_daily_cap
    if cap:
        # PostgreSQL: letters to one official are counted one request at a time, so that
        # concurrent letters cannot overshoot the cap (SQLite serialises writers anyway).
        db.session.execute(
            select(Official.id)
            .where(Official.id.in_([official.id for official in officials]))
            .order_by(Official.id)
            .with_for_update()
        ).all()
    # The supporter's own words: the template's text is the same in every letter.
    digest = text_digest(words)
    outcome = LetterOutcome()
    for letter, departure in zip(letters, departures, strict=True):
        official = letter.official
        delivery_id = _insert_once(
            {
                "mailing_id": mailing.id,
                "idempotency_key": f"{mailing.id}:signature:{signature.id}:official:{official.id}",
                "official_id": official.id,
                "signature_id": signature.id,
                "status": DeliveryStatus.HELD if held else DeliveryStatus.QUEUED,
                "recipient_domain": official.email_domain,
                "subject": letter.subject,
                "body": letter.body,
                "text_digest": digest,
                "not_before": departure,
                "created_at": now,
            }
        )
        if delivery_id is None:
            outcome.refused.append(
                (
                    official,
                    _l(
                        "You have already written to %(name)s about this petition.",
                        name=official.full_name,
                    ),
                )
            )
            continue
        if cap and _letters_in_window(mailing.id, official.id, now, delivery_id) >= cap:
            db.session.execute(delete(Delivery).where(Delivery.id == delivery_id))
            outcome.refused.append(
                (
                    official,
                    _l(
                        "%(name)s has received as many letters today as the organisers allow. "
                        "Please try again tomorrow.",
                        name=official.full_name,
                    ),
                )
            )
            continue
        (outcome.held if held else outcome.queued).append(official)
        outcome.delivery_ids.append(delivery_id)
    copy_ids = []
    if outcome.delivery_ids:
        _flag_duplicates(mailing.id, digest)
        # The supporter's copy names the letters of this very request (same created_at).
        copy_ids = write(
            EmailKind.LETTER_COPY,
            now,
            signature_id=signature.id,
            petition_id=mailing.petition_id,
            detail=str(mailing.id),
        )
    db.session.commit()
    deliver_soon(*copy_ids)
    if outcome.queued:
        wake_senders(mailing.id, f"letter-{outcome.delivery_ids[0]}")
    return outcome


def letters_of_request(mailing_id: int, signature_id: int, created_at: datetime) -> list:
    """The supporter's letters written in one request, with their official, for the copy."""
    return list(
        db.session.execute(
            select(Delivery, Official)
            .join(Official, Official.id == Delivery.official_id)
            .where(
                Delivery.mailing_id == mailing_id,
                Delivery.signature_id == signature_id,
                Delivery.created_at == created_at,
            )
            .order_by(Delivery.id)
        ).all()
    )


# ---------------------------------------------------------------------------------------
# Moderation


def letter_mailings(petition_id: int) -> list[Mailing]:
    """The petition's supporters' mailings, newest first."""
    return list(
        db.session.scalars(
            select(Mailing)
            .where(Mailing.petition_id == petition_id, Mailing.kind == MailingKind.REPRESENTATIVES)
            .order_by(Mailing.id.desc())
        )
    )


def _letters(mailing_id: int, *conditions, limit: int) -> list[LetterForModeration]:
    rows = db.session.execute(
        select(
            Delivery.id,
            Delivery.mailing_id,
            Signature.first_name,
            Signature.last_name,
            Official.first_name,
            Official.last_name,
            Official.role,
            Delivery.subject,
            Delivery.body,
            Delivery.flagged,
            Delivery.status,
            Delivery.created_at,
        )
        .outerjoin(Signature, Signature.id == Delivery.signature_id)
        .outerjoin(Official, Official.id == Delivery.official_id)
        .where(Delivery.mailing_id == mailing_id, Delivery.official_id.is_not(None), *conditions)
        .order_by(Delivery.created_at, Delivery.id)
        .limit(limit)
    ).all()
    return [
        LetterForModeration(
            id=row[0],
            mailing_id=row[1],
            supporter=f"{row[2] or ''} {row[3] or ''}".strip(),
            official=f"{row[4] or ''} {row[5] or ''}".strip(),
            official_role=row[6] or "",
            subject=row[7] or "",
            body=row[8] or "",
            flagged=row[9],
            status=row[10],
            created_at=row[11],
        )
        for row in rows
    ]


def held_letters(mailing_id: int, limit: int = 500) -> list[LetterForModeration]:
    """Letters waiting for a moderator, oldest first."""
    return _letters(mailing_id, Delivery.status == DeliveryStatus.HELD, limit=limit)


def flagged_letters(mailing_id: int, limit: int = 500) -> list[LetterForModeration]:
    """Letters flagged as sent unchanged by many supporters, not held (queued or gone)."""
    return _letters(
        mailing_id,
        Delivery.flagged.is_(True),
        Delivery.status != DeliveryStatus.HELD,
        limit=limit,
    )


def _held_in_petition(ids: list[int], petition_id: int):
    mailings = select(Mailing.id).where(
        Mailing.petition_id == petition_id, Mailing.kind == MailingKind.REPRESENTATIVES
    )
    return (Delivery.id.in_(ids), Delivery.mailing_id.in_(mailings))


def _lock_for_pacing(mailing: Mailing) -> None:
    """When the mailing has a pace or a per-domain cap, take its row lock (PostgreSQL), so
    that concurrent writers take successive departure slots."""
    if mailing.per_minute or mailing.domain_cap_per_hour:
        db.session.execute(select(Mailing.id).where(Mailing.id == mailing.id).with_for_update())


def release_letters(ids: list[int], actor, now: datetime, *, petition_id: int) -> int:
    """Held letters of the petition -> queued at their mailing's pace, audit-logged; then
    wake their mailings' senders. Returns how many were released (others were not held
    any more)."""
    # One statement moves them, so a letter rejected meanwhile stays rejected.
    moved = db.session.execute(
        DELIVERY_TRANSITIONS.update(
            Delivery,
            DeliveryStatus.HELD,
            DeliveryStatus.QUEUED,
            *_held_in_petition(ids, petition_id),
            not_before=now,
        ).returning(Delivery.id, Delivery.mailing_id, Delivery.recipient_domain)
    ).all()
    if not moved:
        db.session.rollback()
        return 0
    by_mailing: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for delivery_id, mailing_id, domain in sorted(moved):
        by_mailing[mailing_id].append((delivery_id, domain))
    for mailing_id, letters in sorted(by_mailing.items()):
        mailing = db.session.get(Mailing, mailing_id)
        _lock_for_pacing(mailing)
        delivery_ids, domains = zip(*letters, strict=True)
        times = departures_after_booked(mailing, list(domains), now, besides=delivery_ids)
        db.session.execute(
            update(Delivery),
            [
                {"id": delivery_id, "not_before": moment}
                for delivery_id, moment in zip(delivery_ids, times, strict=True)
            ],
        )
    released = sorted(delivery_id for delivery_id, _, _ in moved)
    audit.record(
        "letters.release",
        now,
        actor=actor,
        petition_id=petition_id,
        detail="letters " + ", ".join(map(str, released)),
        count=len(released),
    )
    db.session.commit()

    for mailing_id, letters in sorted(by_mailing.items()):
        wake_senders(mailing_id, f"release-{letters[0][0]}")
    return len(released)


def reject_letters(ids: list[int], reason: str, actor, now: datetime, *, petition_id: int) -> int:
    """Held letters of the petition -> cancelled, never sent, with the moderator's reason;
    audit-logged. Returns how many were rejected."""
    moved = db.session.execute(
        DELIVERY_TRANSITIONS.update(
            Delivery,
            DeliveryStatus.HELD,
            DeliveryStatus.CANCELLED,
            *_held_in_petition(ids, petition_id),
            last_error=reason.strip()[:300],
        ).returning(Delivery.id)
    ).all()
    if not moved:
        db.session.rollback()
        return 0
    rejected = sorted(delivery_id for (delivery_id,) in moved)
    audit.record(
        "letters.reject",
        now,
        actor=actor,
        petition_id=petition_id,
        detail="letters " + ", ".join(map(str, rejected)),
        count=len(rejected),
    )
    db.session.commit()
    return len(rejected)


# ---------------------------------------------------------------------------------------
# The public ledger


def _as_date(value: date | str) -> date:
    # SQLite's date() answers text, PostgreSQL's a date.
    return date.fromisoformat(value) if isinstance(value, str) else value


def letters_ledger(
    petition_id: int, now: datetime, locale: str, days: int = 30
) -> list[LedgerLine]:
    """Letters of supporters sent per official per day (UTC) over the last `days` days,
    newest day first: counts only, never who wrote or what."""
    day = func.date(Delivery.sent_at)
    rows = db.session.execute(
        select(
            day,
            Official.first_name,
            Official.last_name,
            Official.role,
            func.count(Delivery.id),
        )
        .join(Official, Official.id == Delivery.official_id)
        .join(Mailing, Mailing.id == Delivery.mailing_id)
        .where(
            Mailing.petition_id == petition_id,
            Mailing.kind == MailingKind.REPRESENTATIVES,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at >= now - timedelta(days=days),
        )
        .group_by(day, Official.id, Official.first_name, Official.last_name, Official.role)
    ).all()
    lines = [
        LedgerLine(
            day=_as_date(sent_on),
            official=f"{first} {last}".strip(),
            role=role_label(role, locale),
            count=count,
        )
        for sent_on, first, last, role, count in rows
    ]
    return sorted(lines, key=lambda line: (-line.day.toordinal(), line.official))
