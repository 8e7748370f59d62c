"""Updates to signatories and the one-click unsubscribe (RFC 8058): headers, a GET that
changes nothing, a POST without CSRF token or cookie that unsubscribes, twice harmlessly."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mailings.models import MailingKind
from campaign.mailings.services import MailingFields, create_mailing, start_mailing
from campaign.signatures.consent import ConsentEvent, ConsentKind
from campaign.signatures.models import Signature
from campaign.tokens import make_token
from tests.factories import make_signature
from tests.support import path_of

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def send_update(petition, organiser, subject: str = "Des nouvelles") -> None:
    fields = MailingFields(
        name=subject,
        subject_template=subject,
        body_template="Bonjour {{ signatory.first_name }},\n\nLa pétition avance.\n",
    )
    mailing = create_mailing(petition, MailingKind.UPDATE, fields, organiser, utcnow())
    assert start_mailing(mailing.id, organiser, utcnow())


def contact_ok(signature_id: int) -> bool:
    db.session.expire_all()
    return db.session.get(Signature, signature_id).contact_ok


def contact_events(signature_id: int) -> list[ConsentEvent]:
    return list(
        db.session.scalars(
            select(ConsentEvent).where(
                ConsentEvent.signature_id == signature_id,
                ConsentEvent.what == ConsentKind.CONTACT,
            )
        )
    )


def unsubscribe_path(signature, now=None) -> str:
    return f"/u/{make_token('unsubscribe', signature, now or utcnow())}"


def test_get_shows_a_button_and_changes_nothing(browser, petition):
    signature = make_signature(petition, contact_ok=True)
    for method in (browser.get, browser.head):
        response = method(unsubscribe_path(signature))
        assert response.status_code == 200
    html = browser.get(unsubscribe_path(signature)).get_data(as_text=True)
    assert 'method="post"' in html and 'name="csrf_token"' in html
    assert response.headers["Cache-Control"] == "no-store"
    assert contact_ok(signature.id) and contact_events(signature.id) == []


def test_one_click_post_without_csrf_token_or_cookie_unsubscribes_once(site, petition):
    signature = make_signature(petition, contact_ok=True)
    path = unsubscribe_path(signature)
    for _ in range(2):
        client = site.test_client(use_cookies=False)
        response = client.post(path, data=ONE_CLICK)
        assert response.status_code == 200
        assert not contact_ok(signature.id)
    (event,) = contact_events(signature.id)
    assert event.given is False and event.consent_version == petition.consent_version
    # The signature itself is untouched.
    db.session.expire_all()
    assert db.session.get(Signature, signature.id).status == "confirmed"


def test_bad_or_expired_unsubscribe_links_change_nothing(browser, petition):
    signature = make_signature(petition, contact_ok=True)
    assert browser.post("/u/nonsense", data=ONE_CLICK).status_code == 404
    expired = unsubscribe_path(signature, utcnow() - timedelta(days=400))
    assert browser.post(expired, data=ONE_CLICK).status_code == 410
    other_purpose = f"/u/{make_token('withdraw', signature, utcnow())}"
    assert browser.post(other_purpose, data=ONE_CLICK).status_code == 404
    assert contact_ok(signature.id) and contact_events(signature.id) == []


def test_updates_reach_only_subscribers_with_one_click_headers_until_they_unsubscribe(
    site, mailbox, petition, organiser
):
    informed = make_signature(petition, contact_ok=True, email="informee@example.fr")
    other = make_signature(petition, contact_ok=True, email="autre@example.fr")
    make_signature(petition, contact_ok=False, email="silence@example.fr")
    make_signature(petition, contact_ok=True, status="pending", email="attente@example.fr")
    send_update(petition, organiser)
    mailbox.wait_for(2)
    assert sorted(rcpt for rcpts, _ in mailbox._messages for rcpt in rcpts) == [
        "autre@example.fr",
        "informee@example.fr",
    ]
    (message,) = mailbox.to("informee@example.fr")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip().strip("<>")
    assert url.startswith("http://tribune.test/u/")
    # What a mail provider does: a cookie-less POST of the one-click body.
    client = site.test_client(use_cookies=False)
    assert client.get(path_of(url)).status_code == 200 and contact_ok(informed.id)
    assert client.post(path_of(url), data=ONE_CLICK).status_code == 200
    assert not contact_ok(informed.id)
    mailbox.clear()
    send_update(petition, organiser, subject="Nouvelles suivantes")
    mailbox.wait_for(1)
    assert [rcpts for rcpts, _ in mailbox._messages] == [["autre@example.fr"]]
    assert other.id
