"""The objection letter in the workspace: its managers write it (errors in their language,
nothing saved), and see what supporters did in counts, never a name."""

from sqlalchemy import select

from campaign.clock import utcnow
from campaign.demo import DEMO_INSTITUTIONS
from campaign.extensions import db
from campaign.objections.institutions import import_institutions
from campaign.objections.models import ObjectionLetter
from campaign.objections.services import objection_letter_of
from campaign.tokens import make_token
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, login, visible_text


def save(client, slug: str, subject: str, body: str):
    path = f"/admin/p/{slug}/objection"
    data = {"csrf_token": csrf_token(client, path), "subject": subject, "body": body}
    return client.post(path, data=data, headers={"Accept-Language": "en"})


def test_a_manager_writes_the_letter_and_a_bad_field_is_named_and_saves_nothing(client, app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    login(client, owner)
    response = save(client, petition.slug, "Objet", "Je soussigné {{ supporter.prenom }}")
    assert response.status_code == 422
    assert "supporter.first_name" in visible_text(response.get_data(as_text=True))
    assert db.session.scalar(select(ObjectionLetter)) is None
    response = save(client, petition.slug, "Objet", "Je soussigné {{ supporter.last_name }}")
    assert response.status_code == 303
    db.session.expire_all()
    assert objection_letter_of(petition.id).body == "Je soussigné {{ supporter.last_name }}"


def test_another_organiser_cannot_see_or_write_the_letter(client, app):
    petition = make_petition(owner_id=make_user("organiser").id)
    login(client, make_user("organiser"))
    assert client.get(f"/admin/p/{petition.slug}/objection").status_code == 404


def test_the_manager_sees_counts_per_institution_and_week_and_no_name(client, app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    import_institutions(DEMO_INSTITUTIONS.read_bytes(), source="demo", now=utcnow())
    login(client, owner)
    save(client, petition.slug, "Objet", "Je soussigné {{ supporter.last_name }}")
    for name in ("Kergoat", "Lemaire"):
        signature = make_signature(petition, last_name=name)
        token = make_token("rights", signature, utcnow())
        path = f"/s/{token}/objection"
        client.post(path, data={"csrf_token": csrf_token(client, path), "departement": "13"})
    page = visible_text(client.get(f"/admin/p/{petition.slug}/objection").get_data(as_text=True))
    assert "Caisse d’assurance maladie fictive des Bouches-du-Rhône 2 0 0 0" in page
    assert "Kergoat" not in page and "Lemaire" not in page
