"""Links to one's data: only a genuine, unexpired rights token opens the page."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.signatures.consent import ConsentEvent
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import make_token
from tests.factories import make_petition, make_signature
from tests.support import csrf_token


@pytest.fixture
def signature(site):
    return make_signature(make_petition(), email="alice@example.fr", first_name="Alice")


def test_genuine_token_opens_the_page(browser, signature):
    token = make_token("rights", signature, utcnow())
    assert browser.get(f"/s/{token}/my-data").status_code == 200


@pytest.mark.parametrize("purpose", ["confirm", "withdraw"])
def test_a_token_for_another_purpose_is_refused(browser, signature, purpose):
    token = make_token(purpose, signature, utcnow())
    page = browser.get(f"/s/{token}/my-data")
    assert page.status_code == 404
    assert "Alice" not in page.get_data(as_text=True)


def test_a_tampered_token_is_refused_for_pages_downloads_and_changes(browser, signature):
    token = make_token("rights", signature, utcnow())
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    # Signed with the right key, but naming another id.
    another = SimpleNamespace(id=signature.id + 1, link_key=signature.link_key)
    other_id = make_token("rights", another, utcnow())
    for bad in (tampered, "garbage", other_id):
        assert browser.get(f"/s/{bad}/my-data").status_code == 404
        assert browser.get(f"/s/{bad}/my-data.json").status_code == 404
    path = f"/s/{token}/my-data"
    response = browser.post(
        f"/s/{tampered}/my-data/erase", data={"csrf_token": csrf_token(browser, path)}
    )
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Signature, signature.id).first_name == "Alice"


def test_an_expired_token_shows_how_to_get_a_new_one_and_changes_nothing(browser, signature):
    issued = utcnow() - timedelta(days=7, minutes=1)
    token = make_token("rights", signature, issued)
    page = browser.get(f"/s/{token}/my-data")
    assert page.status_code == 410
    assert "/my-signature" in page.get_data(as_text=True)
    assert browser.get(f"/s/{token}/my-data.json").status_code == 410
    fresh = f"/s/{make_token('rights', signature, utcnow())}/my-data"
    for action in ("withdraw", "erase", "consents"):
        response = browser.post(
            f"/s/{token}/my-data/{action}", data={"csrf_token": csrf_token(browser, fresh)}
        )
        assert response.status_code == 410
    db.session.expire_all()
    row = db.session.get(Signature, signature.id)
    assert row.status == SignatureStatus.CONFIRMED and row.show_name is True
    assert db.session.scalar(select(func.count(ConsentEvent.id))) == 0


def test_token_lifetime_follows_the_configuration(make_app):
    app = make_app(PRIVACY_RIGHTS_LINK_MAX_AGE=3600)
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        signature = make_signature(make_petition())
        browser = app.test_client()
        fresh = make_token("rights", signature, utcnow() - timedelta(minutes=59))
        stale = make_token("rights", signature, utcnow() - timedelta(minutes=61))
        assert browser.get(f"/s/{fresh}/my-data").status_code == 200
        assert browser.get(f"/s/{stale}/my-data").status_code == 410
        db.session.remove()


def test_token_of_a_deleted_signature_is_not_valid(browser, signature):
    token = make_token("rights", signature, utcnow())
    db.session.delete(db.session.get(Signature, signature.id))
    db.session.commit()
    assert browser.get(f"/s/{token}/my-data").status_code == 404
