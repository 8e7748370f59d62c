"""The supporter's objection letter in real Chromium, on a phone's width and on a desktop:
from the rights page to the letters of their département; the details they type fill in the
letter without any request; copy to the clipboard; the PDF; axe-core on each page."""

from __future__ import annotations

import pytest

from campaign.clock import utcnow
from campaign.demo import DEMO_INSTITUTIONS, DEMO_OBJECTION_BODY, DEMO_OBJECTION_SUBJECT
from campaign.objections.institutions import import_institutions
from campaign.objections.services import set_objection_letter
from campaign.tokens import make_token
from tests.browser.conftest import assert_accessible
from tests.browser.test_sign_flow import french
from tests.factories import make_petition, make_signature

pytestmark = pytest.mark.browser
DETAILS = "NIR 1 85 12 75 111 222 33"


@pytest.mark.parametrize("width", [390, 1280])
def test_a_supporter_prepares_fills_copies_and_prints_their_letter(live_server, browser, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    with app.app_context():
        now = utcnow()
        import_institutions(DEMO_INSTITUTIONS.read_bytes(), source="demo", now=now)
        petition = make_petition()
        set_objection_letter(petition, DEMO_OBJECTION_SUBJECT, DEMO_OBJECTION_BODY, now)
        signature = make_signature(petition, first_name="Aurore", last_name="Vasseur")
        token = make_token("rights", signature, now)
    _ = french(app)

    page.goto(f"{url}/s/{token}/my-data")
    page.get_by_role("link", name=_("Prepare my letter")).click()
    assert_accessible(page, "the choice of département")
    page.get_by_label(_("Your département"), exact=True).select_option("75")
    page.get_by_role("button", name=_("Prepare my letter")).click()

    fund = page.locator("section", has=page.get_by_role("heading", name="fictive de Paris"))
    letter = fund.locator("pre.letter")
    expect(letter).to_contain_text("Aurore Vasseur")
    expect(fund.get_by_role("listitem").first).to_contain_text("Connectez-vous")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page, "the letters")

    # Typed details fill in every letter, in the browser: no request leaves the page.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    fund.get_by_label(_("What the institution needs to find you (optional)")).fill(DETAILS)
    expect(letter).to_contain_text(DETAILS)
    authority = page.locator("section", has=page.get_by_role("heading", name="Autorité fictive"))
    expect(authority.locator("pre.letter")).to_contain_text(DETAILS)
    assert requests == []

    fund.get_by_role("button", name=_("Copy the letter")).click()
    expect(fund.get_by_role("status")).to_have_text(_("Copied."))
    copied = page.evaluate("navigator.clipboard.readText()")
    assert DETAILS in copied and copied.startswith(DEMO_OBJECTION_SUBJECT)

    with page.expect_download() as download:
        fund.get_by_role("button", name=_("Download the PDF to print and post")).click()
    assert download.value.suggested_filename == "tribune-letter.pdf"
    assert browser.outside == [] and browser.errors == []
