"""Sending a mailing to officials against SMTP servers that misbehave in known ways.

Jobs run in-process here (no REDIS_URL); tests/mailings/test_workers.py runs them in real
RQ worker processes.
"""

import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaign.accounts.models import User
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mailings.jobs import send_mailing_deliveries
from campaign.mailings.models import Delivery, DeliveryStatus, Mailing, MailingKind, MailingStatus
from campaign.mailings.services import (
    MailingFields,
    create_mailing,
    mailing_progress,
    pause_mailing,
    recipient_set,
    resume_mailing,
    retry_failed,
    spread,
    start_mailing,
    sweep_mailings,
)
from campaign.mailings.templates import TemplateProblem
from campaign.officials.models import Official
from campaign.petitions.models import Petition
from campaign.petitions.services import ensure_default_categories
from tests.conftest import Mailbox
from tests.factories import make_official, make_petition, make_signature, make_user
from tests.test_emails import DropAtQuitController, ScriptedMailbox

SUBJECT = "Protégez nos données de santé, {{ official.name }}"
BODY = (
    "Madame, Monsieur {{ official.role }},\n\n"
    "{{ petition.confirmed }} personnes ont signé « {{ petition.title }} » : {{ petition.url }}\n"
)


@pytest.fixture
def mail_app(make_app):
    contexts = []

    def build(port, **overrides):
        settings = {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
            "MAIL_TIMEOUT": 1,
            "MAIL_SUPPRESS_SEND": False,
            "MAILING_RETRY_BASE": 0.05,
            "MAILING_MAX_NAP": 2,
            "MAIL_DEFAULT_SENDER": "Tribune <tribune@tribune.example>",
        }
        settings.update(overrides)
        app = make_app(**settings)
        context = app.app_context()
        context.push()
        contexts.append(context)
        ensure_default_categories()
        db.session.commit()
        return app

    yield build
    for context in contexts:
        db.session.remove()
        context.pop()


def letter(officials=3, **fields) -> tuple[Mailing, User]:
    """A draft letter to `officials` députés of Paris, by a fresh organiser."""
    petition = make_petition()
    make_signature(petition)
    for _ in range(officials):
        make_official()
    organiser = make_user(email="organisatrice@asso.example")
    values = {"name": "Lettre", "subject_template": SUBJECT, "body_template": BODY,
              "roles": ["depute"]}  # fmt: skip
    values.update(fields)
    mailing = create_mailing(
        petition, MailingKind.LETTER, MailingFields(**values), organiser, utcnow()
    )
    return mailing, organiser


def statuses(mailing_id: int) -> dict[str, int]:
    db.session.expire_all()
    return dict(
        db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.mailing_id == mailing_id)
            .group_by(Delivery.status)
        ).all()
    )


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_each_official_gets_one_letter_from_the_platform_with_reply_to_the_organiser(
    mail_app, smtp_with
):
    box = ScriptedMailbox()
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=3)

    assert start_mailing(mailing.id, organiser, utcnow())

    messages = box.wait_for(3)
    assert statuses(mailing.id) == {DeliveryStatus.SENT: 3}
    for message in messages:
        assert message["From"] == "Tribune <tribune@tribune.example>"
        assert message["Reply-To"] == "organisatrice@asso.example"
        assert message["Subject"].startswith("Protégez nos données de santé, Prénom")
        assert "1 personnes ont signé" in message.get_body(("plain",)).get_content()
    deliveries = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert sorted(m["Message-ID"] for m in messages) == sorted(
        f"<delivery-{d.id}.{mailing.id}@tribune.example>" for d in deliveries
    )
    assert db.session.get(Mailing, mailing.id).status == MailingStatus.DONE


def test_each_letter_is_stored_as_its_recipient_received_it(mail_app, smtp_with):
    box = ScriptedMailbox()
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=2)
    assert start_mailing(mailing.id, organiser, utcnow())
    messages = box.wait_for(2)
    wait_until(lambda: statuses(mailing.id) == {DeliveryStatus.SENT: 2})
    received = {message["Message-ID"]: message for message in messages}
    for delivery in db.session.scalars(select(Delivery)):
        message = received[f"<delivery-{delivery.id}.{mailing.id}@tribune.example>"]
        assert delivery.subject == message["Subject"]
        assert delivery.body == message.get_body(("plain",)).get_content()
    assert len({d.subject for d in db.session.scalars(select(Delivery))}) == 2


def test_unknown_merge_field_is_refused_before_anything_is_queued(mail_app, smtp_with):
    box = ScriptedMailbox()
    mail_app(smtp_with(box))
    mailing, organiser = letter(body_template="Bonjour {{ official.nme }}")

    with pytest.raises(TemplateProblem) as problem:
        start_mailing(mailing.id, organiser, utcnow())

    assert problem.value.part == "body" and "nme" in problem.value.detail
    assert db.session.get(Mailing, mailing.id).status == MailingStatus.DRAFT
    assert statuses(mailing.id) == {}
    assert box.messages == []


def test_a_second_start_runs_nothing_more(mail_app, smtp_with):
    box = ScriptedMailbox()
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=2)

    assert start_mailing(mailing.id, organiser, utcnow())
    assert not start_mailing(mailing.id, organiser, utcnow())

    box.wait_for(2)
    time.sleep(0.2)
    assert len(box.messages) == 2
    assert db.session.scalar(select(func.count(Delivery.id))) == 2


def test_line_breaks_in_the_subject_or_a_merge_value_add_no_header_and_no_recipient(
    mail_app, smtp_with
):
    box = ScriptedMailbox()
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=0, subject_template="Bonjour\r\nBcc: x@evil.example")
    make_official(last_name="Nom\r\nBcc: x@evil.example", email="depute@example.org")

    with pytest.raises(TemplateProblem):
        start_mailing(mailing.id, organiser, utcnow())

    mailing.subject_template = "Lettre à {{ official.name }}"
    db.session.commit()
    assert start_mailing(mailing.id, organiser, utcnow())

    [message] = box.wait_for(1)
    assert message["Bcc"] is None
    assert message["Subject"] == "Lettre à Prénom" + message["Subject"].split("Prénom")[1]
    assert "\n" not in message["Subject"]
    assert box.to("x@evil.example") == []
    assert len(box.to("depute@example.org")) == 1


def test_temporary_refusals_are_retried_with_backoff_and_delivered_once(mail_app, smtp_with):
    box = ScriptedMailbox(replies=["421 Try again later"] * 3)
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=1)

    start_mailing(mailing.id, organiser, utcnow())

    assert len(box.wait_for(1)) == 1
    wait_until(lambda: statuses(mailing.id) == {DeliveryStatus.SENT: 1})
    delivery = db.session.scalar(select(Delivery))
    assert delivery.attempts == 4
    assert box.attempts == 4


def test_permanent_refusal_is_recorded_not_retried_and_retry_failed_sends_it(mail_app, smtp_with):
    box = ScriptedMailbox(replies=["550 No such user here"])
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=1)

    start_mailing(mailing.id, organiser, utcnow())

    assert statuses(mailing.id) == {DeliveryStatus.FAILED: 1}
    delivery = db.session.scalar(select(Delivery))
    assert delivery.attempts == 1 and delivery.last_error.startswith("550")
    assert box.attempts == 1 and box.messages == []
    assert mailing_progress(db.session.get(Mailing, mailing.id), utcnow()).as_json()["failed"] == 1

    # The address now bounces (issue 17.7): later mailings skip it...
    official = db.session.get(Official, delivery.official_id)
    assert official.bouncing and official.bounce_reason.startswith("550")
    # ...but "retry failed" is the organiser's decision to try it again.
    assert retry_failed(mailing.id, organiser, utcnow()) == 1

    assert len(box.wait_for(1)) == 1
    assert statuses(mailing.id) == {DeliveryStatus.SENT: 1}


def test_a_refused_recipient_bounces_and_later_mailings_skip_it_and_say_so(mail_app, smtp_with):
    box = ScriptedMailbox(refused=frozenset({"gone@an.example"}))
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=2)
    gone = make_official(first_name="Ancien", last_name="Député", email="gone@an.example")
    start_mailing(mailing.id, organiser, utcnow())
    box.wait_for(2)
    wait_until(lambda: statuses(mailing.id) == {DeliveryStatus.SENT: 2, DeliveryStatus.FAILED: 1})
    db.session.expire_all()
    assert db.session.get(Official, gone.id).bouncing

    later = create_mailing(
        db.session.get(Petition, mailing.petition_id),
        MailingKind.LETTER,
        MailingFields(name="Relance", subject_template=SUBJECT, body_template=BODY,
                      roles=["depute"]),
        organiser,
        utcnow(),
    )  # fmt: skip
    recipients = recipient_set(later)
    assert recipients.count == 2 and recipients.bouncing == ["Ancien Député"]
    start_mailing(later.id, organiser, utcnow())
    box.wait_for(4)
    wait_until(lambda: statuses(later.id) == {DeliveryStatus.SENT: 2})
    assert gone.id not in set(
        db.session.scalars(select(Delivery.official_id).where(Delivery.mailing_id == later.id))
    )


def test_a_temporary_refusal_does_not_mark_the_address(mail_app, smtp_with):
    box = ScriptedMailbox(replies=["451 Try again later"])
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=1)
    start_mailing(mailing.id, organiser, utcnow())
    box.wait_for(1)
    wait_until(lambda: statuses(mailing.id) == {DeliveryStatus.SENT: 1})
    assert not db.session.scalar(select(Official)).bouncing


def test_connection_dropped_at_quit_after_data_counts_as_sent_once(mail_app, smtp_with):
    box = ScriptedMailbox()
    mail_app(smtp_with(box, DropAtQuitController))
    mailing, organiser = letter(officials=3)

    start_mailing(mailing.id, organiser, utcnow())

    assert len(box.wait_for(3)) == 3
    assert statuses(mailing.id) == {DeliveryStatus.SENT: 3}
    time.sleep(0.2)
    assert len(box.messages) == 3


def test_one_connection_carries_every_message_of_a_job(mail_app, smtp_with):
    class CountingMailbox(ScriptedMailbox):
        connections = 0

        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            CountingMailbox.connections += 1
            session.host_name = hostname
            return responses

    box = CountingMailbox()
    mail_app(smtp_with(box))
    mailing, organiser = letter(officials=5)

    start_mailing(mailing.id, organiser, utcnow())

    assert len(box.wait_for(5)) == 5
    assert CountingMailbox.connections == 1


def test_server_that_never_answers_fails_within_the_timeout_and_sends_nothing_twice(mail_app):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    # The retry is a minute away: with the tests' 50 ms backoff, its timer claimed the row
    # again (status "sending") before this test could look, on a slow machine.
    mail_app(silent.getsockname()[1], MAILING_JOB_BUDGET=2, MAILING_RETRY_BASE=60)
    mailing, organiser = letter(officials=1)

    started = time.monotonic()
    start_mailing(mailing.id, organiser, utcnow())
    elapsed = time.monotonic() - started
    silent.close()

    assert elapsed < 8, f"the send hung for {elapsed:.1f}s with a 1s timeout"
    delivery = db.session.scalar(select(Delivery))
    # Nothing was handed over: safe to try again later.
    assert delivery.status == DeliveryStatus.QUEUED and delivery.attempts >= 1
    assert delivery.not_before > utcnow() + timedelta(seconds=50)


class StallAtVerdict(ScriptedMailbox):
    """Takes the message, then waits past the client's timeout before answering."""

    async def handle_DATA(self, server, session, envelope):
        import asyncio

        self.attempts += 1
        await Mailbox.handle_DATA(self, server, session, envelope)
        await asyncio.sleep(2)
        return "250 OK"


def test_a_stall_after_the_message_was_handed_over_is_unknown_and_never_resent(mail_app, smtp_with):
    box = StallAtVerdict()
    mail_app(smtp_with(box), MAILING_JOB_BUDGET=3)
    mailing, organiser = letter(officials=1)

    start_mailing(mailing.id, organiser, utcnow())

    # The server did keep it: a retry would have been a second copy.
    assert len(box.wait_for(1)) == 1
    assert statuses(mailing.id) == {DeliveryStatus.UNKNOWN: 1}
    sweep_mailings(utcnow())
    time.sleep(2.5)
    assert len(box.messages) == 1 and box.attempts == 1


def test_a_paused_mailing_sends_nothing_and_resume_sends_the_rest_once(mail_app, smtp_with):
    box = ScriptedMailbox()
    app = mail_app(smtp_with(box))
    # Started with no sending job yet, so that the pause lands before any letter.
    app.config["MAILING_LANES"] = 0
    mailing, organiser = letter(officials=4, per_minute=600)
    mailing_id = mailing.id
    assert start_mailing(mailing_id, organiser, utcnow())

    assert pause_mailing(mailing_id, organiser, utcnow())
    send_mailing_deliveries(mailing_id, 0)

    assert box.messages == []
    assert statuses(mailing_id) == {DeliveryStatus.QUEUED: 4}

    app.config["MAILING_LANES"] = 2
    assert resume_mailing(mailing_id, organiser, utcnow())
    wait_until(lambda: statuses(mailing_id) == {DeliveryStatus.SENT: 4}, timeout=15)
    assert sorted(len(box.to(m["To"])) for m in box.messages) == [1, 1, 1, 1]


def test_pace_spreads_messages_evenly_and_caps_each_domain():
    start = utcnow()

    paced = spread(["a.fr"] * 4, start, per_minute=30, domain_cap_per_hour=0)
    capped = spread(["a.fr", "b.fr", "a.fr", "b.fr"], start, per_minute=0, domain_cap_per_hour=60)

    assert [(t - start).total_seconds() for t in paced] == [0, 2, 4, 6]
    assert [(t - start).total_seconds() for t in capped] == [0, 0, 60, 60]
