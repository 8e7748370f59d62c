"""The outbox: every email the platform owes someone, and the jobs that send them.

A service writes an OutboxMessage in the same transaction as the change that calls for the
email, commits, then calls deliver_soon(id): in-process, the message is sent at once; with
Redis, a drain job sends it with every other due message. If Redis or SMTP is down, the row
stays queued and flush_outbox() picks it up later: an accepted signature never loses its mail.

What each kind of email says is its domain's business: each domain registers a sender per
kind (register_senders(), called by create_app), which renders and sends one message.
"""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from email.utils import parseaddr
from enum import StrEnum

import flask_mail
from flask import current_app
from sqlalchemy import ForeignKey, Select, String, insert, literal, null, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import enqueue, enqueue_coalesced, enqueue_detached, job_started
from campaign.mail.claims import RetrySchedule, claim, failure, settle
from campaign.mail.transport import (
    AmbiguousDelivery,
    MailConnection,
    MailMessage,
    ReusableConnection,
)

log = logging.getLogger(__name__)

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
RETRY = RetrySchedule.table(RETRY_DELAYS)


class EmailKind(StrEnum):
    SIGNATURE_CONFIRMATION = "signature_confirmation"
    GOAL_MILESTONE = "goal_milestone"
    RIGHTS_LINK = "rights_link"
    PUBLICATION_RECEIPT = "publication_receipt"
    PROFESSIONAL_ADDRESS = "professional_address"
    VERIFICATION_REJECTED = "verification_rejected"
    MAILING_TEST = "mailing_test"
    OBJECTION_REMINDER = "objection_reminder"
    OBJECTION_SENT_LINKS = "objection_sent_links"
    LETTER_COPY = "letter_copy"
    REPLY_TO_CONFIRMATION = "reply_to_confirmation"


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
        return outbox_message_id(self.id, self.kind)


def outbox_message_id(outbox_id: int, kind: str) -> str:
    """The Message-ID of the outbox row `outbox_id` of this kind (OutboxMessage.message_id)."""
    domain = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].rpartition("@")[2]
    return f"<outbox-{outbox_id}.{kind}@{domain or 'localhost'}>"


# A sender renders and sends one message of its kind over the connection; False when there
# is nothing to send any more (the signer withdrew, the account is gone...).
Sender = Callable[["OutboxMessage", MailConnection], bool]
# A batch loader loads, in a few queries, what a drain batch's senders will read, and
# returns it: the drain holds it until the batch is settled, so that each sender's
# session.get() finds it in the session instead of querying once per message.
BatchLoader = Callable[[Sequence["OutboxMessage"]], list[object]]

SENDERS: dict[EmailKind, Sender] = {}
BATCH_LOADERS: list[BatchLoader] = []


def register_senders(
    senders: Mapping[EmailKind, Sender], batch_loader: BatchLoader | None = None
) -> None:
    """Declare a domain's senders (and what loads a batch of its messages at once)."""
    SENDERS.update(senders)
    if batch_loader is not None and batch_loader not in BATCH_LOADERS:
        BATCH_LOADERS.append(batch_loader)


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


_OUTBOX = OutboxMessage.__table__
# Core statements on the table, compiled once: the sign path writes one row per signature.
_INSERT_ROWS = insert(_OUTBOX).returning(_OUTBOX.c.id, sort_by_parameter_order=True)


def write(
    kind: EmailKind,
    now: datetime,
    *,
    signature_id: int | Iterable[int] | Select | None = None,
    user_id: int | None = None,
    petition_id: int | None = None,
    detail: str | None = None,
    status: OutboxStatus = OutboxStatus.QUEUED,
) -> list[int]:
    """Add outbox rows of one kind to the current transaction and return their ids: the
    caller commits, then calls deliver_soon(*ids). The one way to write an outbox row.
    A row written `skipped` records an email the limits withheld (the sign path writes one
    either way, so that its statements do not tell whether an address signed before).

    `signature_id` says how many: an id or None, one row; ids, one row per id (in their
    order); a SELECT of ids, one row per id it yields, inserted by the database itself
    (INSERT ... SELECT: no round trip per row). The other fields are the same for every row.

    Rows are written with Core statements, not ORM objects: what they point to (the
    signature, the petition...) must already be flushed."""
    fields = {"user_id": user_id, "petition_id": petition_id, "detail": detail}
    if isinstance(signature_id, Select):
        # The same SELECT (its joins, filters and order), with the row's other columns.
        rows = signature_id.add_columns(
            literal(kind.value),
            literal(status.value),
            literal(0),
            literal(now),
            *(null() if value is None else literal(value) for value in fields.values()),
        )
        columns = ["signature_id", "kind", "status", "attempts", "created_at", *fields]
        statement = insert(_OUTBOX).from_select(columns, rows).returning(_OUTBOX.c.id)
        return list(db.session.scalars(statement))
    values = {"kind": kind, "status": status, "created_at": now, **fields}
    if signature_id is None or isinstance(signature_id, int):
        row = {**values, "signature_id": signature_id}
        return [db.session.execute(_INSERT_ROWS, row).scalar_one()]
    params = [{**values, "signature_id": one} for one in signature_id]
    if not params:
        return []
    return list(db.session.scalars(_INSERT_ROWS, params))


def _claiming(now: datetime) -> dict[str, object]:
    return {
        "status": OutboxStatus.SENDING,
        "claimed_at": now,
        "attempts": _OUTBOX.c.attempts + 1,
    }


def _claim(message_id: int, now: datetime) -> bool:
    """queued (or stale sending) -> sending, by one worker only."""
    candidates = select(_OUTBOX.c.id).where(
        _OUTBOX.c.id == message_id,
        or_(
            _OUTBOX.c.status == OutboxStatus.QUEUED,
            (_OUTBOX.c.status == OutboxStatus.SENDING) & (_OUTBOX.c.claimed_at < now - STALE_CLAIM),
        ),
    )
    claimed = claim(_OUTBOX, candidates, _claiming(now), [_OUTBOX.c.id], wait=True, one=True)
    return len(claimed) == 1


def _claim_due(now: datetime, limit: int) -> list[int]:
    """Up to `limit` due queued messages -> sending, in one statement; on PostgreSQL,
    concurrent drains skip each other's rows instead of waiting for them."""
    due = (
        select(_OUTBOX.c.id)
        .where(
            _OUTBOX.c.status == OutboxStatus.QUEUED,
            or_(_OUTBOX.c.retry_at.is_(None), _OUTBOX.c.retry_at <= now),
        )
        .order_by(_OUTBOX.c.id)
        .limit(limit)
    )
    return sorted(row.id for row in claim(_OUTBOX, due, _claiming(now), [_OUTBOX.c.id]))


def _settle(
    message_ids: list[int],
    status: OutboxStatus,
    error: str | None = None,
    retry_at: datetime | None = None,
    *,
    commit: bool = True,
) -> None:
    """Record the outcome of these messages (one statement for all of them)."""
    values: dict[str, object] = {"last_error": error, "retry_at": retry_at}
    if status is OutboxStatus.SENT:
        values["sent_at"] = utcnow()
    settle(_OUTBOX, message_ids, status, commit=commit, **values)


Outcome = tuple[OutboxStatus, str | None, datetime | None]  # status, error, retry time


def _send_claimed(outbox: OutboxMessage, connection: ReusableConnection, now: datetime) -> Outcome:
    """Send a message this worker has claimed; what became of it, for _settle()."""
    attempts = outbox.attempts
    if attempts > RETRY.max_attempts + 1:
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
        verdict = failure(error, attempts, RETRY, now)
        if verdict.retry_at is None:
            log.warning("outbox message %s failed for good: %s", outbox.id, verdict.reason)
            return OutboxStatus.FAILED, verdict.reason, None
        log.warning("outbox message %s deferred: %s", outbox.id, verdict.reason)
        return OutboxStatus.QUEUED, verdict.reason, verdict.retry_at
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
            # What the senders will read, in a few queries: each batch's commit expires it.
            loaded = [thing for load in BATCH_LOADERS for thing in load(messages)]
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
            del loaded
            attempted += len(message_ids)
            if len(message_ids) < DRAIN_BATCH:
                # Under load, signatures trickle in: claiming again at once would send them
                # one per batch, each paying a batch's five statements and two commits.
                time.sleep(DRAIN_POLL_SECONDS)
    finally:
        connection.close()
        db.session.rollback()
    return attempted


def deliver_soon(*message_ids: int, detached: bool = False) -> None:
    """Have outbox rows the caller has committed sent. In-process (no Redis), each one now
    (`detached`: on a thread of its own, so that the response does not wait for it); with
    Redis, by a drain job, which takes every due message: one is enqueued unless one is
    already waiting to start."""
    if not message_ids:
        return
    if not current_app.config["REDIS_URL"]:
        for message_id in message_ids:
            if detached:
                enqueue_detached(deliver_outbox_message, message_id)
            else:
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
