"""An organisation signs in real Chromium, on a phone's width and on a desktop: the box "I
sign for an organisation", its name as a bare domain, no first name; axe-core on every page."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_accessible
from tests.browser.test_sign_flow import french
from tests.factories import make_petition
from tests.support import links_in, text_part

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("width", [390, 1280])
def test_an_organisation_signs_and_appears_under_its_own_name(live_server, browser, mailbox, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    with app.app_context():
        petition = make_petition()
        slug = petition.slug
        category = next(c for c in petition.categories if c.key == "organisation").label("fr")
    _ = french(app)

    page.goto(f"{url}/p/{slug}")
    box = page.get_by_label(_("I sign for an organisation"), exact=True)
    expect(box).to_be_visible()
    # The page fits a phone's width: nothing to scroll sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page, "the sign form")

    # An organisation that gives a first name is told to leave it empty.
    box.check()
    page.get_by_label(_("First name"), exact=True).fill("Jean")
    page.get_by_label(_("Last name"), exact=True).fill("example.org")
    page.get_by_label(_("Email address"), exact=True).fill(f"contact{width}@example.org")
    page.get_by_label(_("You sign as"), exact=True).select_option(label=category)
    page.get_by_label(_("Title or profession"), exact=True).fill("Collectif de soignants")
    page.get_by_label(_("Yes, publish my name"), exact=True).check()
    page.get_by_label(_("Publish my title or profession"), exact=True).check()
    consent = _(
        "I agree to the processing of my data to record my signature, "
        "as described in the %(link)s.",
        link=_("privacy notice"),
    )
    page.get_by_label(consent, exact=True).check()
    sign_button = page.get_by_role("button", name=_("Sign"), exact=True)
    expect(page.locator("altcha-widget [data-state=verified]")).to_have_count(1)
    with page.expect_response(f"{url}/p/{slug}/sign") as response:
        sign_button.click()
    assert response.value.status == 422
    first_name = page.get_by_label(_("First name"), exact=True)
    expect(first_name).to_have_accessible_description(
        _("An organisation signs without a first name: leave it empty.")
    )
    assert_accessible(page, "the sign form with an organisation's error")

    # The form kept the box and the other fields: empty the first name and sign.
    expect(page.get_by_label(_("I sign for an organisation"), exact=True)).to_be_checked()
    first_name.fill("")
    page.get_by_label(consent, exact=True).check()
    expect(page.locator("altcha-widget [data-state=verified]")).to_have_count(1)
    sign_button.click()
    expect(page).to_have_url(f"{url}/p/{slug}/check-inbox")

    [message] = mailbox.wait_for(1)
    page.goto(links_in(text_part(message))[0])
    page.get_by_role("button", name=_("Confirm my signature"), exact=True).click()
    page.goto(f"{url}/p/{slug}/signatories")
    expect(
        page.get_by_role("list").get_by_text("example.org, Collectif de soignants", exact=True)
    ).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page, "the list with an organisation")
