"""No timing oracle on "has this address signed?": asking for the link to one's data does
the same work whether or not the address signed, so the response time cannot tell.

Response times are noisy on a shared machine, so the test asserts what makes them equal:
the same SQL statements, in the same order, on the request's thread, and one job each.
bench/rights_link_timing.py measures the two distributions and prints their medians."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select

from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, OutboxStatus
from tests.factories import make_petition, make_signature
from tests.privacy.conftest import ask_for_link
from tests.support import wait_until


@contextmanager
def statements_of_this_thread() -> Iterator[list[str]]:
    """The SQL statements run on the calling thread (not a job's thread) while inside."""
    seen: list[str] = []
    thread = threading.get_ident()

    def record(_conn, _cursor, statement, _params, _context, _many):
        if threading.get_ident() == thread:
            seen.append(re.sub(r"\s+", " ", statement))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def decided() -> bool:
    db.session.rollback()
    return not db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.SENDING])
        )
    )


@pytest.mark.parametrize("signed_first", [True, False])
def test_asking_for_a_link_does_the_same_work_whether_or_not_the_address_signed(
    browser, mailbox, signed_first
):
    petition = make_petition()
    make_signature(petition, email="alice.martin@example.fr")
    addresses = ["alice.martin@example.fr", "nobody@example.fr"]
    if not signed_first:
        addresses.reverse()
    ask_for_link(browser, petition, "warm-up@example.fr")  # first-request caches
    wait_until(decided, 10, "the warm-up request decided")
    work = {}
    for address in addresses:
        with statements_of_this_thread() as statements:
            response = ask_for_link(browser, petition, address)
        assert response.status_code == 303
        wait_until(decided, 10, "the request decided by its job")
        work[address] = statements
    assert work["alice.martin@example.fr"] == work["nobody@example.fr"]
    assert any(s.startswith("INSERT INTO outbox_messages") for s in work["nobody@example.fr"])
    # The worker decided: one mail, to the signer; the other request left a skipped row
    # with no trace of the address.
    assert [m["To"] for m in mailbox.wait_for(1)] == ["alice.martin@example.fr"]
    rows = db.session.execute(
        select(OutboxMessage.status, OutboxMessage.signature_id, OutboxMessage.detail)
        .where(OutboxMessage.kind == EmailKind.RIGHTS_LINK)
        .order_by(OutboxMessage.id)
    ).all()
    assert sorted(str(status) for status, _, _ in rows) == ["sent", "skipped", "skipped"]
    assert all(detail is None for _, _, detail in rows)


def test_with_redis_the_request_enqueues_and_the_worker_decides(
    make_app, smtp_config, redis_url, queue_name, worker, mailbox
):
    app = make_app(**smtp_config, REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        petition = make_petition()
        make_signature(petition, email="alice.martin@example.fr")
        client = app.test_client()
        ask_for_link(client, petition, "warm-up@example.fr")
        work = {}
        for address in ("alice.martin@example.fr", "nobody@example.fr"):
            with statements_of_this_thread() as statements:
                assert ask_for_link(client, petition, address).status_code == 303
            work[address] = statements
        assert work["alice.martin@example.fr"] == work["nobody@example.fr"]
        assert mailbox.messages == [], "nothing is sent before a worker decides"
        worker.run_burst()
        assert [m["To"] for m in mailbox.wait_for(1)] == ["alice.martin@example.fr"]
        db.session.remove()
