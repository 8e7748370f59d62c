"""Sending a mailing: jobs that claim deliveries one at a time and send them over one SMTP
connection, and the sweeper that takes over from dead workers or a flushed Redis.

A delivery goes queued -> sending (claimed: committed before the first SMTP byte) -> sent
(committed as soon as the server accepted the DATA), failed (permanent refusal, or too many
attempts), or back to queued with a later not_before (temporary failure). A delivery left
in sending by a dead worker is never sent again automatically: the sweeper marks it
unknown, and the organiser decides.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

import flask_mail
from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Update

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import enqueue, enqueue_at
from campaign.mail import claims
from campaign.mail.claims import RetrySchedule
from campaign.mail.transport import (
    AmbiguousDelivery,
    MailMessage,
    ReusableConnection,
    classify_mail_error,
)
from campaign.mailings.merge_fields import letter_context, petition_context, site_name
from campaign.mailings.models import (
    ACTIVE,
    DELIVERY_TRANSITIONS,
    OPEN_DELIVERIES,
    Delivery,
    DeliveryStatus,
    Mailing,
    MailingKind,
    MailingStatus,
)
from campaign.mailings.templates import TemplateProblem, one_line, render_letter, text_to_html
from campaign.officials.models import Official
from campaign.officials.services import mark_official_bouncing
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import external_url, make_token

log = logging.getLogger(__name__)

# Seconds between two looks at the mailing's status (pause, cancel) while sending.
STATUS_CHECK_INTERVAL = 1.0


class NothingToSend(Exception):
    """The recipient is gone (withdrawn, unsubscribed, erased): cancel the delivery."""


def is_address_bounce(error: Exception) -> bool:
    """Whether the server refused the recipient's address for good: 5xx at RCPT, or at
    DATA. A refusal of our sender (MAIL FROM) says nothing about the recipient."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPDataError):
        return 500 <= error.smtp_code < 600
    return False


def wake_senders(mailing_id: int, reason: str) -> None:
    """Enqueue the mailing's sending jobs, one per lane. Their ids are unique per reason,
    so a second click, or a second sweep while they wait, enqueues nothing more."""
    for lane in range(current_app.config["MAILING_LANES"]):
        enqueue(
            send_mailing_deliveries,
            mailing_id,
            lane,
            job_id=f"mailing-{mailing_id}-{reason}-{lane}",
        )


# ---------------------------------------------------------------------------------------
# Claiming and settling


@dataclass(frozen=True)
class Claim:
    """A delivery this job claimed: what it needs to send and settle it."""

    id: int
    mailing_id: int
    official_id: int | None
    signature_id: int | None
    subject: str | None
    body: str | None
    attempts: int
    token: str


@functools.cache
def _claim_statement() -> Update:
    """The claim of a mailing's next due delivery, built once per process: its parameters
    are of_mailing (the mailing's id: a column's name is reserved), now and token."""
    rows = Delivery.__table__.c
    candidate = (
        select(rows.id)
        .where(
            rows.mailing_id == bindparam("of_mailing"),
            rows.status == DeliveryStatus.QUEUED,
            rows.not_before <= bindparam("now", type_=rows.not_before.type),
        )
        # not_before alone: the index (mailing, status, not_before) then yields the first
        # row without sorting every queued one.
        .order_by(rows.not_before)
        .limit(1)
    )
    return claims.claim_statement(
        Delivery.__table__,
        candidate,
        {
            "status": DeliveryStatus.SENDING,
            "claim_token": bindparam("token", type_=rows.claim_token.type),
            "claimed_at": bindparam("now", type_=rows.claimed_at.type),
            "attempts": rows.attempts + 1,
        },
        [
            rows.id,
            rows.mailing_id,
            rows.official_id,
            rows.signature_id,
            rows.subject,
            rows.body,
            rows.attempts,
        ],
        machine=DELIVERY_TRANSITIONS,
        sources=[DeliveryStatus.QUEUED],
        one=True,
    )


def claim_next_delivery(mailing_id: int, now: datetime, token: str | None = None) -> Claim | None:
    """queued and due -> sending, for one delivery and one worker only, in one statement,
    under `token` (a new one if not given). Commits (with whatever the caller left pending,
    such as the previous delivery's outcome) before anything is sent, so the claim survives
    the worker."""
    token = token or uuid.uuid4().hex
    claimed = claims.claim_with(
        _claim_statement(), {"of_mailing": mailing_id, "now": now, "token": token}
    )
    return Claim(*claimed[0], token=token) if claimed else None


# The states of a claimed delivery: its worker's, or unknown (the sweeper gave up on it).
CLAIMED = frozenset({DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN})


@functools.cache
def _settle_statement(status: DeliveryStatus, names: tuple[str, ...]) -> Update:
    """The settle of one delivery to `status`, setting the columns `names`, built once per
    process (a job settles one delivery a letter, with a handful of outcomes). Only the
    claim's owner settles (parameter token); a row the sweeper marked unknown meanwhile
    still gets its true outcome."""
    table = Delivery.__table__
    return claims.settle_statement(
        table,
        status,
        table.c.claim_token == bindparam("token", type_=table.c.claim_token.type),
        machine=DELIVERY_TRANSITIONS,
        claimed=CLAIMED,
        **{name: bindparam(f"value_{name}", type_=table.c[name].type) for name in names},
    )


def _settle(
    delivery_id: int,
    token: str,
    commit: bool = True,
    *,
    status: DeliveryStatus,
    **values: object,
) -> None:
    statement = _settle_statement(status, tuple(sorted(values)))
    parameters = {f"value_{name}": value for name, value in values.items()}
    db.session.execute(statement, {"settled_id": delivery_id, "token": token, **parameters})
    if commit:
        db.session.commit()


def retry_schedule() -> RetrySchedule:
    """Exponential backoff from MAILING_RETRY_BASE, at most six hours between attempts,
    given up after MAILING_MAX_ATTEMPTS."""
    config = current_app.config
    return RetrySchedule.exponential(
        config["MAILING_RETRY_BASE"], timedelta(hours=6), config["MAILING_MAX_ATTEMPTS"]
    )


# ---------------------------------------------------------------------------------------
# Composing one message


def delivery_message_id(delivery_id: int, mailing_id: int, domain: str | None = None) -> str:
    """The Message-ID of a delivery (deterministic: a receiving server drops a duplicate;
    erasure finds the embedded outbox folder's file by it). `domain`: the platform's, when
    the caller worked it out already."""
    if domain is None:
        domain = _platform_address().rpartition("@")[2]
    return f"<delivery-{delivery_id}.{mailing_id}@{domain or 'localhost'}>"


def _platform_address() -> str:
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


def campaign_sender(sender_name: str) -> str | tuple[str, str]:
    """From of an organiser's mailing: "<campaign> via <site>" at the platform's own
    address (the domain that SPF, DKIM and DMARC vouch for); the platform's own From when
    the mailing names no sender. A (name, address) pair: Flask-Mail encodes the name once
    (RFC 2047); a name already encoded by formataddr() was encoded twice and arrived as
    "=?utf-8?q?...?=" in the reader's mail client."""
    name = one_line(sender_name)
    if not name:
        return current_app.config["MAIL_DEFAULT_SENDER"]
    return (f"{name} via {site_name()}", _platform_address())


@dataclass(frozen=True)
class MailingSnapshot:
    """What a sending job reads of its mailing and petition once, not at every message."""

    id: int
    kind: MailingKind
    subject_template: str
    body_template: str
    reply_to: str
    sender_name: str
    language: str
    base: dict
    # The From of its letters, and the domain of their Message-IDs: worked out once.
    sender: str | tuple[str, str] = ""
    message_domain: str = "localhost"

    @classmethod
    def of(cls, mailing: Mailing) -> MailingSnapshot:
        petition = db.session.get(Petition, mailing.petition_id)
        return cls(
            id=mailing.id,
            kind=mailing.kind,
            subject_template=mailing.subject_template,
            body_template=mailing.body_template,
            reply_to=mailing.reply_to,
            sender_name=mailing.sender_name,
            language=petition.language,
            base=petition_context(petition),
            sender=campaign_sender(mailing.sender_name),
            message_domain=_platform_address().rpartition("@")[2] or "localhost",
        )


# Officials read this many at a time, those of the deliveries due next, rather than one
# SELECT per letter (a round trip and an ORM load: about a tenth of a sending job's time).
OFFICIALS_AHEAD = 200


class OfficialsAhead:
    """The officials of a mailing's next deliveries, read OFFICIALS_AHEAD at a time as
    copies outside the session, which the commit after each letter does not expire.
    An official removed after being read (a second or so before their letter) still gets
    it, as one removed just after it left would have."""

    def __init__(self, mailing_id: int) -> None:
        self.mailing_id = mailing_id
        self.officials: dict[int, Official | None] = {}

    def get(self, official_id: int) -> Official | None:
        if official_id not in self.officials:
            rows = Delivery.__table__.c
            due_next = (
                select(rows.official_id)
                .where(rows.mailing_id == self.mailing_id, rows.status == DeliveryStatus.QUEUED)
                .order_by(rows.not_before)
                .limit(OFFICIALS_AHEAD)
            )
            table = Official.__table__
            found = db.session.execute(
                select(table).where(
                    (table.c.id == official_id) | table.c.id.in_(due_next.scalar_subquery())
                )
            ).mappings()
            # Copies outside the session (never flushed): the session's own instances,
            # which a caller may hold, stay as they are.
            self.officials = {row["id"]: Official(**row) for row in found}
            self.officials.setdefault(official_id, None)
        return self.officials[official_id]


def compose_message(
    delivery: Claim,
    mailing: MailingSnapshot,
    now: datetime,
    officials: OfficialsAhead | None = None,
) -> flask_mail.Message:
    """The email of one delivery. Raises NothingToSend, or TemplateProblem."""
    locale = mailing.language
    base = mailing.base
    headers: dict[str, str] = {}
    sender = mailing.sender or campaign_sender(mailing.sender_name)
    reply_to = mailing.reply_to or None
    if mailing.kind == MailingKind.UPDATE:
        signature = (
            db.session.get(Signature, delivery.signature_id) if delivery.signature_id else None
        )
        if (
            signature is None
            or signature.status != SignatureStatus.CONFIRMED
            or not signature.contact_ok
            or not signature.email_ciphertext
        ):
            raise NothingToSend
        letter = render_letter(
            mailing.subject_template,
            mailing.body_template,
            letter_context(base, locale, signature=signature),
        )
        recipient = decrypt_email(signature.email_ciphertext)
        unsubscribe = external_url(
            "mailings.unsubscribe", token=make_token("unsubscribe", signature, now)
        )
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        headers["Precedence"] = "bulk"
        subject, text, html = letter.subject, letter.text, letter.html
    else:
        official = None
        if delivery.official_id and officials is not None:
            official = officials.get(delivery.official_id)
        elif delivery.official_id:
            official = db.session.get(Official, delivery.official_id)
        if official is None:
            raise NothingToSend("recipient gone")
        recipient = official.email
        if mailing.kind == MailingKind.REPRESENTATIVES:
            supporter = (
                db.session.get(Signature, delivery.signature_id) if delivery.signature_id else None
            )
            if supporter is None or supporter.status != SignatureStatus.CONFIRMED:
                raise NothingToSend
            if not supporter.email_ciphertext:
                raise NothingToSend
            # The supporter's name in the display, the platform's address in From (never the
            # supporter's: it would fail DMARC), and their address for replies.
            name = one_line(f"{supporter.first_name} {supporter.last_name}")
            sender = (f"{name} (via {site_name()})", _platform_address())
            reply_to = decrypt_email(supporter.email_ciphertext)
            subject = one_line(delivery.subject or "")
            text = delivery.body or ""
            html = text_to_html(text)
        else:
            letter = render_letter(
                mailing.subject_template,
                mailing.body_template,
                letter_context(base, locale, official=official),
            )
            subject, text, html = letter.subject, letter.text, letter.html
    message = MailMessage(
        subject=subject,
        recipients=[recipient],
        body=text,
        html=str(html),
        sender=sender,
        reply_to=reply_to,
        extra_headers=headers,
    )
    message.msgId = delivery_message_id(delivery.id, delivery.mailing_id, mailing.message_domain)
    return message


# ---------------------------------------------------------------------------------------
# The sending job


def _mailing_status(mailing_id: int) -> MailingStatus | None:
    status = db.session.scalar(select(Mailing.status).where(Mailing.id == mailing_id))
    db.session.commit()
    return status


def _next_due(mailing_id: int) -> datetime | None:
    """When the next queued delivery of the mailing may leave."""
    next_due = db.session.scalar(
        select(func.min(Delivery.not_before)).where(
            Delivery.mailing_id == mailing_id, Delivery.status == DeliveryStatus.QUEUED
        )
    )
    db.session.commit()
    return next_due


@dataclass
class _Outcome:
    """What became of a claimed delivery, kept until it is committed."""

    delivery_id: int
    token: str
    values: dict[str, object]


def _outcome_of(claim: Claim, error: Exception, schedule: RetrySchedule) -> tuple[_Outcome, bool]:
    """The outcome of a send that raised, and whether the lane should pause (the server is
    not there: let the backoff run)."""
    delivery_id, token = claim.id, claim.token
    if isinstance(error, NothingToSend):
        values = {"status": DeliveryStatus.CANCELLED, "last_error": str(error) or "recipient gone"}
        return _Outcome(delivery_id, token, values), False
    if isinstance(error, TemplateProblem):
        # This recipient's data makes the letter fail (the sample checked at the start
        # rendered): this delivery fails, the others go on.
        detail = f"the template cannot be written out for this recipient: {error}"
        values = {"status": DeliveryStatus.FAILED, "last_error": detail[:300]}
        return _Outcome(delivery_id, token, values), False
    if isinstance(error, flask_mail.BadHeaderError):
        values = {"status": DeliveryStatus.FAILED, "last_error": str(error)[:300]}
        return _Outcome(delivery_id, token, values), False
    if isinstance(error, AmbiguousDelivery):
        # Sending again could make a second copy: the organiser decides.
        log.warning("delivery %s: outcome unknown (%s)", delivery_id, error)
        values = {
            "status": DeliveryStatus.UNKNOWN,
            "last_error": f"no answer after the message was handed over ({error})",
        }
        return _Outcome(delivery_id, token, values), False
    verdict = claims.failure(error, claim.attempts, schedule, utcnow())
    if verdict.retry_at is None:
        log.warning("delivery %s failed for good: %s", delivery_id, verdict.reason)
        values = {"status": DeliveryStatus.FAILED, "last_error": verdict.reason}
        return _Outcome(delivery_id, token, values), False
    log.info("delivery %s deferred: %s", delivery_id, verdict.reason)
    values = {
        "status": DeliveryStatus.QUEUED,
        "not_before": verdict.retry_at,
        "last_error": verdict.reason,
        "claim_token": None,
    }
    pause = isinstance(error, (smtplib.SMTPConnectError, ConnectionRefusedError))
    return _Outcome(delivery_id, token, values), pause


# A lost database connection (a failover, a restart, an administrator's kill): how long a
# sending job keeps trying to reconnect before it gives up to the sweeper.
RECONNECT_DELAYS = (0.1, 0.5, 1.0, 2.0, 4.0)


def _recover(outcome: _Outcome | None, unsent_token: str | None) -> None:
    """After a lost connection: record the outcome that was known but not committed, and
    put back in the queue a delivery claimed under `unsent_token` whose message never
    reached SMTP (its claim may or may not have been committed). Retries while the
    database is unreachable; raises if it stays so."""
    for delay in (*RECONNECT_DELAYS, None):
        db.session.rollback()
        try:
            if outcome is not None:
                _settle(outcome.delivery_id, outcome.token, commit=False, **outcome.values)
            if unsent_token is not None:
                rows = Delivery.__table__.c
                DELIVERY_TRANSITIONS.move(
                    db.session,
                    Delivery.__table__,
                    DeliveryStatus.SENDING,
                    DeliveryStatus.QUEUED,
                    rows.claim_token == unsent_token,
                    claim_token=None,
                    attempts=rows.attempts - 1,
                )
            db.session.commit()
            return
        except DBAPIError as error:
            if delay is None or not error.connection_invalidated:
                raise
            log.warning("database connection lost again; retrying in %s s", delay)
            time.sleep(delay)


def send_mailing_deliveries(mailing_id: int, lane: int) -> None:
    """Job: send the mailing's due deliveries, one claim at a time, over one connection,
    until none is due or the time budget is spent; then schedule the next run. Running
    it twice, or in several workers, sends each delivery once.

    Each outcome is committed with the next claim (one commit per message), and kept in
    memory until then: if the database connection is lost, the job reconnects, records
    it, puts back a claimed delivery that never reached SMTP, and goes on. Only a worker
    that dies outright leaves deliveries in sending, for the sweeper to mark unknown."""
    config = current_app.config
    deadline = time.monotonic() + config["MAILING_JOB_BUDGET"]
    schedule = retry_schedule()
    # In-process (no Redis) the job runs inside a web request: never nap there, hand over to
    # a timer instead.
    max_nap = config["MAILING_MAX_NAP"] if config["REDIS_URL"] else 0
    mailing = db.session.get(Mailing, mailing_id)
    if mailing is None:
        return
    snapshot = MailingSnapshot.of(mailing)
    db.session.commit()
    connection = ReusableConnection()
    officials = OfficialsAhead(mailing_id)
    pause_until: datetime | None = None
    # The last outcome not yet committed, and the token of a claim whose message has not
    # been handed to SMTP: what a lost connection would otherwise lose.
    pending: _Outcome | None = None
    unsent_token: str | None = None
    try:
        attempted = False
        checked_at = float("-inf")
        # At least one delivery per run, however small the budget.
        while not attempted or time.monotonic() < deadline:
            try:
                # Pause and cancel take effect within a second, without a query per message.
                if time.monotonic() - checked_at >= STATUS_CHECK_INTERVAL:
                    if _mailing_status(mailing_id) not in ACTIVE:
                        return
                    pending = None  # committed by the status check
                    checked_at = time.monotonic()
                now = utcnow()
                unsent_token = uuid.uuid4().hex
                claim = claim_next_delivery(mailing_id, now, unsent_token)
                pending = None  # committed with the claim
                if claim is None:
                    unsent_token = None
                    next_due = _next_due(mailing_id)
                    if next_due is None:
                        break
                    wait = (next_due - now).total_seconds()
                    if wait > max_nap or time.monotonic() + wait > deadline:
                        break
                    if wait > 5:
                        connection.close()
                    time.sleep(max(wait, 0.01))
                    continue
                attempted = True
                pause = False
                try:
                    message = compose_message(claim, snapshot, now, officials)
                    unsent_token = None  # from here on, the message may reach the server
                    connection.send(message)
                except (NothingToSend, TemplateProblem, flask_mail.BadHeaderError) as error:
                    unsent_token = None
                    pending, pause = _outcome_of(claim, error, schedule)
                except (AmbiguousDelivery, TimeoutError, smtplib.SMTPException, OSError) as error:
                    connection.close()
                    pending, pause = _outcome_of(claim, error, schedule)
                    if claim.official_id and is_address_bounce(error):
                        # Committed with the failure: later mailings skip the address.
                        reason = str(classify_mail_error(error))
                        mark_official_bouncing(claim.official_id, utcnow(), reason)
                else:
                    values = {
                        "status": DeliveryStatus.SENT,
                        "sent_at": utcnow(),
                        "last_error": None,
                    }
                    if claim.body is None:
                        # An organiser's letter is rendered for its recipient as it leaves:
                        # keep what they received.
                        values["subject"] = message.subject
                        values["body"] = message.body
                    pending = _Outcome(claim.id, claim.token, values)
                _settle(pending.delivery_id, pending.token, commit=False, **pending.values)
                if pending.values["status"] is not DeliveryStatus.SENT:
                    # Failures are rare: committed at once.
                    db.session.commit()
                    retry_at, pending = pending.values.get("not_before"), None
                    if pause:
                        pause_until = retry_at
                        break
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                log.warning(
                    "mailing %s: database connection lost (%s); reconnecting",
                    mailing_id,
                    type(error.orig).__name__,
                )
                _recover(pending, unsent_token)
                pending = unsent_token = None
    finally:
        try:
            db.session.commit()
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            _recover(pending, unsent_token)
        connection.close()
    _hand_over(mailing_id, lane, pause_until)


def _hand_over(mailing_id: int, lane: int, not_before: datetime | None) -> None:
    """Schedule this lane's next run at the next due delivery, or close the mailing."""
    if _mailing_status(mailing_id) not in ACTIVE:
        return
    next_due = _next_due(mailing_id)
    if next_due is None:
        finish_if_complete(mailing_id, utcnow())
        return
    when = max(filter(None, [next_due, not_before, utcnow()]))
    # The id is the time the next run starts, to the millisecond. This job still holds its
    # own id while it hands over, so the time must differ from the one it was started for:
    # with pacing off, every delivery is due at once, and an id built from the due time
    # alone was this job's own, which RQ refused as a duplicate: the lane stopped until the
    # sweep (issue 21). Two runs handed over for the same future time still make one job.
    stamp = int(when.timestamp() * 1000)
    enqueue_at(
        when,
        send_mailing_deliveries,
        mailing_id,
        lane,
        job_id=f"mailing-{mailing_id}-at-{stamp}-{lane}",
    )


# ---------------------------------------------------------------------------------------
# The sweeper


def mark_stale_deliveries_unknown(now: datetime) -> int:
    """Deliveries whose sender died mid-send: their outcome is unknown, never retried."""
    stale = now - timedelta(seconds=current_app.config["MAILING_STALE_AFTER"])
    count = DELIVERY_TRANSITIONS.move(
        db.session,
        Delivery,
        DeliveryStatus.SENDING,
        DeliveryStatus.UNKNOWN,
        Delivery.claimed_at < stale,
        last_error="the worker stopped during the send: it may or may not have left",
    )
    db.session.commit()
    return count


def stalled_mailings(now: datetime) -> list[int]:
    """Sending mailings with overdue deliveries and no claim for a while: their jobs were
    lost (worker killed, Redis flushed)."""
    stall = now - timedelta(seconds=current_app.config["MAILING_STALL_AFTER"])
    overdue = (
        select(Delivery.mailing_id)
        .join(Mailing, Mailing.id == Delivery.mailing_id)
        .where(
            Mailing.status.in_(ACTIVE),
            Delivery.status == DeliveryStatus.QUEUED,
            Delivery.not_before <= stall,
        )
        .distinct()
    )
    stalled = []
    for mailing_id in db.session.scalars(overdue).all():
        last_claim = db.session.scalar(
            select(func.max(Delivery.claimed_at)).where(Delivery.mailing_id == mailing_id)
        )
        if last_claim is None or last_claim < stall:
            stalled.append(mailing_id)
    return stalled


def finish_if_complete(mailing_id: int, now: datetime) -> bool:
    """A sending mailing with nothing left to send is done (supporters' mailings stay
    open for new letters)."""
    mailing = db.session.get(Mailing, mailing_id)
    if mailing is None or mailing.kind == MailingKind.REPRESENTATIVES:
        return False
    remaining = db.session.scalar(
        select(func.count(Delivery.id)).where(
            Delivery.mailing_id == mailing_id, Delivery.status.in_(OPEN_DELIVERIES)
        )
    )
    if remaining:
        return False
    done = Mailing.move(
        db.session,
        mailing_id,
        frozenset({MailingStatus.SENDING}),
        MailingStatus.DONE,
        finished_at=now,
    )
    db.session.commit()
    return done
