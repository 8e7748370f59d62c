"""Retention: with the clock moved past the window, the purge erases what it must, keeps the
public list of those who agreed to be published, and a dry run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, write
from campaign.petitions.models import PetitionStatus
from campaign.privacy.jobs import purge_expired_personal_data
from campaign.privacy.services import purge_personal_data
from campaign.signatures.consent import CONSENT_FLAGS, ConsentEvent, consent_events_at_signing
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import published_signatories, signatory_line
from tests.factories import make_petition, make_signature

RETENTION = timedelta(days=183)


def snapshot() -> dict[str, list[tuple]]:
    """Every row of the tables the purge touches, to compare before and after."""
    tables = {
        "signatures": Signature,
        "consent_events": ConsentEvent,
        "outbox_messages": OutboxMessage,
        "audit_entries": AuditEntry,
    }
    db.session.expire_all()
    return {
        name: sorted(
            tuple(getattr(row, column.key) for column in model.__table__.columns)
            for row in db.session.scalars(select(model))
        )
        for name, model in tables.items()
    }


def with_consents(signature: Signature) -> Signature:
    columns = {
        column: getattr(signature, column)
        for column in ("consent_version", *CONSENT_FLAGS.values())
    }
    rows = consent_events_at_signing(signature.id, columns, signature.consented_at)
    db.session.execute(insert(ConsentEvent), rows)
    db.session.commit()
    return signature


@pytest.fixture
def closed_campaign(app):
    """A petition closed now, with every kind of signature, and an open one beside it."""
    now = utcnow()
    petition = make_petition(status=PetitionStatus.CLOSED, closes_at=now)
    published = with_consents(
        make_signature(
            petition,
            email="alice@example.fr",
            first_name="Alice",
            last_name="Martin",
            title="Médecin",
            organisation="AP-HP",
            show_title=False,
            show_organisation=True,
            departement="75",
            contact_ok=True,
            ip_digest="0" * 32,
            email_domain_digest="d" * 64,
        )
    )
    private = with_consents(
        make_signature(
            petition,
            email="bob@example.fr",
            first_name="Bob",
            show_name=False,
            title="Ingénieur",
            departement="13",
        )
    )
    hidden = make_signature(
        petition,
        email="carol@example.fr",
        status=SignatureStatus.HIDDEN,
        moderation_reason="fake name",
    )
    pending = make_signature(
        petition, email="dan@example.fr", status=SignatureStatus.PENDING, last_confirmation_at=now
    )
    write(EmailKind.SIGNATURE_CONFIRMATION, now, signature_id=published.id)
    write(EmailKind.GOAL_MILESTONE, now, petition_id=petition.id)
    db.session.commit()
    other = make_petition()
    bystander = make_signature(other, email="erin@example.fr")
    return {
        "now": now,
        "petition": petition,
        "published": published,
        "private": private,
        "hidden": hidden,
        "pending": pending,
        "other": other,
        "bystander": bystander,
    }


def test_pending_signatures_are_deleted_once_their_last_link_expired(app):
    now = utcnow()
    petition = make_petition()
    expired = make_signature(
        petition, status=SignatureStatus.PENDING, created_at=now, last_confirmation_at=now
    )
    resent = make_signature(
        petition,
        status=SignatureStatus.PENDING,
        created_at=now,
        last_confirmation_at=now + timedelta(days=5),
    )
    confirmed = make_signature(petition, created_at=now)
    ids = expired.id, resent.id, confirmed.id
    report = purge_personal_data(now + timedelta(days=7, minutes=1))
    assert [(c.slug, c.expired_pending_deleted, c.total) for c in report] == [(petition.slug, 1, 1)]
    db.session.expire_all()
    assert db.session.get(Signature, ids[0]) is None
    assert db.session.get(Signature, ids[1]) is not None
    assert db.session.get(Signature, ids[2]).email_ciphertext is not None


def test_after_retention_contact_data_goes_and_the_public_list_stays(closed_campaign):
    case = closed_campaign
    petition = case["petition"]
    before = published_signatories(petition.id)
    pending_id = case["pending"].id
    later = case["now"] + RETENTION + timedelta(days=1)
    [counts] = purge_personal_data(later)
    assert counts.petition_id == petition.id
    # Its link expired long before: deleted by the first rule, before the petition's turn.
    assert (counts.expired_pending_deleted, counts.pending_deleted) == (1, 0)
    assert counts.contact_data_erased == 3
    assert counts.contact_consents_deleted == 2 and counts.emails_deleted == 2
    assert counts.private_details_erased == 3
    db.session.expire_all()

    after = published_signatories(petition.id)
    assert [signatory_line(s) for s in after.items] == ["Martin Alice, AP-HP"]
    assert [signatory_line(s) for s in before.items] == ["Martin Alice, AP-HP"]
    for signature in db.session.scalars(
        select(Signature).where(Signature.petition_id == petition.id)
    ):
        assert signature.email_ciphertext is None and signature.email_digest is None
        assert signature.email_domain_digest is None and signature.ip_digest is None
        assert signature.contact_ok is False and signature.departement is None
        assert signature.moderation_reason is None
    published = db.session.get(Signature, case["published"].id)
    assert published.title == "" and published.organisation == "AP-HP"
    private = db.session.get(Signature, case["private"].id)
    assert (private.first_name, private.last_name, private.title) == ("", "", "")
    assert private.status == SignatureStatus.CONFIRMED
    hidden = db.session.get(Signature, case["hidden"].id)
    assert hidden.first_name == "" and hidden.show_name is False
    assert db.session.get(Signature, pending_id) is None
    kept = db.session.execute(
        select(ConsentEvent.what).where(ConsentEvent.signature_id == case["published"].id)
    )
    assert sorted(kept.scalars()) == [
        "publish_name",
        "publish_organisation",
        "publish_title",
        "sign",
    ]
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    bystander = db.session.get(Signature, case["bystander"].id)
    assert bystander.email_ciphertext is not None and bystander.first_name


def test_before_the_retention_period_ends_only_expired_pending_signatures_go(closed_campaign):
    before = snapshot()
    [counts] = purge_personal_data(closed_campaign["now"] + RETENTION - timedelta(hours=1))
    assert counts.describe() == "expired_pending_deleted=1"
    after = snapshot()
    assert len(after["signatures"]) == len(before["signatures"]) - 1
    assert after["consent_events"] == before["consent_events"]
    assert after["outbox_messages"] == before["outbox_messages"]
    db.session.expire_all()
    assert db.session.get(Signature, closed_campaign["private"].id).first_name == "Bob"


def test_closed_petition_without_closing_date_expires_from_its_last_update(app):
    now = utcnow()
    petition = make_petition(status=PetitionStatus.CLOSED)
    signature = make_signature(petition)
    assert purge_personal_data(now + RETENTION - timedelta(days=1)) == []
    [counts] = purge_personal_data(now + RETENTION + timedelta(days=1))
    assert counts.contact_data_erased == 1
    db.session.expire_all()
    assert db.session.get(Signature, signature.id).email_ciphertext is None


def test_open_petition_without_closing_date_never_expires(app):
    petition = make_petition()
    make_signature(petition, created_at=utcnow() - timedelta(days=3650))
    assert purge_personal_data(utcnow() + timedelta(days=3650)) == []


def test_dry_run_reports_what_a_real_run_does_and_changes_nothing(closed_campaign):
    later = closed_campaign["now"] + RETENTION + timedelta(days=1)
    before = snapshot()
    dry = purge_personal_data(later, dry_run=True)
    assert snapshot() == before
    real = purge_personal_data(later)
    assert [c.describe() for c in dry] == [c.describe() for c in real]
    assert snapshot() != before


def test_each_purge_is_audited_with_counts_only_and_a_second_run_finds_nothing(closed_campaign):
    later = closed_campaign["now"] + RETENTION + timedelta(days=1)
    [counts] = purge_expired_personal_data(later)
    entry = db.session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.petition_id, entry.count) == (
        "personal data purged",
        closed_campaign["petition"].id,
        counts.total,
    )
    assert "pending_deleted=1" in entry.detail
    for secret in ("alice", "martin", "bob", "@"):
        assert secret not in entry.detail.lower() and secret not in entry.actor.lower()
    assert purge_expired_personal_data(later) == []
    assert db.session.scalar(select(func.count(AuditEntry.id))) == 1


def test_cli_dry_run_prints_counts_per_petition_and_changes_nothing(app):
    now = utcnow()
    petition = make_petition(status=PetitionStatus.CLOSED, closes_at=now - RETENTION * 2)
    make_signature(petition, email="alice@example.fr", first_name="Alice")
    before = snapshot()
    result = app.test_cli_runner().invoke(args=["privacy", "purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"{petition.slug}: would erase contact_data_erased=1" in result.output
    assert "alice" not in result.output.lower()
    assert snapshot() == before
    result = app.test_cli_runner().invoke(args=["privacy", "purge"])
    assert f"{petition.slug}: erased contact_data_erased=1" in result.output
    assert "nothing to erase" in app.test_cli_runner().invoke(args=["privacy", "purge"]).output
