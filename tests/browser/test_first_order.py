"""Ordering the first signatories in real Chromium (issue 16.1): drag a name by its handle,
the new order is saved with one POST and kept after a reload; the keyboard's way, the "Move
up" / "Move down" buttons; axe on the page, at phone and desktop widths."""

from __future__ import annotations

import pytest

from campaign.clock import utcnow
from campaign.signatures.moderation import mark_first_signatory
from tests.browser.conftest import assert_accessible
from tests.browser.test_sign_flow import french
from tests.factories import make_petition, make_signature, make_user

pytestmark = pytest.mark.browser

NAMES = ("Arendt", "Beauvoir", "Curie", "Duras")


def names(page) -> list[str]:
    return page.locator("#first-order-list .first-order-name").evaluate_all(
        "items => items.map(item => item.firstChild.textContent.trim().split(' ')[0])"
    )


@pytest.fixture
def ordering(live_server, browser):
    from tests.browser.test_mailings_and_verification import log_in

    app, url, page = live_server.app, live_server.url, browser.page
    with app.app_context():
        owner = make_user("organiser")
        petition = make_petition(owner_id=owner.id)
        for name in NAMES:
            signature = make_signature(petition, last_name=name, first_name="Prénom",
                                       title="Professeure des universités–praticienne hospitalière",
                                       show_title=True)  # fmt: skip
            mark_first_signatory(petition, signature.id, owner, utcnow())
        slug, email = petition.slug, owner.email
    _ = french(app)
    log_in(page, url, _, email)
    return f"{url}/admin/p/{slug}/first-signatories", _


@pytest.mark.parametrize("width", [390, 1280])
def test_an_organiser_drags_a_first_signatory_and_the_order_stays(
    live_server, browser, ordering, width
):
    from playwright.sync_api import expect

    page = browser.page
    address, _ = ordering
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(address)
    assert names(page) == list(NAMES)
    expect(page.locator("#first-order-help")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page, "the first signatories' order")

    # Drag Duras, by its handle, above Beauvoir: one POST, and the page comes back.
    page.locator("#first-order-list").evaluate("list => list.scrollIntoView()")
    handle = page.locator("#first-order-list li").nth(3).locator(".first-order-handle")
    target = page.locator("#first-order-list li").nth(1).bounding_box()
    start = handle.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    for step in range(1, 11):
        y = start["y"] + (target["y"] + 5 - start["y"]) * step / 10
        page.mouse.move(start["x"] + start["width"] / 2, y)
    posted = lambda request: request.method == "POST" and request.url.endswith("/order")  # noqa: E731
    with page.expect_navigation(), page.expect_request(posted):
        page.mouse.up()
    expect(page.get_by_text(_("The order of the first signatories is saved."))).to_be_visible()
    assert names(page) == ["Arendt", "Duras", "Beauvoir", "Curie"]
    page.reload()
    assert names(page) == ["Arendt", "Duras", "Beauvoir", "Curie"]
    page.screenshot(path=f"/tmp/press2-first-order-{width}.png", full_page=True)
    assert browser.outside == [] and browser.errors == []


@pytest.mark.parametrize("width", [390, 1280])
def test_the_keyboard_moves_a_first_signatory_with_its_buttons(
    live_server, browser, ordering, width
):
    page = browser.page
    address, _ = ordering
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(address)
    button = page.get_by_role("button", name=f"↑ {_('Move up')} Curie Prénom", exact=True)
    button.focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert names(page) == ["Arendt", "Curie", "Beauvoir", "Duras"]
    moved = page.locator("#first-order-list li").nth(1).get_attribute("data-id")
    assert page.url.endswith(f"#first-{moved}")
    # From there, Tab reaches the moved name's buttons: down again, with the keyboard.
    page.get_by_role("button", name=f"↓ {_('Move down')} Curie Prénom", exact=True).focus()
    with page.expect_navigation():
        page.keyboard.press("Space")
    page.reload()
    assert names(page) == ["Arendt", "Beauvoir", "Curie", "Duras"]
    assert_accessible(page, "the first signatories' order after a move")
    assert browser.outside == [] and browser.errors == []
