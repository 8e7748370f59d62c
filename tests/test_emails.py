"""Delivery of outbox messages against SMTP servers that misbehave in known ways."""

import email
import email.policy
import socket
import threading
import time
from datetime import timedelta
from email.header import decode_header, make_header
from email.utils import parseaddr

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from cryptography.fernet import Fernet
from flask import current_app
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import job_queue
from campaign.mail.outbox import (
    DRAIN_BATCH,
    RETRY_DELAYS,
    OutboxMessage,
    OutboxStatus,
    deliver_outbox_message,
    drain_outbox,
    flush_outbox,
)
from campaign.mail.transport import MailMessage
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature
from campaign.signatures.services import SignatureRequest, sign_petition
from tests.conftest import Mailbox, free_port
from tests.factories import make_petition
from tests.support import settle_detached_jobs


class ScriptedMailbox(Mailbox):
    """A mailbox that answers DATA with scripted replies first, then accepts."""

    def __init__(
        self,
        replies: list[str] | None = None,
        rcpt_reply: str | None = None,
        refused: frozenset[str] = frozenset(),
    ):
        super().__init__()
        self.replies = list(replies or [])
        self.rcpt_reply = rcpt_reply
        self.refused = refused
        self.attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        if address in self.refused:
            return f"550 5.1.1 <{address}>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        return await super().handle_DATA(server, session, envelope)


class DropAtQuit(SMTP):
    """Accepts the message, then hangs up on QUIT without answering."""

    async def smtp_QUIT(self, arg):
        self.transport.close()


class DropAtQuitController(Controller):
    def factory(self):
        return DropAtQuit(self.handler)


@pytest.fixture
def mail_app(make_app):
    def build(port, **overrides):
        app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=2,
                       MAIL_SUPPRESS_SEND=False, **overrides)  # fmt: skip
        context = app.app_context()
        context.push()
        ensure_default_categories()
        db.session.commit()
        contexts.append(context)
        return app

    contexts = []
    yield build
    for context in contexts:
        db.session.remove()
        context.pop()


def sign_once(email="alice@example.fr", petition=None) -> int:
    """Sign: without Redis, the delivery is attempted at once, off the request's thread
    (waited for here); with Redis, a drain job is enqueued. The outbox row id."""
    petition = petition or make_petition()
    request = SignatureRequest(first_name="Alice", last_name="Martin", email=email,
                               category_key="citizen", show_name=True)  # fmt: skip
    sign_petition(petition, request, utcnow())
    settle_detached_jobs(current_app)
    db.session.rollback()
    return db.session.scalar(select(func.max(OutboxMessage.id)))


@pytest.fixture
def drain_mailbox(mail_app, smtp_with, redis_url, queue_name):
    """An SMTP server (scripted as asked), and the app with Redis: signatures wait for
    drain_outbox()."""

    def build(**script) -> ScriptedMailbox:
        box = ScriptedMailbox(**script)
        mail_app(smtp_with(box), REDIS_URL=redis_url, RQ_QUEUE=queue_name)
        return box

    return build


def sign_all(*addresses: str) -> list[int]:
    """Sign one petition with each address; their outbox row ids."""
    petition = make_petition()
    return [sign_once(address, petition) for address in addresses]


def outbox(message_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message_id)


def test_message_is_sent_with_text_html_and_a_deterministic_message_id(mail_app, smtp_with):
    box = ScriptedMailbox()
    mail_app(smtp_with(box))
    message_id = sign_once()
    [message] = box.wait_for(1)
    assert message["Message-ID"] == f"<outbox-{message_id}.signature_confirmation@localhost>"
    assert message.get_body(preferencelist=("plain",)) and message.get_body(("html",))
    assert message["From"] == "Tribune <tribune@localhost>"
    assert outbox(message_id).status == OutboxStatus.SENT


@pytest.mark.parametrize(
    "subject",
    [
        "Confirmez votre signature : « Pour des données de santé souveraines »",
        "Confirmez votre signature : " + ", ".join(["données de santé souveraines"] * 6),
        " ".join(["Confirm your signature: sovereign health data"] * 3),
    ],
)
def test_headers_read_back_as_written(app, subject):
    """compat32 serialisation: a reader decoding the headers as RFC 2047 says gets the
    subject and names as written, with no leading space from a fold, and no line is longer
    than SMTP allows."""
    sender = "Association pour la défense des données de santé des Français (via Tribune)"
    with app.test_request_context():
        message = MailMessage(
            subject=subject,
            recipients=["elu@assemblee.example"],
            body="Bonjour,\nÀ bientôt.",
            html="<p>Bonjour,</p>",
            sender=(sender, "tribune@tribune.example"),
            reply_to=("Organisatrice Éloïse", "organisatrice@asso.example"),
        )
        raw = message.as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == subject

    def decoded(name: str) -> str:
        # As mail clients read them: whitespace between two encoded words is not text.
        folded = email.message_from_bytes(raw)[name]
        return str(make_header(decode_header(folded.replace("\r\n", ""))))

    assert decoded("Subject") == subject
    assert parseaddr(decoded("From")) == (sender, "tribune@tribune.example")
    assert parseaddr(decoded("Reply-To")) == ("Organisatrice Éloïse", "organisatrice@asso.example")
    assert parsed.get_body(("plain",)).get_content() == "Bonjour,\nÀ bientôt."


def test_delivering_twice_sends_once(mail_app, smtp_with):
    box = ScriptedMailbox()
    mail_app(smtp_with(box))
    message_id = sign_once()
    deliver_outbox_message(message_id)
    deliver_outbox_message(message_id)
    assert len(box.wait_for(1)) == 1
    time.sleep(0.2)
    assert len(box.messages) == 1


def test_temporary_refusals_are_retried_on_schedule_until_delivered_once(mail_app, smtp_with):
    box = ScriptedMailbox(replies=["421 Try again later"] * 3)
    mail_app(smtp_with(box))
    started = utcnow()
    message_id = sign_once()  # first attempt: 421
    row = outbox(message_id)
    assert row.status == OutboxStatus.QUEUED and "421" in row.last_error
    assert row.retry_at >= started + timedelta(minutes=1)
    assert flush_outbox(started + timedelta(seconds=50)) == 0, "not before its retry time"
    moment = started
    for _ in range(3):  # two more refusals, then accepted
        moment = outbox(message_id).retry_at + timedelta(seconds=1)
        assert flush_outbox(moment) == 1
    assert len(box.wait_for(1)) == 1
    row = outbox(message_id)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 4)
    assert flush_outbox(moment + timedelta(days=1)) == 0
    assert len(box.messages) == 1


def test_retries_stop_after_the_last_delay(mail_app, smtp_with):
    box = ScriptedMailbox(replies=["451 Local error"] * 50)
    mail_app(smtp_with(box))
    message_id = sign_once()
    for _ in range(20):
        row = outbox(message_id)
        if row.status != OutboxStatus.QUEUED:
            break
        flush_outbox(row.retry_at + timedelta(seconds=1))
    row = outbox(message_id)
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == len(RETRY_DELAYS) + 1 == box.attempts
    assert box.messages == []


def test_smtp_replies_quoting_the_address_are_not_logged_or_stored(mail_app, smtp_with, caplog):
    box = ScriptedMailbox(replies=["450 <alice@example.fr>: greylisted, try again"])
    mail_app(smtp_with(box))
    caplog.set_level("DEBUG")
    message_id = sign_once("alice@example.fr")
    row = outbox(message_id)
    assert row.status == OutboxStatus.QUEUED and "greylisted" in row.last_error
    assert "alice" not in row.last_error and "alice" not in caplog.text.lower()


def test_permanent_refusal_is_recorded_and_not_retried(mail_app, smtp_with):
    box = ScriptedMailbox(rcpt_reply="550 No such user here")
    mail_app(smtp_with(box))
    message_id = sign_once()
    row = outbox(message_id)
    assert row.status == OutboxStatus.FAILED and "550" in row.last_error
    deliver_outbox_message(message_id)
    assert flush_outbox(utcnow() + timedelta(hours=1)) == 0
    assert outbox(message_id).attempts == 1


def test_connection_dropped_at_quit_after_data_counts_as_sent(mail_app, smtp_with):
    box = ScriptedMailbox()
    mail_app(smtp_with(box, DropAtQuitController))
    message_id = sign_once()
    assert len(box.wait_for(1)) == 1
    assert outbox(message_id).status == OutboxStatus.SENT
    assert flush_outbox(utcnow() + timedelta(hours=1)) == 0


def test_server_that_never_answers_fails_within_the_timeout(mail_app):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    mail_app(silent.getsockname()[1])
    started = time.monotonic()
    message_id = sign_once()
    elapsed = time.monotonic() - started
    silent.close()
    assert elapsed < 6, f"delivery hung for {elapsed:.1f}s with a 2s timeout"
    assert outbox(message_id).status == OutboxStatus.QUEUED


def test_mail_server_down_keeps_the_signature_and_the_flush_sends_it_later(
    mail_app, smtp_with, make_app
):
    closed = free_port()
    mail_app(closed)
    message_id = sign_once()
    assert outbox(message_id).status == OutboxStatus.QUEUED
    assert flush_outbox(utcnow()) == 0, "fresh rows are left to their own job"
    box = ScriptedMailbox()
    port = smtp_with(box)
    from flask import current_app

    current_app.config["MAIL_PORT"] = port
    current_app.extensions["mail"].port = port
    assert flush_outbox(utcnow() + timedelta(minutes=1)) == 1
    assert len(box.wait_for(1)) == 1
    assert outbox(message_id).status == OutboxStatus.SENT


def test_stale_claim_of_a_dead_worker_is_taken_over(mail_app, smtp_with):
    box = ScriptedMailbox()
    mail_app(smtp_with(box))
    message_id = sign_once()
    box.wait_for(1)
    row = outbox(message_id)
    # As if a worker claimed it and died before sending.
    row.status, row.claimed_at = OutboxStatus.SENDING, utcnow() - timedelta(minutes=11)
    db.session.commit()
    assert flush_outbox(utcnow()) == 1
    assert outbox(message_id).status == OutboxStatus.SENT


@pytest.mark.redis
def test_drain_sends_every_due_message_in_batches_over_one_connection(
    mail_app, smtp_with, redis_url, queue_name
):
    box = ScriptedMailbox()
    mail_app(smtp_with(box), REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    petition = make_petition()
    count = DRAIN_BATCH + 5
    ids = [sign_once(f"signer{n}@example.fr", petition) for n in range(count)]
    assert job_queue().count == 1, "the requests enqueued one drain job between them"
    assert box.messages == [] and {outbox(i).status for i in ids} == {OutboxStatus.QUEUED}

    assert drain_outbox() == count
    assert len(box.wait_for(count)) == count
    assert box.connections == 1
    assert sorted(m["To"] for m in box.messages) == sorted(
        f"signer{n}@example.fr" for n in range(count)
    )
    assert {outbox(i).status for i in ids} == {OutboxStatus.SENT}
    assert all(outbox(i).sent_at is not None for i in ids)
    assert drain_outbox() == 0, "a second drain finds nothing to send"
    assert len(box.messages) == count


@pytest.mark.redis
def test_drain_records_each_refusal_and_delivers_the_rest(drain_mailbox):
    box = drain_mailbox(refused=frozenset({"bob@example.fr"}))
    alice, bob, carol = sign_all("alice@example.fr", "bob@example.fr", "carol@example.fr")
    assert drain_outbox() == 3
    assert {m["To"] for m in box.wait_for(2)} == {"alice@example.fr", "carol@example.fr"}
    assert outbox(alice).status == outbox(carol).status == OutboxStatus.SENT
    refused = outbox(bob)
    assert refused.status == OutboxStatus.FAILED and refused.sent_at is None
    assert refused.last_error.startswith("recipient refused [550]")
    assert "bob" not in refused.last_error


@pytest.mark.redis
def test_drain_fails_an_unsendable_address_and_delivers_the_rest_once(drain_mailbox):
    box = drain_mailbox()
    # Stored before the forms refused accented mailbox names: it cannot be written in a
    # message without SMTPUTF8.
    alice, jose, carol = sign_all("alice@example.fr", "josé@exemple.fr", "carol@exémple.fr")
    assert drain_outbox() == 3
    received = box.wait_for(2)
    assert sorted(m["To"] for m in received) == ["alice@example.fr", "carol@xn--exmple-cva.fr"]
    assert outbox(alice).status == outbox(carol).status == OutboxStatus.SENT
    unsendable = outbox(jose)
    assert unsendable.status == OutboxStatus.FAILED
    assert unsendable.last_error == "cannot be sent: UnicodeEncodeError"
    assert flush_outbox(utcnow() + timedelta(hours=1)) == 0
    assert len(box.messages) == 2


@pytest.mark.redis
def test_a_message_that_crashes_costs_the_rest_of_its_batch_nothing(drain_mailbox):
    box = drain_mailbox()
    alice, broken, carol = sign_all("alice@example.fr", "broken@example.fr", "carol@example.fr")
    # An address encrypted under another key: decrypting it raises, as a bug would.
    signature = db.session.get(Signature, outbox(broken).signature_id)
    signature.email_ciphertext = Fernet(Fernet.generate_key()).encrypt(b"broken@example.fr")
    db.session.commit()

    assert drain_outbox() == 3
    assert sorted(m["To"] for m in box.wait_for(2)) == ["alice@example.fr", "carol@example.fr"]
    assert outbox(alice).status == outbox(carol).status == OutboxStatus.SENT
    assert outbox(broken).status == OutboxStatus.SENDING, "left to the stale-claim takeover"
    # The takeover after STALE_CLAIM picks it alone: the others are never sent again.
    assert flush_outbox(utcnow() + timedelta(minutes=11)) == 1


@pytest.mark.redis
def test_drain_leaves_messages_to_retry_when_the_server_is_down(mail_app, redis_url, queue_name):
    mail_app(free_port(), REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    petition = make_petition()
    ids = [sign_once(f"signer{n}@example.fr", petition) for n in range(3)]
    assert drain_outbox() == 3
    rows = [outbox(i) for i in ids]
    assert {row.status for row in rows} == {OutboxStatus.QUEUED}
    assert all(row.retry_at is not None and row.attempts == 1 for row in rows)
    assert drain_outbox() == 0, "not due again before their retry time"
