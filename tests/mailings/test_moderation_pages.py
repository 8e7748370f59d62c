"""Held and flagged letters in the workspace: the petition's moderator reads, releases and
rejects them; nobody else sees them."""

from __future__ import annotations

from sqlalchemy import select

from campaign.accounts.services import assign_moderator
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mailings.letters import write_to_representatives
from campaign.mailings.models import Delivery, DeliveryStatus
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, login, visible_text


def statuses() -> list[str]:
    db.session.expire_all()
    return [d.status for d in db.session.scalars(select(Delivery).order_by(Delivery.id))]


# Long enough to be the supporter's own words (LETTER_MIN_OWN_WORDS).
OWN_WORDS = " L'hôpital de mon quartier ferme des lits, et les urgences débordent chaque nuit."


def held_letter(supporter, mailing, official, body="Ma lettre <b>à moi</b>") -> int:
    outcome = write_to_representatives(
        supporter.id, mailing.id, "75", [official.id], "Objet", body + OWN_WORDS, utcnow()
    )
    return outcome.delivery_ids[0]


def moderator_of(petition):
    user = make_user("moderator")
    assign_moderator(petition, user)
    return user


def test_the_moderator_reads_held_letters_and_releases_them(
    browser, mailbox, petition, supporter, depute, open_letters
):
    mailing = open_letters(hold_for_moderation=True)
    letter_id = held_letter(supporter, mailing, depute)
    login(browser, moderator_of(petition))
    path = f"/admin/p/{petition.slug}/letters"
    html = browser.get(path).get_data(as_text=True)
    text = visible_text(html)
    assert "Alice Martin" in text and "Claire Dupont" in text and "Objet" in text
    assert "Ma lettre &lt;b&gt;à moi&lt;/b&gt;" in html  # escaped
    assert "alice@example.fr" not in html
    response = browser.post(
        f"{path}/release", data={"csrf_token": csrf_token(browser, path), "letters": [letter_id]}
    )
    assert response.status_code == 303
    mailbox.wait_for(2)  # the supporter's copy, then the letter
    assert statuses() == [DeliveryStatus.SENT]


def test_rejecting_needs_a_reason_and_keeps_the_letter_unsent(
    browser, mailbox, petition, supporter, depute, open_letters
):
    mailing = open_letters(hold_for_moderation=True)
    letter_id = held_letter(supporter, mailing, depute)
    login(browser, moderator_of(petition))
    path = f"/admin/p/{petition.slug}/letters"
    data = {"csrf_token": csrf_token(browser, path), "letters": [letter_id]}
    response = browser.post(f"{path}/reject", data=data)
    assert response.status_code == 422 and statuses() == [DeliveryStatus.HELD]
    response = browser.post(f"{path}/reject", data={**data, "reason": "Propos injurieux"})
    assert response.status_code == 303
    assert statuses() == [DeliveryStatus.CANCELLED] and mailbox.to(depute.email) == []
    assert "Aucune lettre en attente" in visible_text(browser.get(path).get_data(as_text=True))


def test_nothing_chosen_is_an_error_not_an_action(
    browser, petition, supporter, depute, open_letters
):
    mailing = open_letters(hold_for_moderation=True)
    held_letter(supporter, mailing, depute)
    login(browser, moderator_of(petition))
    path = f"/admin/p/{petition.slug}/letters"
    response = browser.post(f"{path}/release", data={"csrf_token": csrf_token(browser, path)})
    assert response.status_code == 422 and statuses() == [DeliveryStatus.HELD]


def test_flagged_letters_are_marked_for_the_organiser(
    site, browser, petition, organiser, depute, open_letters
):
    site.config["MAILING_DUPLICATE_THRESHOLD"] = 2
    mailing = open_letters(hold_for_moderation=True)
    for _ in range(2):
        held_letter(make_signature(petition, departement="75"), mailing, depute, body="Copie")
    login(browser, organiser)
    html = browser.get(f"/admin/p/{petition.slug}/letters").get_data(as_text=True)
    assert html.count('class="flagged"') == 2


def test_another_petitions_moderator_cannot_see_or_release_letters(
    browser, petition, supporter, depute, open_letters
):
    mailing = open_letters(hold_for_moderation=True)
    letter_id = held_letter(supporter, mailing, depute)
    other = make_petition()
    login(browser, moderator_of(other))
    path = f"/admin/p/{petition.slug}/letters"
    assert browser.get(path).status_code == 404
    token = csrf_token(browser, "/admin/")
    response = browser.post(f"{path}/release", data={"csrf_token": token, "letters": [letter_id]})
    assert response.status_code == 404
    # Through their own petition's URL, the letter is not theirs to release.
    own = f"/admin/p/{other.slug}/letters/release"
    assert browser.post(own, data={"csrf_token": token, "letters": [letter_id]}).status_code == 303
    assert statuses() == [DeliveryStatus.HELD]


def test_the_workspace_petition_page_links_to_the_letters(browser, petition, organiser):
    login(browser, organiser)
    html = browser.get(f"/admin/p/{petition.slug}").get_data(as_text=True)
    assert f"/admin/p/{petition.slug}/letters" in html
