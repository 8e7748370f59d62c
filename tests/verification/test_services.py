"""Domain rules, the level of a signature and when it is assessed again, the moderators'
queue and decisions, and the counts per level (public page, API)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage
from campaign.personal_data import encrypt_email
from campaign.signatures.models import Signature, SignatureStatus
from campaign.verification.models import (
    ProfessionalAddress,
    ReviewDecision,
    VerificationClaim,
)
from campaign.verification.registries import import_rpps_register
from campaign.verification.services import (
    DomainRuleInvalid,
    SignatureNotInPetition,
    add_domain_rule,
    assess_at_confirmation,
    category_tallies,
    decide_verification,
    domain_matches,
    level_counts,
    normalise_pattern,
    reassess_registry_claims,
    reassess_signature,
    remove_domain_rule,
    verification_queue,
    verified_categories,
)
from tests.factories import make_petition, make_signature, make_user
from tests.verification.conftest import extract_line, extract_text

FONTAINE = "99900000011"


def load_register(*lines: str) -> None:
    report = import_rpps_register(extract_text(list(lines)).splitlines(), "test.txt", utcnow())
    assert report.imported, report.errors


def confirmed(petition, **values) -> Signature:
    """A signature as confirm_signature leaves it: level assessed at confirmation."""
    rpps = values.pop("rpps", None)
    evidence = values.pop("evidence", None)
    signature = make_signature(
        petition, verification_level="none", address_confirmed_at=None, **values
    )
    if rpps or evidence:
        db.session.add(
            VerificationClaim(signature_id=signature.id, rpps_number=rpps, evidence=evidence)
        )
    assess_at_confirmation(signature.id, utcnow())
    db.session.commit()
    return signature


def level_of(signature: Signature) -> str:
    db.session.expire_all()
    return db.session.get(Signature, signature.id).verification_level


# --- Domain rules ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Senat.FR", "senat.fr"),
        ("@assemblee-nationale.fr.", "assemblee-nationale.fr"),
        ("chu-*.fr", "chu-*.fr"),
        ("*.aphp.fr", "aphp.fr"),
        ("europarl.europa.eu", "europarl.europa.eu"),
    ],
)
def test_a_rule_is_stored_as_a_lower_case_domain_or_pattern(typed, stored):
    assert normalise_pattern(typed) == stored


@pytest.mark.parametrize("typed", ["fr", "*.fr", "*-*.org", "chu-*.*", "a b.fr", "x@y.fr", ""])
def test_a_rule_too_broad_or_not_a_domain_is_refused(typed):
    with pytest.raises(DomainRuleInvalid):
        normalise_pattern(typed)


@pytest.mark.parametrize(
    ("domain", "pattern", "matches"),
    [
        ("senat.fr", "senat.fr", True),
        ("groupe.senat.fr", "senat.fr", True),
        ("fauxsenat.fr", "senat.fr", False),
        ("senat.fr.example", "senat.fr", False),
        ("chu-lyon.fr", "chu-*.fr", True),
        ("dsi.chu-nantes.fr", "chu-*.fr", True),
        ("chu.fr", "chu-*.fr", False),
        ("chu-lyon.com", "chu-*.fr", False),
    ],
)
def test_a_domain_matches_a_rule_its_pattern_or_a_subdomain(domain, pattern, matches):
    assert domain_matches(domain, pattern) is matches


def test_adding_and_removing_a_rule_assesses_the_category_again(app):
    petition = make_petition()
    organiser = make_user("organiser")
    clinician = confirmed(petition, category_key="clinician", email="paul@chu-lyon.fr")
    engineer = confirmed(petition, category_key="engineer", email="eve@chu-lyon.fr")
    assert level_of(clinician) == "email"
    rule = add_domain_rule("clinician", "chu-*.fr", organiser, utcnow())
    assert (level_of(clinician), level_of(engineer)) == ("domain", "email")
    assert "clinician" in verified_categories()
    assert remove_domain_rule(rule.id, organiser, utcnow())
    assert level_of(clinician) == "email"
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["domain rule added", "domain rule removed"]
    # Adding it again brings the same row back.
    assert add_domain_rule("clinician", "CHU-*.fr", organiser, utcnow()).id == rule.id
    assert level_of(clinician) == "domain"


def test_an_unconfirmed_address_gets_no_level_from_a_rule(app):
    add_domain_rule("mp", "senat.fr", None, utcnow())
    petition = make_petition()
    imported = make_signature(petition, category_key="mp", email="x@senat.fr", source="liste")
    assert level_of(imported) == "none"
    add_domain_rule("mp", "assemblee-nationale.fr", None, utcnow())
    assert level_of(imported) == "none"


# --- The register, again ---------------------------------------------------------------------


def test_a_new_register_verifies_numbers_given_earlier_and_drops_struck_off_ones(app):
    petition = make_petition()
    early = confirmed(
        petition,
        category_key="clinician",
        first_name="Camille",
        last_name="Fontaine",
        rpps=FONTAINE,
    )
    assert level_of(early) == "email"
    load_register(extract_line(FONTAINE, "FONTAINE", "Camille", "10", "Médecin"))
    assert reassess_registry_claims(utcnow()) == 1
    assert level_of(early) == "registry"
    load_register(extract_line("99900000029", "LEFEVRE", "Hélène"))
    assert reassess_registry_claims(utcnow()) == 1
    assert level_of(early) == "email"
    assert db.session.get(Signature, early.id).verified_profession is None


# --- The queue and decisions -----------------------------------------------------------------


@pytest.fixture
def queue_petition(app):
    load_register(extract_line(FONTAINE, "FONTAINE", "Camille"))
    add_domain_rule("clinician", "aphp.fr", None, utcnow())
    petition = make_petition()
    signatures = {
        "plain": confirmed(
            petition, category_key="clinician", last_name="Sans", first_name="Preuve"
        ),
        "evidence": confirmed(
            petition,
            category_key="clinician",
            last_name="Avec",
            first_name="Indice",
            evidence="Ordre des médecins, n° 123",
        ),
        "domain": confirmed(petition, category_key="clinician", email="d@aphp.fr"),
        "registry": confirmed(
            petition,
            category_key="clinician",
            first_name="Camille",
            last_name="Fontaine",
            rpps=FONTAINE,
        ),
        "wrong_rpps": confirmed(petition, category_key="clinician", rpps=FONTAINE),
        "citizen": confirmed(petition, category_key="citizen"),
        "pending": make_signature(
            petition, category_key="clinician", status=SignatureStatus.PENDING, confirmed_at=None
        ),
    }
    return petition, signatures


def test_the_queue_holds_verified_categories_without_conclusive_proof_evidence_first(
    queue_petition,
):
    petition, signatures = queue_petition
    queue = verification_queue(petition)
    ids = [item.signature.id for item in queue.items]
    assert queue.total == 4
    assert set(ids[:2]) == {signatures["evidence"].id, signatures["wrong_rpps"].id}
    assert set(ids[2:]) == {signatures["plain"].id, signatures["domain"].id}
    wrong = next(item for item in queue.items if item.signature.id == signatures["wrong_rpps"].id)
    assert (wrong.register.found, wrong.register.matched) == (True, False)
    assert wrong.register.register_names == ("FONTAINE Camille",)


def test_approving_gives_the_moderator_level_with_the_reason_audited(queue_petition):
    petition, signatures = queue_petition
    moderator = make_user("moderator")
    target = signatures["evidence"]
    outcome = decide_verification(
        petition,
        target.id,
        ReviewDecision.APPROVED,
        "Inscrite à l'Ordre, vérifié",
        moderator,
        utcnow(),
    )
    assert outcome.level == "moderator" and level_of(target) == "moderator"
    claim = db.session.get(VerificationClaim, target.id)
    assert (claim.decision, claim.reason, claim.reviewed_by_id) == (
        "approved",
        "Inscrite à l'Ordre, vérifié",
        moderator.id,
    )
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "verification approved")
    )
    assert entry.detail == f"signature {target.id}: email -> moderator"
    assert "Ordre" not in entry.detail  # the audit log names no personal detail
    assert target.id not in [item.signature.id for item in verification_queue(petition).items]


def test_rejecting_keeps_the_signature_lowers_its_level_and_tells_the_signer_why(
    queue_petition,
):
    petition, signatures = queue_petition
    target = signatures["domain"]
    assert level_of(target) == "domain"
    decide_verification(
        petition,
        target.id,
        ReviewDecision.REJECTED,
        "Adresse administrative, pas un soignant",
        make_user("moderator"),
        utcnow(),
    )
    signature = db.session.get(Signature, target.id)
    assert signature.status == SignatureStatus.CONFIRMED
    assert signature.verification_level == "email"
    message = db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.kind == EmailKind.VERIFICATION_REJECTED)
    )
    assert message.signature_id == target.id and message.status == "sent"
    # A later proof at an official domain does not undo a moderator's rejection.
    db.session.add(
        ProfessionalAddress(
            signature_id=target.id,
            email_digest="x" * 64,
            email_ciphertext=encrypt_email("d.pro@aphp.fr"),
            confirmed_at=utcnow(),
        )
    )
    reassess_signature(target.id, utcnow())
    db.session.commit()
    assert level_of(target) == "email"


def test_a_decision_needs_a_reason_and_a_signature_of_the_petition(queue_petition):
    petition, signatures = queue_petition
    moderator = make_user("moderator")
    with pytest.raises(ValueError):
        decide_verification(
            petition, signatures["plain"].id, ReviewDecision.APPROVED, "  ", moderator, utcnow()
        )
    with pytest.raises(SignatureNotInPetition):
        decide_verification(
            make_petition(),
            signatures["plain"].id,
            ReviewDecision.APPROVED,
            "ok",
            moderator,
            utcnow(),
        )


# --- Counts ----------------------------------------------------------------------------------


def test_counts_per_category_and_level_count_confirmed_signatures_only(queue_petition):
    petition, _signatures = queue_petition
    assert level_counts(petition.id) == {
        "citizen": {"email": 1},
        "clinician": {"domain": 1, "email": 3, "registry": 1},
    }
    tallies = {tally.category.key: tally for tally in category_tallies(petition)}
    assert tallies["clinician"].total == 5
    # The strongest first: an address at an official domain ranks above the public register.
    assert tallies["clinician"].verified == [("domain", 1), ("registry", 1)]
    assert tallies["engineer"].total == 0 and tallies["engineer"].verified == []


def test_the_api_gives_the_counts_per_category_and_level(queue_petition, client):
    petition, _signatures = queue_petition
    body = client.get(f"/api/v1/petitions/{petition.slug}").get_json()
    assert body["verification_by_category"]["clinician"] == {
        "domain": 1,
        "email": 3,
        "registry": 1,
    }
    assert body["verification_by_category"]["engineer"] == {}
    assert body["counts_by_category"]["clinician"] == 5


def test_the_petition_page_shows_the_verified_counts_in_words(queue_petition, app):
    from tests.support import english_client, visible_text

    petition, _signatures = queue_petition
    text = visible_text(english_client(app).get(f"/p/{petition.slug}").get_data(as_text=True))
    assert "Clinicians: 5 of which 1 with an address at an official domain" in text
    assert "of which 1 with name and number in the RPPS register" in text
