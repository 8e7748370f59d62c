"""The state machines: each model's table of moves, and the guarded UPDATE that makes them."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.errors import InvalidTransition
from campaign.extensions import db
from campaign.mailings.models import (
    DELIVERY_TRANSITIONS,
    MAILING_TRANSITIONS,
    DeliveryStatus,
    MailingStatus,
)
from campaign.petitions.models import (
    LIFECYCLE_STEPS,
    PETITION_TRANSITIONS,
    LifecycleStep,
    Petition,
    PetitionStatus,
)
from campaign.petitions.services import take_lifecycle_step
from campaign.signatures.counts import move_signature
from campaign.signatures.models import SIGNATURE_TRANSITIONS, Signature, SignatureStatus
from tests.factories import make_petition, make_signature, make_user

MACHINES = {
    SIGNATURE_TRANSITIONS: SignatureStatus,
    MAILING_TRANSITIONS: MailingStatus,
    DELIVERY_TRANSITIONS: DeliveryStatus,
    PETITION_TRANSITIONS: PetitionStatus,
}


@pytest.mark.parametrize("machine", MACHINES, ids=lambda machine: machine.name)
def test_every_state_has_its_row_and_every_move_leads_to_a_known_state(machine):
    states = set(MACHINES[machine])
    assert set(machine.moves) == states
    for targets in machine.moves.values():
        assert targets <= states


def test_sources_of_reads_the_table_backwards():
    assert DELIVERY_TRANSITIONS.sources_of(DeliveryStatus.SENDING) == {DeliveryStatus.QUEUED}
    assert DELIVERY_TRANSITIONS.sources_of(DeliveryStatus.HELD) == frozenset()
    assert SIGNATURE_TRANSITIONS.sources_of(SignatureStatus.INVALIDATED) == {
        SignatureStatus.SUSPECT,
        SignatureStatus.CONFIRMED,
        SignatureStatus.HIDDEN,
    }


def test_a_move_the_table_forbids_is_refused_before_any_statement(app):
    petition = make_petition()
    signature = make_signature(petition, status=SignatureStatus.WITHDRAWN)
    with pytest.raises(InvalidTransition, match="signature: withdrawn -> confirmed"):
        move_signature(
            db.session,
            signature.id,
            frozenset({SignatureStatus.WITHDRAWN}),
            SignatureStatus.CONFIRMED,
            utcnow(),
        )
    db.session.rollback()
    assert db.session.get(Signature, signature.id).status == SignatureStatus.WITHDRAWN


def test_of_two_identical_moves_only_the_first_moves_the_row(app):
    petition = make_petition()
    signature = make_signature(petition, status=SignatureStatus.PENDING, confirmed_at=None)
    pending = frozenset({SignatureStatus.PENDING})
    now = utcnow()
    first = move_signature(db.session, signature.id, pending, SignatureStatus.CONFIRMED, now)
    second = move_signature(db.session, signature.id, pending, SignatureStatus.CONFIRMED, now)
    db.session.commit()
    assert (first, second) == (True, False)


def test_a_bulk_move_counts_only_the_rows_in_a_source_state(app):
    petition = make_petition()
    states = [SignatureStatus.CONFIRMED, SignatureStatus.CONFIRMED, SignatureStatus.WITHDRAWN]
    ids = [make_signature(petition, status=status).id for status in states]
    moved = SIGNATURE_TRANSITIONS.move(
        db.session,
        Signature,
        SignatureStatus.CONFIRMED,
        SignatureStatus.HIDDEN,
        Signature.id.in_(ids),
    )
    db.session.commit()
    statuses = db.session.scalars(select(Signature.status).order_by(Signature.id)).all()
    assert moved == 2
    assert statuses[-3:] == [SignatureStatus.HIDDEN, SignatureStatus.HIDDEN, "withdrawn"]


@pytest.mark.parametrize(("step", "path"), LIFECYCLE_STEPS.items())
def test_each_lifecycle_step_is_an_allowed_move(step, path):
    source, to = path
    assert to in PETITION_TRANSITIONS.targets(source)


def test_a_lifecycle_step_on_a_petition_changed_meanwhile_is_refused(app):
    organiser = make_user("organiser")
    petition = make_petition(owner_id=organiser.id)
    assert petition.status == PetitionStatus.OPEN  # this organiser's request loaded it
    db.session.commit()
    # Another organiser's request closes it meanwhile, on its own connection.
    with db.engine.begin() as other:
        other.execute(update(Petition).where(Petition.id == petition.id).values(status="closed"))
    assert petition.status == PetitionStatus.OPEN  # still what this request saw
    with pytest.raises(InvalidTransition):
        take_lifecycle_step(petition, LifecycleStep.CLOSE, organiser, utcnow())
    assert db.session.scalar(select(Petition.status).where(Petition.id == petition.id)) == (
        PetitionStatus.CLOSED
    )


def test_a_lifecycle_step_moves_audits_and_refreshes_the_petition(app):
    organiser = make_user("organiser")
    petition = make_petition(owner_id=organiser.id)
    take_lifecycle_step(petition, LifecycleStep.CLOSE, organiser, utcnow())
    assert petition.status == PetitionStatus.CLOSED
    entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.detail) == ("petition closed", "open → closed")
