"""The embed (issue 18.4): framed by the sites of the petition's allow-list only, signing in
it without the session cookie, the proof of work still required, the confirmation email
bringing the signer back to the main site; the workspace's allow-list and snippet; CORS on
the public API."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.petitions.embeds import EmbedOriginError, parse_embed_origins
from campaign.signatures.models import Signature
from tests.factories import make_petition, make_user
from tests.support import (
    csrf_token,
    english_client,
    links_in,
    login,
    path_of,
    sign_data,
    text_part,
)

FORM_TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')


def form_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = FORM_TOKEN.search(page)
    assert match, f"no form token on {path}"
    return match.group(1)


def embed_data(token: str, **overrides) -> dict[str, str]:
    overrides.setdefault("show_name", "yes")
    data = sign_data(form_token=token, **overrides)
    for key in ("title", "organisation", "show_title", "show_organisation"):
        data.pop(key, None)
    return data


def signature_total() -> int:
    return db.session.scalar(select(func.count()).select_from(Signature))


# --- The allow-list ------------------------------------------------------------------------


def test_allow_list_keeps_origins_and_the_star():
    text = "https://Example.org/\n http://localhost:8000, *.\n"
    with pytest.raises(EmbedOriginError):
        parse_embed_origins(text)
    assert parse_embed_origins(
        "https://Example.org/\nhttp://localhost:8000 https://example.org"
    ) == [
        "https://example.org",
        "http://localhost:8000",
    ]
    assert parse_embed_origins("*") == ["*"]
    assert parse_embed_origins("https://*.example.org") == ["https://*.example.org"]
    assert parse_embed_origins("") == []


@pytest.mark.parametrize(
    "entry",
    [
        "example.org",
        "https://example.org/page",
        "https://example.org; script-src *",
        "javascript://x",
        "https://exa mple.org",
        "https://example.org:99999",
        "'self'",
        "data:",
    ],
)
def test_allow_list_refuses_what_is_not_an_origin(entry):
    with pytest.raises(EmbedOriginError):
        parse_embed_origins(entry)


# --- Headers --------------------------------------------------------------------------------


def test_embed_is_framed_only_by_the_petitions_sites(client):
    petition = make_petition(embed_origins="https://asso.example\nhttp://localhost:8001")
    response = client.get(f"/p/{petition.slug}/embed")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://asso.example http://localhost:8001" in csp
    assert "default-src 'self'" in csp and "form-action 'self'" in csp
    assert "X-Frame-Options" not in response.headers
    assert "Set-Cookie" not in response.headers


def test_embed_of_every_site_with_the_star(client):
    petition = make_petition(embed_origins="*")
    response = client.get(f"/p/{petition.slug}/embed")
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers


def test_embed_without_allowed_sites_stays_unframeable(client):
    petition = make_petition()
    response = client.get(f"/p/{petition.slug}/embed")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_hand_edited_list_cannot_inject_a_directive(client):
    petition = make_petition(embed_origins="https://a.example; script-src 'unsafe-inline'")
    csp = client.get(f"/p/{petition.slug}/embed").headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp


def test_every_other_page_stays_unframeable(client):
    petition = make_petition(embed_origins="*")
    for path in ("/", f"/p/{petition.slug}", f"/p/{petition.slug}/signatories", "/privacy"):
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path


def test_embed_of_an_unknown_or_draft_petition_is_not_found(client):
    draft = make_petition(status="draft", embed_origins="*")
    assert client.get(f"/p/{draft.slug}/embed").status_code == 404
    assert client.get("/p/nowhere/embed").status_code == 404


# --- Signing in the embed ------------------------------------------------------------------


def test_sign_in_the_embed_without_cookies_and_confirm_on_the_main_site(site, mailbox):
    petition = make_petition(embed_origins="https://asso.example")
    # A frame whose cookies the browser blocks: the client keeps none.
    framed = site.test_client(use_cookies=False)
    path = f"/p/{petition.slug}/embed"
    token = form_token(framed, path)
    response = framed.post(path, data=embed_data(token, email="framed@example.fr"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/p/{petition.slug}/embed/sent")
    sent = framed.get(response.headers["Location"])
    assert sent.status_code == 200
    assert "frame-ancestors https://asso.example" in sent.headers["Content-Security-Policy"]
    assert signature_total() == 1

    message = mailbox.wait_for(1)[0]
    links = [link for link in links_in(text_part(message)) if "/s/" in link]
    assert links and all(link.startswith("http://tribune.test/s/") for link in links)
    # The link opens the main site's confirmation page (not the embed), which confirms.
    confirmation = site.test_client()
    page = confirmation.get(path_of(links[0]))
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    token = csrf_token(confirmation, path_of(links[0]))
    confirmed = confirmation.post(path_of(links[0]), data={"csrf_token": token})
    assert confirmed.status_code == 303
    assert db.session.scalar(select(Signature.status)) == "confirmed"


def test_embed_refuses_a_post_without_a_valid_form_token(client):
    petition = make_petition(embed_origins="*")
    other = make_petition(embed_origins="*")
    path = f"/p/{petition.slug}/embed?lang=en"
    for token in ("", "forged", form_token(client, f"/p/{other.slug}/embed")):
        response = client.post(path, data=embed_data(token))
        assert response.status_code == 422
        assert "This form has expired. Reload it and sign again." in unescape(
            response.get_data(as_text=True)
        )
    assert signature_total() == 0


def test_embed_form_errors_are_shown_in_the_frame_in_english(client):
    petition = make_petition(embed_origins="*")
    path = f"/p/{petition.slug}/embed?lang=en"
    response = client.post(
        path, data=embed_data(form_token(client, path), first_name="", consent=None)
    )
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    assert "Enter your first name." in html
    assert "Your consent is needed to record your signature." in html
    assert response.headers["Content-Language"] == "en"
    assert "X-Frame-Options" not in response.headers
    assert signature_total() == 0


def test_embed_speaks_french_by_default(client):
    petition = make_petition(embed_origins="*")
    html = client.get(f"/p/{petition.slug}/embed").get_data(as_text=True)
    assert 'lang="fr"' in html


def test_the_proof_of_work_applies_to_the_embed(make_app):
    app = make_app(ALTCHA_ENABLED=True)
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        db.session.commit()
        petition = make_petition(embed_origins="*")
        client = app.test_client(use_cookies=False)
        path = f"/p/{petition.slug}/embed"
        page = client.get(path).get_data(as_text=True)
        assert "altcha-widget" in page
        response = client.post(path, data=embed_data(form_token(client, path)))
        assert response.status_code == 422
        assert "anti-robot" in unescape(response.get_data(as_text=True))
        assert signature_total() == 0


# --- Workspace ------------------------------------------------------------------------------


def test_organiser_sets_the_allowed_sites_and_gets_the_snippet(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    client = app.test_client()
    login(client, owner)
    path = f"/admin/p/{petition.slug}/embed"
    response = client.post(
        path,
        data={"csrf_token": csrf_token(client, path), "origins": "https://asso.example/\n*"},
    )
    assert response.status_code == 303
    db.session.refresh(petition)
    assert petition.embed_origins == "https://asso.example\n*"
    html = unescape(client.get(path).get_data(as_text=True))
    snippet = re.search(r"<iframe[^>]*></iframe>", html).group(0)
    assert f'src="http://tribune.test/p/{petition.slug}/embed"' in snippet
    assert 'loading="lazy"' in snippet and 'title="' in snippet
    assert 'width="' in snippet and 'height="' in snippet


def test_organiser_gets_a_clear_error_for_a_bad_site_and_nothing_changes(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id, embed_origins="https://asso.example")
    client = english_client(app, owner)
    path = f"/admin/p/{petition.slug}/embed"
    response = client.post(
        path, data={"csrf_token": csrf_token(client, path), "origins": "asso.example/page"}
    )
    assert response.status_code == 422
    assert "is not a site address" in unescape(response.get_data(as_text=True))
    db.session.refresh(petition)
    assert petition.embed_origins == "https://asso.example"


# --- The public API -------------------------------------------------------------------------


def test_public_api_answers_cross_origin_reads(client):
    petition = make_petition()
    response = client.get(
        f"/api/v1/petitions/{petition.slug}", headers={"Origin": "https://news.example"}
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert client.get("/api/v1/openapi.yaml").headers["Access-Control-Allow-Origin"] == "*"


def test_other_pages_are_not_readable_cross_origin(client):
    petition = make_petition()
    response = client.get(f"/p/{petition.slug}", headers={"Origin": "https://news.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_embed_asks_explicitly_whether_to_publish_the_name(client):
    petition = make_petition(embed_origins="*")
    path = f"/p/{petition.slug}/embed?lang=en"
    response = client.post(path, data=embed_data(form_token(client, path), show_name=None))
    assert response.status_code == 422
    assert "Choose whether your name may be published." in unescape(response.get_data(as_text=True))
    assert signature_total() == 0
    response = client.post(
        path, data=embed_data(form_token(client, path), show_name="no", email="b@example.fr")
    )
    assert response.status_code == 303
    assert db.session.scalar(select(Signature.show_name)) is False
