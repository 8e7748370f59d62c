"""The public pages of supporters' letters: the invitation after confirming, the letter
form, and the public ledger on the petition page."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mailings.models import Delivery, DeliveryStatus
from campaign.tokens import make_token
from tests.factories import make_official, make_petition, make_signature
from tests.support import csrf_token, english_client, visible_text

WRITE_LINK = re.compile(r'href="(/p/[^/"]+/write/[^"]+)"')


def write_path(petition, signature, now=None) -> str:
    return f"/p/{petition.slug}/write/{make_token('write', signature, now or utcnow())}"


def form_values(html: str) -> dict[str, str]:
    """The subject, body and draft digest as the form holds them."""
    subject = re.search(r'name="subject"[^>]*value="([^"]*)"', html)
    body = re.search(r'<textarea[^>]*name="body"[^>]*>\r?\n?(.*?)</textarea>', html, re.S)
    digest = re.search(r'name="draft_digest" type="hidden" value="([^"]*)"', html)
    return {
        "subject": unescape(subject.group(1)) if subject else "",
        "body": unescape(body.group(1)) if body else "",
        "draft_digest": digest.group(1) if digest else "",
    }


def letters() -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).order_by(Delivery.id)))


# --- The invitation on the confirmation page ---------------------------------------------------


def test_confirming_shows_the_invitation_to_write_when_letters_are_open(
    browser, petition, open_letters
):
    open_letters()
    pending = make_signature(petition, status="pending", departement="75")
    page = f"/s/{make_token('confirm', pending, utcnow())}"
    assert not WRITE_LINK.search(browser.get(page).get_data(as_text=True))
    response = browser.post(page, data={"csrf_token": csrf_token(browser, page)})
    assert response.status_code == 303
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    (link,) = WRITE_LINK.findall(html)
    # The link names the petition and a signed token: no personal data.
    assert "@" not in link and "75" not in link.rpartition("/")[0]
    assert browser.get(link).status_code == 200


def test_no_invitation_without_an_open_letters_mailing(browser, petition):
    signature = make_signature(petition)
    html = browser.get(f"/s/{make_token('confirm', signature, utcnow())}").get_data(as_text=True)
    assert not WRITE_LINK.search(html)


# --- The letter form ---------------------------------------------------------------------------


OWN_WORDS = (
    "Je suis infirmière à l'hôpital du quartier : trois services ont fermé cette année, "
    "et les patients attendent des heures."
)


def previews(html: str) -> list[str]:
    """The letters the page shows, one per ticked representative, as visible text."""
    return [
        visible_text(part)
        for part in re.findall(r'<details[^>]*class="letter-preview".*?</details>', html, re.S)
    ]


def test_the_form_shows_the_letter_each_representative_will_receive(
    browser, petition, supporter, depute, senateur, open_letters
):
    open_letters()
    response = browser.get(write_path(petition, supporter))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    values = form_values(html)
    assert values["subject"] == "Au sujet de « Hôpital public »"
    # One letter per representative, each addressed to them and signed by the supporter.
    to_her, to_him = previews(html)
    assert "Claire Dupont," in to_her and "Bernard Arnaud" not in to_her
    assert "Bernard Arnaud," in to_him and "Claire Dupont" not in to_him
    assert "Alice Martin" in to_her and "Paris (75)" in to_him
    assert re.search(r'<option selected value="75">|<option value="75" selected', html)
    assert f'value="{depute.id}" checked' in html or 'checked id="officials-0"' in html
    # The role in the official's gender where the directory gives it (not for him).
    assert "Claire Dupont (Députée)" in html and "Bernard Arnaud (Sénateur)" in html
    assert "alice@example.fr" not in html
    assert 'name="csrf_token"' in html


def test_sending_the_form_sends_the_letter_and_lists_the_recipients(
    browser, mailbox, petition, supporter, depute, senateur, open_letters
):
    open_letters()
    path = write_path(petition, supporter)
    data = {
        "csrf_token": csrf_token(browser, path),
        "departement": "75",
        "officials": [str(depute.id)],
        "subject": "Mon hôpital",
        "body": OWN_WORDS,
        "send": "1",
    }
    response = browser.post(path, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "Claire Dupont" in html and "Bernard Arnaud" not in html
    mailbox.wait_for(2)
    assert len(mailbox.to(depute.email)) == 1 and len(mailbox.to("alice@example.fr")) == 1
    # The same form again: refused for that official, still one letter (and one copy).
    again = browser.post(path, data={**data, "csrf_token": csrf_token(browser, path)})
    assert "déjà écrit" in visible_text(again.get_data(as_text=True))
    assert len(letters()) == 1 and len(mailbox.messages) == 2


def test_changing_the_departement_shows_its_representatives(
    browser, petition, supporter, depute, open_letters
):
    open_letters()
    marseille = make_official(departement="13", first_name="Marc", last_name="Sud")
    path = write_path(petition, supporter)
    first = form_values(browser.get(path).get_data(as_text=True))
    data = {"csrf_token": csrf_token(browser, path), "departement": "13", "show": "1", **first}
    html = browser.post(path, data=data).get_data(as_text=True)
    assert "Marc Sud" in html and "Claire Dupont" not in html
    # The letter follows the new representative...
    (letter,) = previews(html)
    assert letter.startswith("À : Marc Sud") and "Marc Sud," in letter
    # ...a text the supporter changed stays as they wrote it.
    data = {**data, **form_values(html), "departement": "75", "body": "Mon propre texte."}
    html = browser.post(path, data=data).get_data(as_text=True)
    assert "Claire Dupont" in html and form_values(html)["body"] == "Mon propre texte."
    assert marseille.id and letters() == []


def test_a_subject_with_a_line_break_is_refused_with_a_message_in_the_readers_language(
    site, mailbox, petition, supporter, depute, open_letters
):
    open_letters()
    client = english_client(site)
    path = write_path(petition, supporter)
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "departement": "75",
            "officials": [str(depute.id)],
            "subject": "Objet\r\nBcc: x@evil.example",
            "body": "Texte",
            "send": "1",
        },
    )
    assert response.status_code == 422
    assert "single line" in visible_text(response.get_data(as_text=True))
    assert letters() == [] and mailbox.messages == []


def test_posting_without_a_csrf_token_changes_nothing(
    browser, petition, supporter, depute, open_letters
):
    open_letters()
    response = browser.post(
        write_path(petition, supporter),
        data={"departement": "75", "officials": [str(depute.id)], "subject": "S", "body": "B",
              "send": "1"},
    )  # fmt: skip
    assert response.status_code == 400 and letters() == []


def test_write_links_that_are_wrong_expired_or_for_another_petition(
    browser, petition, supporter, open_letters
):
    open_letters()
    assert browser.get(f"/p/{petition.slug}/write/nonsense").status_code == 404
    old = write_path(petition, supporter, utcnow() - timedelta(days=31))
    assert browser.get(old).status_code == 410
    other = make_petition()
    path = f"/p/{other.slug}/write/{make_token('write', supporter, utcnow())}"
    assert browser.get(path).status_code == 404
    # A token of another purpose is no write token.
    path = f"/p/{petition.slug}/write/{make_token('confirm', supporter, utcnow())}"
    assert browser.get(path).status_code == 404


def test_the_page_says_when_letters_are_closed(browser, petition, supporter):
    response = browser.get(write_path(petition, supporter))
    assert response.status_code == 410


def test_posting_letters_is_rate_limited(make_app, smtp_config):
    from campaign.petitions.services import ensure_default_categories

    app = make_app(**smtp_config, RATELIMIT_ENABLED=True, RATELIMIT_WRITE="2 per minute")
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        signature = make_signature(petition, departement="75")
        client = app.test_client()
        path = write_path(petition, signature)
        token = csrf_token(client, f"/p/{petition.slug}")
        statuses = [
            client.post(path, data={"csrf_token": token, "show": "1"}).status_code for _ in range(3)
        ]
        assert statuses == [410, 410, 429]


# --- The public ledger ---------------------------------------------------------------------------


def test_the_petition_page_shows_the_ledger_counts_without_content(
    browser, mailbox, petition, supporter, depute, open_letters
):
    from campaign.mailings.letters import write_to_representatives

    page = browser.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert "letters-ledger" not in page
    mailing = open_letters()
    write_to_representatives(
        supporter.id, mailing.id, "75", [depute.id], "Objet secret", OWN_WORDS, utcnow()
    )
    mailbox.wait_for(2)
    assert [delivery.status for delivery in letters()] == [DeliveryStatus.SENT]
    page = browser.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert "letters-ledger" in page and "Claire Dupont" in page
    assert "Objet secret" not in page and "infirmière" not in page
    assert "Alice" not in page.split("letters-ledger")[1]
