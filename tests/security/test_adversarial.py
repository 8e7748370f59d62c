"""Hostile input on the public side: each case asserts the outcome and that nothing changed."""

import re

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.mail.outbox import OutboxMessage
from campaign.signatures.models import Signature
from campaign.signatures.services import sort_key
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, login, other_hosts, sign, sign_data, text_part


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count(Signature.id))),
        db.session.scalar(select(func.count(OutboxMessage.id))),
    )


def test_a_one_megabyte_body_is_refused_with_413(client):
    petition = make_petition()
    token = csrf_token(client, f"/p/{petition.slug}")
    response = client.post(
        f"/p/{petition.slug}/sign",
        data=sign_data(csrf_token=token, organisation="x" * (1024 * 1024 + 1)),
    )
    assert response.status_code == 413
    assert counts() == (0, 0)


@pytest.mark.parametrize("field", ["first_name", "last_name", "title", "organisation"])
def test_crlf_header_injection_in_text_fields_is_refused(client, mailbox, field):
    petition = make_petition()
    response = sign(client, petition, **{field: "Alice\r\nBcc: victim@evil.example"})
    assert response.status_code == 422
    assert counts() == (0, 0) and mailbox.messages == []


def test_html_in_every_text_field_is_escaped_in_pages_and_email(make_app, smtp_config, mailbox):
    app = make_app(**smtp_config)
    hostile = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        petition = make_petition()
        client = app.test_client()
        response = sign(client, petition, first_name="Al" + hostile[:60], title=hostile,
                        organisation=hostile)  # fmt: skip
        assert response.status_code == 303
        [message] = mailbox.wait_for(1)
        html_part = message.get_body(preferencelist=("html",)).get_content()
        assert "<script>" not in html_part and "<img src=x" not in html_part
        link = re.search(r"https?://[^\s]+/s/[^\s]+", text_part(message)).group(0)
        path = re.sub(r"^https?://[^/]+", "", link)
        page = client.get(path).get_data(as_text=True)
        assert "<script>alert(2)</script>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page


@pytest.mark.parametrize("query", ["' OR 1=1 --", "%", "_", "\\", "'; DROP TABLE signatures; --"])
def test_sql_metacharacters_in_search_are_plain_text(client, query):
    petition = make_petition()
    make_signature(petition, last_name="Martin")
    response = client.get(f"/p/{petition.slug}/signatories", query_string={"q": query})
    assert response.status_code == 200
    if sort_key(query):  # punctuation alone is no search: the whole list is shown
        assert "Martin" not in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Signature.id))) == 1


def test_confirmation_link_fetched_by_a_mail_scanner_confirms_nothing(client):
    """GET and HEAD, repeatedly, as link scanners do."""
    from campaign.clock import utcnow
    from campaign.tokens import make_token

    petition = make_petition()
    sign(client, petition)
    signature = db.session.scalar(select(Signature))
    path = f"/s/{make_token('confirm', signature, utcnow())}"
    for _ in range(3):
        client.get(path)
        client.head(path)
    db.session.expire_all()
    assert db.session.scalar(select(Signature.status)) == "pending"


def test_no_rendered_page_references_another_host(app):
    """Every GET route without arguments, and every petition route, public and workspace."""
    petition = make_petition()
    make_signature(petition)
    admin = make_user("admin")
    client = app.test_client()
    login(client, admin)
    checked = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in {"static", "accounts.logout"}:
            continue
        if set(rule.arguments) - {"slug"}:
            continue
        path = rule.rule.replace("<slug>", petition.slug)
        response = client.get(path)
        if response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        assert other_hosts(html) == [], path
        checked.append(path)
    assert len(checked) >= 8, checked


def test_security_headers_on_every_kind_of_response(client):
    petition = make_petition()
    for path in ["/", f"/p/{petition.slug}", "/api/v1/petitions/" + petition.slug, "/nowhere",
                 "/static/css/tribune.css"]:  # fmt: skip
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp, path
        assert "frame-ancestors 'none'" in csp
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "Permissions-Policy" in headers


def test_hsts_only_when_served_over_https(make_app):
    plain = make_app().test_client().get("/")
    assert "Strict-Transport-Security" not in plain.headers
    secure = (
        make_app(PUBLIC_URL="https://tribune.example")
        .test_client()
        .get("/", base_url="https://tribune.example")
    )
    assert "max-age=" in secure.headers["Strict-Transport-Security"]
