"""No timing oracle on "has this address signed?" in the sign form (issue 15.5): a new
address and one that signed before (pending, confirmed, or within the resend interval) run
the same SQL statements on the request's thread, and no mail is sent in the request, in the
embedded mode (in-process jobs) as with Redis. The email is decided in the transaction and
sent after the response; the outbox row is the record when SMTP is down.

Response times are noisy on a shared machine, so the tests assert what makes them equal;
`bench/rights_link_timing.py N sign` measures the two distributions and prints medians."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, OutboxStatus, flush_outbox
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature, SignatureStatus
from tests.conftest import free_port
from tests.factories import make_petition, make_signature
from tests.security.test_timing_oracle import statements_of_this_thread
from tests.support import csrf_token, settle_detached_jobs, sign_data

# Who signs, in order: a new address, a confirmed signer (a reminder is owed), a pending
# signer whose last link is old (the link again), the same one at once (over the resend
# interval: nothing), and another new address.
ATTEMPTS = [
    "new@example.fr",
    "confirmed@example.fr",
    "pending@example.fr",
    "pending@example.fr",
    "other.new@example.fr",
]


def existing_signers(petition) -> None:
    make_signature(petition, email="confirmed@example.fr", status=SignatureStatus.CONFIRMED)
    pending = make_signature(
        petition, email="pending@example.fr", status=SignatureStatus.PENDING, confirmed_at=None
    )
    db.session.execute(
        update(Signature)
        .where(Signature.id == pending.id)
        .values(confirmation_sends=1, last_confirmation_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()


def sign_each(client, petition, settle) -> list[list[str]]:
    """POST the sign form once per attempt; the statements each ran on this thread."""
    path = f"/p/{petition.slug}"
    token = csrf_token(client, path)
    client.post(f"{path}/sign", data=sign_data(csrf_token=token, email="warm-up@example.fr"))
    settle()
    work = []
    for address in ATTEMPTS:
        data = sign_data(csrf_token=token, email=address)
        with statements_of_this_thread() as statements:
            response = client.post(f"{path}/sign", data=data)
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"{path}/check-inbox")
        settle()
        work.append(statements)
    return work


def assert_same_work(work: list[list[str]]) -> None:
    first = work[0]
    for statements in work[1:]:
        assert statements == first
    assert sum(s.startswith("INSERT INTO outbox_messages") for s in first) == 1
    # The send (its claim of the row) never runs on the request's thread.
    assert not any(s.startswith("UPDATE outbox_messages") for s in first)


def confirmation_rows() -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Signature.email_digest, OutboxMessage.status)
        .join(Signature, Signature.id == OutboxMessage.signature_id)
        .where(OutboxMessage.kind == EmailKind.SIGNATURE_CONFIRMATION)
        .order_by(OutboxMessage.id)
    )
    return [str(status) for _, status in rows]


def test_signing_does_the_same_work_for_a_new_address_and_one_that_signed(site, browser, mailbox):
    petition = make_petition()
    existing_signers(petition)
    work = sign_each(browser, petition, lambda: settle_detached_jobs(site))
    assert_same_work(work)
    recipients = sorted(message["To"] for message in mailbox.wait_for(5))
    assert recipients == sorted(
        [
            "warm-up@example.fr",
            "new@example.fr",
            "confirmed@example.fr",
            "pending@example.fr",
            "other.new@example.fr",
        ]
    ), "one email each; the second attempt within the interval sends nothing"
    db.session.rollback()
    assert confirmation_rows() == ["sent"] * 4 + ["skipped", "sent"]
    # A confirmed signer got the reminder with the link to their data, not a new signature.
    assert db.session.scalar(select(Signature.id).where(Signature.email_digest.is_(None))) is None
    assert len(db.session.scalars(select(Signature.id)).all()) == 5


def test_with_redis_the_sign_post_enqueues_and_the_worker_sends(
    make_app, smtp_config, redis_url, queue_name, worker, mailbox
):
    app = make_app(**smtp_config, REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        existing_signers(petition)
        work = sign_each(app.test_client(), petition, lambda: None)
        assert_same_work(work)
        assert mailbox.messages == [], "nothing is sent before a worker runs"
        worker.run_burst()
        assert len(mailbox.wait_for(5)) == 5
        db.session.rollback()
        assert confirmation_rows() == ["sent"] * 4 + ["skipped", "sent"]
        db.session.remove()


def test_with_smtp_down_both_paths_are_accepted_and_the_flush_sends_later(
    make_app, smtp_config, mailbox
):
    down = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_SUPPRESS_SEND=False)
    with down.app_context():
        ensure_default_categories()
        petition = make_petition()
        existing_signers(petition)
        work = sign_each(down.test_client(), petition, lambda: settle_detached_jobs(down))
        assert_same_work(work)
        db.session.rollback()
        # Every signature accepted; what is owed waits in the outbox for its retry.
        assert len(db.session.scalars(select(Signature.id)).all()) == 5
        assert confirmation_rows() == ["queued"] * 4 + ["skipped", "queued"]
        db.session.execute(update(OutboxMessage).values(retry_at=utcnow()))
        db.session.commit()
    up = make_app(**smtp_config)
    with up.app_context():
        assert flush_outbox(utcnow()) == 5
        assert len(mailbox.wait_for(5)) == 5
        db.session.rollback()
        assert confirmation_rows() == ["sent"] * 4 + ["skipped", "sent"]
        assert not db.session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.QUEUED)
        ).all()
        db.session.remove()


def test_asking_again_from_the_check_your_inbox_page_sends_no_mail_in_the_request(
    site, browser, mailbox
):
    petition = make_petition()
    path = f"/p/{petition.slug}"
    token = csrf_token(browser, path)
    browser.post(f"{path}/sign", data=sign_data(csrf_token=token, email="alice@example.fr"))
    settle_detached_jobs(site)
    mailbox.wait_for(1)
    # The resend interval has passed: a second email is owed.
    db.session.execute(update(Signature).values(last_confirmation_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    resend = f"{path}/check-inbox/resend"
    token = csrf_token(browser, f"{path}/check-inbox")
    with statements_of_this_thread() as statements:
        assert browser.post(resend, data={"csrf_token": token}).status_code == 303
    assert any(s.startswith("INSERT INTO outbox_messages") for s in statements)
    assert not any(s.startswith("UPDATE outbox_messages") for s in statements)
    settle_detached_jobs(site)
    assert [m["To"] for m in mailbox.wait_for(2)] == ["alice@example.fr"] * 2
