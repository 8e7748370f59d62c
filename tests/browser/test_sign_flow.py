"""The whole signing path in real Chromium, with axe-core run on every page it visits:
petition page, sign form with errors, check your inbox, confirmation link, confirmed page,
list of signatories, and the petition page again with the count one higher."""

from __future__ import annotations

import re

import pytest
from flask_babel import gettext, ngettext

from tests.browser.conftest import assert_accessible
from tests.factories import make_petition, make_signature
from tests.support import links_in, path_of, text_part

pytestmark = pytest.mark.browser

SIGNER = {
    "first_name": "Alice",
    "last_name": "Martin",
    "email": "alice.martin@example.fr",
    "title": "Médecin",
    "organisation": "AP-HP",
}
LINE = "Martin Alice, Médecin, AP-HP"


def french(app):
    """gettext as the site speaks to a French reader: the expected texts come from the
    catalogue the server uses, so the test holds whether or not a string is translated."""

    def translate(message: str, plural: str | None = None, n: int = 1, **variables) -> str:
        with app.test_request_context(headers={"Accept-Language": "fr-FR"}):
            if plural:
                return ngettext(message, plural, n, **variables)
            return gettext(message, **variables)

    return translate


def shown_count(page) -> int:
    """The number of confirmed signatures the petition page displays."""
    text = page.locator(".tally .count strong").inner_text()
    return int(re.sub(r"\D", "", text))


def test_sign_confirm_and_appear_in_the_list(live_server, browser, mailbox):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    with app.app_context():
        petition = make_petition(title="Pour des données de santé sous notre juridiction")
        make_signature(petition)
        make_signature(petition, show_name=False)
        slug, title = petition.slug, petition.text("fr").title
        category = next(c for c in petition.categories if c.key == "clinician").label("fr")
    _ = french(app)

    # The petition page, in French (the default, and the browser's language).
    page.goto(f"{url}/p/{slug}")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    before = shown_count(page)
    assert_accessible(page, "the petition page")
    # The page is shared by every reader and holds no token: its script fetched this
    # visitor's own (allowed by the CSP's connect-src 'self').
    expect(page.locator("input[name=csrf_token]")).not_to_have_value("")

    # An empty form comes back with its errors, announced and tied to the fields.
    sign_button = page.get_by_role("button", name=_("Sign"), exact=True)
    with page.expect_response(f"{url}/p/{slug}/sign") as response:
        sign_button.click()
    assert response.value.status == 422
    # The error summary (issue 18.6): at the top, focused, each error a link to its field.
    summary = page.get_by_role("alert")
    expect(summary.get_by_role("heading")).to_have_text(_("There is a problem"))
    expect(summary).to_be_focused()
    first_name = page.get_by_label(_("First name"), exact=True)
    expect(first_name).to_have_attribute("aria-invalid", "true")
    expect(first_name).to_have_accessible_description(_("Enter your first name."))
    summary.get_by_role("link", name=_("Enter your first name.")).click()
    expect(first_name).to_be_focused()
    assert_accessible(page, "the sign form with errors")

    # Fill it in as a reader would, by the labels, and sign.
    page.get_by_label(_("First name"), exact=True).fill(SIGNER["first_name"])
    page.get_by_label(_("Last name"), exact=True).fill(SIGNER["last_name"])
    page.get_by_label(_("Email address"), exact=True).fill(SIGNER["email"])
    page.get_by_label(_("You sign as"), exact=True).select_option(label=category)
    page.get_by_label(_("Title or profession"), exact=True).fill(SIGNER["title"])
    page.get_by_label(_("Organisation"), exact=True).fill(SIGNER["organisation"])
    page.get_by_label(_("Département (optional)"), exact=True).select_option("75")
    page.get_by_label(_("Yes, publish my name"), exact=True).check()
    for publish in ("Publish my title or profession", "Publish my organisation"):
        page.get_by_label(_(publish), exact=True).check()
    consent = _(
        "I agree to the processing of my data to record my signature, "
        "as described in the %(link)s.",
        link=_("privacy notice"),
    )
    page.get_by_label(consent, exact=True).check()
    # As the form asks, the reader waits until the anti-robot check says it is done: on a
    # slow machine, a click before it ends gets the form back with that request.
    expect(page.locator("altcha-widget [data-state=verified]")).to_have_count(1)
    sign_button.click()

    # Check your inbox.
    expect(page).to_have_url(f"{url}/p/{slug}/check-inbox")
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Check your inbox"))
    assert_accessible(page, "the check-your-inbox page")

    # The confirmation email reached the SMTP server; its first link confirms.
    [message] = mailbox.wait_for(1)
    assert SIGNER["email"] in message["To"]
    link = links_in(text_part(message))[0]
    assert link.startswith(f"{url}/s/"), link
    assert re.fullmatch(r"/s/[^/]+", path_of(link)), link

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Your signature"))
    expect(page.get_by_text(LINE, exact=True)).to_be_visible()
    assert_accessible(page, "the confirmation page")

    page.get_by_role("button", name=_("Confirm my signature"), exact=True).click()
    expect(page).to_have_url(link)
    expect(page.get_by_role("status")).to_have_text(_("Thank you: your signature is confirmed."))
    expect(page.get_by_role("button", name=_("Confirm my signature"))).to_have_count(0)
    expect(
        page.get_by_text(
            _(
                "Your signature is confirmed. The petition now has %(num)s confirmed signature.",
                "Your signature is confirmed. The petition now has %(num)s confirmed signatures.",
                before + 1,
            )
        )
    ).to_be_visible()
    assert_accessible(page, "the confirmed page")

    # The list of signatories shows the name line with the details the signer published.
    page.get_by_role("link", name=_("See the list of signatories"), exact=True).click()
    expect(page).to_have_url(f"{url}/p/{slug}/signatories")
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Signatories"))
    expect(page.get_by_role("list").get_by_text(LINE, exact=True)).to_be_visible()
    assert_accessible(page, "the list of signatories")

    # Back on the petition page, the count went up by one.
    page.get_by_role("link", name=title, exact=True).click()
    expect(page).to_have_url(f"{url}/p/{slug}")
    expect(page.locator(".tally .count strong")).to_have_text(str(before + 1))
    assert shown_count(page) == before + 1
    latest = page.get_by_role("region", name=_("Latest signatories"))
    expect(latest.get_by_text(LINE, exact=True)).to_be_visible()
    assert_accessible(page, "the petition page after signing")

    assert browser.outside == [], f"requests outside the live server: {browser.outside}"
    assert browser.errors == [], f"JavaScript errors: {browser.errors}"
