"""The petition page, the press page and the publications in real Chromium on a phone
(390 px) and a desktop (1280 px): the op-ed's summary, image and details, the press files,
nothing to scroll sideways, axe-core clean, nothing fetched from another host. Screenshots
go to test-artifacts/press/ for a person to look at."""

from __future__ import annotations

from datetime import date

import pytest

from campaign import ROOT
from tests.browser.conftest import assert_accessible
from tests.browser.test_sign_flow import french
from tests.factories import make_petition, make_signature, make_user

pytestmark = pytest.mark.browser
SCREENSHOTS = ROOT / "test-artifacts" / "press"


def op_ed_petition(app) -> str:
    from campaign.clock import utcnow
    from campaign.extensions import db
    from campaign.petitions.services import store_petition_image
    from campaign.publication.services import publish_snapshot
    from campaign.signatures.moderation import mark_first_signatory
    from tests.petitions.test_op_ed import jpeg_with_gps

    with app.app_context():
        owner = make_user("organiser")
        petition = make_petition(
            owner_id=owner.id,
            initiators="Jeanne Martin-Lefèvre, Ali Benali et Louise Petit",
            newspaper="Le Monde",
            published_on=date(2026, 12, 3),
            article_url="https://www.lemonde.fr/idees/article/2026/12/03/une-tres-longue-adresse-d-article.html",
            press_contact="Ali Benali, 01 23 45 67 89, presse@collectif-sante.example.org",
        )
        for text in petition.texts:
            text.summary = (
                "Nos données de santé doivent rester hébergées en Europe, sous un droit "
                "qui les protège : nous demandons un calendrier de migration."
            )
        db.session.commit()
        store_petition_image(petition, jpeg_with_gps(1600, 900), "Les soignants signataires",
                             owner, utcnow())  # fmt: skip
        first = make_signature(petition, last_name="Lévy-Strauss", first_name="Anne-Sophie",
                               title="Professeure de médecine", show_title=True,
                               source="import")  # fmt: skip
        make_signature(petition, last_name="Martin", first_name="Alice")
        # Verified clinicians: the counts table's longest words ("1 adresse officielle, 1 nom
        # et numéro au répertoire RPPS") must still fit a phone.
        for category, level in (("clinician", "domain"), ("clinician", "registry"),
                                ("mp", "domain"), ("mp", "roster")):  # fmt: skip
            make_signature(petition, category_key=category, verification_level=level)
        mark_first_signatory(petition, first.id, owner, utcnow(), position=1)
        db.session.commit()
        publish_snapshot(petition, utcnow())
        return petition.slug


@pytest.mark.parametrize("width", [390, 1280])
def test_the_petition_and_press_pages_fit_and_are_accessible(live_server, browser, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    slug = op_ed_petition(app)
    _ = french(app)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{url}/p/{slug}")
    expect(page.get_by_text("calendrier de migration").first).to_be_visible()
    image = page.get_by_role("img", name="Les soignants signataires")
    expect(image).to_be_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) > 0
    link = page.get_by_role("link", name="Le Monde", exact=True)
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow external")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SCREENSHOTS / f"petition-{width}.png"), full_page=True)
    assert_accessible(page, "the petition page with its op-ed details")

    page.goto(f"{url}/p/{slug}/press")
    expect(page.get_by_role("heading", name=_("How to check this list"))).to_have_count(1)
    expect(
        page.get_by_role("link", name=_("CSV for Excel in French (semicolons, headers in words)"))
    ).to_be_visible()
    expect(page.get_by_role("link", name=_("PDF"), exact=True).first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SCREENSHOTS / f"press-{width}.png"), full_page=True)
    assert_accessible(page, "the press page")

    page.goto(f"{url}/p/{slug}/publications")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SCREENSHOTS / f"publications-{width}.png"), full_page=True)
    assert_accessible(page, "the publications")
    assert browser.outside == [] and browser.errors == []


@pytest.mark.parametrize("width", [390, 1280])
def test_the_summary_counter_counts_live_and_the_server_refuses_a_long_summary(
    live_server, browser, width
):
    from playwright.sync_api import expect

    from tests.browser.test_mailings_and_verification import log_in

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    with app.app_context():
        owner = make_user("organiser")
        petition = make_petition(owner_id=owner.id)
        slug, email = petition.slug, owner.email
    _ = french(app)
    log_in(page, url, _, email)
    page.goto(f"{url}/admin/p/{slug}/edit")
    summary = page.get_by_label(_("Summary in French (optional)"), exact=True)
    counter = page.locator("#summary_fr-counter")
    expect(counter).to_have_text(_("{count} characters of {max}").format(count=0, max=500))
    summary.fill("é" * 498 + "  ")
    expect(counter).to_have_text(_("{count} characters of {max}").format(count=498, max=500))
    summary.fill("mot " * 130)
    expect(counter).to_have_text(
        _("{count} characters of {max}: {over} too many").format(count=519, max=500, over=19)
    )
    # Typing beyond the limit is possible (nothing is cut); the server says no.
    assert page.evaluate("document.getElementById('summary_fr').value.length") == 520
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(SCREENSHOTS / f"summary-counter-{width}.png"), full_page=False)
    assert_accessible(page, "the petition form with the counter")
    page.get_by_role("button", name=_("Save"), exact=True).click()
    expect(summary).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#summary_fr-error")).to_have_text(
        _("At most %(max)d characters.", max=500)
    )
    assert browser.outside == [] and browser.errors == []
