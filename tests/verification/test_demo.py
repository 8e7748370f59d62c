"""The demo ships a tiny fictional register, domain rules and roster: a tester signs as a
clinician with a fictional RPPS number (README) and sees the badge after confirming."""

from __future__ import annotations

from sqlalchemy import select

from campaign.clock import utcnow
from campaign.demo import DEMO_SLUG, demo_register_lines, load_demo
from campaign.extensions import db
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature
from campaign.verification.registries import active_register, import_rpps_register
from campaign.verification.services import domain_rules
from tests.support import csrf_token, links_in, path_of, sign, text_part, visible_text


def test_the_demo_register_is_in_the_extract_format_and_imports_cleanly(app):
    report = import_rpps_register(demo_register_lines(), "demo.txt", utcnow())
    assert report.imported and report.errors == []
    assert (report.lines, report.records, report.skipped) == (7, 5, 1)


def test_the_demo_loads_its_register_rules_and_verified_signatories_once(app):
    load_demo(utcnow(), signatories=10)
    load_demo(utcnow(), signatories=10)
    assert active_register().record_count == 5
    assert {(rule.category_key, rule.pattern) for rule in domain_rules()} >= {
        ("mp", "assemblee-nationale.fr"),
        ("clinician", "chu-*.fr"),
    }
    levels = db.session.execute(
        select(Signature.last_name, Signature.verification_level, Signature.verified_profession)
        .where(Signature.verification_level != "email")
        .order_by(Signature.last_name)
    ).all()
    assert levels == [
        ("Girard", "domain", None),
        ("Lacroix", "roster", None),
        ("Lefèvre", "registry", "Infirmier"),
        ("N'Diaye", "registry", "Pharmacien"),
    ]


def test_a_tester_signs_as_the_readme_clinician_and_sees_the_badge(site, mailbox):
    load_demo(utcnow(), signatories=10)
    petition = db.session.scalar(select(Petition).where(Petition.slug == DEMO_SLUG))
    browser = site.test_client()
    sign(
        browser,
        petition,
        first_name="Camille",
        last_name="Fontaine",
        email="camille.fontaine@example.net",
        rpps_number="99900000011",
    )
    [message] = mailbox.to("camille.fontaine@example.net")
    path = path_of(links_in(text_part(message))[0])
    browser.post(path, data={"csrf_token": csrf_token(browser, path)})
    page = visible_text(browser.get(path).get_data(as_text=True))
    assert "RPPS" in page and "Médecin" in page
    listing = browser.get(f"/p/{DEMO_SLUG}/signatories?q=fontaine").get_data(as_text=True)
    assert "Fontaine Camille" in visible_text(listing) and "badge-verified" in listing
