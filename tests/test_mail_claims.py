"""The outbox's one write, and the claim/settle/retry engine shared by the outbox's drain
and the mailings' sending jobs (campaign/mail/claims.py)."""

import smtplib
import threading
from datetime import datetime, timedelta

from sqlalchemy import select

from campaign.extensions import db
from campaign.mail.claims import RetrySchedule, claim, failure, settle
from campaign.mail.outbox import (
    RETRY,
    RETRY_DELAYS,
    EmailKind,
    OutboxMessage,
    OutboxStatus,
    _claim,
    _claim_due,
    write,
)
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature
from tests.factories import make_petition, make_signature

OUTBOX = OutboxMessage.__table__
NOW = datetime(2026, 12, 1, 12, 0)


def _rows(ids):
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
    ).all()


def test_write_one_row_many_rows_or_a_select_of_signatures(app):
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        signatures = [make_signature(petition) for _ in range(3)]
        ids = [signature.id for signature in signatures]

        [one] = write(EmailKind.GOAL_MILESTONE, NOW, petition_id=petition.id, detail="50")
        many = write(EmailKind.SIGNATURE_CONFIRMATION, NOW, signature_id=list(reversed(ids)))
        chosen = select(Signature.id).where(Signature.id != ids[1]).order_by(Signature.id)
        selected = write(
            EmailKind.PUBLICATION_RECEIPT,
            NOW,
            signature_id=chosen,
            petition_id=petition.id,
            detail="publication 1",
        )
        assert write(EmailKind.OBJECTION_REMINDER, NOW, signature_id=[]) == []
        db.session.commit()

        [milestone] = _rows([one])
        assert (milestone.kind, milestone.petition_id, milestone.detail) == (
            EmailKind.GOAL_MILESTONE,
            petition.id,
            "50",
        )
        assert (milestone.status, milestone.attempts, milestone.created_at) == (
            OutboxStatus.QUEUED,
            0,
            NOW,
        )
        assert milestone.signature_id is None
        # One row per id, the ids returned in the order given.
        by_id = {row.id: row.signature_id for row in _rows(many)}
        assert [by_id[outbox_id] for outbox_id in many] == list(reversed(ids))
        receipts = _rows(selected)
        assert [row.signature_id for row in receipts] == [ids[0], ids[2]]
        assert {(row.kind, row.petition_id, row.detail, row.status) for row in receipts} == {
            (EmailKind.PUBLICATION_RECEIPT, petition.id, "publication 1", OutboxStatus.QUEUED)
        }


def _race(app, workers: int, work):
    """Run work() in `workers` threads released at once; their results."""
    barrier = threading.Barrier(workers)
    results = [None] * workers

    def run(index):
        with app.app_context():
            barrier.wait()
            results[index] = work()
            db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_drains_claim_each_row_once(app):
    """Six workers claiming batches of three from 40 due rows: every row is claimed, by one
    of them only (on PostgreSQL, SKIP LOCKED lets them take different rows at once)."""
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        kind = EmailKind.GOAL_MILESTONE
        ids = write(kind, NOW, signature_id=[None] * 40, petition_id=petition.id)
        db.session.commit()

    def drain():
        taken = []
        while batch := _claim_due(NOW, 3):
            taken.extend(batch)
        return taken

    taken = [outbox_id for batch in _race(app, 6, drain) for outbox_id in batch]
    assert sorted(taken) == sorted(ids)
    with app.app_context():
        rows = _rows(ids)
        assert {(row.status, row.attempts, row.claimed_at) for row in rows} == {
            (OutboxStatus.SENDING, 1, NOW)
        }


def test_concurrent_claims_of_one_message_claim_it_once(app):
    with app.app_context():
        ensure_default_categories()
        [outbox_id] = write(EmailKind.GOAL_MILESTONE, NOW, petition_id=make_petition().id)
        db.session.commit()
    assert sorted(_race(app, 8, lambda: _claim(outbox_id, NOW))) == [False] * 7 + [True]
    with app.app_context():
        [row] = _rows([outbox_id])
        assert (row.status, row.attempts) == (OutboxStatus.SENDING, 1)
        # A claim older than STALE_CLAIM belongs to a dead worker: it may be taken over.
        assert not _claim(outbox_id, NOW + timedelta(minutes=9))
        assert _claim(outbox_id, NOW + timedelta(minutes=11))
        db.session.refresh(row)
        assert row.attempts == 2


def test_a_claim_of_one_claims_one_row(app):
    """One row chosen by LIMIT 1 is one row claimed, alone or racing (the mailings' claim of
    the next delivery; with IN instead of =, PostgreSQL claimed several deliveries at once in
    tests/mailings/test_french_letter.py, and only the first was sent)."""
    with app.app_context():
        ensure_default_categories()
        ids = write(EmailKind.GOAL_MILESTONE, NOW, signature_id=[None] * 12)
        db.session.commit()
    due = (
        select(OUTBOX.c.id)
        .where(OUTBOX.c.status == OutboxStatus.QUEUED)
        .order_by(OUTBOX.c.id)
        .limit(1)
    )
    values = {"status": OutboxStatus.SENDING, "claimed_at": NOW}

    def claim_one_by_one():
        taken = []
        while rows := claim(OUTBOX, due, values, [OUTBOX.c.id], one=True):
            assert len(rows) == 1
            taken.append(rows[0].id)
        return taken

    with app.app_context():
        [first] = claim(OUTBOX, due, values, [OUTBOX.c.id], one=True)
        assert first.id == ids[0]
        sending = select(OUTBOX.c.id).where(OUTBOX.c.status == OutboxStatus.SENDING)
        assert db.session.scalars(sending).all() == [ids[0]]
    taken = [outbox_id for run in _race(app, 4, claim_one_by_one) for outbox_id in run]
    assert sorted(taken) == ids[1:]


def test_claim_takes_only_candidates_still_due(app):
    """A row settled between the caller's look and its claim is not claimed."""
    with app.app_context():
        ensure_default_categories()
        ids = write(EmailKind.GOAL_MILESTONE, NOW, signature_id=[None, None], petition_id=None)
        settle(OUTBOX, ids[:1], OutboxStatus.SENT)
        due = select(OUTBOX.c.id).where(OUTBOX.c.status == OutboxStatus.QUEUED)
        values = {"status": OutboxStatus.SENDING, "claimed_at": NOW}
        assert [row.id for row in claim(OUTBOX, due, values, [OUTBOX.c.id])] == ids[1:]
        assert claim(OUTBOX, due, values, [OUTBOX.c.id]) == []


def test_settle_moves_the_rows_its_guards_allow(app):
    with app.app_context():
        ensure_default_categories()
        ids = write(EmailKind.GOAL_MILESTONE, NOW, signature_id=[None] * 3)
        db.session.commit()
        assert _claim_due(NOW, 3) == ids
        # A guard that does not hold (another claim's time, as a token would): nothing moves.
        later = OUTBOX.c.claimed_at == NOW + timedelta(seconds=1)
        assert settle(OUTBOX, ids, OutboxStatus.SENT, later) == 0
        assert settle(OUTBOX, ids[:2], OutboxStatus.SENT, sent_at=NOW) == 2
        assert settle(OUTBOX, ids[2:], OutboxStatus.QUEUED, last_error="451 busy") == 1
        rows = _rows(ids)
        assert [row.status for row in rows] == [
            OutboxStatus.SENT,
            OutboxStatus.SENT,
            OutboxStatus.QUEUED,
        ]
        assert [row.last_error for row in rows] == [None, None, "451 busy"]


def test_retry_schedules():
    # The outbox: one delay per retry, given up when the attempt after the last one fails.
    assert [RETRY.next_attempt(n, NOW) for n in range(1, len(RETRY_DELAYS) + 1)] == [
        NOW + delay for delay in RETRY_DELAYS
    ]
    assert RETRY.next_attempt(len(RETRY_DELAYS) + 1, NOW) is None
    # The mailings: doubling from the base, capped, given up after max_attempts.
    doubling = RetrySchedule.exponential(30, timedelta(hours=6), max_attempts=5)
    assert [doubling.next_attempt(n, NOW) for n in range(1, 6)] == [
        NOW + timedelta(seconds=s) for s in (30, 60, 120, 240)
    ] + [None]
    capped = RetrySchedule.exponential(3600, timedelta(hours=6), max_attempts=10)
    assert [capped.delay(n) for n in range(1, 6)] == [timedelta(hours=h) for h in (1, 2, 4, 6, 6)]


def test_failure_verdicts():
    schedule = RetrySchedule.table([timedelta(minutes=1), timedelta(minutes=5)])
    refused = smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"no such user a@example.org")})
    busy = smtplib.SMTPResponseException(451, b"try again later")
    assert failure(refused, 1, schedule, NOW).retry_at is None
    assert failure(busy, 1, schedule, NOW).retry_at == NOW + timedelta(minutes=1)
    assert failure(busy, 2, schedule, NOW).retry_at == NOW + timedelta(minutes=5)
    assert failure(busy, 3, schedule, NOW).retry_at is None
    assert failure(ConnectionRefusedError(), 1, schedule, NOW).reason == "ConnectionRefusedError"
    # The reason never quotes an address.
    assert "@" not in failure(busy, 1, schedule, NOW).reason
    assert "@" not in failure(refused, 1, schedule, NOW).reason
