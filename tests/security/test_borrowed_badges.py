"""Badges that cannot be borrowed (issue 15.3). The RPPS register is public: anyone can type a
listed physician's name and number. One register number gives its badge to one signature per
petition (the first confirmed keeps it, later ones wait in the moderators' queue), the
database decides between confirmations at once, the words say what was checked, and an address
at an official domain or a moderator's decision is what raises it further. The same holds for
an official of the directory (the roster of members of parliament)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.personal_data import register_badge_digest
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import withdraw_signature
from campaign.tokens import make_token
from campaign.verification.models import ProfessionalAddress, VerificationClaim
from campaign.verification.registries import import_rpps_register
from campaign.verification.services import (
    add_domain_rule,
    assess_at_confirmation,
    verification_queue,
)
from tests.factories import make_official, make_petition, make_signature, make_user
from tests.support import csrf_token, english_client, visible_text
from tests.verification.conftest import extract_line, extract_text

FONTAINE = "99900000011"


def load_register() -> None:
    lines = [extract_line(FONTAINE, "FONTAINE", "Camille")]
    report = import_rpps_register(extract_text(lines).splitlines(), "test.txt", utcnow())
    assert report.imported, report.errors


def pending_physician(petition, email: str) -> Signature:
    """A signature as Camille Fontaine with her public RPPS number, waiting for its link."""
    signature = make_signature(
        petition,
        email=email,
        first_name="Camille",
        last_name="Fontaine",
        category_key="clinician",
        status=SignatureStatus.PENDING,
        confirmed_at=None,
    )
    db.session.add(VerificationClaim(signature_id=signature.id, rpps_number=FONTAINE))
    db.session.commit()
    return signature


def confirm(client, signature: Signature) -> int:
    path = f"/s/{make_token('confirm', signature, utcnow())}"
    return client.post(path, data={"csrf_token": csrf_token(client, path)}).status_code


def levels(petition_or_id) -> list[tuple[str, bool]]:
    petition_id = getattr(petition_or_id, "id", petition_or_id)
    db.session.expire_all()
    rows = db.session.execute(
        select(Signature.verification_level, Signature.register_badge)
        .where(Signature.petition_id == petition_id)
        .order_by(Signature.id)
    )
    return [(str(level), badge is not None) for level, badge in rows]


def test_one_rpps_number_gives_its_badge_to_one_signature_per_petition(app):
    load_register()
    petition = make_petition()
    client = english_client(app)
    first, second, third = (
        pending_physician(petition, f"camille{n}@example.net") for n in range(3)
    )
    for signature in (first, second, third):
        assert confirm(client, signature) == 303
    # The first confirmed keeps it; the later ones count, at the confirmed-address level.
    assert levels(petition) == [("registry", True), ("email", False), ("email", False)]
    queued = [item.signature.id for item in verification_queue(petition).items]
    assert queued == [second.id, third.id]
    listing = visible_text(client.get(f"/p/{petition.slug}/signatories").get_data(as_text=True))
    assert listing.count("✓ name and number in the RPPS register") == 1
    counts = client.get(f"/api/v1/petitions/{petition.slug}").json["verification_by_category"]
    assert counts["clinician"] == {"email": 2, "registry": 1}
    # The later signer is told why, in words.
    page = visible_text(
        client.get(f"/s/{make_token('confirm', second, utcnow())}").get_data(as_text=True)
    )
    assert "another signature of this petition already shows them" in page
    # Another petition: the number gives its badge there too, once.
    other = make_petition()
    assert confirm(client, pending_physician(other, "camille@example.net")) == 303
    assert levels(other) == [("registry", True)]


def test_a_moderator_sees_that_the_number_is_already_taken(app):
    load_register()
    petition = make_petition()
    moderator = make_user("moderator")
    from campaign.accounts.services import assign_moderator

    assign_moderator(petition, moderator)
    client = english_client(app)
    first, second = (pending_physician(petition, f"c{n}@example.net") for n in range(2))
    confirm(client, first)
    confirm(client, second)
    staff = english_client(app, moderator)
    review = staff.get(f"/admin/p/{petition.slug}/verification/{second.id}")
    assert "already holds this number’s badge" in visible_text(review.get_data(as_text=True))


def test_ten_confirmations_at_once_with_one_number_give_one_badge(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    with app.app_context():
        ensure_default_categories()
        load_register()
        petition = make_petition()
        petition_id = petition.id
        signers = [pending_physician(petition, f"c{n}@example.net") for n in range(10)]
        paths = [f"/s/{make_token('confirm', signature, utcnow())}" for signature in signers]
        db.session.remove()
    barrier = threading.Barrier(len(paths))
    statuses = []

    def post(path):
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(path).status_code)

    threads = [threading.Thread(target=post, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * len(paths)
    with app.app_context():
        found = levels(petition_id)
        assert found.count(("registry", True)) == 1
        assert found.count(("email", False)) == len(paths) - 1


def test_the_database_refuses_a_second_holder_of_one_badge(app):
    petition = make_petition()
    badge = register_badge_digest("rpps", FONTAINE)
    make_signature(petition, register_badge=badge)
    with pytest.raises(IntegrityError):
        make_signature(petition, register_badge=badge)
    db.session.rollback()
    # Another petition may hold it.
    make_signature(make_petition(), register_badge=badge)


def test_an_official_domain_raises_the_register_level_and_keeps_the_badge(app):
    load_register()
    add_domain_rule("clinician", "chu-*.fr", make_user("admin"), utcnow())
    petition = make_petition()
    signature = pending_physician(petition, "c.fontaine@chu-lyon.fr")
    assert confirm(english_client(app), signature) == 303
    db.session.expire_all()
    signature = db.session.get(Signature, signature.id)
    assert (signature.verification_level, signature.verified_profession) == ("domain", "Médecin")
    assert signature.register_badge is not None


def test_a_register_badge_holder_may_still_add_a_professional_address(app):
    load_register()
    petition = make_petition()
    signature = pending_physician(petition, "camille@example.net")
    client = english_client(app)
    confirm(client, signature)
    page = client.get(f"/s/{make_token('confirm', signature, utcnow())}").get_data(as_text=True)
    assert "professional-address" in page


def test_withdrawing_releases_the_badge_and_erases_its_digest(app):
    load_register()
    petition = make_petition()
    signature = pending_physician(petition, "camille@example.net")
    confirm(english_client(app), signature)
    assert levels(petition) == [("registry", True)]
    withdraw_signature(signature.id, utcnow())
    assert db.session.scalar(select(func.count()).where(Signature.register_badge.is_not(None))) == 0
    later = pending_physician(petition, "camille.f@example.net")
    confirm(english_client(app), later)
    db.session.expire_all()
    assert db.session.get(Signature, later.id).verification_level == "registry"


def test_one_member_of_parliament_gives_the_roster_badge_to_one_signature_per_petition(app):
    official = make_official(email="claire.dumont@example.org", first_name="Claire",
                             last_name="Dumont")  # fmt: skip
    petition = make_petition()
    now = utcnow()
    holders = []
    for n in range(2):
        # Two signers who both confirmed the member's official address as professional one.
        signature = make_signature(
            petition,
            email=f"assistant{n}@example.net",
            first_name="Claire",
            last_name="Dumont",
            category_key="mp",
        )
        from campaign.personal_data import email_digest, encrypt_email

        db.session.add(
            ProfessionalAddress(
                signature_id=signature.id,
                email_digest=email_digest(official.email),
                email_ciphertext=encrypt_email(official.email),
                created_at=now,
                confirmed_at=now,
            )
        )
        db.session.commit()
        assess_at_confirmation(signature.id, now)
        db.session.commit()
        holders.append(signature)
    assert levels(petition) == [("roster", True), ("email", False)]
