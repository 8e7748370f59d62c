"""Spread (issue 18) in real Chromium, on a phone's width and on a desktop: the share panel,
the sign form's error summary and its fields per category, the "check your inbox" page;
axe-core on every page, nothing loaded from another host, nothing to scroll sideways."""

from __future__ import annotations

import pytest

from tests.browser.conftest import assert_accessible
from tests.browser.test_sign_flow import french
from tests.factories import make_petition

pytestmark = pytest.mark.browser


def fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [390, 1280])
def test_share_panel_error_summary_and_check_inbox(live_server, browser, mailbox, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 844})
    with app.app_context():
        petition = make_petition(title="Pour des données de santé sous notre juridiction")
        slug = petition.slug
        labels = {c.key: c.label("fr") for c in petition.categories}
    _ = french(app)

    page.goto(f"{url}/p/{slug}")
    share = page.get_by_role("region", name=_("Share this petition"))
    expect(share.get_by_label(_("Link to this petition"))).to_have_value(f"{url}/p/{slug}?s=link")
    # JavaScript shows the copy button; it copies the address and says so.
    copy = share.get_by_role("button", name=_("Copy the link"))
    expect(copy).to_be_visible()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    copy.click()
    expect(share.locator(".share-status")).to_have_text(_("Link copied."))
    for name in ("WhatsApp", "Telegram", "Bluesky", "LinkedIn", "Facebook", "X", _("Email")):
        expect(share.get_by_role("link", name=name, exact=True)).to_be_visible()
    fits(page, width)
    assert_accessible(page, "the petition page with its share panel")

    # The fields for verification follow the category chosen.
    rpps = page.get_by_label(_("RPPS number (health professionals, optional)"), exact=True)
    evidence = page.get_by_label(_("How can we check your category? (optional)"), exact=True)
    category = page.get_by_label(_("You sign as"), exact=True)
    expect(rpps).to_be_hidden()
    category.select_option(label=labels["citizen"])
    expect(rpps).to_be_hidden()
    expect(evidence).to_be_hidden()
    category.select_option(label=labels["clinician"])
    expect(rpps).to_be_visible()
    expect(evidence).to_be_visible()
    category.select_option(label=labels["engineer"])
    expect(rpps).to_be_hidden()
    expect(evidence).to_be_visible()

    # A failed submit: the summary is at the top, in view and focused, on a phone too.
    page.get_by_label(_("Email address"), exact=True).fill("alice.martin@example.fr")
    page.get_by_role("button", name=_("Sign"), exact=True).click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    box = summary.bounding_box()
    assert box is not None and 0 <= box["y"] < 844, box
    summary.get_by_role("link", name=_("Enter your last name.")).click()
    expect(page.get_by_label(_("Last name"), exact=True)).to_be_focused()
    fits(page, width)
    assert_accessible(page, "the sign form with its error summary")

    # Filled in, signed: the "check your inbox" page shows the masked address.
    page.get_by_label(_("First name"), exact=True).fill("Alice")
    page.get_by_label(_("Last name"), exact=True).fill("Martin")
    page.get_by_label(_("No, count my signature without my name"), exact=True).check()
    consent = _(
        "I agree to the processing of my data to record my signature, "
        "as described in the %(link)s.",
        link=_("privacy notice"),
    )
    page.get_by_label(consent, exact=True).check()
    expect(page.locator("altcha-widget [data-state=verified]")).to_have_count(1)
    page.get_by_role("button", name=_("Sign"), exact=True).click()
    expect(page).to_have_url(f"{url}/p/{slug}/check-inbox")
    expect(page.get_by_text("a•••n@example.fr", exact=False)).to_be_visible()
    mailbox.wait_for(1)
    page.get_by_role("button", name=_("Send the email again")).click()
    expect(page).to_have_url(f"{url}/p/{slug}/check-inbox")
    expect(page.get_by_role("region", name=_("While you wait: share the petition"))).to_be_visible()
    fits(page, width)
    assert_accessible(page, "the check-your-inbox page")

    assert browser.outside == [], f"requests outside the live server: {browser.outside}"
    assert browser.errors == [], f"JavaScript errors: {browser.errors}"


@pytest.mark.parametrize("width", [390, 1280])
def test_dark_mode_and_print(live_server, browser, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 844})
    with app.app_context():
        petition = make_petition()
        from tests.factories import make_signature

        make_signature(petition, last_name="Martin", first_name="Alice")
        slug = petition.slug
    _ = french(app)
    background = "getComputedStyle(document.documentElement).backgroundColor"

    page.goto(f"{url}/p/{slug}")
    light = page.evaluate(background)
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate(background)
    assert light != dark
    # Dark: the page's background is dark (each channel below a quarter).
    assert all(int(c) < 64 for c in dark[dark.index("(") + 1 : -1].split(",")[:3]), dark
    fits(page, width)
    assert_accessible(page, "the petition page in dark mode")
    page.goto(f"{url}/p/{slug}/signatories")
    assert_accessible(page, "the list in dark mode")

    # Print: the text and the count, no form, no share panel, the address written out.
    page.emulate_media(color_scheme="light", media="print")
    page.goto(f"{url}/p/{slug}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator(".tally")).to_be_visible()
    expect(page.locator("section.sign")).to_be_hidden()
    expect(page.locator("section.share")).to_be_hidden()
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".print-address")).to_contain_text(f"{url}/p/{slug}")
    page.goto(f"{url}/p/{slug}/signatories")
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.get_by_text("Martin Alice")).to_be_visible()
    expect(page.locator(".print-address")).to_be_visible()
    page.emulate_media(media="screen")
    expect(page.locator(".print-address")).to_be_hidden()
    assert browser.outside == [] and browser.errors == []


def test_petition_page_fits_a_phone_with_long_badges_and_the_share_panel(live_server, browser):
    """The longest level badges ("name and number in the RPPS register · Pharmacienne") wrap
    inside their box, and the one-column layout never grows past the screen."""
    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": 390, "height": 844})
    with app.app_context():
        from tests.factories import make_signature

        petition = make_petition(title="Pour des données de santé sous notre juridiction")
        for profession in ("Pharmacienne", "Infirmière de bloc opératoire diplômée d'État"):
            make_signature(
                petition,
                category_key="clinician",
                verification_level="registry",
                verification_method="rpps",
                verified_profession=profession,
            )
        slug = petition.slug
    page.goto(f"{url}/p/{slug}")
    assert page.locator(".badge-verified").count() == 2
    fits(page, 390)
    assert_accessible(page, "petition page with long badges, 390 px")
