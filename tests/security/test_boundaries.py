"""One organiser cannot change another's campaign (issue 15.2): the settings that act on every
petition at once (official domains of the verified categories, the officials directory, the
block list of email domains) are the site's admins' alone; an organiser's attempt changes
nothing, on their petition or anyone else's, and their menu does not offer them."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from campaign.abuse import BlockedDomain
from campaign.extensions import db
from campaign.mailings.models import Official
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
    for path in ("/admin/blocked-domains", "/admin/verification"):
        assert f'href="{path}"' not in page
    officials = visible_text(organiser.get("/admin/officials").get_data(as_text=True))
    assert "Import or update officials" not in officials
    admin = english_client(app, make_user("admin")).get("/admin/").get_data(as_text=True)
    for path in ("/admin/officials", "/admin/blocked-domains", "/admin/verification"):
        assert f'href="{path}"' in admin
