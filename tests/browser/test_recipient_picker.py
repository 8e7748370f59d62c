"""The recipients' picker of a letter to officials in real Chromium, at a phone's width and a
desktop's (issue 17.6): the search filters the départements as one types, "all of the
région" ticks a région, the live count follows, the page fits the screen, axe finds nothing.
Screenshots go to the pytest temporary folder, to be looked at."""

from __future__ import annotations

import pytest

from campaign.clock import utcnow
from campaign.departements import REGIONS
from campaign.mailings.models import MailingKind
from campaign.mailings.services import MailingFields, create_mailing
from campaign.officials.models import Civility, OfficialRole
from tests.browser.conftest import assert_accessible
from tests.browser.test_mailings_and_verification import assert_stayed_home, log_in
from tests.browser.test_sign_flow import french
from tests.factories import make_official, make_petition, make_user

pytestmark = pytest.mark.browser


def live_count(page) -> str:
    return page.locator("[data-picker-count]").inner_text().strip()


@pytest.mark.parametrize("width", [390, 1280])
def test_an_organiser_finds_departements_ticks_a_region_and_sees_the_count(
    live_server, browser, tmp_path, width
):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    _ = french(app)
    with app.app_context():
        organiser = make_user("organiser")
        petition = make_petition(owner_id=organiser.id)
        for code in ("75", "92", "93", "07"):
            make_official(departement=code)
        make_official(departement="94", bouncing_since=utcnow())
        make_official(
            role=OfficialRole.SENATEUR, chamber="Sénat", departement="75", civility=Civility.MADAME
        )
        make_official(
            first_name="", last_name="", role=OfficialRole.AUTORITE,
            chamber="Caisse primaire d’assurance maladie de Seine-Saint-Denis (fictive)",
            departement="93",
        )  # fmt: skip
        mailing = create_mailing(
            petition,
            MailingKind.LETTER,
            MailingFields(name="Lettre", subject_template="Objet", body_template="Texte"),
            organiser,
            utcnow(),
        )
        mailing_id = mailing.id
        edit = f"{url}/admin/p/{petition.slug}/mailings/{mailing_id}/edit"
        email = organiser.email

    log_in(page, url, _, email)
    page.goto(edit)
    nobody = _(
        "With this selection, the letter goes to %(count)s recipient.",
        "With this selection, the letter goes to %(count)s recipients.",
        0,
        count="0",
    )
    expect(page.locator("[data-picker-count]")).to_contain_text(nobody)
    # Without JavaScript's help these would be needed; with it they are gone.
    expect(page.get_by_role("button", name=_("Count the recipients"))).to_have_count(0)
    expect(page.get_by_role("button", name=_("Find"), exact=True)).to_have_count(0)

    search = page.get_by_label(_("Find a département by number or name"))
    search.fill("ile")
    ile_de_france = page.locator("details[data-region]", has_text="Île-de-France")
    expect(ile_de_france).to_have_attribute("open", "")
    expect(page.locator("details[data-region]:visible")).to_have_count(1)
    expect(page.locator("li[data-search]:visible")).to_have_count(len(REGIONS["Île-de-France"]))
    expect(page.locator("[data-picker-found]")).to_contain_text(
        _("%(num)s département found.", "%(num)s départements found.", 8)
    )
    search.press("Enter")  # searches; does not save the draft
    expect(page).to_have_url(edit)
    search.fill("ardeche")
    expect(page.locator("li[data-search]:visible")).to_have_count(1)
    expect(page.locator("li[data-search]:visible")).to_contain_text("07 – Ardèche")

    search.fill("Île")
    page.get_by_label(_("All of %(region)s", region="Île-de-France")).check()
    expect(ile_de_france.get_by_role("checkbox", name="75 – Paris")).to_be_checked()
    # Paris, Hauts-de-Seine, Seine-Saint-Denis and the senator of Paris; Val-de-Marne's
    # address bounces and is named.
    four = _(
        "With this selection, the letter goes to %(count)s recipient.",
        "With this selection, the letter goes to %(count)s recipients.",
        4,
        count="4",
    )
    expect(page.locator("[data-picker-count]")).to_contain_text(four)
    expect(page.locator("[data-picker-count]")).to_contain_text("Prénom")
    # Unticking one département leaves the région's box neither ticked nor clear.
    ile_de_france.get_by_role("checkbox", name="92 – Hauts-de-Seine").uncheck()
    region_box = page.get_by_label(_("All of %(region)s", region="Île-de-France"))
    assert region_box.evaluate("box => box.indeterminate") is True
    three = four.replace("4", "3")
    expect(page.locator("[data-picker-count]")).to_contain_text(three)

    # The authority of Seine-Saint-Denis is its own group, not a département's person.
    page.get_by_label(
        "Caisse primaire d’assurance maladie de Seine-Saint-Denis (fictive) – 93"
    ).check()
    expect(page.locator("[data-picker-count]")).to_contain_text(four)

    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.locator(".recipient-picker").screenshot(path=str(tmp_path / f"picker-{width}.png"))
    page.screenshot(path=str(tmp_path / f"compose-{width}.png"), full_page=True)
    assert_accessible(page, f"the recipients' picker at {width} px")

    # Saved as ticked: the région box's last state does not add Hauts-de-Seine back.
    page.get_by_role("button", name=_("Save the draft")).click()
    expect(page.locator("[data-picker-count]")).to_contain_text(four)
    with app.app_context():
        from campaign.extensions import db
        from campaign.mailings.models import Mailing

        selection = db.session.get(Mailing, mailing_id).selection
        db.session.remove()
    assert selection["departements"] == ["75", "77", "78", "91", "93", "94", "95"]
    assert len(selection["authority_ids"]) == 1
    assert_stayed_home(browser)
