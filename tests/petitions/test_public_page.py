"""The petition page as a reverse proxy sees it: shared and conditional for anonymous readers
(Cache-Control, ETag, 304, Vary), private for anyone with something of their own, with no
token in it; and the sign form, posted from that shared page with or without JavaScript,
while a cross-site POST is refused (docs/security.md, "The sign form on a shared page")."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select, update

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.models import Petition, PetitionStatus
from campaign.signatures.models import Signature
from campaign.signatures.services import confirm_signature
from tests.factories import make_petition, make_signature, make_user
from tests.support import login, sign_data

TOKEN_URL = re.compile(r'name="csrf_token" value="" data-token-url="([^"]+)"')
SAME_ORIGIN = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}


def rows() -> int:
    return db.session.scalar(select(func.count(Signature.id)))


def token_url(page: str) -> str:
    match = TOKEN_URL.search(page)
    assert match, "the sign form names where its token comes from"
    return unescape(match.group(1))


def test_the_anonymous_page_is_shared_conditional_and_sets_no_cookie(client):
    petition = make_petition()
    response = client.get(f"/p/{petition.slug}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=0, s-maxage=5"
    assert response.headers["ETag"]
    assert "Set-Cookie" not in response.headers
    vary = {part.strip() for part in ",".join(response.headers.getlist("Vary")).split(",")}
    assert {"Accept-Language", "Cookie"} <= vary
    again = client.get(f"/p/{petition.slug}", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_the_page_holds_no_token_and_is_the_same_for_two_readers(app):
    petition = make_petition()
    first = app.test_client().get(f"/p/{petition.slug}")
    second = app.test_client().get(f"/p/{petition.slug}")
    assert first.data == second.data
    assert first.headers["ETag"] == second.headers["ETag"]
    assert 'name="csrf_token" value=""' in first.get_data(as_text=True)


def test_max_age_is_a_setting(make_app):
    app = make_app(PUBLIC_PAGE_MAX_AGE=0)
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        slug = make_petition().slug
    response = app.test_client().get(f"/p/{slug}")
    assert response.headers["Cache-Control"] == "no-cache" and response.headers["ETag"]


def test_the_etag_changes_with_a_confirmed_signature_not_with_a_pending_one(app):
    petition = make_petition()
    path = f"/p/{petition.slug}"
    reader, signer = app.test_client(), app.test_client()
    etag = reader.get(path).headers["ETag"]
    response = signer.post(f"{path}/sign", data=sign_data(), headers=SAME_ORIGIN)
    assert response.status_code == 303 and rows() == 1
    pending = reader.get(path, headers={"If-None-Match": etag})
    assert pending.status_code == 304, "a pending signature shows nowhere on the page"
    confirm_signature(db.session.scalar(select(Signature.id)), utcnow())
    db.session.commit()
    confirmed = reader.get(path, headers={"If-None-Match": etag})
    assert confirmed.status_code == 200 and confirmed.headers["ETag"] != etag
    assert "<strong>1</strong>" in confirmed.get_data(as_text=True)


def test_the_etag_depends_on_the_language(client):
    petition = make_petition()
    french = client.get(f"/p/{petition.slug}", headers={"Accept-Language": "fr"})
    english = client.get(f"/p/{petition.slug}", headers={"Accept-Language": "en"})
    assert french.headers["ETag"] != english.headers["ETag"]
    assert french.headers["Content-Language"] == "fr"
    assert english.headers["Content-Language"] == "en"


def test_an_edit_or_a_close_elsewhere_shows_on_the_next_request(client):
    """No process cache: a change written by another process is seen at once."""
    petition = make_petition(title="Ancien titre")
    assert "Ancien titre" in client.get(f"/p/{petition.slug}").get_data(as_text=True)
    with db.engine.begin() as connection:
        table = Petition.__table__
        connection.execute(
            update(table).where(table.c.id == petition.id).values(status=PetitionStatus.CLOSED)
        )
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert 'name="first_name"' not in page


def test_a_signed_in_organiser_gets_a_private_page(client):
    petition = make_petition()
    login(client, make_user("organiser"))
    response = client.get(f"/p/{petition.slug}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in response.headers


def test_a_page_with_a_flashed_message_is_private(client):
    petition = make_petition()
    db.session.execute(
        update(Petition).where(Petition.id == petition.id).values(status=PetitionStatus.CLOSED)
    )
    db.session.commit()
    refused = client.post(f"/p/{petition.slug}/sign", data=sign_data(), headers=SAME_ORIGIN)
    # A closed petition is still public: the refusal is flashed on its page.
    assert refused.status_code == 303
    page = client.get(refused.headers["Location"])
    assert "n’est pas ouverte à la signature" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in page.headers
    assert client.get(f"/p/{petition.slug}").headers["Cache-Control"].startswith("public")


def test_a_query_string_is_not_shared(client):
    petition = make_petition()
    response = client.get(f"/p/{petition.slug}?utm=x")
    assert response.headers["Cache-Control"] == "private, no-store"


def test_signatories_and_press_pages_are_shared_and_conditional(client):
    petition = make_petition()
    make_signature(petition)
    for path in (f"/p/{petition.slug}/signatories", f"/p/{petition.slug}/press"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"].startswith("public"), path
        assert "Set-Cookie" not in response.headers, path
        again = client.get(path, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304, path


def test_sign_without_javascript_from_the_shared_page(client):
    """No script ran: the form holds no token, and the browser's headers vouch for it."""
    petition = make_petition()
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert 'value=""' in page
    for number, headers in enumerate(
        (
            {"Origin": "http://localhost"},
            {"Sec-Fetch-Site": "same-origin"},
            # What Chromium sends: the page's Referrer-Policy: no-referrer nulls the Origin.
            {"Sec-Fetch-Site": "same-origin", "Origin": "null"},
            {"Origin": "http://tribune.test"},  # PUBLIC_URL
        )
    ):
        email = f"signer{number}@example.org"
        response = client.post(
            f"/p/{petition.slug}/sign", data=sign_data(email=email), headers=headers
        )
        assert response.status_code == 303, headers
        assert response.headers["Location"].endswith(f"/p/{petition.slug}/check-inbox")
    assert rows() == 4


def test_sign_with_javascript_from_the_shared_page(client):
    """sign-form.js fetches the visitor's token; the POST carries it (no headers needed)."""
    petition = make_petition()
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    answer = client.get(token_url(page))
    assert answer.headers["Cache-Control"] == "private, no-store"
    token = answer.get_json()["token"]
    response = client.post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token))
    assert response.status_code == 303 and rows() == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://attacker.example"},
        {"Origin": "null"},  # a sandboxed frame, a data: page (and no token)
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
        {},  # no header and no token
    ],
)
def test_a_cross_site_post_is_refused_with_a_clear_page(client, headers):
    petition = make_petition()
    response = client.post(f"/p/{petition.slug}/sign", data=sign_data(), headers=headers)
    assert response.status_code == 403
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "envoyé depuis un autre site" in response.get_data(as_text=True)
    assert rows() == 0


def test_a_cross_site_post_is_refused_even_with_a_valid_token(client):
    petition = make_petition()
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    token = client.get(token_url(page)).get_json()["token"]
    response = client.post(
        f"/p/{petition.slug}/sign",
        data=sign_data(csrf_token=token),
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403 and rows() == 0


def test_a_wrong_token_without_headers_is_refused(client):
    petition = make_petition()
    response = client.post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token="forged"))
    assert response.status_code == 403 and rows() == 0


def test_other_forms_keep_flask_wtf_csrf(client):
    """Only the sign form is exempt: the resend form on the check-inbox page still needs the
    session's token, whatever the headers say."""
    petition = make_petition()
    client.post(f"/p/{petition.slug}/sign", data=sign_data(), headers=SAME_ORIGIN)
    response = client.post(f"/p/{petition.slug}/check-inbox/resend", headers=SAME_ORIGIN)
    assert response.status_code == 400


def test_an_invalid_submission_is_rerendered_privately(client):
    petition = make_petition()
    response = client.post(
        f"/p/{petition.slug}/sign", data=sign_data(consent=None), headers=SAME_ORIGIN
    )
    assert response.status_code == 422
    assert response.headers["Cache-Control"] == "private, no-store"
    assert rows() == 0
