"""One organiser cannot change another's campaign (issue 15.2): the settings that act on every
petition at once (the site's official domains of the verified categories, the officials
directory, the institutions objection letters go to, the block list of email domains) are
the site's admins' alone; an organiser's attempt changes nothing, on their petition or anyone
else's, and their menu does not offer them. What an organiser may set for their own petition
(its official domains) acts on that petition only."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from campaign.abuse import BlockedDomain
from campaign.extensions import db
from campaign.officials.models import Official
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature
from campaign.verification.models import DomainRule
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, english_client, visible_text

OFFICIALS_CSV = (
    "email;first_name;last_name;role;chamber;departement;constituency;party;recorded_on;source\n"
    "faux.depute@mail.example;Faux;Député;député;;75;;;2026-01-15;\n"
).encode()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_an_organiser_cannot_verify_strangers_on_a_petition_that_is_not_theirs(app):
    ensure_default_categories()
    db.session.commit()
    stranger = make_petition(owner_id=make_user("organiser").id)
    signature = make_signature(stranger, category_key="mp", email="someone@mail.example")
    client = english_client(app, make_user("organiser"))
    response = client.post(
        "/admin/verification",
        data={
            "csrf_token": csrf_token(client, "/admin/"),
            "category": "mp",
            "pattern": "mail.example",
        },
    )
    assert response.status_code == 404
    assert count(DomainRule) == 0
    db.session.expire_all()
    assert db.session.get(Signature, signature.id).verification_level == "email"


def test_an_organiser_cannot_add_an_official_that_every_petitions_letters_go_to(app):
    ensure_default_categories()
    db.session.commit()
    client = english_client(app, make_user("organiser"))
    token = csrf_token(client, "/admin/")
    data = {"csrf_token": token, "source": "", "file": (io.BytesIO(OFFICIALS_CSV), "an.csv")}
    upload = client.post("/admin/officials/import", data=data, content_type="multipart/form-data")
    assert upload.status_code == 404
    assert client.get("/admin/officials/import/preview").status_code == 404
    confirm = client.post("/admin/officials/import/confirm", data={"csrf_token": token})
    assert confirm.status_code == 404
    assert count(Official) == 0


def test_an_organiser_cannot_change_the_institutions_every_objection_letter_goes_to(app):
    from campaign.objections.models import Institution

    client = english_client(app, make_user("organiser"))
    token = csrf_token(client, "/admin/")
    content = (
        b"key;name;kind;channel;email;postal_address\n"
        b"caisse-75;Fausse caisse;caisse;courriel;dpo@attacker.example;1 rue X\n"
    )
    data = {"csrf_token": token, "file": (io.BytesIO(content), "caisses.csv")}
    upload = client.post(
        "/admin/institutions/import", data=data, content_type="multipart/form-data"
    )
    assert upload.status_code == 404
    assert client.get("/admin/institutions").status_code == 404
    assert count(Institution) == 0


def test_an_organiser_cannot_block_a_domain_for_every_petition(app):
    client = english_client(app, make_user("organiser"))
    token = csrf_token(client, "/admin/")
    response = client.post(
        "/admin/blocked-domains", data={"csrf_token": token, "domain": "gmail.com"}
    )
    assert response.status_code == 404
    assert count(BlockedDomain) == 0


def test_an_admins_block_stays_when_an_organiser_tries_to_lift_it(app):
    from campaign.abuse import block_domain
    from campaign.clock import utcnow

    block_domain("spam.example", "fakes", make_user("admin"), utcnow())
    client = english_client(app, make_user("organiser"))
    response = client.post(
        "/admin/blocked-domains/spam.example/remove",
        data={"csrf_token": csrf_token(client, "/admin/")},
    )
    assert response.status_code == 404
    assert db.session.get(BlockedDomain, "spam.example") is not None


def test_the_menu_offers_organisers_only_what_they_can_use(app):
    organiser = english_client(app, make_user("organiser"))
    page = organiser.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/officials"' in page
    for path in ("/admin/blocked-domains", "/admin/verification", "/admin/institutions"):
        assert f'href="{path}"' not in page
    officials = visible_text(organiser.get("/admin/officials").get_data(as_text=True))
    assert "Import or update officials" not in officials
    admin = english_client(app, make_user("admin")).get("/admin/").get_data(as_text=True)
    for path in (
        "/admin/officials",
        "/admin/blocked-domains",
        "/admin/verification",
        "/admin/institutions",
    ):
        assert f'href="{path}"' in admin


def add_petition_domain(client, petition, pattern: str, category: str = "clinician"):
    path = f"/admin/p/{petition.slug}/verification/domains"
    data = {"csrf_token": csrf_token(client, "/admin/"), "category": category, "pattern": pattern}
    return client.post(path, data=data)


def test_a_petitions_own_domain_verifies_its_signatures_and_no_others(app):
    owner = make_user("organiser")
    mine = make_petition(owner_id=owner.id)
    theirs = make_petition(owner_id=make_user("organiser").id)
    here = make_signature(mine, category_key="clinician", email="a@hopital.example")
    there = make_signature(theirs, category_key="clinician", email="b@hopital.example")
    client = english_client(app, owner)
    assert add_petition_domain(client, mine, "hopital.example").status_code == 303
    db.session.expire_all()
    assert db.session.get(Signature, here.id).verification_level == "domain"
    assert db.session.get(Signature, there.id).verification_level == "email"
    page = visible_text(
        client.get(f"/admin/p/{mine.slug}/verification/domains").get_data(as_text=True)
    )
    assert "hopital.example" in page
    # A category the petition does not offer is refused, and nothing is added.
    narrow = make_petition(owner_id=owner.id)
    narrow.offered_categories = [
        c for c in narrow.offered_categories if c.category_key == "citizen"
    ]
    db.session.commit()
    assert add_petition_domain(client, narrow, "senat.fr", category="mp").status_code == 422
    assert count(DomainRule) == 1


def test_an_organiser_cannot_add_or_remove_the_rules_of_another_petition_or_the_sites(app):
    from campaign.clock import utcnow
    from campaign.verification.services import add_domain_rule

    owner = make_user("organiser")
    mine = make_petition(owner_id=owner.id)
    theirs = make_petition(owner_id=make_user("organiser").id)
    site_rule = add_domain_rule("mp", "senat.fr", make_user("admin"), utcnow())
    their_rule = add_domain_rule("clinician", "chu-*.fr", None, utcnow(), theirs)
    client = english_client(app, owner)
    assert add_petition_domain(client, theirs, "mail.example").status_code == 404
    token = csrf_token(client, "/admin/")
    for rule in (site_rule, their_rule):
        # Through their own petition's page: the rule is not theirs, nothing changes.
        path = f"/admin/p/{mine.slug}/verification/domains/{rule.id}/remove"
        assert client.post(path, data={"csrf_token": token}).status_code == 303
    path = f"/admin/p/{theirs.slug}/verification/domains/{their_rule.id}/remove"
    assert client.post(path, data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert count(DomainRule) == 2
    assert db.session.scalar(select(func.count()).where(DomainRule.removed_at.is_not(None))) == 0


def test_the_petition_page_offers_its_owner_the_petitions_domains(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    page = english_client(app, owner).get(f"/admin/p/{petition.slug}").get_data(as_text=True)
    assert f'href="/admin/p/{petition.slug}/verification/domains"' in page
