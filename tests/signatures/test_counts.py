"""The petition's stored counts (campaign/signatures/counts.py) stay equal to a fresh COUNT
of the counted signatures, whatever happens to them, and concurrent changes lose none."""

from __future__ import annotations

import logging
import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from campaign.clock import utcnow
from campaign.errors import DomainError
from campaign.extensions import db
from campaign.maintenance import run_daily_tasks
from campaign.privacy.services import erase_own_data, purge_personal_data
from campaign.signatures.counts import (
    PetitionCount,
    change_counted_fields,
    count_drift,
    recount_petition,
)
from campaign.signatures.imports import ImportMode, import_signatures
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.moderation import (
    hide_signature,
    invalidate_signature,
    mark_first_signatory,
    restore_signature,
    unmark_first_signatory,
)
from campaign.signatures.services import (
    SignatureRequest,
    confirm_signature,
    counts_by_category,
    counts_by_departement,
    sign_petition,
    signature_count,
    withdraw_signature,
)
from campaign.verification.models import ReviewDecision
from campaign.verification.services import category_tallies, decide_verification, level_counts
from tests.factories import make_petition, make_signature, make_user

DEPARTEMENTS = ["75", "13", "69", None]
CATEGORIES = ["citizen", "clinician", "researcher", "engineer"]
HEADER = "last_name,first_name,title,organisation,category,email,departement,show_name"


def fresh_count(petition_id: int) -> int:
    return db.session.scalar(
        select(func.count(Signature.id)).where(
            Signature.petition_id == petition_id, Signature.counted
        )
    )


def assert_counts_match(*petitions) -> None:
    assert count_drift() == []
    for petition in petitions:
        assert signature_count(petition.id) == fresh_count(petition.id)


class Operations:
    """The changes a petition's signatures go through, each by its domain's own function."""

    def __init__(self, petition, chance: random.Random, moderator) -> None:
        self.petition = petition
        self.chance = chance
        self.moderator = moderator
        self.number = 0

    def _ids(self, *statuses: SignatureStatus) -> list[int]:
        query = select(Signature.id).where(Signature.petition_id == self.petition.id)
        if statuses:
            query = query.where(Signature.status.in_(statuses))
        return list(db.session.scalars(query.order_by(Signature.id)))

    def _one(self, *statuses: SignatureStatus) -> int | None:
        ids = self._ids(*statuses)
        return self.chance.choice(ids) if ids else None

    def sign(self, now) -> None:
        self.number += 1
        request = SignatureRequest(
            first_name="Alice",
            last_name=f"Martin{self.number}",
            email=f"signer{self.number}@example.fr",
            category_key=self.chance.choice(CATEGORIES),
            departement=self.chance.choice(DEPARTEMENTS),
            show_name=self.chance.random() < 0.7,
        )
        sign_petition(self.petition, request, now)

    def confirm(self, now) -> None:
        if (signature_id := self._one(SignatureStatus.PENDING)) is not None:
            confirm_signature(signature_id, now)

    def confirm_twice(self, now) -> None:
        if (signature_id := self._one(SignatureStatus.PENDING)) is not None:
            confirm_signature(signature_id, now)
            confirm_signature(signature_id, now)

    def withdraw(self, now) -> None:
        if (signature_id := self._one()) is not None:
            withdraw_signature(signature_id, now)

    def erase(self, now) -> None:
        if (signature_id := self._one()) is not None:
            erase_own_data(db.session.get(Signature, signature_id, populate_existing=True), now)

    def hide(self, now) -> None:
        if (signature_id := self._one()) is not None:
            hide_signature(self.petition, signature_id, self.moderator, now)

    def invalidate(self, now) -> None:
        if (signature_id := self._one()) is not None:
            invalidate_signature(self.petition, signature_id, "doublon", self.moderator, now)

    def restore(self, now) -> None:
        if (signature_id := self._one()) is not None:
            restore_signature(self.petition, signature_id, self.moderator, now)

    def attest(self, now) -> None:
        if (signature_id := self._one()) is not None:
            mark_first_signatory(self.petition, signature_id, self.moderator, now)
            db.session.commit()

    def unattest(self, now) -> None:
        if (signature_id := self._one()) is not None:
            unmark_first_signatory(self.petition, signature_id, self.moderator, now)
            db.session.commit()

    def review(self, now) -> None:
        if (signature_id := self._one(SignatureStatus.CONFIRMED)) is not None:
            decision = self.chance.choice(list(ReviewDecision))
            decide_verification(self.petition, signature_id, decision, "vu", self.moderator, now)

    def change_category(self, now) -> None:
        if (signature_id := self._one()) is not None:
            category = self.chance.choice(CATEGORIES)
            change_counted_fields(db.session, signature_id, category_key=category)
            db.session.commit()

    def change_departement(self, now) -> None:
        if (signature_id := self._one()) is not None:
            departement = self.chance.choice(DEPARTEMENTS)
            change_counted_fields(db.session, signature_id, departement=departement)
            db.session.commit()

    def import_batch(self, now) -> None:
        lines = []
        for _ in range(self.chance.randint(1, 5)):
            self.number += 1
            departement = self.chance.choice(DEPARTEMENTS) or ""
            category = self.chance.choice(CATEGORIES)
            lines.append(
                f"Nom{self.number},Paul,,,{category},papier{self.number}@example.fr,"
                f"{departement},{self.chance.choice('01')}"
            )
        content = "\n".join([HEADER, *lines]).encode() + b"\n"
        mode = self.chance.choice(list(ImportMode))
        first = self.chance.random() < 0.3
        outcome = import_signatures(
            self.petition, content, mode=mode, source="papier", now=now, first_signatories=first
        )
        assert outcome.imported == len(lines), outcome.plan.errors

    def purge(self, now) -> None:
        # Past the petition's end and its retention: pending links expired, the départements
        # of the counted signatures erased.
        purge_personal_data(now + timedelta(days=3 * 365))


STEPS = [
    ("sign", 6),
    ("confirm", 6),
    ("confirm_twice", 1),
    ("withdraw", 1),
    ("erase", 1),
    ("hide", 1),
    ("invalidate", 1),
    ("restore", 2),
    ("attest", 1),
    ("unattest", 1),
    ("review", 1),
    ("change_category", 1),
    ("change_departement", 1),
    ("import_batch", 1),
    ("purge", 0.2),
]


def test_random_sequences_of_changes_keep_the_stored_counts_equal_to_a_count(app):
    chance = random.Random(19)
    now = utcnow()
    petition = make_petition(closes_at=now + timedelta(days=30))
    # Another petition's counts must not move.
    bystander = make_petition()
    for departement in ("75", "13"):
        make_signature(bystander, departement=departement)
    operations = Operations(petition, chance, make_user("admin"))
    names, weights = zip(*STEPS, strict=True)
    done = set()
    for step in range(300):
        name = chance.choices(names, weights)[0]
        try:
            getattr(operations, name)(now + timedelta(seconds=step))
            done.add(name)
        except (DomainError, ValueError):
            db.session.rollback()  # an operation this state refuses: nothing changed
        assert count_drift() == [], f"after step {step}: {name}"
        assert signature_count(petition.id) == fresh_count(petition.id), f"step {step}: {name}"
    assert_counts_match(petition, bystander)
    # Every kind of operation went through at least once, and the petition is not empty.
    assert done == set(names)
    assert signature_count(petition.id) > 0


def test_the_count_functions_answer_from_the_stored_counts(app):
    petition = make_petition()
    make_signature(petition, category_key="clinician", departement="75")
    make_signature(petition, category_key="clinician", departement="75")
    make_signature(petition, category_key="citizen", verification_level="none")
    make_signature(petition, status=SignatureStatus.PENDING, departement="75")
    # The stored counts are what is read: a signature changed behind their back is unseen.
    db.session.execute(update(Signature).values(departement="13"))
    db.session.commit()
    assert signature_count(petition.id) == 3
    assert dict((category.key, n) for category, n in counts_by_category(petition))["clinician"] == 2
    assert counts_by_departement(petition.id) == {"75": 2}
    assert level_counts(petition.id) == {"citizen": {"none": 1}, "clinician": {"email": 2}}
    tallies = {tally.category.key: tally.total for tally in category_tallies(petition)}
    assert tallies["clinician"] == 2 and tallies["citizen"] == 1
    assert [drift.what for drift in count_drift(petition.id)] == ["departement", "departement"]


def test_concurrent_confirmations_and_withdrawals_lose_no_change(app):
    """Each request in its own session and transaction, started together: the upserts
    add up instead of overwriting each other (PostgreSQL in `make test`)."""
    petition = make_petition()
    now = utcnow()
    pending = [
        make_signature(petition, status=SignatureStatus.PENDING, departement="75").id
        for _ in range(12)
    ]
    confirmed = [make_signature(petition, departement="75").id for _ in range(6)]
    barrier = threading.Barrier(len(pending) + len(confirmed))
    errors = []

    def run(change, signature_id):
        with app.app_context():
            try:
                barrier.wait()
                change(signature_id, now)
            except Exception as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(confirm_signature, i)) for i in pending]
    threads += [threading.Thread(target=run, args=(withdraw_signature, i)) for i in confirmed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.expire_all()
    assert signature_count(petition.id) == 12
    assert counts_by_departement(petition.id) == {"75": 12}
    assert count_drift() == []


def _drift_one(petition) -> None:
    db.session.execute(
        update(PetitionCount)
        .where(PetitionCount.petition_id == petition.id)
        .values(count=PetitionCount.count + 3)
    )
    db.session.commit()


def test_recount_check_names_the_petition_and_the_count_that_differs(app):
    petition = make_petition(slug="sante")
    make_signature(petition, category_key="clinician", departement="69")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["petitions", "recount", "--check"]).exit_code == 0
    _drift_one(petition)
    result = runner.invoke(args=["petitions", "recount", "--check"])
    assert result.exit_code == 1
    assert "sante" in result.output and "clinician/email: stored 4, counted 1" in result.output
    result = runner.invoke(args=["petitions", "recount", "--petition", "sante"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["petitions", "recount", "--check"]).exit_code == 0
    assert signature_count(petition.id) == 1


def test_recount_rebuilds_a_petition_from_its_signatures(app):
    petition = make_petition()
    make_signature(petition, departement="13")
    db.session.execute(update(Signature).values(category_key="researcher"))
    recount_petition(db.session, petition.id)
    db.session.commit()
    assert level_counts(petition.id) == {"researcher": {"email": 1}}
    assert count_drift() == []


def test_the_daily_maintenance_repairs_drift_and_logs_it_without_personal_data(
    app, caplog, monkeypatch
):
    # Alembic's fileConfig (the session's migration) disabled the loggers made before it.
    monkeypatch.setattr(logging.getLogger("campaign.maintenance"), "disabled", False)
    petition = make_petition()
    make_signature(petition, first_name="Zéphyrine", departement="75", email="z@example.fr")
    _drift_one(petition)
    with caplog.at_level(logging.WARNING, logger="campaign.maintenance"):
        results = run_daily_tasks(utcnow())
    assert results["stored counts repaired"] == 1
    assert count_drift() == []
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert f"petition {petition.id}: category/level citizen/email" in logged
    assert "Zéphyrine" not in logged and "z@example.fr" not in logged


@pytest.mark.parametrize("erase", [withdraw_signature, "erase_own_data"])
def test_a_withdrawn_signature_leaves_its_departement_count(app, erase):
    petition = make_petition()
    signature = make_signature(petition, departement="75")
    if erase == "erase_own_data":
        erase_own_data(signature, utcnow())
    else:
        erase(signature.id, utcnow())
    assert counts_by_departement(petition.id) == {}
    assert signature_count(petition.id) == 0
    assert count_drift() == []
