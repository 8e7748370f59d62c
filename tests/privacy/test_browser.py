"""The rights flow in real Chromium, with axe-core on every page: the notice, the form asking
for the link, the answer, the data page; then the name unpublished from the list."""

from __future__ import annotations

import pytest
from flask_babel import gettext

from tests.browser.conftest import assert_accessible, browser, live_server, translations
from tests.factories import make_petition, make_signature
from tests.support import links_in, text_part

pytestmark = pytest.mark.browser
# Fixtures of the browser suite, used here under their own names.
__all__ = ["browser", "live_server", "translations"]


def test_ask_for_the_link_see_the_data_and_unpublish_the_name(live_server, browser, mailbox):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    with app.app_context():
        petition = make_petition(title="Données de santé")
        make_signature(petition, email="alice@example.fr", first_name="Alice", last_name="Martin")
        slug = petition.slug

    def _(message: str, **variables) -> str:
        with app.test_request_context(headers={"Accept-Language": "fr-FR"}):
            return gettext(message, **variables)

    page.goto(f"{url}/privacy")
    assert_accessible(page, "the privacy notice")
    page.get_by_role("link", name=_("Manage my signature"), exact=True).first.click()
    expect(page).to_have_url(f"{url}/my-signature")
    assert_accessible(page, "the form asking for the link")

    page.goto(f"{url}/p/{slug}/my-signature")
    page.get_by_role("button", name=_("Send me the link")).click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page, "the form with errors")
    page.get_by_label(_("Email address you signed with"), exact=True).fill("alice@example.fr")
    page.get_by_role("button", name=_("Send me the link")).click()
    expect(page).to_have_url(f"{url}/my-signature/sent")
    assert_accessible(page, "the answer")

    [message] = mailbox.wait_for(1)
    page.goto(links_in(text_part(message))[0])
    expect(page.get_by_text("alice@example.fr", exact=True)).to_be_visible()
    assert_accessible(page, "the data page")

    page.get_by_label(_("Publish my name in the list of signatories"), exact=True).uncheck()
    page.get_by_role("button", name=_("Save my choices")).click()
    expect(page.get_by_role("status")).to_have_text(_("Your choices are saved, and apply at once."))
    assert_accessible(page, "the data page after a change")
    page.goto(f"{url}/p/{slug}/signatories")
    expect(page.get_by_text("Martin Alice")).to_have_count(0)
    assert browser.outside == [] and browser.errors == []
