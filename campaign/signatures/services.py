"""Signing, confirming and withdrawing, and the public list of signatories."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from flask import current_app
from sqlalchemy import (
    Boolean,
    Insert,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.selectable import ScalarSelect

from campaign.departements import DEPARTEMENTS
from campaign.errors import PetitionNotSignable
from campaign.extensions import db
from campaign.levels import VerificationLevel
from campaign.mail.outbox import EmailKind, OutboxMessage, OutboxStatus, deliver_soon, write
from campaign.personal_data import email_digest, email_domain_digest, encrypt_email, ip_digest
from campaign.petitions.milestones import record_goal_milestone
from campaign.petitions.models import Category, Petition, signable
from campaign.petitions.services import Endorsements
from campaign.signatures import counts, queries
from campaign.signatures.consent import ConsentEvent, consent_events_at_signing
from campaign.signatures.counts import move_signature
from campaign.signatures.events import (
    confirmed,
    public_list_changed,
    signature_erased,
    signing,
    withdrawn,
)
from campaign.signatures.models import COUNTED, SignatoryKind, Signature, SignatureStatus
from campaign.signatures.rates import over_thresholds, recent_signing_counts, recent_signing_params
from campaign.tokens import new_link_key, row_from_token

# Letters that Unicode does not decompose but French alphabetises as two.
LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"})


def sort_key(name: str) -> str:
    """French phone-book key: accents and case ignored, punctuation as a space, and a space
    before any letter ("De Maison Rouge" < "Desgrippes", "Le Bouter" < "Leblond")."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().translate(LIGATURES))
    letters = "".join(
        char if char.isalnum() else " " for char in decomposed if not unicodedata.combining(char)
    )
    return " ".join(letters.split())


@dataclass(frozen=True)
class SignatureRequest:
    """What a supporter submitted, already validated by the form."""

    first_name: str
    last_name: str
    email: str
    category_key: str
    title: str = ""
    organisation: str = ""
    departement: str | None = None
    show_name: bool = False
    show_title: bool = False
    show_organisation: bool = False
    contact_ok: bool = False
    language: str = "fr"
    ip: str | None = None
    # Offered to verify the category: an RPPS number, evidence for moderators.
    rpps_number: str = ""
    evidence: str = ""
    # An organisation: its name in last_name, its description in title, no first name.
    kind: SignatoryKind = SignatoryKind.PERSON


class ConfirmationOutcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    NOT_CONFIRMABLE = "not_confirmable"


def _confirmation_sendable(now: datetime):
    """SQL condition: this signature may be sent its confirmation link again now."""
    interval = timedelta(seconds=current_app.config["CONFIRMATION_RESEND_INTERVAL"])
    return (
        Signature.status.in_([SignatureStatus.PENDING, SignatureStatus.CONFIRMED])
        & (Signature.confirmation_sends < current_app.config["CONFIRMATION_MAX_SENDS"])
        & or_(
            Signature.last_confirmation_at.is_(None),
            Signature.last_confirmation_at <= now - interval,
        )
    )


def _sent_today() -> ScalarSelect[int]:
    """Scalar subquery: confirmation emails queued for one mailbox (:email_digest) since
    :day_ago, all petitions (the daily cap)."""
    outbox, signatures = OutboxMessage.__table__, Signature.__table__
    return (
        select(func.count(outbox.c.id))
        .join(signatures, signatures.c.id == outbox.c.signature_id)
        .where(
            signatures.c.email_digest == bindparam("email_digest"),
            outbox.c.created_at > bindparam("day_ago"),
            # A repeated signing over the limits writes a skipped row: nothing was sent.
            outbox.c.status != OutboxStatus.SKIPPED,
        )
        .scalar_subquery()
    )


@dataclass(frozen=True)
class _SigningState:
    """What signing reads in one query: the petition as it is now (the caller's instance may
    come from a cache a few seconds old), the daily cap and the hourly rates."""

    signable: bool
    current_version: int
    consent_version: str
    capped: bool
    held_for_review: bool


# The sign POST's statements are built once (per variant): building a statement and its
# cache key costs more Python than running it. Their values are bound at execution.
@lru_cache(maxsize=2)
def _signing_state_query(with_ip: bool) -> Select:
    petitions = Petition.__table__
    ip_recent, domain_recent = recent_signing_counts(with_ip)
    columns = [
        petitions.c.status,
        petitions.c.opens_at,
        petitions.c.closes_at,
        petitions.c.current_version,
        petitions.c.consent_version,
        _sent_today(),
        domain_recent,
    ]
    if ip_recent is not None:
        columns.append(ip_recent)
    return select(*columns).where(petitions.c.id == bindparam("petition_id"))


@lru_cache(maxsize=2)
def _upsert_signature(dialect: str) -> Insert:
    """INSERT the new signature or, when this mailbox already signed the petition, claim a
    resend of its email on the existing row (within CONFIRMATION_RESEND_INTERVAL and
    CONFIRMATION_MAX_SENDS): one statement either way, RETURNING the row's id, link key and
    last confirmation time. The new row's values say whether mail may go at all (capped:
    no send recorded)."""
    table = Signature.__table__
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    resend = and_(
        table.c.status.in_([SignatureStatus.PENDING, SignatureStatus.CONFIRMED]),
        table.c.confirmation_sends < bindparam("max_sends"),
        or_(
            table.c.last_confirmation_at.is_(None),
            table.c.last_confirmation_at <= bindparam("resend_after"),
        ),
        statement.excluded.confirmation_sends > 0,
    )
    return statement.on_conflict_do_update(
        index_elements=[table.c.petition_id, table.c.email_digest],
        set_={
            "confirmation_sends": table.c.confirmation_sends + case((resend, 1), else_=0),
            "last_confirmation_at": case(
                (resend, statement.excluded.last_confirmation_at),
                else_=table.c.last_confirmation_at,
            ),
        },
    ).returning(table.c.id, table.c.link_key, table.c.last_confirmation_at)


def insert_if_new(table: Table, columns: list[str]) -> Insert:
    """INSERT ... SELECT of one row's values WHERE :is_new: run on both paths of the sign
    POST, it writes only for a new signature, and costs the same statement for an address
    that signed before (no timing oracle)."""
    values = [bindparam(name, type_=table.c[name].type) for name in columns]
    chosen = select(*values).where(bindparam("is_new", type_=Boolean()))
    return insert(table).from_select(columns, chosen, include_defaults=False)


_CONSENT_COLUMNS = ["signature_id", "at", "what", "given", "consent_version"]
_INSERT_CONSENT_EVENTS = insert_if_new(ConsentEvent.__table__, _CONSENT_COLUMNS)


def _signing_state(
    petition_id: int, digest: str, ip: str | None, address: str, now: datetime
) -> _SigningState | None:
    """One round trip for the petition's state and the anti-abuse counts; None if the
    petition is gone."""
    params = {
        "petition_id": petition_id,
        "email_digest": digest,
        "day_ago": now - timedelta(days=1),
        **recent_signing_params(ip, address, now),
    }
    row = db.session.execute(_signing_state_query(ip is not None), params).one_or_none()
    if row is None:
        return None
    status, opens_at, closes_at, version, consent_version, sent_today, domain_count = row[:7]
    ip_count = row[7] if ip is not None else None
    return _SigningState(
        signable=signable(status, opens_at, closes_at, now),
        current_version=version,
        consent_version=consent_version,
        capped=sent_today >= current_app.config["CONFIRMATION_DAILY_CAP_PER_ADDRESS"],
        held_for_review=over_thresholds(ip_count, domain_count),
    )


def _signature_values(
    petition_id: int, state: _SigningState, submitted: SignatureRequest, digest: str,
    now: datetime,
) -> dict[str, object]:  # fmt: skip
    """The new signature's row, every column given (one compiled INSERT for all)."""
    return {
        "petition_id": petition_id,
        "status": SignatureStatus.PENDING,
        "kind": submitted.kind,
        "first_name": submitted.first_name,
        "last_name": submitted.last_name,
        "title": submitted.title,
        "organisation": submitted.organisation,
        "category_key": submitted.category_key,
        "departement": submitted.departement or None,
        "language": submitted.language,
        "show_name": submitted.show_name,
        # Title and organisation are printed after the name, never without it.
        "show_title": submitted.show_name and submitted.show_title,
        "show_organisation": submitted.show_name and submitted.show_organisation,
        "contact_ok": submitted.contact_ok,
        "consent_version": state.consent_version,
        "consented_at": now,
        "email_digest": digest,
        "email_domain_digest": email_domain_digest(submitted.email),
        "email_ciphertext": encrypt_email(submitted.email),
        "text_version": state.current_version,
        "ip_digest": ip_digest(submitted.ip) if submitted.ip else None,
        "sort_last": sort_key(submitted.last_name),
        "sort_first": sort_key(submitted.first_name),
        "created_at": now,
        "status_changed_at": now,
        "held_for_review": state.held_for_review,
        "link_key": new_link_key(),
        "confirmation_sends": 0 if state.capped else 1,
        "last_confirmation_at": None if state.capped else now,
    }


def sign_petition(petition: Petition, submitted: SignatureRequest, now: datetime) -> None:
    """Record a pending signature with its confirmation email, or, if this mailbox already
    signed, its email again within the limits. The caller cannot tell which happened:
    signing twice must not reveal that an address signed, neither by the answer nor by its
    time. Both paths run the same statements in one transaction (an upsert, the consents
    and claim written only for a new row, one outbox row: queued when mail is owed, skipped
    otherwise), and no mail is sent in the request: a job sends it after the response
    (in-process, on a thread of its own), and the outbox row is the record if Redis or SMTP
    is down.

    The rows are written with Core statements, not ORM objects: the unit of work cost a
    quarter of the sign POST. A pending signature changes no count, so no cache is emptied."""
    # A cheap early refusal; _signing_state below decides on the petition's current row.
    if not petition.accepts_signatures(now):
        raise PetitionNotSignable(petition.slug)
    if submitted.category_key not in {category.key for category in petition.categories}:
        raise ValueError(f"category {submitted.category_key!r} not offered")
    petition_id, slug = petition.id, petition.slug
    digest = email_digest(submitted.email)
    ip = ip_digest(submitted.ip) if submitted.ip else None
    state = _signing_state(petition_id, digest, ip, submitted.email, now)
    if state is None or not state.signable:
        raise PetitionNotSignable(slug)
    values = _signature_values(petition_id, state, submitted, digest, now)
    config = current_app.config
    interval = timedelta(seconds=config["CONFIRMATION_RESEND_INTERVAL"])
    signature_id, link_key, last_sent = db.session.execute(
        _upsert_signature(db.session.get_bind().dialect.name),
        {**values, "max_sends": config["CONFIRMATION_MAX_SENDS"], "resend_after": now - interval},
    ).one()
    is_new = link_key == values["link_key"]
    events = consent_events_at_signing(signature_id, values, now)
    db.session.execute(_INSERT_CONSENT_EVENTS, [{**event, "is_new": is_new} for event in events])
    # Verification records what the signer offered, with the same statement on both paths
    # (written only for a new signature: see insert_if_new).
    signing.send(
        signature_id,
        category_key=submitted.category_key,
        rpps_number=submitted.rpps_number,
        evidence=submitted.evidence,
        is_new=is_new,
        now=now,
    )
    # The new signature's confirmation, or the same kind of email again to whoever signed
    # before (the link, or to a confirmed signer a reminder with the link to their data);
    # skipped when the limits say no, so that both paths write the same row.
    owed = last_sent == now
    [outbox_id] = write(
        EmailKind.SIGNATURE_CONFIRMATION,
        now,
        signature_id=signature_id,
        status=OutboxStatus.QUEUED if owed else OutboxStatus.SKIPPED,
    )
    db.session.commit()
    deliver_soon(outbox_id, detached=True)


def resend_confirmation(signature_id: int, now: datetime) -> bool:
    """Send the confirmation link again, at most once per interval and a few times in all.
    Returns whether an email was queued."""
    claimed = db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id, _confirmation_sendable(now))
        .values(confirmation_sends=Signature.confirmation_sends + 1, last_confirmation_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        return False
    [outbox_id] = write(EmailKind.SIGNATURE_CONFIRMATION, now, signature_id=signature_id)
    db.session.commit()
    deliver_soon(outbox_id, detached=True)
    return True


def confirm_signature(signature_id: int, now: datetime) -> ConfirmationOutcome:
    """pending -> confirmed, once, whatever the number of tabs or clicks; pending ->
    suspect for a signature held for review, which the signer is not told."""
    held = db.session.scalar(select(Signature.held_for_review).where(Signature.id == signature_id))
    moved = move_signature(
        db.session,
        signature_id,
        frozenset({SignatureStatus.PENDING}),
        SignatureStatus.SUSPECT if held else SignatureStatus.CONFIRMED,
        now,
        confirmed_at=now,
    )
    if moved:
        confirmed.send(signature_id, now=now)
    if moved and held:
        db.session.commit()
        return ConfirmationOutcome.CONFIRMED
    if moved:
        petition = find_petition_of(signature_id)
        milestone = record_goal_milestone(petition, signature_count(petition.id), now)
        db.session.commit()
        deliver_soon(*milestone)
        public_list_changed.send(petition.id, now=now)
        return ConfirmationOutcome.CONFIRMED
    db.session.commit()
    status = db.session.scalar(select(Signature.status).where(Signature.id == signature_id))
    if status in COUNTED or status in {SignatureStatus.HIDDEN, SignatureStatus.SUSPECT}:
        return ConfirmationOutcome.ALREADY_CONFIRMED
    return ConfirmationOutcome.NOT_CONFIRMABLE


def withdraw_signature(signature_id: int, now: datetime) -> bool:
    """Withdraw a signature: out of the list and the count at once, and its personal fields
    erased. The row stays as an anonymous tombstone so counts of withdrawals remain."""
    sources = frozenset(set(SignatureStatus) - {SignatureStatus.WITHDRAWN})
    moved = move_signature(
        db.session,
        signature_id,
        sources,
        SignatureStatus.WITHDRAWN,
        now,
        withdrawn_at=now,
        first_name="",
        last_name="",
        title="",
        organisation="",
        departement=None,
        show_name=False,
        show_title=False,
        show_organisation=False,
        contact_ok=False,
        email_digest=None,
        email_domain_digest=None,
        email_ciphertext=None,
        ip_digest=None,
        sort_last="",
        sort_first="",
        # No level stays on the tombstone: a register badge shows nowhere once withdrawn.
        verification_level=VerificationLevel.NONE,
        verification_method=None,
        verified_profession=None,
        register_badge=None,
        first_signatory=False,
        first_position=None,
    )
    if moved:
        withdrawn.send(signature_id)
    db.session.commit()
    if moved:
        signature_erased.send(signature_id)
        public_list_changed.send(find_petition_of(signature_id).id, now=now)
    return moved


def find_petition_of(signature_id: int) -> Petition:
    """The petition a signature belongs to."""
    return db.session.scalar(
        select(Petition)
        .join(Signature, Signature.petition_id == Petition.id)
        .where(Signature.id == signature_id)
    )


def find_signature(signature_id: int) -> Signature | None:
    """A signature by id."""
    return db.session.get(Signature, signature_id)


def signature_from_token(purpose: str, token: str, now: datetime, max_age: int | None) -> Signature:
    """The signature a link token was issued for. Raises TokenInvalid (forged, made for
    another purpose, or its signature is gone and another took the id) or TokenExpired."""
    return row_from_token(purpose, token, now, max_age, Signature)


# --- The public list -------------------------------------------------------------------------


def signature_from_rights_token(token: str, now: datetime) -> Signature:
    """The signature a rights link is about. Raises TokenInvalid, or TokenExpired past
    PRIVACY_RIGHTS_LINK_MAX_AGE."""
    max_age = current_app.config["PRIVACY_RIGHTS_LINK_MAX_AGE"]
    return signature_from_token("rights", token, now, max_age)


def signatory_line(signature: Signature) -> str:
    """'Surname Firstname, Title, Organisation' with the fields kept private left out; an
    organisation's 'Name, Description'."""
    parts = [f"{signature.last_name} {signature.first_name}".rstrip()]
    if signature.show_title and signature.title:
        parts.append(signature.title)
    if signature.show_organisation and signature.organisation:
        parts.append(signature.organisation)
    return ", ".join(parts)


def _published(petition_id: int):
    return queries.published(petition_id)


def signature_count(petition_id: int) -> int:
    """Confirmed signatures, published or not (the stored counts)."""
    return counts.total(petition_id)


def count_of(level_counts: dict[str, dict[str, int]]) -> int:
    """signature_count() from the counts per category and level already read (the same
    stored rows, summed), for a page that shows both without asking twice."""
    return sum(sum(levels.values()) for levels in level_counts.values())


def counts_by_category(petition: Petition) -> list[tuple[Category, int]]:
    """Confirmed signatures per category, in the petition's order, zeros included."""
    stored = counts.by_category_and_level(petition.id)
    return [
        (category, sum(stored.get(category.key, {}).values())) for category in petition.categories
    ]


# Below this many signatures, a département's count is not shown in public (pages, API): in a
# small place, "2 signatories" could single people out.
DEPARTEMENT_COUNT_THRESHOLD = 5


def counts_by_departement(petition_id: int) -> dict[str, int]:
    """Confirmed signatures per département code (those that gave one), every count."""
    return counts.by_departement(petition_id)


def public_counts_by_departement(petition_id: int) -> dict[str, int]:
    """The counts per département that may be shown in public: those of at least
    DEPARTEMENT_COUNT_THRESHOLD signatures, by code in the list's order."""
    counts = counts_by_departement(petition_id)
    return {
        code: counts[code]
        for code in DEPARTEMENTS
        if counts.get(code, 0) >= DEPARTEMENT_COUNT_THRESHOLD
    }


def signatories_in_departement(signature: Signature) -> int | None:
    """Confirmed signatures of the signature's petition in its département (None when the
    signer gave none): what "N signatories in your département" tells the signer."""
    if not signature.departement:
        return None
    return counts.by_departement(signature.petition_id, signature.departement).get(
        signature.departement, 0
    )


def last_change_at(petition: Petition) -> datetime:
    """When the count or the list last changed (or the petition itself)."""
    latest = db.session.scalar(
        select(func.max(Signature.status_changed_at)).where(
            Signature.petition_id == petition.id,
            Signature.status != SignatureStatus.PENDING,
        )
    )
    return max(filter(None, [latest, petition.updated_at]))


def latest_signatories(petition_id: int, limit: int = 10) -> list[Signature]:
    """The most recently confirmed published signatures."""
    query = _published(petition_id).order_by(Signature.confirmed_at.desc(), Signature.id.desc())
    return list(db.session.scalars(query.limit(limit)))


# More first signatories than a page shows is a petition misused, not a tribune.
FIRST_SIGNATORIES_SHOWN = 500


def first_signatory_order() -> tuple:
    """The first signatories' order: the organisers' positions, then by name (French keys)."""
    return (
        Signature.first_position.is_(None),
        Signature.first_position,
        Signature.sort_last,
        Signature.sort_first,
        Signature.id,
    )


def first_signatories(petition_id: int) -> list[Signature]:
    """The published first signatories, in the organisers' order."""
    query = _published(petition_id).where(Signature.first_signatory.is_(True))
    return list(
        db.session.scalars(query.order_by(*first_signatory_order()).limit(FIRST_SIGNATORIES_SHOWN))
    )


@dataclass(frozen=True)
class SignatoryPage:
    """One page of the public list."""

    items: list[Signature]
    page: int
    pages: int
    total: int


def published_signatories(
    petition_id: int,
    *,
    category: str | None = None,
    search: str | None = None,
    page: int = 1,
    per_page: int = 100,
    without_first: bool = False,
) -> SignatoryPage:
    """The public list in French alphabetical order, filtered and paginated; without the
    first signatories when they are shown apart (`without_first`)."""
    query = _published(petition_id)
    if without_first:
        query = query.where(Signature.first_signatory.is_(False))
    if category:
        query = query.where(Signature.category_key == category)
    needle = sort_key(search or "")
    if needle:
        pattern = f"%{needle}%"
        query = query.where(
            or_(
                Signature.sort_last.like(pattern),
                Signature.sort_first.like(pattern),
                (Signature.sort_last + " " + Signature.sort_first).like(pattern),
                (Signature.sort_first + " " + Signature.sort_last).like(pattern),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    items = db.session.scalars(
        query.order_by(Signature.sort_last, Signature.sort_first, Signature.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return SignatoryPage(items=list(items), page=page, pages=pages, total=total)


# --- The "check your inbox" page (issue 18.6) -------------------------------------------------
# Kept apart from sign_petition: the page only remembers (encrypted, in the visitor's own
# session) the address just typed, to show it masked and to send its email again.


def masked_address(address: str) -> str:
    """The address with most of its mailbox name hidden: "a•••e@example.fr" (in lower
    case, so that the page is the same however the address was typed)."""
    local, _, domain = address.strip().lower().rpartition("@")
    if len(local) <= 2:
        return f"{local[:1]}•••@{domain}"
    return f"{local[0]}•••{local[-1]}@{domain}"


def resend_to_address(petition_id: int, address: str, now: datetime) -> None:
    """Send this address's email about the petition again (the confirmation link, or to a
    confirmed signer the reminder), within the usual limits; nothing if the address has no
    signature here. The caller answers the same either way."""
    signature_id = db.session.scalar(
        select(Signature.id).where(
            Signature.petition_id == petition_id, Signature.email_digest == email_digest(address)
        )
    )
    if signature_id is not None:
        resend_confirmation(signature_id, now)


# --- Counts the petitions' workspace pages and edits need (moved from petitions/services.py,
# which must not read this domain's table) ---------------------------------------------------


def endorsement_count(petition_id: int, version: int | None = None) -> int:
    """Signatures endorsing the petition's text (every state but withdrawn), of one version or
    of all."""
    query = select(func.count(Signature.id)).where(
        Signature.petition_id == petition_id, Signature.status != SignatureStatus.WITHDRAWN
    )
    if version is not None:
        query = query.where(Signature.text_version == version)
    return db.session.scalar(query)


def endorsements_of(petition_id: int) -> Endorsements:
    """The petition's signatures endorsing its texts (every state but withdrawn), per text
    version and by category: what petitions.services.update_petition needs to tell an edit
    from a new version and to keep chosen categories offered."""
    endorsing = (
        Signature.petition_id == petition_id,
        Signature.status != SignatureStatus.WITHDRAWN,
    )
    rows = db.session.execute(
        select(Signature.text_version, func.count(Signature.id))
        .where(*endorsing)
        .group_by(Signature.text_version)
    )
    categories = db.session.scalars(select(Signature.category_key).where(*endorsing).distinct())
    return Endorsements(
        by_version={version: count for version, count in rows},
        categories=frozenset(key for key in categories if key is not None),
    )


def confirmed_signatures_by_version(petition_id: int) -> dict[int, int]:
    """Confirmed signatures per text version (the public history of versions)."""
    rows = db.session.execute(
        select(Signature.text_version, func.count(Signature.id))
        .where(Signature.petition_id == petition_id, Signature.counted)
        .group_by(Signature.text_version)
    )
    return {version: count for version, count in rows}


def signature_tally(petition_id: int) -> dict[SignatureStatus, int]:
    """Signatures of the petition in each state, zeros included."""
    rows = db.session.execute(
        select(Signature.status, func.count(Signature.id))
        .where(Signature.petition_id == petition_id)
        .group_by(Signature.status)
    )
    counts = {SignatureStatus(status): count for status, count in rows}
    return {status: counts.get(status, 0) for status in SignatureStatus}
