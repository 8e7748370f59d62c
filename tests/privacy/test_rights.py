"""The signer's rights by emailed link, end to end with a real SMTP server: ask, see,
download, change what is published, withdraw, erase."""

from __future__ import annotations

import json
import logging
import re

import pytest
from sqlalchemy import func, select

from campaign.audit import AuditEntry
from campaign.extensions import db
from campaign.mail.outbox import EmailKind, OutboxMessage, OutboxStatus
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.consent import ConsentEvent, ConsentKind
from campaign.signatures.models import Signature, SignatureStatus
from tests.factories import make_petition, make_signature, make_user
from tests.privacy.conftest import ask_for_link, rights_path
from tests.support import (
    csrf_token,
    links_in,
    login,
    path_of,
    sign,
    text_part,
    visible_text,
    wait_until,
)


def outbox_count(kind: EmailKind | None = None) -> int:
    """Emails owed or sent, once the requests in flight are decided: a rights-link request
    from an address that did not sign leaves a skipped row, which is no email."""
    wait_until(
        lambda: (
            not db.session.scalar(
                select(func.count(OutboxMessage.id)).where(
                    OutboxMessage.status.in_([OutboxStatus.QUEUED, OutboxStatus.SENDING]),
                    OutboxMessage.kind == EmailKind.RIGHTS_LINK,
                )
            )
        ),
        10,
        "rights-link requests decided",
    )
    db.session.rollback()
    query = select(func.count(OutboxMessage.id)).where(OutboxMessage.status != OutboxStatus.SKIPPED)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    return db.session.scalar(query)


def consent_events(signature_id: int) -> list[tuple[str, bool]]:
    rows = db.session.execute(
        select(ConsentEvent.what, ConsentEvent.given)
        .where(ConsentEvent.signature_id == signature_id)
        .order_by(ConsentEvent.id)
    )
    return [(str(what), given) for what, given in rows]


def api_count(browser, petition) -> int:
    return browser.get(f"/api/v1/petitions/{petition.slug}").get_json()["count"]


@pytest.fixture
def alice(site):
    """A confirmed signature published with name, title and organisation."""
    petition = make_petition()
    signature = make_signature(
        petition,
        email="alice.martin@example.fr",
        first_name="Alice",
        last_name="Martin",
        title="Médecin",
        organisation="AP-HP",
        show_title=True,
        show_organisation=True,
        contact_ok=True,
    )
    return petition, signature


def open_my_data(browser, mailbox, petition, address="alice.martin@example.fr") -> str:
    ask_for_link(browser, petition, address)
    path = rights_path(mailbox, address)
    outbox_count()  # the request's row settled: the mail arrives before its commit
    return path


# --- Asking for the link ------------------------------------------------------------------


def test_known_and_unknown_addresses_get_the_same_answer_and_only_the_signer_gets_mail(
    browser, mailbox, alice
):
    petition, _signature = alice
    known = ask_for_link(browser, petition, "alice.martin@example.fr")
    unknown = ask_for_link(browser, petition, "nobody@example.fr")
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/my-signature/sent"
    assert mailbox.wait_for(1) and len(mailbox.messages) == 1
    message = mailbox.to("alice.martin@example.fr")[0]
    assert petition.text("fr").title in message["Subject"]
    assert "/my-data" in links_in(text_part(message))[0]
    assert outbox_count(EmailKind.RIGHTS_LINK) == 1
    page = browser.get("/my-signature/sent")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"


def test_footer_form_asks_for_the_petition_and_sends_the_same_link(browser, mailbox, alice):
    petition, _signature = alice
    form = browser.get("/my-signature").get_data(as_text=True)
    assert f'value="{petition.slug}"' in form and 'for="email"' in form
    data = {
        "csrf_token": csrf_token(browser, "/my-signature"),
        "petition": petition.slug,
        "email": "ALICE.MARTIN@example.fr",
    }
    response = browser.post("/my-signature", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/my-signature/sent"
    assert browser.get(rights_path(mailbox, "ALICE.MARTIN@example.fr")).status_code == 200


def test_an_address_that_signed_another_petition_gets_no_mail(browser, mailbox, alice):
    _petition, _signature = alice
    other = make_petition()
    response = ask_for_link(browser, other, "alice.martin@example.fr")
    assert response.status_code == 303
    assert outbox_count(EmailKind.RIGHTS_LINK) == 0 and mailbox.messages == []


def test_withdrawn_signatures_get_no_link(browser, mailbox, site):
    petition = make_petition()
    make_signature(petition, email="gone@example.fr", status=SignatureStatus.WITHDRAWN)
    ask_for_link(browser, petition, "gone@example.fr")
    assert outbox_count(EmailKind.RIGHTS_LINK) == 0 and mailbox.messages == []


@pytest.mark.parametrize("email", ["", "not-an-address", "a" * 250 + "@example.fr"])
def test_bad_address_re_renders_the_form_and_sends_nothing(browser, mailbox, alice, email):
    petition, _signature = alice
    response = ask_for_link(browser, petition, email)
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert outbox_count() == 0 and mailbox.messages == []


def test_footer_form_without_a_petition_re_renders_and_sends_nothing(browser, alice):
    data = {"csrf_token": csrf_token(browser, "/my-signature"), "email": "alice.martin@example.fr"}
    response = browser.post("/my-signature", data=data)
    assert response.status_code == 422
    assert outbox_count() == 0


def test_request_without_csrf_token_changes_nothing(browser, alice):
    petition, _signature = alice
    response = browser.post(
        f"/p/{petition.slug}/my-signature", data={"email": "alice.martin@example.fr"}
    )
    assert response.status_code in (400, 422)
    assert outbox_count() == 0


def test_unknown_or_draft_petition_is_not_found(browser, site):
    draft = make_petition(status="draft")
    assert browser.get("/p/no-such-petition/my-signature").status_code == 404
    assert browser.get(f"/p/{draft.slug}/my-signature").status_code == 404


def test_links_per_signature_are_capped_per_day(make_app, smtp_config, mailbox):
    app = make_app(**smtp_config, PRIVACY_RIGHTS_LINKS_PER_DAY=2)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        make_signature(petition, email="alice@example.fr")
        browser = app.test_client()
        statuses = [ask_for_link(browser, petition, "alice@example.fr").status_code for _ in "abcd"]
        assert statuses == [303] * 4
        assert outbox_count(EmailKind.RIGHTS_LINK) == 2
        assert len(mailbox.wait_for(2)) == 2
        db.session.remove()


def test_requests_are_rate_limited_per_address_whether_it_signed_or_not(make_app):
    app = make_app(RATELIMIT_ENABLED=True, PRIVACY_RIGHTS_LINK_RATELIMIT="2 per minute")
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        make_signature(petition, email="alice@example.fr")
        browser = app.test_client()
        for address in ("alice@example.fr", "nobody@example.fr"):
            statuses = [ask_for_link(browser, petition, address).status_code for _ in "abc"]
            assert statuses == [303, 303, 429]
        assert ask_for_link(browser, petition, "third@example.fr").status_code == 303
        db.session.remove()


# --- The page the link opens --------------------------------------------------------------


def test_page_shows_every_stored_field_in_clear_and_the_consents(browser, mailbox, alice):
    petition, signature = alice
    page = browser.get(open_my_data(browser, mailbox, petition))
    html = page.get_data(as_text=True)
    text = visible_text(html)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    for value in ("alice.martin@example.fr", "Alice", "Martin", "Médecin", "AP-HP"):
        assert value in text
    # Words, not internal values (issue 18.6): the category and the status are named.
    assert "Citoyennes et citoyens" in text and "Non confirmée" not in text
    row = re.search(r"Catégorie</th><td>([^<]*)</td>", html)
    assert row and row.group(1) == "Citoyennes et citoyens"
    assert not re.search(r"<td>(citizen|pending|confirmed|person|fr)</td>", html)
    assert signature.email_digest in text
    assert '<input checked id="show_name"' in html
    assert '<input checked id="contact_ok"' in html
    assert '<th scope="row">' in html and '<th scope="col">' in html
    assert "Martin Alice, Médecin, AP-HP" in text


def test_download_is_a_json_attachment_with_the_data_consents_and_emails(browser, mailbox, alice):
    petition, signature = alice
    db.session.add(ConsentEvent.about(signature, ConsentKind.SIGN, True, signature.consented_at))
    db.session.commit()
    path = open_my_data(browser, mailbox, petition)
    response = browser.get(path + ".json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="tribune-{petition.slug}-my-signature.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.get_data(as_text=True))
    assert data["petition"]["slug"] == petition.slug
    assert data["signature"]["email"] == "alice.martin@example.fr"
    assert data["signature"]["first_name"] == "Alice"
    assert data["signature"]["show_organisation"] is True
    assert "email_ciphertext" not in data["signature"]
    assert data["consents"][0]["what"] == "sign" and data["consents"][0]["given"] is True
    assert [email["kind"] for email in data["emails"]] == ["rights_link"]


def test_unpublishing_the_name_removes_it_from_the_list_at_once_and_keeps_the_count(
    browser, mailbox, alice
):
    petition, signature = alice
    count = api_count(browser, petition)
    assert "Martin Alice" in browser.get(f"/p/{petition.slug}/signatories").data.decode()
    path = open_my_data(browser, mailbox, petition)
    response = browser.post(
        f"{path}/consents", data={"csrf_token": csrf_token(browser, path), "contact_ok": "y"}
    )
    assert response.status_code == 303 and response.headers["Location"] == path
    listing = browser.get(f"/p/{petition.slug}/signatories").get_data(as_text=True)
    assert "Martin" not in listing
    assert api_count(browser, petition) == count
    db.session.expire_all()
    changed = db.session.get(Signature, signature.id)
    assert (changed.show_name, changed.show_title, changed.show_organisation) == (False,) * 3
    assert changed.contact_ok is True and changed.first_name == "Alice"
    assert consent_events(signature.id) == [
        ("publish_name", False),
        ("publish_title", False),
        ("publish_organisation", False),
    ]
    entry = db.session.scalars(select(AuditEntry)).one()
    assert entry.action == "signer changed consents" and entry.count == 1
    assert "Alice" not in entry.detail and "alice" not in entry.actor


def test_publishing_again_is_as_easy_as_unpublishing(browser, mailbox, site):
    petition = make_petition()
    signature = make_signature(
        petition, email="bob@example.fr", last_name="Durand", show_name=False
    )
    path = open_my_data(browser, mailbox, petition, "bob@example.fr")
    browser.post(
        f"{path}/consents", data={"csrf_token": csrf_token(browser, path), "show_name": "y"}
    )
    assert "Durand" in browser.get(f"/p/{petition.slug}/signatories").data.decode()
    assert consent_events(signature.id) == [("publish_name", True)]


def test_title_is_never_published_without_the_name(browser, mailbox, alice):
    petition, signature = alice
    path = open_my_data(browser, mailbox, petition)
    browser.post(
        f"{path}/consents",
        data={"csrf_token": csrf_token(browser, path), "show_title": "y", "contact_ok": "y"},
    )
    db.session.expire_all()
    assert db.session.get(Signature, signature.id).show_title is False


def test_saving_the_same_choices_records_nothing(browser, mailbox, alice):
    petition, signature = alice
    path = open_my_data(browser, mailbox, petition)
    same = {"show_name": "y", "show_title": "y", "show_organisation": "y", "contact_ok": "y"}
    browser.post(f"{path}/consents", data={"csrf_token": csrf_token(browser, path), **same})
    assert consent_events(signature.id) == []
    assert db.session.scalar(select(func.count(AuditEntry.id))) == 0


def test_consent_change_without_csrf_token_is_refused_and_changes_nothing(browser, mailbox, alice):
    petition, signature = alice
    path = open_my_data(browser, mailbox, petition)
    response = browser.post(f"{path}/consents", data={"contact_ok": "y"})
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Signature, signature.id).show_name is True
    assert consent_events(signature.id) == []


def test_withdrawing_takes_the_signature_out_of_the_count_and_erases_its_details(
    browser, mailbox, alice
):
    petition, signature = alice
    count = api_count(browser, petition)
    path = open_my_data(browser, mailbox, petition)
    response = browser.post(f"{path}/withdraw", data={"csrf_token": csrf_token(browser, path)})
    assert response.status_code == 303
    assert api_count(browser, petition) == count - 1
    db.session.expire_all()
    withdrawn = db.session.get(Signature, signature.id)
    assert withdrawn.status == SignatureStatus.WITHDRAWN
    assert withdrawn.first_name == "" and withdrawn.email_ciphertext is None
    assert consent_events(signature.id) == [("sign", False)]
    text = visible_text(browser.get(path).get_data(as_text=True))
    assert "alice.martin@example.fr" not in text and "Martin" not in text
    assert 'name="show_name"' not in browser.get(path).get_data(as_text=True)


def test_erasing_leaves_only_an_anonymous_withdrawn_row(browser, mailbox, alice):
    petition, signature = alice
    db.session.add(ConsentEvent.about(signature, ConsentKind.SIGN, True, signature.consented_at))
    db.session.commit()
    count = api_count(browser, petition)
    path = open_my_data(browser, mailbox, petition)
    response = browser.post(f"{path}/erase", data={"csrf_token": csrf_token(browser, path)})
    assert response.status_code == 303
    db.session.expire_all()
    row = db.session.get(Signature, signature.id)
    assert row.status == SignatureStatus.WITHDRAWN
    for column in ("email_ciphertext", "email_digest", "email_domain_digest", "ip_digest"):
        assert getattr(row, column) is None
    assert (row.first_name, row.last_name, row.title, row.organisation) == ("", "", "", "")
    assert consent_events(signature.id) == []
    assert outbox_count() == 0
    assert api_count(browser, petition) == count - 1
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "signer erased data"))
    assert entry.one().petition_id == petition.id
    page = browser.get(path).get_data(as_text=True)
    assert "Aucun enregistrement de consentement n’est conservé." in page
    assert "Effacer mes données" not in page


def test_signature_only_opens_with_its_token_whatever_the_account(site, mailbox, alice):
    """The token is the only key: no account, even an admin's, opens another signature."""
    petition, signature = alice
    owner = make_user("organiser")
    petition.owner_id = owner.id
    db.session.commit()
    for user in (None, make_user("moderator"), make_user("organiser"), owner, make_user("admin")):
        client = site.test_client()
        if user is not None:
            login(client, user)
        assert client.get(f"/s/{signature.id}/my-data").status_code == 404
        assert client.get(f"/s/{signature.id}/my-data.json").status_code == 404
    assert not [
        rule
        for rule in site.url_map.iter_rules()
        if rule.endpoint.startswith("privacy.") and rule.rule.startswith("/admin")
    ]


# --- No personal data in the logs -----------------------------------------------------------


def test_a_full_flow_writes_no_address_or_name_to_the_logs(browser, mailbox, site, caplog):
    caplog.set_level(logging.DEBUG)
    petition = make_petition()
    sign(
        browser,
        petition,
        email="zoe.lefebvre@example.fr",
        first_name="Zoé",
        last_name="Lefebvre",
        contact_ok="y",
    )
    confirm = path_of(links_in(text_part(mailbox.wait_for(1)[0]))[0])
    browser.post(confirm, data={"csrf_token": csrf_token(browser, confirm)})
    ask_for_link(browser, petition, "zoe.lefebvre@example.fr")
    ask_for_link(browser, petition, "unknown@example.fr")
    path = rights_path(mailbox, "zoe.lefebvre@example.fr")
    browser.get(path + ".json")
    browser.post(f"{path}/consents", data={"csrf_token": csrf_token(browser, path)})
    browser.post(f"{path}/erase", data={"csrf_token": csrf_token(browser, path)})
    logged = caplog.text.lower()
    for secret in ("zoe.lefebvre", "unknown@example", "lefebvre", "zoé"):
        assert secret not in logged
