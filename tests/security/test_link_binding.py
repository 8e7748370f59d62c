"""An emailed link opens the signature it was made for, and never another one (issue 15.1).

A signature's id can come back: SQLite gave the highest freed id to the next signer, and a
database restored from a dump can do it anywhere. Links are bound to the row's random link
key, so an old link outlives its signature for nothing; SQLite tables never reuse an id.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import make_token
from campaign.verification.models import ProfessionalAddress
from tests.factories import make_petition, make_signature
from tests.support import csrf_token

# Each purpose's page, from its token.
PAGES = {
    "confirm": "/s/{token}",
    "withdraw": "/s/{token}/withdraw",
    "rights": "/s/{token}/my-data",
    "unsubscribe": "/u/{token}",
}


def gone(signature: Signature) -> None:
    """What the purge or an erasure does: the row is deleted."""
    db.session.execute(delete(Signature).where(Signature.id == signature.id))
    db.session.commit()


@pytest.fixture
def petition(site):
    return make_petition()


def test_no_link_opens_a_later_signature_that_took_the_same_id(browser, petition):
    alice = make_signature(petition, email="alice@example.fr", first_name="Alice")
    links = {
        purpose: page.format(token=make_token(purpose, alice, utcnow()))
        for purpose, page in PAGES.items()
    }
    for purpose, link in links.items():
        assert browser.get(link).status_code == 200, f"{purpose}: the link works at first"
    reused_id = alice.id
    gone(alice)
    bruno = make_signature(petition, id=reused_id, email="bruno@example.org", first_name="Bruno")
    assert bruno.id == reused_id

    for purpose, link in links.items():
        page = browser.get(link)
        assert page.status_code == 404, purpose
        assert "Bruno" not in page.get_data(as_text=True), purpose
    # Nor can Alice's old withdrawal link withdraw Bruno.
    withdraw = links["withdraw"]
    answer = browser.post(withdraw, data={"csrf_token": csrf_token(browser, f"/p/{petition.slug}")})
    assert answer.status_code in (400, 404)
    db.session.expire_all()
    assert db.session.get(Signature, reused_id).status == SignatureStatus.CONFIRMED
    assert db.session.get(Signature, reused_id).first_name == "Bruno"


def test_a_freed_signature_id_is_never_given_again(petition):
    first = make_signature(petition)
    last = make_signature(petition)
    freed = last.id
    gone(last)
    after = make_signature(petition)
    assert after.id > freed > first.id


def test_each_signature_has_its_own_link_key(petition):
    keys = {make_signature(petition).link_key for _ in range(5)}
    assert len(keys) == 5 and all(len(key) == 32 for key in keys)


def test_a_withdrawal_link_expires_and_sends_to_a_fresh_link(browser, petition, app):
    alice = make_signature(petition, first_name="Alice")
    max_age = app.config["WITHDRAW_LINK_MAX_AGE"]
    old = make_token("withdraw", alice, utcnow() - timedelta(seconds=max_age + 60))
    page = browser.get(f"/s/{old}/withdraw")
    assert page.status_code == 410
    html = page.get_data(as_text=True)
    assert f"/p/{petition.slug}/my-signature" in html, "where to ask for a fresh link"
    assert "Alice" not in html
    recent = make_token("withdraw", alice, utcnow() - timedelta(seconds=max_age - 3600))
    assert browser.get(f"/s/{recent}/withdraw").status_code == 200


def test_an_address_confirmation_link_opens_its_own_address_only(browser, petition):
    from campaign.tokens import make_token

    signature = make_signature(petition)
    first = ProfessionalAddress(
        signature_id=signature.id, email_digest="a" * 64, email_ciphertext=b"x"
    )
    db.session.add(first)
    db.session.commit()
    token = make_token("verify_address", first, utcnow())
    reused_id = first.id
    db.session.delete(first)
    db.session.commit()
    second = ProfessionalAddress(
        id=reused_id, signature_id=signature.id, email_digest="b" * 64, email_ciphertext=b"y"
    )
    db.session.add(second)
    db.session.commit()

    assert browser.get(f"/a/{token}").status_code == 404
    form = {"csrf_token": csrf_token(browser, f"/p/{petition.slug}")}
    assert browser.post(f"/a/{token}", data=form).status_code == 404
    db.session.expire_all()
    assert db.session.scalar(select(ProfessionalAddress.confirmed_at)) is None
    own = make_token("verify_address", second, utcnow())
    assert browser.get(f"/a/{own}").status_code == 200, "the new address's own link works"
