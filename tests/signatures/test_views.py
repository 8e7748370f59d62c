"""The signing path over HTTP, with mail received by a real SMTP server."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mail.outbox import OutboxMessage, OutboxStatus
from campaign.petitions.models import PetitionStatus
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature, SignatureStatus
from campaign.tokens import make_token
from tests.factories import make_petition, make_signature
from tests.support import (
    csrf_token,
    links_in,
    other_hosts,
    path_of,
    sign,
    sign_data,
    text_part,
    visible_text,
)

CSRF_VALUE = re.compile(r'(?<=name="csrf_token" type="hidden" value=")[^"]+')


def rows() -> int:
    return db.session.scalar(select(func.count(Signature.id)))


def outbox_rows() -> int:
    """Emails owed or sent: signing again over the limits writes a skipped row."""
    return db.session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.status != OutboxStatus.SKIPPED)
    )


def confirmation_path(mailbox, address="alice@example.fr", index=0) -> str:
    message = mailbox.wait_for(index + 1) and mailbox.to(address)[index]
    return path_of(links_in(text_part(message))[0])


def test_petition_page_shows_text_count_and_form_in_french_by_default(browser):
    petition = make_petition(title="Souveraineté des données")
    make_signature(petition, last_name="Martin", first_name="Alice")
    page = browser.get(f"/p/{petition.slug}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Souveraineté des données" in html and "<strong>important</strong>" in html
    assert 'name="first_name"' in html and 'name="csrf_token"' in html
    assert "Martin Alice" in html
    assert '<html lang="fr">' in html


def test_petition_page_in_english_by_accept_language(browser):
    petition = make_petition(title="Souveraineté")
    page = browser.get(f"/p/{petition.slug}", headers={"Accept-Language": "en-GB,en;q=0.9"})
    html = page.get_data(as_text=True)
    assert '<html lang="en">' in html and "Souveraineté (en)" in html
    assert "Sign this petition" in html


def test_language_switch_is_remembered(browser):
    petition = make_petition()
    response = browser.get(f"/language/en?next=/p/{petition.slug}")
    assert response.status_code == 303 and response.headers["Location"] == f"/p/{petition.slug}"
    assert '<html lang="en">' in browser.get(f"/p/{petition.slug}").get_data(as_text=True)


@pytest.mark.parametrize(
    "target", ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_language_switch_never_redirects_off_site(browser, target):
    response = browser.get("/language/fr", query_string={"next": target})
    assert response.headers["Location"] == "/"


def test_valid_signature_redirects_to_check_inbox_and_sends_the_link(browser, mailbox):
    petition = make_petition()
    response = sign(browser, petition)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/p/{petition.slug}/check-inbox"
    [message] = mailbox.wait_for(1)
    assert message["To"] == "alice@example.fr"
    assert message.get_body(preferencelist=("html",)) is not None
    assert message["Subject"].startswith("Confirmez votre signature")
    assert rows() == 1


def test_confirmation_email_is_in_the_signers_language(browser, mailbox):
    petition = make_petition()
    browser.get("/language/en?next=/")
    sign(browser, petition)
    [message] = mailbox.wait_for(1)
    assert message["Subject"].startswith("Confirm your signature")
    assert "Thank you for signing" in text_part(message)


@pytest.mark.parametrize(
    ("field", "value", "message_fr"),
    [
        ("first_name", "", "Saisissez votre prénom."),
        ("last_name", "x" * 101, "101"),
        ("last_name", "Visit https://spam.example", "adresse web"),
        ("last_name", "www.spam.example", "adresse web"),
        ("first_name", "Al\u202eice", "caractères"),
        ("title", "a\nb", "caractères"),
        ("email", "not-an-address", "adresse e-mail valide"),
        ("email", "josé@exemple.fr", "sans accent avant le @"),
        ("category", "astronaut", "choix"),
        ("departement", "999", "un département dans la liste"),
        ("departement", "2a", "un département dans la liste"),
        ("consent", None, "consentement"),
        ("organisation", "o" * 201, "201"),
    ],
)
def test_invalid_input_rerenders_with_a_french_message_and_stores_nothing(
    browser, field, value, message_fr
):
    petition = make_petition()
    response = sign(browser, petition, **{field: value})
    html = visible_text(response.get_data(as_text=True))
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    if message_fr.isdigit():
        assert "100" in html or "200" in html
    else:
        assert message_fr.lower() in html.lower()
    assert rows() == 0 and outbox_rows() == 0


def test_invalid_input_message_in_english(browser):
    petition = make_petition()
    browser.get("/language/en?next=/")
    response = sign(browser, petition, first_name="")
    assert response.status_code == 422
    assert "Enter your first name." in response.get_data(as_text=True)
    assert rows() == 0


def test_an_accented_mailbox_name_is_refused_in_english_and_an_accented_domain_accepted(
    browser, mailbox
):
    petition = make_petition()
    browser.get("/language/en?next=/")
    response = sign(browser, petition, email="josé@exemple.fr")
    assert response.status_code == 422
    assert "without accents before the @" in response.get_data(as_text=True)
    assert rows() == 0
    assert sign(browser, petition, email="jose@exémple.fr").status_code == 303
    [message] = mailbox.wait_for(1)
    assert message["To"] == "jose@xn--exmple-cva.fr"


def test_submitted_values_are_kept_when_the_form_is_rerendered(browser):
    petition = make_petition()
    response = sign(browser, petition, consent=None, last_name="Lefèvre")
    assert 'value="Lefèvre"' in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused_and_changes_nothing(browser, mailbox):
    """Neither a token nor the browser's Origin or Sec-Fetch-Site: nothing says the form
    came from this site (tests/petitions/test_public_page.py has the other cases)."""
    petition = make_petition()
    response = browser.post(f"/p/{petition.slug}/sign", data=sign_data())
    assert response.status_code == 403
    assert rows() == 0 and outbox_rows() == 0 and mailbox.messages == []


def test_post_with_another_sessions_csrf_token_is_refused(site, mailbox):
    petition = make_petition()
    token = csrf_token(site.test_client(), f"/p/{petition.slug}")
    response = site.test_client().post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token))
    assert response.status_code == 403
    assert rows() == 0 and mailbox.messages == []


def test_signing_twice_gives_the_same_answer_and_one_signature(browser, mailbox):
    petition = make_petition()
    first = sign(browser, petition, email=" Alice@Example.FR ")
    # The page holds a form (send the email again): its CSRF token is timestamped.
    first_page = CSRF_VALUE.sub("", browser.get(first.headers["Location"]).get_data(as_text=True))
    second = sign(browser, petition, email="alice@example.fr")
    second_page = CSRF_VALUE.sub("", browser.get(second.headers["Location"]).get_data(as_text=True))
    assert (first.status_code, first.headers["Location"]) == (
        second.status_code,
        second.headers["Location"],
    )
    assert first_page == second_page
    assert rows() == 1
    # Within 10 minutes of the first email, no second one.
    assert len(mailbox.wait_for(1)) == 1


def test_get_and_head_on_the_confirmation_link_change_nothing(browser, mailbox):
    petition = make_petition()
    sign(browser, petition)
    path = confirmation_path(mailbox)
    for _ in range(3):
        assert browser.get(path).status_code == 200
        assert browser.head(path).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Signature.status)) == SignatureStatus.PENDING


def test_confirming_shows_the_signature_and_counts_it_once(browser, mailbox):
    petition = make_petition()
    sign(browser, petition, first_name="Alice", last_name="Martin")
    path = confirmation_path(mailbox)
    page = browser.get(path).get_data(as_text=True)
    assert "Martin Alice, Médecin, AP-HP" in page
    token = csrf_token(browser, path)
    first = browser.post(path, data={"csrf_token": token})
    second = browser.post(path, data={"csrf_token": token})
    assert first.status_code == second.status_code == 303
    assert "déjà confirmée" in browser.get(path).get_data(as_text=True)
    count = browser.get(f"/api/v1/petitions/{petition.slug}").json["count"]
    assert count == 1
    listing = browser.get(f"/p/{petition.slug}/signatories").get_data(as_text=True)
    assert "Martin Alice, Médecin, AP-HP" in listing


def test_confirm_post_without_csrf_does_not_confirm(browser, mailbox):
    petition = make_petition()
    sign(browser, petition)
    path = confirmation_path(mailbox)
    assert browser.post(path).status_code == 400
    assert db.session.scalar(select(Signature.status)) == SignatureStatus.PENDING


def test_two_tabs_confirming_at_once_count_once(site, mailbox):
    petition = make_petition()
    sign(site.test_client(), petition)
    path = confirmation_path(mailbox)
    tabs = [site.test_client() for _ in range(8)]
    tokens = [csrf_token(tab, path) for tab in tabs]
    barrier = threading.Barrier(len(tabs))
    statuses = []

    def confirm(tab, token):
        barrier.wait()
        statuses.append(tab.post(path, data={"csrf_token": token}).status_code)

    threads = [threading.Thread(target=confirm, args=pair) for pair in zip(tabs, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * len(tabs)
    assert site.test_client().get(f"/api/v1/petitions/{petition.slug}").json["count"] == 1


def test_expired_link_offers_a_new_one(browser, site, mailbox):
    petition = make_petition()
    sign(browser, petition)
    mailbox.wait_for(1)
    signature = db.session.scalar(select(Signature))
    old = utcnow() - timedelta(days=8)
    expired = f"/s/{make_token('confirm', signature, old)}"
    response = browser.get(expired)
    assert response.status_code == 410
    assert "expiré" in response.get_data(as_text=True)
    # The resend respects the interval: move the last send back in time.
    db.session.execute(
        Signature.__table__.update().values(last_confirmation_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    token = csrf_token(browser, expired)
    resent = browser.post(f"{expired}/resend", data={"csrf_token": token})
    assert resent.status_code == 303
    mailbox.wait_for(2)
    fresh = confirmation_path(mailbox, index=1)
    assert browser.get(fresh).status_code == 200
    assert db.session.scalar(select(Signature.status)) == SignatureStatus.PENDING


@pytest.mark.parametrize("token", ["garbage", "WzEsMV0.invalidsignature"])
def test_unknown_token_gets_a_clear_page(browser, token):
    response = browser.get(f"/s/{token}")
    assert response.status_code == 404
    assert "pas valide" in response.get_data(as_text=True)


def test_withdraw_token_cannot_confirm(browser, mailbox):
    petition = make_petition()
    sign(browser, petition)
    mailbox.wait_for(1)
    signature = db.session.scalar(select(Signature))
    response = browser.get(f"/s/{make_token('withdraw', signature, utcnow())}")
    assert response.status_code == 404


def test_withdrawal_link_removes_the_name_everywhere(browser, mailbox):
    petition = make_petition()
    make_signature(petition, last_name="Durand", first_name="Paul")
    sign(browser, petition, first_name="Alice", last_name="Martin")
    confirm_path = confirmation_path(mailbox)
    browser.post(confirm_path, data={"csrf_token": csrf_token(browser, confirm_path)})
    assert browser.get(f"/api/v1/petitions/{petition.slug}").json["count"] == 2

    [withdraw_link] = [
        link for link in links_in(text_part(mailbox.messages[0])) if "withdraw" in link
    ]
    withdraw_path = path_of(withdraw_link)
    assert browser.get(withdraw_path).status_code == 200, "GET only shows the page"
    assert browser.get(f"/api/v1/petitions/{petition.slug}").json["count"] == 2
    response = browser.post(withdraw_path, data={"csrf_token": csrf_token(browser, withdraw_path)})
    assert response.status_code == 303

    api = browser.get(f"/api/v1/petitions/{petition.slug}").json
    listing = browser.get(f"/p/{petition.slug}/signatories").get_data(as_text=True)
    page = browser.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert api["count"] == 1 and api["counts_by_category"]["clinician"] == 0
    assert "Martin Alice" not in listing and "Martin Alice" not in page
    assert "Durand Paul" in listing
    assert "retirée" in browser.get(withdraw_path).get_data(as_text=True)


def test_public_list_shows_published_fields_only(browser):
    petition = make_petition()
    make_signature(petition, last_name="Martin", first_name="Alice", title="Médecin",
                   organisation="Secret Org", show_title=True, show_organisation=False,
                   email="alice.secret@example.org")  # fmt: skip
    make_signature(petition, last_name="Anonyme", first_name="Bob", show_name=False)
    make_signature(petition, last_name="Pending", status=SignatureStatus.PENDING)
    html = browser.get(f"/p/{petition.slug}/signatories").get_data(as_text=True)
    assert "Martin Alice, Médecin" in html
    for secret in ["Secret Org", "Anonyme", "Pending", "alice.secret", "@example.org"]:
        assert secret not in html


def test_public_list_filters_searches_and_paginates(browser):
    petition = make_petition()
    for number in range(105):
        make_signature(petition, last_name=f"Nom{number:03d}", category_key="citizen")
    make_signature(petition, last_name="Lefèvre", first_name="Zoé", category_key="engineer")
    first = browser.get(f"/p/{petition.slug}/signatories").get_data(as_text=True)
    second = browser.get(f"/p/{petition.slug}/signatories?page=2").get_data(as_text=True)
    assert "Nom000" in first and "Nom104" not in first and "Nom104" in second
    assert 'rel="next"' in first
    found = browser.get(f"/p/{petition.slug}/signatories?q=lefevre").get_data(as_text=True)
    assert "Lefèvre Zoé" in found and "Nom000" not in found
    engineers = browser.get(f"/p/{petition.slug}/signatories?category=engineer")
    assert "Lefèvre Zoé" in engineers.get_data(as_text=True)
    assert "Nom000" not in engineers.get_data(as_text=True)


def test_names_are_escaped(browser):
    petition = make_petition()
    make_signature(petition, last_name="<script>alert(1)</script>", first_name='"><img src=x>')
    html = browser.get(f"/p/{petition.slug}/signatories").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "<img src=x>" not in html
    assert "&lt;script&gt;" in html


def test_draft_petition_is_not_public(browser):
    petition = make_petition(status=PetitionStatus.DRAFT)
    assert browser.get(f"/p/{petition.slug}").status_code == 404
    assert browser.get(f"/api/v1/petitions/{petition.slug}").status_code == 404


def test_closed_petition_shows_its_page_but_refuses_signatures(browser, mailbox):
    petition = make_petition()
    token = csrf_token(browser, f"/p/{petition.slug}")
    petition.close()
    db.session.commit()
    page = browser.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert 'name="first_name"' not in page and "n’accepte plus de signatures" in page
    response = browser.post(f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token))
    assert response.status_code == 303
    after = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "n’est pas ouverte à la signature" in after
    assert rows() == 0 and mailbox.messages == []


def test_twenty_concurrent_identical_signatures_leave_one_row(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        slug = petition.slug
    barrier = threading.Barrier(20)
    statuses = []

    def post():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(f"/p/{slug}/sign", data=sign_data()).status_code)

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [303] * 20
    with app.app_context():
        assert rows() == 1
        assert outbox_rows() == 1


def test_sign_is_rate_limited_per_ip(make_app):
    app = make_app(WTF_CSRF_ENABLED=False, RATELIMIT_ENABLED=True, RATELIMIT_SIGN="3 per minute")
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        client = app.test_client()
        statuses = [
            client.post(
                f"/p/{petition.slug}/sign", data=sign_data(email=f"p{n}@example.org")
            ).status_code
            for n in range(5)
        ]
        assert statuses == [303, 303, 303, 429, 429]
        assert rows() == 3
        other = app.test_client().post(
            f"/p/{petition.slug}/sign",
            data=sign_data(email="other@example.org"),
            environ_base={"REMOTE_ADDR": "198.51.100.4"},
        )
        assert other.status_code == 303


def test_rendered_pages_reference_no_other_host(browser, mailbox):
    petition = make_petition()
    make_signature(petition)
    sign(browser, petition)
    confirmation = confirmation_path(mailbox)
    browser.post(confirmation, data={"csrf_token": csrf_token(browser, confirmation)})
    pages = [
        "/",
        "/privacy",
        f"/p/{petition.slug}",
        f"/p/{petition.slug}/signatories",
        f"/p/{petition.slug}/check-inbox",
        confirmation,
        f"/p/{petition.slug}/share/mastodon",
        f"/p/{petition.slug}/share/mastodon?instance=bad/",
        "/s/invalid",
        "/nowhere",
    ]
    for path in pages:
        response = browser.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code in (200, 404, 422), path
        assert other_hosts(html) == [], path
        assert "url(http" not in html and "url(//" not in html
    # The Mastodon step names the instance the reader chose, as a plain link only.
    chosen = browser.get(f"/p/{petition.slug}/share/mastodon?instance=piaille.fr")
    assert [(tag, name) for tag, name, _ in other_hosts(chosen.get_data(as_text=True))] == [
        ("a", "href")
    ]
    # The crawler itself: a link to another site with a script would be caught.
    assert other_hosts('<script src="https://wa.me/x.js"></script>') != []
    assert other_hosts('<img src="//cdn.example/x.png">') != []
    assert other_hosts('<a href="https://cdn.example/">x</a>') != []


def test_security_headers(browser):
    response = browser.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_development_outbox_is_hidden_outside_demo(browser):
    assert browser.get("/dev/outbox").status_code == 404


def test_development_outbox_shows_mail_in_demo_mode(make_app):
    app = make_app(DEMO=True)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        client = app.test_client()
        sign(client, petition)
        html = client.get("/dev/outbox").get_data(as_text=True)
    assert "alice@example.fr" in html
    assert re.search(r'href="http://tribune.test/s/[^"]+"', html)


def test_resends_from_the_expired_link_page_are_limited_per_signature(
    make_app, mailbox, smtp_config
):
    app = make_app(**smtp_config, RATELIMIT_ENABLED=True, RATELIMIT_RESEND="2 per hour")
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        first, second = (
            make_signature(petition, status=SignatureStatus.PENDING),
            make_signature(petition, status=SignatureStatus.PENDING),
        )
        client = app.test_client()
        old = utcnow() - timedelta(days=8)

        def resend(signature):
            path = f"/s/{make_token('confirm', signature, old)}"
            return client.post(f"{path}/resend", data={"csrf_token": csrf_token(client, path)})

        assert [resend(first).status_code for _ in range(3)] == [303, 303, 429]
        assert resend(second).status_code == 303, "another signature has its own budget"


def test_forms_work_over_https_behind_a_proxy_without_referer(make_app, smtp_config, mailbox):
    """Pages send Referrer-Policy: no-referrer, so browsers send no Referer over HTTPS."""
    app = make_app(**smtp_config, TRUSTED_PROXY_COUNT=1, PUBLIC_URL="https://tribune.example")
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        client = app.test_client()
        proxied = {"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https"}
        page = client.get(f"/p/{petition.slug}", headers=proxied).get_data(as_text=True)
        # The page's script fetches the token (the page itself is shared by every reader).
        token_url = re.search(r'data-token-url="([^"]+)"', page).group(1)
        token = client.get(token_url, headers=proxied).get_json()["token"]
        response = client.post(
            f"/p/{petition.slug}/sign", data=sign_data(csrf_token=token), headers=proxied
        )
        assert response.status_code == 303
        assert rows() == 1
        ip_digest = db.session.scalar(select(Signature.ip_digest))
        from campaign.personal_data import ip_digest as digest_of

        assert ip_digest == digest_of("203.0.113.5"), "the client address comes from the proxy"
