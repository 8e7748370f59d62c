"""The mailing and verification pages in real Chromium, with axe-core run on each: the
organiser's compose, preview and live progress pages, a supporter's letter to their
representatives, the unsubscribe page, the verification badges of the public petition
page and list, and the moderators' verification queue."""

from __future__ import annotations

import re
import time

import pytest

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mailings.models import Delivery, DeliveryStatus, MailingKind
from campaign.mailings.services import MailingFields, create_mailing, start_mailing
from campaign.signatures.models import Signature
from campaign.tokens import make_token
from campaign.verification.models import VerificationClaim
from tests.browser.conftest import assert_accessible
from tests.browser.test_sign_flow import french
from tests.factories import (
    DEFAULT_PASSWORD,
    make_official,
    make_petition,
    make_signature,
    make_user,
)
from tests.support import text_part

pytestmark = pytest.mark.browser

# The progress page polls every 2 seconds: at 30 letters a minute, 4 letters leave over
# 6 seconds, so that at least one poll falls between the first letter and the last.
LETTERS = 4
PER_MINUTE = 30


def log_in(page, url: str, _, email: str) -> None:
    """Log in through the real login form."""
    from playwright.sync_api import expect

    page.goto(f"{url}/admin/login")
    page.get_by_label(_("Email address"), exact=True).fill(email)
    page.get_by_label(_("Password"), exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name=_("Log in"), exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/admin/login"))


def assert_stayed_home(browser) -> None:
    assert browser.outside == [], f"requests outside the live server: {browser.outside}"
    assert browser.errors == [], f"JavaScript errors: {browser.errors}"


@pytest.mark.parametrize("width", [390, 1280])
def test_an_organiser_previews_confirms_starts_and_watches_a_mailing_live(
    live_server, browser, mailbox, width
):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    with app.app_context():
        organiser = make_user("organiser")
        petition = make_petition(owner_id=organiser.id)
        officials = [make_official() for _ in range(LETTERS)]
        names = {official.full_name for official in officials}
        addresses = {official.email for official in officials}
        mailing = create_mailing(
            petition,
            MailingKind.LETTER,
            MailingFields(
                name="Lettre aux députés",
                subject_template="Pour {{ official.name }}",
                body_template="Bonjour {{ official.name }},\n\nSignez et faites signer.",
                roles=["depute"],
                per_minute=PER_MINUTE,
            ),
            organiser,
            utcnow(),
        )
        slug, mailing_id, email = petition.slug, mailing.id, organiser.email
    _ = french(app)
    base = f"{url}/admin/p/{slug}/mailings/{mailing_id}"

    log_in(page, url, _, email)

    # A draft's page is its compose form.
    page.goto(base)
    expect(page).to_have_url(f"{base}/edit")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lettre aux députés")
    expect(page.get_by_label(_("Subject"), exact=True)).to_have_value("Pour {{ official.name }}")
    expect(
        page.get_by_text(
            _(
                "As saved, this mailing writes to %(num)s recipient.",
                "As saved, this mailing writes to %(num)s recipients.",
                LETTERS,
            )
        )
    ).to_be_visible()
    assert_accessible(page, "the compose page")

    # The preview shows the letter written out for one of the officials.
    page.get_by_role("link", name=_("Preview the letter"), exact=True).click()
    expect(page).to_have_url(f"{base}/preview")
    letter = page.get_by_role(
        "region", name=re.compile(re.escape(_("The letter to %(name)s", name="")))
    )
    subject = letter.locator("dd").first
    expect(subject).to_have_text(re.compile(r"^Pour .+"))
    assert subject.inner_text().removeprefix("Pour ") in names
    expect(letter.locator(".letter-text")).to_contain_text("Bonjour ")
    assert_accessible(page, "the preview page")
    page.get_by_role("link", name=_("Back to the mailing"), exact=True).click()
    expect(page).to_have_url(f"{base}/edit")

    # "Send" asks first: the number of recipients and the first of them.
    page.get_by_role("button", name=_("Send"), exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(_("Confirm the sending"))
    expect(
        page.get_by_text(
            _(
                "This mailing writes to %(num)s recipient:",
                "This mailing writes to %(num)s recipients:",
                LETTERS,
            )
        )
    ).to_be_visible()
    expect(page.locator(".confirm-recipients li")).to_have_count(LETTERS)
    assert_accessible(page, "the confirmation page")
    with app.app_context():
        assert db.session.scalars(db.select(Delivery.id)).all() == []

    # Confirm it with a double click: one request only, and the button is disabled. The
    # request is held a moment, so that the page's timers run before it leaves; what the
    # page saw is kept in sessionStorage, which outlives the navigation.
    starts = []

    def hold(route) -> None:
        starts.append(route.request.method)
        time.sleep(0.5)
        route.continue_()

    page.route(f"{base}/start", hold)
    send = page.get_by_role(
        "button",
        name=_("Send to %(num)s recipient", "Send to %(num)s recipients", LETTERS),
        exact=True,
    )
    expect(send).to_be_enabled()
    send.evaluate(
        """(button) => {
          // After submit-once.js's own listener and timer.
          document.addEventListener("submit", () => setTimeout(() => {
            sessionStorage.setItem("startDisabled", String(button.disabled));
          }, 0));
          button.click();
          button.click();
        }"""
    )

    # The progress page, with the first letter gone.
    expect(page).to_have_url(base)
    expect(page.get_by_role("status")).to_have_text(_("Sending started."))
    expect(page.locator(".mailing-progress .status")).to_have_text(_("Sending"))
    assert page.evaluate("() => sessionStorage.getItem('startDisabled')") == "true"
    assert starts == ["POST"], f"{len(starts)} start requests for a double click"
    sent = page.locator("[data-field=sent]")
    first = int(sent.inner_text())
    assert 1 <= first < LETTERS, first
    assert_accessible(page, "the progress page while sending")

    # The numbers grow without a reload: a mark left on this document is still there.
    page.evaluate("() => { window.sameDocument = true; }")
    page.wait_for_function(
        "(first) => window.sameDocument === true"
        " && Number(document.querySelector('[data-field=sent]').textContent) > first",
        arg=first,
        timeout=15_000,
    )

    # Once all have left, the page reloads itself with the finished status.
    expect(page.locator(".mailing-progress .status")).to_have_text(_("Finished"), timeout=15_000)
    expect(sent).to_have_text(str(LETTERS))
    expect(page.locator("[data-field=remaining]")).to_have_text("0")
    expect(page.locator("[data-field=percent]")).to_have_text("100")
    assert_accessible(page, "the progress page once finished")

    messages = mailbox.wait_for(LETTERS)
    assert {message["To"] for message in messages} == addresses
    assert {message["Subject"] for message in messages} == {f"Pour {name}" for name in names}
    with app.app_context():
        statuses = db.session.scalars(
            db.select(Delivery.status).where(Delivery.mailing_id == mailing_id)
        ).all()
        assert statuses == [DeliveryStatus.SENT] * LETTERS
    assert_stayed_home(browser)


@pytest.mark.parametrize("width", [390, 1280])
def test_a_supporter_writes_to_their_representatives(live_server, browser, mailbox, width):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    page.set_viewport_size({"width": width, "height": 900})
    with app.app_context():
        organiser = make_user("organiser")
        petition = make_petition(owner_id=organiser.id, title="Pour un hôpital public")
        signature = make_signature(
            petition,
            first_name="Alice",
            last_name="Martin",
            email="alice@example.fr",
            departement="75",
        )
        depute = make_official(departement="75")
        make_official(departement="13")
        mailing = create_mailing(
            petition,
            MailingKind.REPRESENTATIVES,
            MailingFields(
                name="Écrire aux élus",
                subject_template="Pour {{ official.name }}",
                body_template="Bonjour {{ official.name }},\n\nJe soutiens {{ petition.title }}.",
            ),
            organiser,
            utcnow(),
        )
        start_mailing(mailing.id, organiser, utcnow())
        token = make_token("write", signature, utcnow())
        slug, name, address = petition.slug, depute.full_name, depute.email
        mailing_id, signature_id = mailing.id, signature.id
    _ = french(app)

    page.goto(f"{url}/p/{slug}/write/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Write to your representatives"))
    # The député of the signatory's département, ticked, and the letter they will receive.
    expect(page.get_by_label(_("Your département"), exact=True)).to_have_value("75")
    recipients = page.get_by_role("group", name=_("Write to"), exact=True)
    expect(recipients.get_by_role("checkbox")).to_have_count(1)
    expect(recipients.get_by_role("checkbox", name=re.compile(re.escape(name)))).to_be_checked()
    subject = page.get_by_label(_("Subject"), exact=True)
    expect(subject).to_have_value(f"Pour {name}")
    preview = page.locator("details.letter-preview")
    expect(preview).to_have_count(1)
    expect(preview.locator(".letter-text")).to_contain_text(f"Bonjour {name},")
    assert_accessible(page, "the write page")

    # Too short: refused, with the reason next to the field.
    words = page.get_by_label(_("In your own words"), exact=True)
    words.fill("Je soutiens.")
    expect(page.locator("altcha-widget [data-state=verified]")).to_have_count(1)
    page.get_by_role("button", name=_("Send my letter"), exact=True).click()
    expect(page.locator("#body-error")).to_be_visible()
    assert_accessible(page, "the write page with an error")

    # In their own words, previewed, then sent.
    own = (
        "Je suis infirmière à Paris : chaque semaine, des patients sont renvoyés chez eux "
        "faute de lits."
    )
    page.get_by_label(_("In your own words"), exact=True).fill(own)
    page.get_by_role("button", name=_("Preview the letters"), exact=True).click()
    letter_text = page.locator("details.letter-preview .letter-text")
    expect(letter_text).to_contain_text(own)
    expect(letter_text).to_contain_text("Alice Martin")
    expect(page.locator("altcha-widget [data-state=verified]")).to_have_count(1)
    page.get_by_role("button", name=_("Send my letter"), exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(_("Your letter"))
    expect(page.get_by_text(_("Thank you. Your letter is on its way to:"))).to_be_visible()
    expect(page.get_by_role("listitem").filter(has_text=name)).to_be_visible()
    assert_accessible(page, "the letter-sent page")

    mailbox.wait_for(2)  # the letter, and the supporter's copy
    [message] = mailbox.to(address)
    assert message["Subject"] == f"Pour {name}"
    assert own in text_part(message) and "Alice Martin" in text_part(message)
    assert len(mailbox.to("alice@example.fr")) == 1
    with app.app_context():
        [delivery] = db.session.scalars(
            db.select(Delivery).where(Delivery.mailing_id == mailing_id)
        ).all()
        assert delivery.signature_id == signature_id
        assert delivery.status == DeliveryStatus.SENT
    assert_stayed_home(browser)


def test_a_signatory_unsubscribes_from_the_updates(live_server, browser):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    with app.app_context():
        petition = make_petition(title="Pour des nouvelles")
        signature = make_signature(petition, contact_ok=True)
        token = make_token("unsubscribe", signature, utcnow())
        signature_id, title = signature.id, petition.text("fr").title
    _ = french(app)

    # Opening the link changes nothing: mail scanners open links.
    page.goto(f"{url}/u/{token}")
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Stop the updates"))
    expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    assert_accessible(page, "the unsubscribe page")
    with app.app_context():
        assert db.session.get(Signature, signature_id).contact_ok is True

    page.get_by_role("button", name=_("Stop the updates"), exact=True).click()
    expect(
        page.get_by_text(_("Done: you will receive no more updates about this petition."))
    ).to_be_visible()
    assert_accessible(page, "the unsubscribed page")
    with app.app_context():
        assert db.session.get(Signature, signature_id).contact_ok is False

    # Coming back to the link says so, without a button.
    page.goto(f"{url}/u/{token}")
    expect(page.get_by_text(_("You do not receive updates about this petition."))).to_be_visible()
    expect(page.get_by_role("button", name=_("Stop the updates"))).to_have_count(0)
    assert_stayed_home(browser)


def test_the_petition_page_names_the_verification_levels(live_server, browser):
    from playwright.sync_api import expect

    app, url, page = live_server.app, live_server.url, browser.page
    with app.app_context():
        petition = make_petition(title="Pour des soins vérifiés")
        make_signature(
            petition,
            first_name="Camille",
            last_name="Fontaine",
            category_key="clinician",
            verification_level="registry",
            verified_profession="Médecin",
        )
        make_signature(
            petition,
            first_name="Paul",
            last_name="Girard",
            source="import",
            confirmed_at=None,
            status_changed_at=utcnow(),
        )
        make_signature(petition, first_name="Inès", last_name="Roux")
        slug = petition.slug
    _ = french(app)
    registry = _("name and number in the RPPS register")
    unconfirmed = _("address not confirmed")

    page.goto(f"{url}/p/{slug}")
    latest = page.get_by_role("region", name=_("Latest signatories"))
    verified = latest.get_by_role("listitem").filter(has_text="Fontaine Camille")
    # The level is written out (the tick is hidden from screen readers, the words are not),
    # and says what was checked: a name and a number of a public register, not "verified".
    expect(verified.locator(".badge-verified")).to_have_text(
        re.compile(rf"^✓ {re.escape(registry)} · Médecin\s*$")
    )
    expect(verified.locator(".badge-verified")).to_be_visible()
    expect(latest.get_by_role("listitem").filter(has_text="Girard Paul")).to_contain_text(
        unconfirmed
    )
    expect(
        latest.get_by_role("listitem").filter(has_text="Roux Inès").locator(".badge")
    ).to_have_count(0)
    expect(
        page.get_by_text(
            _(
                "of which %(num)s with name and number in the RPPS register",
                "of which %(num)s with name and number in the RPPS register",
                1,
            )
        )
    ).to_be_visible()
    assert_accessible(page, "the petition page with verification badges")

    # The list of signatories marks them the same way, with its legend.
    page.goto(f"{url}/p/{slug}/signatories")
    expect(page.get_by_role("listitem").filter(has_text="Fontaine Camille")).to_contain_text(
        registry
    )
    expect(page.get_by_role("listitem").filter(has_text="Girard Paul")).to_contain_text(unconfirmed)
    expect(page.locator(".verification-legend")).to_be_visible()
    assert_accessible(page, "the list of signatories with verification badges")
    assert_stayed_home(browser)


def test_a_moderator_sees_the_verification_queue(live_server, browser):
    from playwright.sync_api import expect

    from campaign.accounts.services import assign_moderator

    app, url, page = live_server.app, live_server.url, browser.page
    with app.app_context():
        owner = make_user("organiser")
        petition = make_petition(owner_id=owner.id)
        moderator = make_user("moderator")
        assign_moderator(petition, moderator)
        claimed = make_signature(
            petition, first_name="Paul", last_name="Girard", category_key="clinician"
        )
        db.session.add(VerificationClaim(signature_id=claimed.id, evidence="Annuaire du CHU"))
        db.session.commit()
        slug, email, signature_id = petition.slug, moderator.email, claimed.id
    _ = french(app)

    log_in(page, url, _, email)
    page.goto(f"{url}/admin/p/{slug}/verification")
    expect(page.get_by_role("heading", level=1)).to_have_text(_("Categories to verify"))
    expect(
        page.get_by_text(
            _(
                "%(num)s signature to check",
                "%(num)s signatures to check",
                1,
            )
        )
    ).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Girard Paul")
    expect(row).to_contain_text("Annuaire du CHU")
    expect(row).to_contain_text(_("email address confirmed"))
    assert_accessible(page, "the verification queue")

    # The decision page it leads to.
    row.get_by_role("link").click()
    expect(page).to_have_url(f"{url}/admin/p/{slug}/verification/{signature_id}")
    assert_accessible(page, "the verification decision page")
    assert_stayed_home(browser)
