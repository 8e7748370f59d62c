"""After the letter, in real Chromium at a phone's width and a desktop's: the supporter says
"no answer" from their page and gets the complaint to the authority, dates filled in, the
authority's form steps beside it, their details filled in the browser, copied and printed;
the organisers' chart of the campaign, drawn as SVG. axe-core on each page, no horizontal
scroll, nothing fetched from another host."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale, format_date
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.demo import DEMO_INSTITUTIONS, DEMO_OBJECTION_BODY, DEMO_OBJECTION_SUBJECT
from campaign.extensions import db
from campaign.objections.institutions import import_institutions
from campaign.objections.models import Institution
from campaign.objections.services import mark_sent, record_prepared, set_objection_letter
from campaign.tokens import make_token
from tests.browser.conftest import assert_accessible
from tests.browser.test_mailings_and_verification import log_in
from tests.browser.test_sign_flow import french
from tests.factories import make_petition, make_signature, make_user

pytestmark = pytest.mark.browser
DETAILS = "NIR 1 85 12 75 111 222 33"
SHOTS = Path("/tmp/objections2-shots")


def shoot(page, name: str, width: int) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)


def campaign_with_a_sent_letter(app, days_ago: int = 40):
    with app.app_context():
        now = utcnow()
        import_institutions(DEMO_INSTITUTIONS.read_bytes(), source="demo", now=now)
        owner = make_user("organiser")
        petition = make_petition(owner_id=owner.id)
        set_objection_letter(petition, DEMO_OBJECTION_SUBJECT, DEMO_OBJECTION_BODY, now)
        signature = make_signature(petition, first_name="Aurore", last_name="Vasseur")
        institutions = list(db.session.scalars(select(Institution)))
        fund = next(row for row in institutions if row.key == "caisse-exemple-69")
        sent_at = now - timedelta(days=days_ago)
        record_prepared(signature, institutions, sent_at)
        mark_sent(signature, fund, False, sent_at)
        return {
            "token": make_token("rights", signature, now),
            "sent_at": sent_at,
            "due": sent_at + timedelta(days=fund.answer_days),
            "owner": owner.email,
            "fund_id": fund.id,
            "slug": petition.slug,
        }


@pytest.mark.parametrize("width", [390, 1280])
def test_no_answer_then_the_complaint_prepared(live_server, browser, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    case = campaign_with_a_sent_letter(app)
    _ = french(app)

    # The reminder's link opens a page with one button.
    page.goto(f"{url}/s/{case['token']}/objection/{case['fund_id']}/answer/none")
    expect(page.get_by_role("button", name=_("No answer: prepare my complaint"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page, "the page an emailed answer link opens")
    shoot(page, "confirm-answer", width)

    page.goto(f"{url}/s/{case['token']}/my-data")
    expect(page.get_by_role("heading", name=_("Did they answer?"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page, "the supporter's page with the question")
    shoot(page, "my-data", width)
    page.get_by_role("button", name=_("No answer")).click()

    expect(page.get_by_role("heading", name=_("Your complaint to the authority"))).to_be_visible()
    complaint = page.locator("pre.letter")
    sent_on = french_date(case["sent_at"], app)
    due_on = french_date(case["due"], app)
    expect(complaint).to_contain_text(sent_on)
    expect(complaint).to_contain_text(due_on)
    expect(complaint).to_contain_text("Caisse d’assurance maladie fictive du Rhône")
    expect(page.get_by_role("listitem").filter(has_text="Adresser une plainte")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page, "the complaint")
    shoot(page, "complaint", width)

    # Typed details fill in the complaint, in the browser: no request leaves the page.
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.get_by_label(_("What the institution needs to find you (optional)")).fill(DETAILS)
    expect(complaint).to_contain_text(DETAILS)
    assert requests == []
    page.get_by_role("button", name=_("Copy the complaint")).click()
    expect(page.get_by_role("status")).to_have_text(_("Copied."))
    copied = page.evaluate("navigator.clipboard.readText()")
    assert DETAILS in copied and due_on in copied
    with page.expect_download() as download:
        page.get_by_role("button", name=_("Download the PDF to print and post")).click()
    assert download.value.suggested_filename == "tribune-complaint.pdf"
    assert browser.outside == [] and browser.errors == []


@pytest.mark.parametrize("width", [390, 1280])
def test_the_organisers_chart(live_server, browser, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    case = campaign_with_a_sent_letter(app)
    _ = french(app)
    log_in(page, url, _, case["owner"])
    page.goto(f"{url}/admin/p/{case['slug']}/objection")
    chart = page.get_by_role("img", name=_("Steps per institution"))
    expect(chart).to_be_visible()
    expect(page.get_by_role("img", name=_("Steps per week"))).to_be_visible()
    box = chart.bounding_box()
    assert box["width"] <= width and box["height"] > 100
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert_accessible(page, "the organisers' chart")
    page.get_by_role("heading", name=_("What supporters did")).scroll_into_view_if_needed()
    shoot(page, "chart", width)
    assert browser.outside == [] and browser.errors == []


def french_date(moment, app) -> str:
    """A date as the complaint writes it: in French, in the site's time zone."""
    with app.app_context(), force_locale("fr"):
        return format_date(moment, "long")
