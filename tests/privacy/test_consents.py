"""Consent records: written with each signature, and with each change the signer makes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.privacy.services import ConsentChoices, change_consents
from campaign.signatures.consent import ConsentEvent
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import SignatureRequest, sign_petition
from tests.factories import make_petition, make_signature
from tests.support import sign


def events_of(signature_id: int) -> list[ConsentEvent]:
    query = select(ConsentEvent).where(ConsentEvent.signature_id == signature_id)
    return list(db.session.scalars(query.order_by(ConsentEvent.id)))


def test_signing_records_each_consent_with_its_time_and_version(browser, mailbox):
    petition = make_petition(consent_version="2026-11")
    response = sign(browser, petition, show_organisation=None, contact_ok="y")
    assert response.status_code == 303
    signature = db.session.scalars(select(Signature)).one()
    events = events_of(signature.id)
    assert [(event.what, event.given) for event in events] == [
        ("sign", True),
        ("publish_name", True),
        ("publish_title", True),
        ("publish_organisation", False),
        ("contact", True),
    ]
    assert {event.consent_version for event in events} == {"2026-11"}
    assert {event.at for event in events} == {signature.consented_at}


def test_title_refused_with_the_name_is_recorded_as_not_given(app):
    petition = make_petition()
    request = SignatureRequest(
        first_name="Alice",
        last_name="Martin",
        email="alice@example.fr",
        category_key="citizen",
        show_name=False,
        show_title=True,
    )
    now = utcnow()
    sign_petition(petition, request, now)
    signature = db.session.scalars(select(Signature)).one()
    given = {event.what: event.given for event in events_of(signature.id)}
    assert given["publish_name"] is False and given["publish_title"] is False


def test_signing_again_with_the_same_address_records_no_new_consent(browser, mailbox):
    petition = make_petition()
    sign(browser, petition)
    sign(browser, petition, show_name="no")
    assert len(db.session.scalars(select(ConsentEvent)).all()) == 5


def test_change_records_one_event_per_consent_changed_under_the_current_text(app):
    petition = make_petition(consent_version="1")
    signature = make_signature(petition, show_name=True, contact_ok=False)
    petition.consent_version = "2"
    db.session.commit()
    later = utcnow() + timedelta(hours=1)
    choices = ConsentChoices(
        show_name=False, show_title=False, show_organisation=False, contact_ok=True
    )
    changed = change_consents(signature, choices, later)
    assert changed == ["publish_name", "contact"]
    events = events_of(signature.id)
    assert [(e.what, e.given, e.consent_version, e.at) for e in events] == [
        ("publish_name", False, "2", later),
        ("contact", True, "2", later),
    ]
    db.session.expire_all()
    stored = db.session.get(Signature, signature.id)
    assert stored.show_name is False and stored.contact_ok is True
    assert stored.status_changed_at == later


def test_a_withdrawn_signature_has_no_consent_left_to_change(app):
    signature = make_signature(make_petition(), status=SignatureStatus.WITHDRAWN)
    choices = ConsentChoices(
        show_name=True, show_title=True, show_organisation=True, contact_ok=True
    )
    assert change_consents(signature, choices, utcnow()) == []
    assert events_of(signature.id) == []
