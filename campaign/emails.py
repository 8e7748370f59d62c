"""Emails: the outbox table, one send_<what>_email() per email, delivery and flush.

A service writes an OutboxMessage in the same transaction as the change that calls for the
email, commits, then calls deliver_soon(id): in-process, the message is sent at once; with
Redis, a drain job sends it with every other due message. If Redis or SMTP is down, the row
stays queued and flush_outbox() picks it up later: an accepted signature never loses its mail.
"""

from __future__ import annotations

import contextlib
import email.charset
import email.message
import email.policy
import logging
import re
import secrets
import smtplib
import time
import uuid
from datetime import datetime, timedelta
from email.header import Header
from email.utils import parseaddr
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Protocol

import flask_mail
from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import ForeignKey, String, insert, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from campaign.accounts.models import User
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import enqueue, enqueue_coalesced, job_started
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.publication.models import Publication, PublicationEntry
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import external_url, make_token
from campaign.verification.models import ProfessionalAddress, ReviewDecision, VerificationClaim

log = logging.getLogger(__name__)

# Flask-Mail registers utf-8 with SHORTEST body encoding, which computes both
# quoted-printable (a pure-Python encoder) and base64 for every part: half the CPU of a
# letter in bench/campaign.py. Base64 bodies (C encoder) are as readable to every client.
email.charset.add_charset("utf-8", email.charset.SHORTEST, email.charset.BASE64, "utf-8")

# Flask-Mail serialises with policy.SMTP, whose header classes parse once more every header
# Flask-Mail has already encoded: half of a mail worker's CPU per confirmation. compat32
# writes them as they are, with the same CRLF line ends.
SMTP_COMPAT32 = email.policy.compat32.clone(linesep="\r\n")

# A message claimed longer ago than this belongs to a worker that died mid-send.
STALE_CLAIM = timedelta(minutes=10)
# Fresh rows are left to the job enqueued with them; flush takes the ones it missed.
FLUSH_GRACE = timedelta(seconds=30)
# A drain job claims this many messages at a time and commits their outcomes together.
DRAIN_BATCH = 20
DRAIN_JOB = "outbox-drain"
# How often a drain looks again after a batch that was not full, or with nothing to send
# until OUTBOX_DRAIN_LINGER has passed.
DRAIN_POLL_SECONDS = 0.05
# After a temporary failure, the next attempt waits longer each time; after the last, the
# message is given up as failed. The schedule lives in the outbox, not in Redis.
RETRY_DELAYS = tuple(timedelta(minutes=m) for m in (1, 5, 15, 60, 180, 360, 720))
# SMTP replies often quote the recipient; logs and error columns must not.
ADDRESS_PATTERN = re.compile(r"[^\s<>\"']+@[^\s<>\"']+")


class EmailKind(StrEnum):
    SIGNATURE_CONFIRMATION = "signature_confirmation"
    GOAL_MILESTONE = "goal_milestone"
    RIGHTS_LINK = "rights_link"
    PUBLICATION_RECEIPT = "publication_receipt"
    PROFESSIONAL_ADDRESS = "professional_address"
    VERIFICATION_REJECTED = "verification_rejected"
    MAILING_TEST = "mailing_test"


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class OutboxMessage(db.Model):
    """An email the platform owes someone, committed with the change that calls for it."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EmailKind] = mapped_column(String(40))
    status: Mapped[OutboxStatus] = mapped_column(
        String(20), default=OutboxStatus.QUEUED, index=True
    )
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), index=True
    )
    # For emails to organisers (milestones...): the account and the petition concerned.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    petition_id: Mapped[int | None] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    detail: Mapped[str | None] = mapped_column(String(50))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    retry_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    @property
    def message_id(self) -> str:
        """A deterministic Message-ID, so a receiving server can drop a duplicate."""
        domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
        return f"<outbox-{self.id}.{self.kind}@{domain or 'localhost'}>"


class _EncodedHeader:
    """A header value already encoded (RFC 2047) and folded: compat32 writes it as is."""

    def __init__(self, folded: str) -> None:
        self.folded = folded

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None) -> str:
        return self.folded.replace("\n", linesep)


@lru_cache(maxsize=256)
def _subject_header(subject: str) -> str | _EncodedHeader:
    """The Subject header's value, encoded once per subject: confirmations share a few."""
    if subject.isascii():
        return subject
    # Folded with "Subject: " counted, so that its first line stays on the header's line.
    return _EncodedHeader(Header(subject, "utf-8", header_name="Subject").encode())


class MailMessage(flask_mail.Message):
    """Flask-Mail's message, serialised with the compat32 policy (SMTP_COMPAT32)."""

    def _message(self) -> email.message.Message:
        # Flask-Mail would encode the subject itself, every time, and without counting
        # "Subject: ": compat32 would then move all of it to a folded line, which readers
        # show as a leading space.
        subject, self.subject = self.subject, None
        try:
            message = super()._message()
        finally:
            self.subject = subject
        message.policy = SMTP_COMPAT32
        if subject:
            message["Subject"] = _subject_header(subject)
        # Boundaries of our own: the generator checks a random one against the whole text
        # with a regular expression compiled for it. "=_" never occurs in base64 bodies.
        for part in message.walk():
            if part.is_multipart():
                part.set_boundary(f"=_{secrets.token_hex(12)}")
        return message


class TemporaryMailError(Exception):
    """The mail server could not take the message now; try again later."""


class PermanentMailError(Exception):
    """The mail server refused the message for good."""


class MailConnection(Protocol):
    def send(self, message: flask_mail.Message) -> None: ...


class AmbiguousDelivery(Exception):
    """The connection failed after the message was handed over and before the server's
    verdict: it may or may not have been accepted."""


class _VerdictTracking:
    """Remembers whether a message's data was handed over with the verdict still awaited."""

    verdict_pending = False
    _in_data = False

    def data(self, msg):
        self.verdict_pending = False
        self._in_data = True
        try:
            reply = super().data(msg)
        finally:
            self._in_data = False
        self.verdict_pending = False
        return reply

    def send(self, s):
        if self._in_data and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.verdict_pending = True
        return super().send(s)


class VerdictTrackingSMTP(_VerdictTracking, smtplib.SMTP):
    pass


class VerdictTrackingSMTP_SSL(_VerdictTracking, smtplib.SMTP_SSL):
    pass


class SMTPConnection(flask_mail.Connection):
    """Flask-Mail's connection with the guards it lacks: a socket timeout; a QUIT failure
    after the server accepted the message not turning a sent message into an error; and a
    failure while awaiting the server's verdict on a message reported as AmbiguousDelivery."""

    def send(self, message: flask_mail.Message, envelope_from: str | None = None) -> None:
        try:
            super().send(message, envelope_from)
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            if getattr(self.host, "verdict_pending", False):
                raise AmbiguousDelivery(type(error).__name__) from error
            raise

    def configure_host(self) -> smtplib.SMTP:
        timeout = current_app.config["MAIL_TIMEOUT"]
        smtp_class = VerdictTrackingSMTP_SSL if self.mail.use_ssl else VerdictTrackingSMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.host is None:
            return
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            self.host.close()


class OutboxFolder:
    """The embedded default's mail transport: one .eml file per message in OUTBOX_DIR."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def __enter__(self) -> OutboxFolder:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def send(self, message: flask_mail.Message) -> None:
        name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.eml"
        path = self.folder / name
        path.write_bytes(message.as_bytes())


def open_mail_connection() -> SMTPConnection | OutboxFolder:
    """SMTP when MAIL_SERVER is set, the outbox folder otherwise."""
    if current_app.config["MAIL_SERVER"]:
        return SMTPConnection(current_app.extensions["mail"])
    return OutboxFolder(current_app.config["OUTBOX_DIR"])


def render_email(name: str, locale: str, **context: object) -> tuple[str, str, str]:
    """Subject, text body and HTML body of templates/email/<name>/, in the given language."""
    with force_locale(locale):
        subject = render_template(f"email/{name}/subject.txt", **context).strip()
        text = render_template(f"email/{name}/body.txt", **context)
        html = render_template(f"email/{name}/body.html", **context)
    return " ".join(subject.split()), text, html


def deliver(
    outbox: OutboxMessage,
    connection: MailConnection,
    recipient: str,
    subject: str,
    text: str,
    html: str,
) -> None:
    """Send one rendered email, with the outbox row's deterministic Message-ID."""
    message = MailMessage(
        subject=subject,
        recipients=[recipient],
        body=text,
        html=html,
        extra_headers={"Auto-Submitted": "auto-generated"},
    )
    message.msgId = outbox.message_id
    connection.send(message)


def send_signature_confirmation_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send the link that confirms a signature, with a link to withdraw it; to someone who
    signs again after confirming, a reminder with the withdrawal link. False when there is
    nothing to send any more (withdrawn, invalidated or erased in the meantime)."""

    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    sendable = {SignatureStatus.PENDING, SignatureStatus.CONFIRMED}
    if signature is None or signature.status not in sendable or not signature.email_ciphertext:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    confirm_url = external_url(
        "signatures.confirmation", token=make_token("confirm", signature.id, utcnow())
    )
    withdraw_url = external_url(
        "signatures.withdrawal", token=make_token("withdraw", signature.id, utcnow())
    )
    subject, text, html = render_email(
        "signature_confirmation",
        signature.language,
        signature=signature,
        already_confirmed=signature.status == SignatureStatus.CONFIRMED,
        petition_title=petition.text(signature.language).title,
        confirm_url=confirm_url,
        withdraw_url=withdraw_url,
        max_age_days=current_app.config["CONFIRMATION_TOKEN_MAX_AGE"] // 86400,
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


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


def _reachable_signer(outbox: OutboxMessage) -> Signature | None:
    """The outbox row's signer, unless they withdrew or their address was erased."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if (
        signature is None
        or signature.status == SignatureStatus.WITHDRAWN
        or not signature.email_ciphertext
    ):
        return None
    return signature


def send_rights_link_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send a signer the link to see, download, change or erase their signature's data.
    False when there is nothing left to show (withdrawn or erased in the meantime)."""
    signature = _reachable_signer(outbox)
    if signature is None:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    subject, text, html = render_email(
        "rights_link",
        signature.language,
        petition_title=petition.text(signature.language).title,
        rights_url=external_url(
            "privacy.my_data", token=make_token("rights", signature.id, utcnow())
        ),
        max_age_days=current_app.config["PRIVACY_RIGHTS_LINK_MAX_AGE"] // 86400,
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


def send_publication_receipt_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send a newly published signer their receipt (the leaf hash of their entry), the
    publication that added it and the links to check it. False when their name is no longer
    published or their address is gone."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if signature is None or not signature.published or not signature.email_ciphertext:
        return False
    # The same entry as publication.services.receipt_for(): the open one, latest first.
    entry = db.session.execute(
        select(PublicationEntry.leaf, PublicationEntry.since_sequence)
        .where(
            PublicationEntry.signature_id == signature.id, PublicationEntry.until_sequence.is_(None)
        )
        .order_by(PublicationEntry.since_sequence.desc())
        .limit(1)
    ).first()
    if entry is None:
        return False
    publication = db.session.scalar(
        select(Publication).where(
            Publication.petition_id == signature.petition_id,
            Publication.sequence == entry.since_sequence,
        )
    )
    petition = db.session.get(Petition, signature.petition_id)
    subject, text, html = render_email(
        "publication_receipt",
        signature.language,
        first_name=signature.first_name,
        petition_title=petition.text(signature.language).title,
        receipt=entry.leaf,
        publication=publication,
        proof_url=external_url("publication.proof", slug=petition.slug, receipt=entry.leaf),
        press_url=external_url("publication.press", slug=petition.slug),
        rights_url=external_url("privacy.request_petition_link", slug=petition.slug),
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


def send_mailing_test_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send an organiser the letter of their mailing (outbox.detail) as its first recipient
    would receive it, "[TEST]" before the subject. False when the mailing or the account is
    gone, or the templates no longer render."""
    from campaign.mailings.models import Mailing
    from campaign.mailings.services import sample_letter
    from campaign.mailings.templates import TemplateProblem

    user = db.session.get(User, outbox.user_id) if outbox.user_id else None
    mailing_id = int(outbox.detail) if (outbox.detail or "").isdigit() else None
    mailing = db.session.get(Mailing, mailing_id) if mailing_id else None
    if user is None or not user.active or mailing is None:
        return False
    try:
        recipient, letter = sample_letter(mailing)
    except TemplateProblem:
        return False
    petition = db.session.get(Petition, mailing.petition_id)
    subject, text, html = render_email(
        "mailing_test", petition.language, letter=letter, recipient=recipient, mailing=mailing
    )
    deliver(outbox, connection, user.email, subject, text, html)
    return True


def send_professional_address_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Send the link that confirms a signer's professional address, to that address. False
    when there is nothing to confirm any more (confirmed, replaced or erased, withdrawn)."""
    signature = db.session.get(Signature, outbox.signature_id) if outbox.signature_id else None
    if signature is None or signature.status == SignatureStatus.WITHDRAWN:
        return False
    address = db.session.scalar(
        select(ProfessionalAddress).where(
            ProfessionalAddress.signature_id == signature.id,
            ProfessionalAddress.confirmed_at.is_(None),
        )
    )
    if address is None:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    subject, text, html = render_email(
        "professional_address",
        signature.language,
        petition_title=petition.text(signature.language).title,
        confirm_url=external_url(
            "verification.professional_address",
            token=make_token("verify_address", address.id, utcnow()),
        ),
        max_age_days=current_app.config["CONFIRMATION_TOKEN_MAX_AGE"] // 86400,
    )
    deliver(outbox, connection, decrypt_email(address.email_ciphertext), subject, text, html)
    return True


def send_verification_rejected_email(outbox: OutboxMessage, connection: MailConnection) -> bool:
    """Tell a signer that a moderator could not verify their category, and why; their
    signature stays. False when the decision changed or the signer left meanwhile."""
    signature = _reachable_signer(outbox)
    if signature is None:
        return False
    claim = db.session.get(VerificationClaim, signature.id)
    if claim is None or claim.decision != ReviewDecision.REJECTED:
        return False
    petition = db.session.get(Petition, signature.petition_id)
    category = next((c for c in petition.categories if c.key == signature.category_key), None)
    subject, text, html = render_email(
        "verification_rejected",
        signature.language,
        petition_title=petition.text(signature.language).title,
        category_label=category.label(signature.language) if category else signature.category_key,
        reason=claim.reason or "",
        rights_url=external_url("privacy.request_petition_link", slug=petition.slug),
    )
    deliver(outbox, connection, decrypt_email(signature.email_ciphertext), subject, text, html)
    return True


SENDERS = {
    EmailKind.SIGNATURE_CONFIRMATION: send_signature_confirmation_email,
    EmailKind.GOAL_MILESTONE: send_goal_milestone_email,
    EmailKind.RIGHTS_LINK: send_rights_link_email,
    EmailKind.PUBLICATION_RECEIPT: send_publication_receipt_email,
    EmailKind.PROFESSIONAL_ADDRESS: send_professional_address_email,
    EmailKind.VERIFICATION_REJECTED: send_verification_rejected_email,
    EmailKind.MAILING_TEST: send_mailing_test_email,
}


_INSERT_OUTBOX_ROW = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id)


def queue_email(kind: EmailKind, now: datetime, *, signature_id: int | None) -> OutboxMessage:
    """Add an outbox row to the current transaction; the caller commits, then enqueues."""
    outbox = OutboxMessage(kind=kind, signature_id=signature_id, created_at=now)
    db.session.add(outbox)
    return outbox


def insert_outbox_row(kind: EmailKind, now: datetime, signature_id: int) -> int:
    """queue_email() for the sign path: one INSERT ... RETURNING in the current transaction,
    the row's id at once, no ORM object to flush."""
    return db.session.execute(
        _INSERT_OUTBOX_ROW, {"kind": kind, "signature_id": signature_id, "created_at": now}
    ).scalar_one()


def classify_mail_error(error: Exception) -> Exception:
    """Map an SMTP failure onto temporary (retry) or permanent (record, stop), with any
    address in the server's reply blanked out."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        permanent = codes and all(500 <= code < 600 for code in codes)
        reason = f"recipient refused {codes}"
        return PermanentMailError(reason) if permanent else TemporaryMailError(reason)
    if isinstance(error, smtplib.SMTPResponseException):
        reply = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        reason = f"{error.smtp_code} {ADDRESS_PATTERN.sub('<address>', reply)}"[:250]
        if 500 <= error.smtp_code < 600:
            return PermanentMailError(reason)
        return TemporaryMailError(reason)
    return TemporaryMailError(type(error).__name__)


def _claim(message_id: int, now: datetime) -> bool:
    """queued (or stale sending) -> sending, by one worker only."""
    result = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            or_(
                OutboxMessage.status == OutboxStatus.QUEUED,
                (OutboxMessage.status == OutboxStatus.SENDING)
                & (OutboxMessage.claimed_at < now - STALE_CLAIM),
            ),
        )
        .values(status=OutboxStatus.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
    )
    db.session.commit()
    return result.rowcount == 1


def _claim_due(now: datetime, limit: int) -> list[int]:
    """Up to `limit` due queued messages -> sending, in one statement; on PostgreSQL,
    concurrent drains skip each other's rows instead of waiting for them."""
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == OutboxStatus.QUEUED,
            or_(OutboxMessage.retry_at.is_(None), OutboxMessage.retry_at <= now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = db.session.scalars(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(status=OutboxStatus.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
    ).all()
    db.session.commit()
    return sorted(claimed)


def _settle(
    message_ids: list[int],
    status: OutboxStatus,
    error: str | None = None,
    retry_at: datetime | None = None,
    *,
    commit: bool = True,
) -> None:
    """Record the outcome of these messages (one statement for all of them)."""
    values: dict[str, object] = {"status": status, "last_error": error, "retry_at": retry_at}
    if status is OutboxStatus.SENT:
        values["sent_at"] = utcnow()
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(message_ids)).values(**values)
    )
    if commit:
        db.session.commit()


class ReusableConnection:
    """A mail connection for many messages, opened on first use and dropped after any
    error (the next message opens a new one)."""

    def __init__(self) -> None:
        self.context: SMTPConnection | OutboxFolder | None = None
        self.connection: MailConnection | None = None

    def send(self, message: flask_mail.Message) -> None:
        if self.connection is None:
            self.context = open_mail_connection()
            self.connection = self.context.__enter__()
        self.connection.send(message)

    def close(self) -> None:
        if self.context is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.context.__exit__(None, None, None)
        self.context = None
        self.connection = None


Outcome = tuple[OutboxStatus, str | None, datetime | None]  # status, error, retry time


def _send_claimed(outbox: OutboxMessage, connection: ReusableConnection, now: datetime) -> Outcome:
    """Send a message this worker has claimed; what became of it, for _settle()."""
    attempts = outbox.attempts
    if attempts > len(RETRY_DELAYS) + 2:
        # Crashed (not refused) too many times: a bug or an unreadable address.
        return OutboxStatus.FAILED, "too many attempts", None
    try:
        sent = SENDERS[outbox.kind](outbox, connection)
    except (UnicodeError, flask_mail.BadHeaderError) as error:
        # An address or header that cannot be written into a message (an accented mailbox
        # name, from before the forms refused them, needs SMTPUTF8): it never will be.
        log.warning("outbox message %s cannot be sent: %s", outbox.id, type(error).__name__)
        return OutboxStatus.FAILED, f"cannot be sent: {type(error).__name__}", None
    except (TimeoutError, smtplib.SMTPException, OSError, AmbiguousDelivery) as error:
        connection.close()
        # A confirmation sent twice is harmless: ambiguous sends are simply retried here.
        failure = classify_mail_error(error)
        if isinstance(failure, PermanentMailError) or attempts > len(RETRY_DELAYS):
            log.warning("outbox message %s failed for good: %s", outbox.id, failure)
            return OutboxStatus.FAILED, str(failure), None
        log.warning("outbox message %s deferred: %s", outbox.id, failure)
        return OutboxStatus.QUEUED, str(failure), now + RETRY_DELAYS[attempts - 1]
    return (OutboxStatus.SENT if sent else OutboxStatus.SKIPPED), None, None


def deliver_outbox_message(message_id: int) -> None:
    """Job: send one outbox message. Safe to run twice: only the run that claims it sends.

    A temporary failure puts the row back in the queue with the time of its next attempt,
    which flush_outbox() honours; a permanent one, or too many attempts, marks it failed.
    """
    now = utcnow()
    if not _claim(message_id, now):
        return
    connection = ReusableConnection()
    try:
        outcome = _send_claimed(db.session.get(OutboxMessage, message_id), connection, now)
    finally:
        connection.close()
    _settle([message_id], *outcome)


def drain_outbox() -> int:
    """Job (Redis mode): send every due outbox message, DRAIN_BATCH claimed at a time, over
    one connection, until none has been due for OUTBOX_DRAIN_LINGER seconds; returns how
    many were attempted. Concurrent drains share the work.

    One job and one SMTP session for many messages, instead of one of each per message:
    this is what keeps a worker's cost per confirmation low when signatures pour in. The
    outcomes of a batch are committed together: a worker killed mid-batch leaves its
    claimed rows to flush_outbox(), which sends them again after STALE_CLAIM (a
    confirmation sent twice is harmless, and its Message-ID is the same)."""
    job_started(DRAIN_JOB)
    linger = current_app.config["OUTBOX_DRAIN_LINGER"]
    connection = ReusableConnection()
    attempted = 0
    idle_since: float | None = None
    try:
        while True:
            message_ids = _claim_due(utcnow(), DRAIN_BATCH)
            if not message_ids:
                # While signatures keep coming, the same job takes them: a job costs more
                # than a message, and the SMTP connection stays open.
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= linger:
                    break
                time.sleep(DRAIN_POLL_SECONDS)
                continue
            idle_since = None
            now = utcnow()
            messages = db.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.id.in_(message_ids))
                .order_by(OutboxMessage.id)
            ).all()
            # The batch's signatures in one query: the senders find them in the session.
            signature_ids = {m.signature_id for m in messages if m.signature_id is not None}
            signers = db.session.scalars(
                select(Signature).where(Signature.id.in_(signature_ids))
            ).all()
            # And their petitions with their texts: each batch's commit expires them, so
            # each sender's session.get would load them again, message by message.
            petitions = db.session.scalars(
                select(Petition).where(Petition.id.in_({s.petition_id for s in signers}))
            ).all()
            done: dict[OutboxStatus, list[int]] = {OutboxStatus.SENT: [], OutboxStatus.SKIPPED: []}
            for outbox in messages:
                try:
                    status, error, retry_at = _send_claimed(outbox, connection, now)
                except Exception as crash:
                    # Settling the batch's sent messages matters more than this one: it
                    # stays claimed, and the flush takes it over after STALE_CLAIM, within
                    # its attempts. Only the type is logged: messages may quote addresses.
                    log.error("outbox message %s crashed: %s", outbox.id, type(crash).__name__)
                    connection.close()
                    continue
                if error is None and status in done:
                    done[status].append(outbox.id)
                else:
                    _settle([outbox.id], status, error, retry_at, commit=False)
            for status, ids in done.items():
                if ids:
                    _settle(ids, status, commit=False)
            db.session.commit()
            del signers, petitions
            attempted += len(message_ids)
            if len(message_ids) < DRAIN_BATCH:
                # Under load, signatures trickle in: claiming again at once would send them
                # one per batch, each paying a batch's five statements and two commits.
                time.sleep(DRAIN_POLL_SECONDS)
    finally:
        connection.close()
        db.session.rollback()
    return attempted


def deliver_soon(*message_ids: int) -> None:
    """Have outbox rows the caller has committed sent. In-process (no Redis), each one now;
    with Redis, by a drain job, which takes every due message: one is enqueued unless one
    is already waiting to start."""
    if not message_ids:
        return
    if not current_app.config["REDIS_URL"]:
        for message_id in message_ids:
            enqueue(deliver_outbox_message, message_id)
        return
    enqueue_coalesced(drain_outbox, DRAIN_JOB)


def undelivered_message_ids(now: datetime) -> list[int]:
    """Queued rows older than the grace period (or whose retry time has come), and rows
    whose sender died mid-send."""
    queued = OutboxMessage.status == OutboxStatus.QUEUED
    return list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(
                or_(
                    queued
                    & OutboxMessage.retry_at.is_(None)
                    & (OutboxMessage.created_at < now - FLUSH_GRACE),
                    queued & (OutboxMessage.retry_at <= now),
                    (OutboxMessage.status == OutboxStatus.SENDING)
                    & (OutboxMessage.claimed_at < now - STALE_CLAIM),
                )
            )
            .order_by(OutboxMessage.id)
        )
    )


def flush_outbox(now: datetime) -> int:
    """Enqueue every message that no job is taking care of; returns how many."""

    message_ids = undelivered_message_ids(now)
    for message_id in message_ids:
        enqueue(deliver_outbox_message, message_id)
    return len(message_ids)
