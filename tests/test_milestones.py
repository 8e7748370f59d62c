import threading

from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage
from campaign.petitions.milestones import milestone_reached
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import SignatureStatus
from campaign.signatures.services import confirm_signature
from tests.factories import make_petition, make_signature, make_user


def test_milestone_reached():
    assert [milestone_reached(n, 8) for n in (0, 1, 2, 3, 4, 6, 7, 8, 20)] == [
        0, 0, 25, 25, 50, 75, 75, 100, 100
    ]  # fmt: skip
    assert milestone_reached(5, 0) == 0


def test_organiser_is_emailed_once_per_milestone(make_app, smtp_config, mailbox):
    app = make_app(**smtp_config)
    with app.app_context():
        ensure_default_categories()
        owner = make_user("organiser", email="owner@example.org")
        petition = make_petition(goal=4, owner_id=owner.id)
        pending = [make_signature(petition, status=SignatureStatus.PENDING) for _ in range(5)]
        for signature in pending:
            confirm_signature(signature.id, utcnow())
        kinds = db.session.scalars(
            select(OutboxMessage.detail).where(OutboxMessage.kind == EmailKind.GOAL_MILESTONE)
        ).all()
        assert sorted(kinds, key=int) == ["25", "50", "75", "100"]
        messages = mailbox.wait_for(4)
        assert [m["To"] for m in messages] == ["owner@example.org"] * 4
        assert "100" in messages[-1]["Subject"]


def test_concurrent_confirmations_announce_a_milestone_once(make_app):
    app = make_app()
    with app.app_context():
        ensure_default_categories()
        owner = make_user("organiser")
        petition = make_petition(goal=4, owner_id=owner.id)
        make_signature(petition)
        ids = [make_signature(petition, status=SignatureStatus.PENDING).id for _ in range(6)]
    barrier = threading.Barrier(len(ids))

    def confirm(signature_id):
        with app.app_context():
            barrier.wait()
            confirm_signature(signature_id, utcnow())
            db.session.remove()

    threads = [threading.Thread(target=confirm, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        details = db.session.scalars(select(OutboxMessage.detail)).all()
        assert len(details) == len(set(details)), details
