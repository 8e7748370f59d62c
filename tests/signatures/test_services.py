"""Domain rules of signing, called without HTTP."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.errors import InvalidTransition, PetitionNotSignable
from campaign.extensions import db
from campaign.mail.outbox import OutboxMessage, OutboxStatus
from campaign.petitions.models import PetitionStatus
from campaign.signatures.counts import move_signature
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import (
    ConfirmationOutcome,
    SignatureRequest,
    confirm_signature,
    counts_by_category,
    published_signatories,
    resend_confirmation,
    sign_petition,
    signatory_line,
    signature_count,
    sort_key,
    withdraw_signature,
)
from tests.factories import make_petition, make_signature


def request_for(email="alice@example.fr", **overrides) -> SignatureRequest:
    values = {
        "first_name": "Alice",
        "last_name": "Martin",
        "email": email,
        "category_key": "clinician",
        "title": "Médecin",
        "organisation": "AP-HP",
        "show_name": True,
        "show_title": True,
        "show_organisation": True,
        "ip": "203.0.113.9",
    }
    values.update(overrides)
    return SignatureRequest(**values)


def signatures_of(petition) -> list[Signature]:
    return list(db.session.scalars(select(Signature).where(Signature.petition_id == petition.id)))


def outbox_count() -> int:
    """Emails owed or sent: signing again over the limits writes a skipped row."""
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.status != OutboxStatus.SKIPPED)
    )


def test_signing_records_a_pending_signature_and_its_email_together(app):
    petition = make_petition()
    sign_petition(petition, request_for(), utcnow())
    [signature] = signatures_of(petition)
    assert signature.status == SignatureStatus.PENDING
    assert signature.email_ciphertext and signature.email_digest
    assert b"alice" not in signature.email_ciphertext
    assert signature.ip_digest and "203.0.113.9" not in signature.ip_digest
    [outbox] = db.session.scalars(select(OutboxMessage))
    assert outbox.signature_id == signature.id


def test_pending_signature_is_not_counted(app):
    petition = make_petition()
    sign_petition(petition, request_for(), utcnow())
    assert signature_count(petition.id) == 0
    assert published_signatories(petition.id).total == 0


@pytest.mark.parametrize(
    "status",
    [SignatureStatus.PENDING, SignatureStatus.HIDDEN, SignatureStatus.INVALIDATED,
     SignatureStatus.WITHDRAWN],
)  # fmt: skip
def test_only_confirmed_signatures_count(app, status):
    petition = make_petition()
    make_signature(petition, status=SignatureStatus.CONFIRMED)
    make_signature(petition, status=status)
    assert signature_count(petition.id) == 1
    assert published_signatories(petition.id).total == 1


def test_second_signature_with_same_email_is_not_counted(app):
    petition = make_petition()
    now = utcnow()
    for spelling in [" Alice@Example.FR ", "alice@example.fr", "ALICE@example.fr"]:
        sign_petition(petition, request_for(email=spelling), now)
    assert len(signatures_of(petition)) == 1


def test_gmail_variants_are_one_signature(app):
    petition = make_petition()
    for spelling in ["a.lice+x@gmail.com", "alice@googlemail.com", "alice@gmail.com"]:
        sign_petition(petition, request_for(email=spelling), utcnow())
    assert len(signatures_of(petition)) == 1


def test_same_address_may_sign_other_petitions(app):
    first, second = make_petition(), make_petition()
    sign_petition(first, request_for(), utcnow())
    sign_petition(second, request_for(), utcnow())
    assert len(signatures_of(first)) == len(signatures_of(second)) == 1


def test_signing_again_resends_at_most_once_per_interval_and_five_times_in_all(app):
    petition = make_petition()
    start = utcnow()
    sign_petition(petition, request_for(), start)
    assert outbox_count() == 1
    sign_petition(petition, request_for(), start + timedelta(minutes=5))
    assert outbox_count() == 1, "within 10 minutes: no second email"
    for attempt in range(1, 10):
        sign_petition(petition, request_for(), start + timedelta(minutes=11 * attempt))
    assert outbox_count() == 5
    [signature] = signatures_of(petition)
    assert signature.confirmation_sends == 5


def test_daily_cap_per_address_across_petitions(app):
    app.config["CONFIRMATION_DAILY_CAP_PER_ADDRESS"] = 3
    now = utcnow()
    petitions = [make_petition() for _ in range(5)]
    for petition in petitions:
        sign_petition(petition, request_for(), now)
    # Every signature is kept; only the emails are capped.
    assert all(len(signatures_of(petition)) == 1 for petition in petitions)
    assert outbox_count() == 3
    # The next day the address can be sent its link again.
    sign_petition(petitions[4], request_for(), now + timedelta(days=1, minutes=1))
    assert outbox_count() == 4


def test_closed_petition_refuses_signatures_and_stores_nothing(app):
    petition = make_petition(status=PetitionStatus.CLOSED)
    with pytest.raises(PetitionNotSignable):
        sign_petition(petition, request_for(), utcnow())
    assert signatures_of(petition) == []
    assert outbox_count() == 0


def test_petition_past_its_closing_date_refuses_signatures(app):
    now = utcnow()
    petition = make_petition(closes_at=now - timedelta(minutes=1))
    with pytest.raises(PetitionNotSignable):
        sign_petition(petition, request_for(), now)


def test_category_not_offered_is_refused(app):
    petition = make_petition()
    with pytest.raises(ValueError):
        sign_petition(petition, request_for(category_key="astronaut"), utcnow())
    assert signatures_of(petition) == []


def test_confirming_twice_counts_once(app):
    petition = make_petition()
    sign_petition(petition, request_for(), utcnow())
    [signature] = signatures_of(petition)
    assert confirm_signature(signature.id, utcnow()) is ConfirmationOutcome.CONFIRMED
    assert confirm_signature(signature.id, utcnow()) is ConfirmationOutcome.ALREADY_CONFIRMED
    assert signature_count(petition.id) == 1


def test_withdrawal_erases_personal_fields_and_uncounts(app):
    petition = make_petition()
    signature = make_signature(petition, first_name="Alice", last_name="Martin", title="Dr")
    assert signature_count(petition.id) == 1
    assert withdraw_signature(signature.id, utcnow())
    db.session.expire_all()
    gone = db.session.get(Signature, signature.id)
    assert gone.status == SignatureStatus.WITHDRAWN
    assert (gone.first_name, gone.last_name, gone.title) == ("", "", "")
    assert gone.email_ciphertext is None and gone.email_digest is None
    assert gone.ip_digest is None
    assert signature_count(petition.id) == 0
    assert published_signatories(petition.id).total == 0
    assert not withdraw_signature(signature.id, utcnow()), "withdrawing twice changes nothing"


def test_a_withdrawn_supporter_can_sign_again(app):
    petition = make_petition()
    sign_petition(petition, request_for(), utcnow())
    [signature] = signatures_of(petition)
    withdraw_signature(signature.id, utcnow())
    sign_petition(petition, request_for(), utcnow())
    statuses = sorted(s.status for s in signatures_of(petition))
    assert statuses == [SignatureStatus.PENDING, SignatureStatus.WITHDRAWN]


def test_withdrawn_signature_cannot_be_confirmed(app):
    petition = make_petition()
    sign_petition(petition, request_for(), utcnow())
    [signature] = signatures_of(petition)
    withdraw_signature(signature.id, utcnow())
    assert confirm_signature(signature.id, utcnow()) is ConfirmationOutcome.NOT_CONFIRMABLE
    assert signature_count(petition.id) == 0


def test_transitions_outside_the_state_machine_are_refused(app):
    petition = make_petition()
    signature = make_signature(petition, status=SignatureStatus.WITHDRAWN)
    with pytest.raises(InvalidTransition):
        move_signature(
            db.session,
            signature.id,
            frozenset({SignatureStatus.WITHDRAWN}),
            SignatureStatus.CONFIRMED,
            utcnow(),
        )


def test_resend_is_refused_after_five_sends(app):
    petition = make_petition()
    signature = make_signature(
        petition, status=SignatureStatus.PENDING, confirmation_sends=5, last_confirmation_at=None
    )
    assert not resend_confirmation(signature.id, utcnow())
    assert outbox_count() == 0


# --- The public list -----------------------------------------------------------------------


def test_sort_key_ignores_accents_and_case_and_puts_spaces_first():
    assert sort_key("Élodie") == sort_key("elodie")
    assert sort_key("De Maison Rouge") < sort_key("Desgrippes")
    assert sort_key("Le Bouter") < sort_key("Leblond")
    assert sort_key("Œuvray") == "oeuvray"
    assert sort_key("Saint-Just") == "saint just"


def test_public_list_is_in_french_order(app):
    petition = make_petition()
    for last in ["Leblond", "Desgrippes", "Le Bouter", "De Maison Rouge", "Éluard", "eluard",
                 "Zola", "Abadie"]:  # fmt: skip
        make_signature(petition, last_name=last, first_name="Jean")
    names = [s.last_name for s in published_signatories(petition.id).items]
    assert names.index("De Maison Rouge") < names.index("Desgrippes")
    assert names.index("Le Bouter") < names.index("Leblond")
    assert names[0] == "Abadie" and names[-1] == "Zola"
    assert {names.index("Éluard"), names.index("eluard")} == {3, 4}


def test_public_list_shows_only_published_fields(app):
    petition = make_petition()
    make_signature(petition, last_name="Martin", first_name="Alice", title="Médecin",
                   organisation="AP-HP", show_title=True, show_organisation=False)  # fmt: skip
    make_signature(petition, last_name="Hidden", first_name="Bob", show_name=False)
    page = published_signatories(petition.id)
    assert [signatory_line(s) for s in page.items] == ["Martin Alice, Médecin"]
    assert signature_count(petition.id) == 2


def test_search_is_accent_and_case_blind_and_filter_by_category(app):
    petition = make_petition()
    make_signature(petition, last_name="Lefèvre", first_name="Zoé", category_key="clinician")
    make_signature(petition, last_name="Durand", first_name="Paul", category_key="engineer")
    assert [s.last_name for s in published_signatories(petition.id, search="lefevre").items] == [
        "Lefèvre"
    ]
    assert published_signatories(petition.id, search="zoe lefevre").total == 1
    assert published_signatories(petition.id, search="LEFÈVRE ZOÉ").total == 1
    engineers = published_signatories(petition.id, category="engineer").items
    assert [s.last_name for s in engineers] == ["Durand"]


def test_pagination(app):
    petition = make_petition()
    for number in range(25):
        make_signature(petition, last_name=f"Nom{number:02d}")
    first = published_signatories(petition.id, per_page=10)
    last = published_signatories(petition.id, per_page=10, page=3)
    assert (first.total, first.pages, len(first.items), len(last.items)) == (25, 3, 10, 5)
    assert first.items[0].last_name == "Nom00" and last.items[-1].last_name == "Nom24"
    beyond = published_signatories(petition.id, per_page=10, page=99)
    assert beyond.page == 3


def test_counts_by_category_follow_the_petition_order_with_zeros(app):
    petition = make_petition()
    make_signature(petition, category_key="engineer")
    make_signature(petition, category_key="engineer")
    make_signature(petition, category_key="mp", status=SignatureStatus.PENDING)
    counts = {category.key: n for category, n in counts_by_category(petition)}
    assert counts["engineer"] == 2 and counts["mp"] == 0 and counts["clinician"] == 0
    assert [c.key for c, _ in counts_by_category(petition)] == [c.key for c in petition.categories]
