"""Consents, the signer's rights by emailed link (access, portability, rectification of what
is published, withdrawal, erasure), the retention purge, and the record of processing."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import InvalidToken
from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import and_, case, delete, func, or_, select, update

from campaign.accounts.models import User
from campaign.audit import record
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver_soon, outbox_message_id, write
from campaign.mail.transport import delete_message_files
from campaign.mailings.jobs import delivery_message_id
from campaign.mailings.models import Delivery
from campaign.objections.services import (
    TimelineStep,
    erase_objection_events,
    objection_timeline,
)
from campaign.personal_data import decrypt_email, email_digest
from campaign.petitions.models import PUBLIC, Petition, PetitionStatus
from campaign.signatures import queries
from campaign.signatures.consent import CONSENT_FLAGS, ConsentEvent, ConsentKind
from campaign.signatures.counts import recount_petition
from campaign.signatures.emails import reachable_signer
from campaign.signatures.events import public_list_changed
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import withdraw_signature
from campaign.verification.services import (
    erase_petition_verification_data,
    verification_fields,
)

# The audit log names no signer: their own actions are recorded under this label.
SIGNER = "signer (rights link)"
PURGE = "retention purge"

# --- Asking for the link ------------------------------------------------------------------


def petitions_to_choose_from() -> list[Petition]:
    """The petitions a visitor may have signed (every public one), newest first."""
    query = select(Petition).where(Petition.status.in_(PUBLIC))
    return list(db.session.scalars(query.order_by(Petition.created_at.desc())))


def _rights_links_sent_today(signature_id: int, now: datetime) -> int:
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.signature_id == signature_id,
            OutboxMessage.kind == EmailKind.RIGHTS_LINK,
            OutboxMessage.created_at > now - timedelta(days=1),
        )
    )


def _packed_digest(digest: str) -> str:
    """An email digest (64 hex digits) in the 43 characters of base64url, to fit the
    outbox row's `detail`."""
    return base64.urlsafe_b64encode(bytes.fromhex(digest)).decode().rstrip("=")


def _unpacked_digest(packed: str) -> str:
    return base64.urlsafe_b64decode(packed + "=").hex()


def request_rights_link(petition: Petition, email: str, now: datetime) -> None:
    """Have the link to their data emailed to whoever signed `petition` with this address.

    The caller cannot tell whether the address signed, neither by the answer nor by its
    time: the request does the same work either way (one outbox row holding the address's
    keyed digest, one job, off the request's thread when in-process), and the sender
    decides in the worker (rights_link_recipient)."""
    outbox_ids = write(
        EmailKind.RIGHTS_LINK,
        now,
        petition_id=petition.id,
        detail=_packed_digest(email_digest(email)),
    )
    db.session.commit()
    deliver_soon(*outbox_ids, detached=True)


def rights_link_recipient(outbox: OutboxMessage, now: datetime) -> Signature | None:
    """The signature a rights-link request is for, decided by the worker: the one of the
    row's petition with the row's address digest, not withdrawn, under
    PRIVACY_RIGHTS_LINKS_PER_DAY links in a day; None otherwise. The digest is taken off
    the row as it is read, so that a request from an address that never signed leaves
    nothing that could tell it later."""
    if outbox.signature_id is None and outbox.detail:
        digest = _unpacked_digest(outbox.detail)
        outbox.detail = None
        # The signature's row stays locked until this message is settled (PostgreSQL;
        # SQLite serialises writers): concurrent requests are counted one after the other.
        signature_id = db.session.scalar(
            select(Signature.id)
            .where(
                Signature.petition_id == outbox.petition_id,
                Signature.email_digest == digest,
                Signature.status != SignatureStatus.WITHDRAWN,
            )
            .with_for_update()
        )
        if signature_id is None:
            return None
        if (
            _rights_links_sent_today(signature_id, now)
            >= current_app.config["PRIVACY_RIGHTS_LINKS_PER_DAY"]
        ):
            return None
        outbox.signature_id = signature_id
    return reachable_signer(outbox)


# --- What we keep, for its signer ---------------------------------------------------------


def _readable_email(ciphertext: bytes | None) -> str | None:
    if not ciphertext:
        return None
    try:
        return decrypt_email(ciphertext)
    except InvalidToken:
        return None


def stored_fields(signature: Signature) -> dict[str, object]:
    """Every column of the signature as stored, the encrypted address shown decrypted.
    Read from the table's columns, so a column added later is shown without a change here."""
    values: dict[str, object] = {}
    for column in Signature.__table__.columns:
        value = getattr(signature, column.key)
        if column.key == "email_ciphertext":
            values["email"] = _readable_email(value)
        else:
            values[column.key] = value
    return values


@dataclass(frozen=True)
class SignerData:
    """Everything Tribune keeps about one signature, as its signer may see it."""

    signature: Signature
    petition: Petition
    fields: dict[str, object]
    consents: list[ConsentEvent]
    emails: list[OutboxMessage]
    letter_steps: list[TimelineStep] = field(default_factory=list)

    def as_json(self, now: datetime) -> dict[str, object]:
        """The same data as plain JSON values, for the download (right to portability)."""
        text = self.petition.text(self.petition.language)
        return {
            "exported_at": _iso(now),
            "petition": {"slug": self.petition.slug, "title": text.title},
            "signature": {name: _plain(value) for name, value in self.fields.items()},
            "consents": [
                {
                    "at": _iso(event.at),
                    "what": str(event.what),
                    "given": event.given,
                    "consent_version": event.consent_version,
                }
                for event in self.consents
            ],
            "emails": [
                {
                    "kind": str(message.kind),
                    "status": str(message.status),
                    "created_at": _iso(message.created_at),
                    "sent_at": _iso(message.sent_at),
                }
                for message in self.emails
            ],
            "letter_steps": [
                {
                    "institution": step.institution,
                    "step": step.kind,
                    "at": _iso(step.at),
                    "remind_at": _iso(step.remind_at),
                }
                for step in self.letter_steps
            ],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def signer_data(signature: Signature) -> SignerData:
    """Everything kept about this signature: its columns, its consents, the emails sent."""
    consents = db.session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.signature_id == signature.id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    emails = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.signature_id == signature.id)
        .order_by(OutboxMessage.created_at, OutboxMessage.id)
    )
    return SignerData(
        signature=signature,
        petition=db.session.get(Petition, signature.petition_id),
        fields={**stored_fields(signature), **verification_fields(signature.id)},
        consents=list(consents),
        emails=list(emails),
        letter_steps=objection_timeline(signature.id),
    )


# --- Changing consents, withdrawing, erasing ----------------------------------------------


@dataclass(frozen=True)
class ConsentChoices:
    """What the signer now agrees to: publishing each field, and being kept informed."""

    show_name: bool
    show_title: bool
    show_organisation: bool
    contact_ok: bool


def change_consents(signature: Signature, choices: ConsentChoices, now: datetime) -> list[str]:
    """Apply the signer's new choices, with one consent event per change under the
    petition's current consent text, and an audit entry; the consents that changed."""
    if signature.status == SignatureStatus.WITHDRAWN:
        return []
    wanted = {
        "show_name": choices.show_name,
        # Title and organisation are printed after the name, never without it.
        "show_title": choices.show_name and choices.show_title,
        "show_organisation": choices.show_name and choices.show_organisation,
        "contact_ok": choices.contact_ok,
    }
    version = db.session.get(Petition, signature.petition_id).consent_version
    changed = []
    for kind, flag in CONSENT_FLAGS.items():
        if getattr(signature, flag) != wanted[flag]:
            setattr(signature, flag, wanted[flag])
            db.session.add(ConsentEvent.about(signature, kind, wanted[flag], now, version))
            changed.append(str(kind))
    if not changed:
        return []
    public = bool(set(changed) - {ConsentKind.CONTACT})
    if public:
        # The public list changed: what last_change_at() (the API's updated_at) and the
        # next publication read.
        signature.status_changed_at = now
    record(
        "signer changed consents",
        now,
        actor_label=SIGNER,
        petition_id=signature.petition_id,
        detail=f"signature {signature.id}: " + ", ".join(changed),
        count=1,
    )
    db.session.commit()
    if public:
        public_list_changed.send(signature.petition_id, now=now)
    return changed


def correct_details(signature: Signature, title: str, organisation: str, now: datetime) -> bool:
    """The signer's correction of their title and organisation (a typo), with an audit
    entry; whether anything changed. A withdrawn signature has nothing left to correct."""
    if signature.status == SignatureStatus.WITHDRAWN:
        return False
    if (signature.title or "", signature.organisation or "") == (title, organisation):
        return False
    signature.title, signature.organisation = title, organisation
    public = signature.published
    if public:
        # The public line changed: what last_change_at() (the API's updated_at) and the
        # next publication read.
        signature.status_changed_at = now
    record(
        "signer corrected details",
        now,
        actor_label=SIGNER,
        petition_id=signature.petition_id,
        detail=f"signature {signature.id}: title, organisation",
        count=1,
    )
    db.session.commit()
    if public:
        public_list_changed.send(signature.petition_id, now=now)
    return True


def withdraw_own_signature(signature: Signature, now: datetime) -> bool:
    """Withdraw from the rights page: out of the count and the list at once, the personal
    fields erased (withdraw_signature), and the consent to sign recorded as taken back."""
    signature_id, petition_id = signature.id, signature.petition_id
    if not withdraw_signature(signature_id, now):
        return False
    signature = db.session.get(Signature, signature_id)
    db.session.add(ConsentEvent.about(signature, ConsentKind.SIGN, False, now))
    # The letters' timeline went with the signature (withdraw_signature's signal).
    record(
        "signer withdrew",
        now,
        actor_label=SIGNER,
        petition_id=petition_id,
        detail=f"signature {signature_id}",
        count=1,
    )
    db.session.commit()
    return True


def erase_own_data(signature: Signature, now: datetime) -> None:
    """Erase a signer's data: withdraw (name, title, organisation, département, address,
    digests and IP hash erased; out of the count and list), then delete the consent records,
    the emails sent or owed, and any moderation note.

    What remains is an anonymous withdrawn row: petition, category, language, text and
    consent versions, source and times, with nothing that leads back to a person. It is
    kept, not deleted, so that the published counts and the hash chain of published lists
    stay explainable: a row that vanished would look like a signature silently removed,
    while a withdrawal is an event the press can see and count."""
    signature_id, petition_id = signature.id, signature.petition_id
    # Counted before the withdrawal, which erases them too (its signal), for the audit entry.
    letter_steps = erase_objection_events([signature_id])
    withdraw_signature(signature_id, now)
    consents = db.session.execute(
        delete(ConsentEvent).where(ConsentEvent.signature_id == signature_id)
    ).rowcount
    emails = db.session.execute(
        delete(OutboxMessage).where(OutboxMessage.signature_id == signature_id)
    ).rowcount
    db.session.execute(
        update(Signature).where(Signature.id == signature_id).values(moderation_reason=None)
    )
    record(
        "signer erased data",
        now,
        actor_label=SIGNER,
        petition_id=petition_id,
        detail=(
            f"signature {signature_id}: {consents} consent record(s), {emails} email(s), "
            f"{letter_steps} letter step(s)"
        ),
        count=1,
    )
    db.session.commit()


# --- Retention ----------------------------------------------------------------------------


@dataclass
class PurgeCounts:
    """What the purge erased (or, in a dry run, would erase) for one petition."""

    petition_id: int
    slug: str
    expired_pending_deleted: int = 0
    pending_deleted: int = 0
    contact_data_erased: int = 0
    private_details_erased: int = 0
    contact_consents_deleted: int = 0
    emails_deleted: int = 0
    letter_steps_deleted: int = 0

    COUNTERS = (
        "expired_pending_deleted",
        "pending_deleted",
        "contact_data_erased",
        "private_details_erased",
        "contact_consents_deleted",
        "emails_deleted",
        "letter_steps_deleted",
    )

    @property
    def total(self) -> int:
        """Rows changed or deleted."""
        return sum(getattr(self, name) for name in self.COUNTERS)

    def describe(self) -> str:
        """'pending_deleted=3, contact_data_erased=10' without the zeros."""
        parts = [f"{name}={getattr(self, name)}" for name in self.COUNTERS if getattr(self, name)]
        return ", ".join(parts) or "nothing"


def retention_cutoff(now: datetime) -> datetime:
    """Petitions that ended before this moment have outlived PRIVACY_RETENTION_DAYS."""
    return now - timedelta(days=current_app.config["PRIVACY_RETENTION_DAYS"])


def expired_petition_condition(now: datetime):
    """SQL condition: the petition ended more than PRIVACY_RETENTION_DAYS ago. It ended at
    its closes_at when it has one (whatever its status: past that date it takes no
    signature); without one, when it was closed or archived, known by its updated_at. An
    open petition without a closing date never expires."""
    cutoff = retention_cutoff(now)
    return or_(
        Petition.closes_at <= cutoff,
        and_(
            Petition.closes_at.is_(None),
            Petition.status.in_([PetitionStatus.CLOSED, PetitionStatus.ARCHIVED]),
            Petition.updated_at <= cutoff,
        ),
    )


def _stale_pending_condition(now: datetime):
    """Pending signatures whose last confirmation link has expired: they never will count."""
    max_age = timedelta(seconds=current_app.config["CONFIRMATION_TOKEN_MAX_AGE"])
    last_link = func.coalesce(Signature.last_confirmation_at, Signature.created_at)
    return and_(Signature.status == SignatureStatus.PENDING, last_link < now - max_age)


def _published_condition():
    return Signature.published


def _erase_after_retention(petition_id: int, counts: PurgeCounts) -> list[str]:
    """Everything but the public list and the proof of consent, for one expired petition.
    Returns the Message-IDs of its signers' emails, whose outbox files go too."""
    of_petition = Signature.petition_id == petition_id
    signature_ids = select(Signature.id).where(of_petition).scalar_subquery()
    execute = db.session.execute
    message_ids = signers_message_ids(signature_ids)
    counts.emails_deleted = execute(
        delete(OutboxMessage).where(
            or_(
                OutboxMessage.signature_id.in_(signature_ids),
                OutboxMessage.petition_id == petition_id,
            )
        )
    ).rowcount
    counts.letter_steps_deleted += erase_objection_events(signature_ids)
    counts.contact_consents_deleted = execute(
        delete(ConsentEvent).where(
            ConsentEvent.signature_id.in_(signature_ids), ConsentEvent.what == ConsentKind.CONTACT
        )
    ).rowcount
    counts.pending_deleted = execute(
        delete(Signature).where(of_petition, Signature.status == SignatureStatus.PENDING)
    ).rowcount
    counts.contact_data_erased = execute(
        update(Signature)
        .where(
            of_petition,
            or_(
                Signature.email_ciphertext.is_not(None),
                Signature.email_digest.is_not(None),
                Signature.email_domain_digest.is_not(None),
                Signature.ip_digest.is_not(None),
                Signature.contact_ok.is_(True),
            ),
        )
        .values(
            email_ciphertext=None,
            email_digest=None,
            email_domain_digest=None,
            ip_digest=None,
            contact_ok=False,
        )
    ).rowcount
    # Not in the public list: nothing of the person stays, and nothing can be published
    # later (a hidden signature restored would count without a name).
    unpublished = execute(
        update(Signature)
        .where(
            of_petition,
            ~_published_condition(),
            or_(
                Signature.first_name != "",
                Signature.last_name != "",
                Signature.title != "",
                Signature.organisation != "",
                Signature.departement.is_not(None),
                Signature.moderation_reason.is_not(None),
                Signature.show_name.is_(True),
            ),
        )
        .values(
            first_name="",
            last_name="",
            title="",
            organisation="",
            departement=None,
            moderation_reason=None,
            sort_last="",
            sort_first="",
            show_name=False,
            show_title=False,
            show_organisation=False,
        )
    ).rowcount
    # In the public list: only what the signer agreed to publish stays.
    published = execute(
        update(Signature)
        .where(
            of_petition,
            _published_condition(),
            or_(
                and_(Signature.show_title.is_(False), Signature.title != ""),
                and_(Signature.show_organisation.is_(False), Signature.organisation != ""),
                Signature.departement.is_not(None),
                Signature.moderation_reason.is_not(None),
            ),
        )
        .values(
            title=case((Signature.show_title.is_(True), Signature.title), else_=""),
            organisation=case(
                (Signature.show_organisation.is_(True), Signature.organisation), else_=""
            ),
            departement=None,
            moderation_reason=None,
        )
    ).rowcount
    # The départements went: their counts follow, in this transaction.
    recount_petition(db.session, petition_id)
    # Professional addresses are contact data; RPPS numbers and evidence, private details.
    addresses, claims = erase_petition_verification_data(petition_id)
    counts.contact_data_erased += addresses
    counts.private_details_erased = unpublished + published + claims
    return message_ids


def purge_personal_data(now: datetime, *, dry_run: bool = False) -> list[PurgeCounts]:
    """Apply the retention rules (docs/privacy.md): delete pending signatures whose link
    expired, and, PRIVACY_RETENTION_DAYS after a petition ended, erase its signers' contact
    data and everything not in the public list. Audited per petition, counts only.

    A dry run makes the same changes in a transaction it rolls back, so that its counts
    are exactly what a real run would do; nothing is kept."""
    by_petition: dict[int, PurgeCounts] = {}
    # The emails of the signers erased: their copies in the outbox folder go too.
    message_ids: list[str] = []

    def counts_for(petition_id: int, slug: str) -> PurgeCounts:
        return by_petition.setdefault(petition_id, PurgeCounts(petition_id, slug))

    stale = db.session.execute(
        select(Petition.id, Petition.slug)
        .join(Signature, Signature.petition_id == Petition.id)
        .where(_stale_pending_condition(now))
        .distinct()
    )
    for petition_id, slug in stale.all():
        stale_ids = (
            select(Signature.id)
            .where(Signature.petition_id == petition_id, _stale_pending_condition(now))
            .scalar_subquery()
        )
        counts_for(petition_id, slug).letter_steps_deleted = erase_objection_events(stale_ids)
        message_ids += signers_message_ids(stale_ids)
        counts_for(petition_id, slug).expired_pending_deleted = db.session.execute(
            delete(Signature).where(
                Signature.petition_id == petition_id, _stale_pending_condition(now)
            )
        ).rowcount
    expired = db.session.execute(
        select(Petition.id, Petition.slug)
        .where(expired_petition_condition(now))
        .order_by(Petition.id)
    )
    for petition_id, slug in expired.all():
        message_ids += _erase_after_retention(petition_id, counts_for(petition_id, slug))
    report = [counts for _, counts in sorted(by_petition.items()) if counts.total]
    if dry_run:
        db.session.rollback()
        return report
    files = delete_message_files(message_ids) + purge_outbox_files(now)
    if files:
        record("outbox files deleted", now, actor_label=PURGE, count=files)
    for counts in report:
        record(
            "personal data purged",
            now,
            actor_label=PURGE,
            petition_id=counts.petition_id,
            detail=counts.describe(),
            count=counts.total,
        )
    db.session.commit()
    return report


def signers_message_ids(signature_ids) -> list[str]:
    """The Message-IDs of every email to or about these signatures (a list of ids or a
    subquery): the outbox's, and the mailings' deliveries to them or of their letters."""
    outbox = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.kind).where(
            OutboxMessage.signature_id.in_(signature_ids)
        )
    )
    deliveries = db.session.execute(
        select(Delivery.id, Delivery.mailing_id).where(Delivery.signature_id.in_(signature_ids))
    )
    return [outbox_message_id(*row) for row in outbox] + [
        delivery_message_id(*row) for row in deliveries
    ]


def delete_signers_mail_files(signature_id: int) -> None:
    """Receiver of signature_erased: the outbox folder's copies of the signer's emails
    (their address in clear, live links) go with the rest of their data."""
    delete_message_files(signers_message_ids([signature_id]))


def purge_outbox_files(now: datetime) -> int:
    """Delete the embedded default's .eml files (addresses in clear, live links) older than
    CONFIRMATION_TOKEN_MAX_AGE: the mail was delivered into the folder, and a copy kept
    longer would outlive the pending signatures that rule 1 deletes. How many went."""
    folder = Path(current_app.config["OUTBOX_DIR"])
    cutoff = (now - timedelta(seconds=current_app.config["CONFIRMATION_TOKEN_MAX_AGE"])).replace(
        tzinfo=UTC
    )
    deleted = 0
    for path in folder.glob("*.eml") if folder.is_dir() else ():
        try:
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) < cutoff:
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            continue  # another purge took it
    return deleted


def petition_ended_at(petition: Petition) -> datetime | None:
    """When the petition ended, by the rule of expired_petition_condition()."""
    if petition.closes_at is not None:
        return petition.closes_at
    if petition.status in (PetitionStatus.CLOSED, PetitionStatus.ARCHIVED):
        return petition.updated_at
    return None


# --- The record of processing activities (GDPR Art. 30) ----------------------------------


@dataclass(frozen=True)
class PetitionProcessing:
    """One petition as a processing activity: what it collects and how much it holds."""

    petition: Petition
    title: str
    categories: list[str]
    signatures_by_status: dict[str, int]
    published: int
    contact_ok: int
    with_address: int
    ended_at: datetime | None
    erased_after: datetime | None


def _signature_tallies() -> dict[int, dict[str, int]]:
    rows = db.session.execute(queries.tallies_by_petition_and_status())
    tallies: dict[int, dict[str, int]] = {}
    for petition_id, status, count, published, contact, addresses in rows:
        tally = tallies.setdefault(
            petition_id, {"published": 0, "contact_ok": 0, "with_address": 0}
        )
        tally[str(status)] = count
        tally["published"] += published or 0
        tally["contact_ok"] += contact or 0
        tally["with_address"] += addresses or 0
    return tallies


def petition_processing(locale: str) -> list[PetitionProcessing]:
    """Every petition with the categories it offers and the signatures it holds."""
    tallies = _signature_tallies()
    retention = timedelta(days=current_app.config["PRIVACY_RETENTION_DAYS"])
    petitions = db.session.scalars(select(Petition).order_by(Petition.id))
    activities = []
    for petition in petitions:
        tally = tallies.get(petition.id, {})
        ended_at = petition_ended_at(petition)
        activities.append(
            PetitionProcessing(
                petition=petition,
                title=petition.text(locale).title,
                categories=[category.label(locale) for category in petition.categories],
                signatures_by_status={
                    str(status): tally.get(str(status), 0) for status in SignatureStatus
                },
                published=tally.get("published", 0),
                contact_ok=tally.get("contact_ok", 0),
                with_address=tally.get("with_address", 0),
                ended_at=ended_at,
                erased_after=ended_at + retention if ended_at else None,
            )
        )
    return activities


def processing_register(now: datetime, locale: str) -> str:
    """The record of processing activities (Art. 30) as Markdown, from the configuration
    and the petitions, in `locale`."""
    users_by_role = dict(
        db.session.execute(select(User.role, func.count(User.id)).group_by(User.role)).all()
    )
    with force_locale(locale):
        return render_template(
            "privacy/register.txt",
            now=now,
            petitions=petition_processing(locale),
            users_by_role={str(role): count for role, count in users_by_role.items()},
            retention_days=current_app.config["PRIVACY_RETENTION_DAYS"],
            pending_days=current_app.config["CONFIRMATION_TOKEN_MAX_AGE"] // 86400,
        )
