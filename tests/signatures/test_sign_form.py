"""A sign form that converts (issue 18.6): the error summary, autocomplete, the fields of
each category, the explicit choice to publish one's name, the "check your inbox" page with
the masked address and its resend button, and signing again without an oracle."""

import re
from html import unescape

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import masked_address
from tests.factories import make_petition, make_signature
from tests.support import csrf_token, links_in, path_of, sign, sign_data, text_part, visible_text


def post_sign(client, petition, **overrides):
    data = sign_data(csrf_token=csrf_token(client, f"/p/{petition.slug}"), **overrides)
    return client.post(f"/p/{petition.slug}/sign", data=data)


def test_a_failed_submit_puts_a_focused_summary_with_links_at_the_top(client):
    petition = make_petition()
    response = post_sign(client, petition, first_name="", email="nope", consent=None)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    summary = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', html, re.S)
    assert summary, "no error summary"
    assert 'role="alert"' in summary.group(0) and "autofocus" in summary.group(0)
    assert 'tabindex="-1"' in summary.group(0)
    # Before the petition's text, so that a phone shows it without scrolling.
    assert html.index('class="error-summary"') < html.index('<article class="petition">')
    links = dict(re.findall(r'<a href="#([\w-]+)">([^<]+)</a>', summary.group(1)))
    assert set(links) == {"first_name", "email", "consent"}
    assert unescape(links["first_name"]) == "Saisissez votre prénom."
    for target in links:
        assert f'id="{target}"' in html


def test_the_choice_to_publish_a_name_is_explicit(client):
    petition = make_petition()
    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert 'type="radio"' in html and 'name="show_name"' in html
    assert not re.search(r'<input[^>]*name="show_name"[^>]*checked', html)
    missing = post_sign(client, petition, show_name=None)
    assert missing.status_code == 422
    assert 'href="#show_name-0"' in missing.get_data(as_text=True)
    assert post_sign(client, petition, show_name="perhaps").status_code == 422
    assert db.session.scalar(select(Signature.id)) is None


@pytest.mark.parametrize(("answer", "published"), [("yes", True), ("no", False)])
def test_the_answer_on_publishing_is_recorded(client, answer, published):
    petition = make_petition()
    assert post_sign(client, petition, show_name=answer).status_code == 303
    signature = db.session.scalar(select(Signature))
    assert signature.show_name is published
    assert signature.show_title is published


def test_every_field_of_the_sign_form_says_what_to_autocomplete(client):
    petition = make_petition()
    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    start = html.index('<form method="post" action="/p/')
    form = html[start : html.index("</form>", start)]
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", form)
    named = [c for c in controls if 'type="hidden"' not in c and 'type="radio"' not in c]
    assert len(named) >= 10
    for control in named:
        assert "autocomplete=" in control, control
    expected = {"first_name": "given-name", "last_name": "family-name", "email": "email",
                "title": "organization-title", "organisation": "organization"}  # fmt: skip
    for name, token in expected.items():
        assert re.search(rf'<input[^>]*autocomplete="{token}"[^>]*name="{name}"', form) or (
            re.search(rf'<input[^>]*name="{name}"[^>]*autocomplete="{token}"', form)
        ), name


def test_rpps_and_evidence_are_marked_for_the_categories_that_use_them(client):
    petition = make_petition()
    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    rpps = re.search(r'<div data-for-categories="([^"]*)">\s*<div class="field[^"]*">\s*'
                     r'<label for="rpps_number"', html)  # fmt: skip
    evidence = re.search(r'<div data-for-categories="([^"]*)">\s*<div class="field[^"]*">\s*'
                         r'<label for="evidence"', html)  # fmt: skip
    assert rpps and rpps.group(1).split() == ["clinician"]
    assert evidence and "citizen" not in evidence.group(1).split()
    assert "clinician" in evidence.group(1).split()
    # Without JavaScript they stay visible: nothing hides them in the HTML.
    assert not re.search(r"data-for-categories=\"[^\"]*\"[^>]*hidden", html)


def test_check_inbox_shows_the_masked_address_and_sends_again(make_app, smtp_config, mailbox):
    from campaign.petitions.services import ensure_default_categories

    app = make_app(**smtp_config, CONFIRMATION_RESEND_INTERVAL=0)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        client = app.test_client()
        response = sign(client, petition, email="alice.martin@example.fr")
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "a•••n@example.fr" in page and "alice.martin@" not in page
        mailbox.wait_for(1)
        resend = f"/p/{petition.slug}/check-inbox/resend"
        token = csrf_token(client, f"/p/{petition.slug}/check-inbox")
        answer = client.post(resend, data={"csrf_token": token})
        assert answer.status_code == 303
        assert len(mailbox.wait_for(2)) == 2
        assert len(mailbox.to("alice.martin@example.fr")) == 2
        # Another visitor (no address remembered) gets the same answer, and no email.
        stranger = app.test_client()
        assert "•••" not in stranger.get(f"/p/{petition.slug}/check-inbox").get_data(as_text=True)
        token = csrf_token(stranger, f"/p/{petition.slug}")
        other = stranger.post(resend, data={"csrf_token": token})
        assert (other.status_code, other.headers["Location"]) == (303, answer.headers["Location"])
        assert stranger.post(resend, data={}).status_code == 400
    assert len(mailbox.messages) == 2


def test_masked_address():
    assert masked_address("Alice.Martin@Example.fr") == "a•••n@example.fr"
    assert masked_address("al@example.fr") == "a•••@example.fr"


def test_signing_again_after_confirming_answers_the_same_and_mails_the_management_link(
    browser, mailbox
):
    petition = make_petition()
    newcomer = sign(browser, petition, email="bob@example.fr")
    signer = make_signature(petition, email="alice@example.fr", status=SignatureStatus.CONFIRMED)
    again = sign(browser, petition, email="alice@example.fr")
    assert (again.status_code, again.headers["Location"]) == (
        newcomer.status_code,
        newcomer.headers["Location"],
    )
    mailbox.wait_for(2)
    [message] = mailbox.to("alice@example.fr")
    text = text_part(message)
    assert "déjà signée" in text
    manage = [link for link in links_in(text) if "/my-data" in link]
    assert manage, text
    page = browser.get(path_of(manage[0]))
    assert page.status_code == 200 and signer.last_name in visible_text(page.get_data(as_text=True))
    assert db.session.scalar(select(Signature.id).where(Signature.id == signer.id))


def test_a_signer_corrects_a_typo_in_title_and_organisation(browser, mailbox):
    from campaign.clock import utcnow
    from campaign.tokens import make_token

    petition = make_petition()
    signature = make_signature(petition, title="Médcin", organisation="AP-PH")
    path = f"/s/{make_token('rights', signature, utcnow())}/my-data"
    token = csrf_token(browser, path)
    response = browser.post(
        f"{path}/details",
        data={"csrf_token": token, "title": "Médecin", "organisation": "AP-HP"},
    )
    assert response.status_code == 303
    db.session.refresh(signature)
    assert (signature.title, signature.organisation) == ("Médecin", "AP-HP")
    bad = browser.post(
        f"{path}/details",
        data={"csrf_token": token, "title": "Dr\u202eevil", "organisation": "x" * 201},
    )
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'class="error-summary"' in html
    assert 'href="#title"' in html and 'href="#organisation"' in html
    db.session.refresh(signature)
    assert (signature.title, signature.organisation) == ("Médecin", "AP-HP")
    assert browser.post(f"{path}/details", data={"title": "X"}).status_code in (400, 422)
    db.session.refresh(signature)
    assert signature.title == "Médecin"
