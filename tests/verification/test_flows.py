"""Each method over HTTP, as a signer goes through it: an RPPS number checked against the
register, an address at an official domain, the officials directory, a professional address
confirmed by email; signing is never blocked, and withdrawal erases what verification kept."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.officials.models import Official, OfficialRole
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import withdraw_signature
from campaign.verification.models import ProfessionalAddress, VerificationClaim
from campaign.verification.registries import import_rpps_register
from campaign.verification.services import add_domain_rule, request_professional_address
from tests.factories import make_petition
from tests.support import csrf_token, links_in, path_of, sign, text_part, visible_text
from tests.verification.conftest import extract_line, extract_text

FONTAINE = "99900000011"


@pytest.fixture
def browser(site):
    """A client reading English: the new strings need no catalogue to be asserted."""
    from campaign.web.language import LANGUAGE_COOKIE

    client = site.test_client()
    client.set_cookie(LANGUAGE_COOKIE, "en")
    return client


def load_register(*lines: str) -> None:
    report = import_rpps_register(extract_text(list(lines)).splitlines(), "test.txt", utcnow())
    assert report.imported, report.errors


def follow_link(browser, mailbox, address: str, count: int) -> str:
    """Open the latest link emailed to `address` and press its button; the page's path."""
    mailbox.wait_for(count)
    path = path_of(links_in(text_part(mailbox.to(address)[-1]))[0])
    response = browser.post(path, data={"csrf_token": csrf_token(browser, path)})
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return path


def the_signature() -> Signature:
    db.session.expire_all()
    return db.session.scalar(select(Signature))


def test_a_clinician_with_a_valid_rpps_number_sees_the_badge_after_confirming(browser, mailbox):
    load_register(
        extract_line(FONTAINE, "FONTAINE", "Camille", site="Centre hospitalier"),
        extract_line(FONTAINE, "FONTAINE", "Camille", site="Cabinet de la Gare"),
    )
    petition = make_petition()
    response = sign(
        browser,
        petition,
        first_name="Camille",
        last_name="Fontaine",
        email="camille@example.net",
        rpps_number="999 000 000 11",
    )
    assert response.status_code == 303
    assert the_signature().verification_level == "none"
    path = follow_link(browser, mailbox, "camille@example.net", 1)
    signature = the_signature()
    assert signature.status == SignatureStatus.CONFIRMED
    assert (signature.verification_level, signature.verification_method) == ("registry", "rpps")
    assert signature.verified_profession == "Médecin"
    page = visible_text(browser.get(path).get_data(as_text=True))
    assert "RPPS" in page and "Médecin" in page
    listing = browser.get(f"/p/{petition.slug}/signatories").get_data(as_text=True)
    assert "Fontaine Camille" in listing and "badge-verified" in listing
    # Words, not a colour, that say what was checked: not "verified physician".
    assert "✓ name and number in the RPPS register · Médecin" in visible_text(listing)
    assert "Verified:" not in visible_text(listing)
    petition_page = visible_text(browser.get(f"/p/{petition.slug}").get_data(as_text=True))
    assert "Clinicians: 1 of which 1 with name and number in the RPPS register" in petition_page


def test_an_rpps_number_under_other_names_leaves_the_email_level(browser, mailbox):
    load_register(extract_line(FONTAINE, "FONTAINE", "Camille"))
    petition = make_petition()
    sign(browser, petition, first_name="Alice", last_name="Martin", rpps_number=FONTAINE)
    path = follow_link(browser, mailbox, "alice@example.fr", 1)
    assert the_signature().verification_level == "email"
    page = visible_text(browser.get(path).get_data(as_text=True))
    assert "was not found in the register" in page


def test_an_rpps_number_failing_the_luhn_check_is_refused_and_nothing_is_stored(browser, mailbox):
    petition = make_petition()
    response = sign(browser, petition, rpps_number="99900000012")
    assert response.status_code == 422
    assert "An RPPS number has 11 digits" in visible_text(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count(Signature.id))) == 0


def test_signing_without_any_proof_is_never_blocked(browser, mailbox):
    petition = make_petition()
    assert sign(browser, petition, rpps_number="", evidence="").status_code == 303
    follow_link(browser, mailbox, "alice@example.fr", 1)
    assert the_signature().verification_level == "email"
    assert db.session.scalar(select(func.count(VerificationClaim.signature_id))) == 0


def test_an_rpps_number_is_kept_for_health_professionals_only(browser, mailbox):
    petition = make_petition()
    sign(browser, petition, category="engineer", rpps_number=FONTAINE, evidence="Page pro")
    claim = db.session.scalar(select(VerificationClaim))
    assert claim.rpps_number is None and claim.evidence == "Page pro"


def test_a_confirmed_address_at_an_official_domain_gives_the_domain_level(browser, mailbox):
    add_domain_rule("clinician", "chu-*.fr", None, utcnow())
    petition = make_petition()
    sign(browser, petition, email="alice.martin@dsi.chu-lyon.fr")
    follow_link(browser, mailbox, "alice.martin@dsi.chu-lyon.fr", 1)
    signature = the_signature()
    assert signature.verification_level == "domain"
    assert signature.verification_method == "signing_address_domain"


def test_an_mp_matched_to_the_officials_directory_gets_the_roster_level(browser, mailbox):
    db.session.add(
        Official(
            email="Claire.Dumont@assemblee.example",
            first_name="Claire",
            last_name="Dumont",
            role=OfficialRole.DEPUTE,
            chamber="Assemblée nationale",
        )
    )
    db.session.commit()
    petition = make_petition()
    sign(
        browser,
        petition,
        category="mp",
        first_name="Claire",
        last_name="DUMONT",
        email="claire.dumont@assemblee.example",
    )
    follow_link(browser, mailbox, "claire.dumont@assemblee.example", 1)
    assert the_signature().verification_level == "roster"


def test_the_roster_needs_the_official_address_and_the_same_names(browser, mailbox):
    db.session.add(
        Official(
            email="claire.dumont@assemblee.example",
            first_name="Claire",
            last_name="Dumont",
            role=OfficialRole.DEPUTE,
        )
    )
    db.session.commit()
    petition = make_petition()
    sign(
        browser,
        petition,
        category="mp",
        first_name="Claude",
        last_name="Dumont",
        email="claire.dumont@assemblee.example",
    )
    sign(
        browser,
        petition,
        category="mp",
        first_name="Claire",
        last_name="Dumont",
        email="claire.dumont@gmail.example",
    )
    follow_link(browser, mailbox, "claire.dumont@assemblee.example", 2)
    follow_link(browser, mailbox, "claire.dumont@gmail.example", 2)
    db.session.expire_all()
    levels = db.session.scalars(select(Signature.verification_level)).all()
    assert levels == ["email", "email"]


def test_a_professional_address_confirmed_by_email_raises_the_level(browser, mailbox):
    add_domain_rule("clinician", "aphp.fr", None, utcnow())
    petition = make_petition()
    sign(browser, petition, email="alice@example.fr")
    confirmation = follow_link(browser, mailbox, "alice@example.fr", 1)
    page = browser.get(confirmation).get_data(as_text=True)
    assert 'name="email"' in page and "professional-address" in page
    response = browser.post(
        f"{confirmation}/professional-address",
        data={"csrf_token": csrf_token(browser, confirmation), "email": "a.martin@aphp.fr"},
    )
    assert response.status_code == 303
    stored = db.session.scalar(select(ProfessionalAddress))
    assert b"aphp" not in stored.email_ciphertext and stored.confirmed_at is None
    assert the_signature().verification_level == "email"
    # The link goes to the professional address; the GET shows a button and changes nothing.
    [message] = mailbox.wait_for(2) and mailbox.to("a.martin@aphp.fr")
    link = path_of(links_in(text_part(message))[0])
    assert browser.get(link).status_code == 200
    assert the_signature().verification_level == "email"
    follow_link(browser, mailbox, "a.martin@aphp.fr", 2)
    signature = the_signature()
    assert signature.verification_level == "domain"
    assert signature.verification_method == "professional_address_domain"
    assert _signing_address(signature) == "alice@example.fr"
    assert "is confirmed" in visible_text(browser.get(link).get_data(as_text=True))


def _signing_address(signature: Signature) -> str:
    from campaign.personal_data import decrypt_email

    return decrypt_email(signature.email_ciphertext)


def test_the_signing_address_is_refused_as_a_professional_one(browser, mailbox):
    petition = make_petition()
    sign(browser, petition)
    confirmation = follow_link(browser, mailbox, "alice@example.fr", 1)
    response = browser.post(
        f"{confirmation}/professional-address",
        data={"csrf_token": csrf_token(browser, confirmation), "email": "Alice@Example.fr"},
        follow_redirects=True,
    )
    assert "This is the address you signed with" in visible_text(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count(ProfessionalAddress.id))) == 0


def test_a_link_for_a_replaced_professional_address_no_longer_works(browser, mailbox):
    petition = make_petition()
    sign(browser, petition)
    confirmation = follow_link(browser, mailbox, "alice@example.fr", 1)
    for count, address in ((2, "first@aphp.fr"), (3, "second@aphp.fr")):
        browser.post(
            f"{confirmation}/professional-address",
            data={"csrf_token": csrf_token(browser, confirmation), "email": address},
        )
        mailbox.wait_for(count)
    old_link = path_of(links_in(text_part(mailbox.to("first@aphp.fr")[0]))[0])
    assert browser.get(old_link).status_code == 404


def test_withdrawal_erases_the_rpps_number_evidence_and_professional_address(browser, mailbox):
    load_register(extract_line(FONTAINE, "FONTAINE", "Camille"))
    petition = make_petition()
    sign(
        browser,
        petition,
        first_name="Camille",
        last_name="Fontaine",
        rpps_number=FONTAINE,
        evidence="https://annuaire.example/fontaine",
    )
    follow_link(browser, mailbox, "alice@example.fr", 1)
    signature = the_signature()
    request_professional_address(signature.id, "c.fontaine@aphp.fr", utcnow())
    assert signature.verified_profession == "Médecin"
    assert withdraw_signature(signature.id, utcnow())
    signature = the_signature()
    assert signature.verified_profession is None
    assert db.session.scalar(select(func.count(VerificationClaim.signature_id))) == 0
    assert db.session.scalar(select(func.count(ProfessionalAddress.id))) == 0
