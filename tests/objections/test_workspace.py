"""The objection letter in the workspace: its managers write it (errors in their language,
nothing saved), and see what supporters did in counts, never a name."""

import io

from sqlalchemy import select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.demo import DEMO_INSTITUTIONS
from campaign.extensions import db
from campaign.objections.institutions import ACTION, import_institutions
from campaign.objections.models import Institution, ObjectionLetter
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


INSTITUTIONS_CSV = (
    "key;name;kind;channel;email;portal_url;postal_address;answer_days;departements\n"
    "cpam-29;Caisse fictive du Finistère;caisse;courriel;dpo-29@example.org;;1 rue X 29000;30;29\n"
).encode()
BAD_CSV = (
    "key;name;kind;channel;email;portal_url;postal_address;answer_days;departements\n"
    "cpam-29;Caisse fictive du Finistère;caisse;courriel;dpo-29@example.org;;1 rue X;30;29\n"
    "cpam-56;Caisse fictive du Morbihan;caisse;portail;;;1 rue Y;400;999\n"
).encode()


def upload(client, content: bytes, dry_run: bool = False):
    token = csrf_token(client, "/admin/")
    data = {"csrf_token": token, "file": (io.BytesIO(content), "caisses.csv")}
    if dry_run:
        data["dry_run"] = "y"
    return client.post(
        "/admin/institutions/import",
        data=data,
        content_type="multipart/form-data",
        headers={"Accept-Language": "en"},
    )


def institution_keys() -> list[str]:
    return sorted(db.session.scalars(select(Institution.key)))


def test_an_admin_imports_institutions_from_the_workspace(client, app):
    login(client, make_user("admin"))
    response = upload(client, INSTITUTIONS_CSV, dry_run=True)
    assert response.status_code == 303
    assert institution_keys() == []
    response = upload(client, INSTITUTIONS_CSV)
    assert response.status_code == 303
    assert institution_keys() == ["cpam-29"]
    page = visible_text(client.get("/admin/institutions").get_data(as_text=True))
    assert "Caisse fictive du Finistère" in page
    assert "1 created, 0 updated, 0 unchanged" in page or "1 créés" in page
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == ACTION))
    assert entry.actor_id is not None and entry.detail.startswith("workspace: 1 created")


def test_invalid_lines_are_named_in_the_form_and_nothing_is_imported(client, app):
    login(client, make_user("admin"))
    response = upload(client, BAD_CSV)
    assert response.status_code == 422
    page = visible_text(response.get_data(as_text=True))
    # The CLI's rules and messages, line by line and field by field.
    assert "Nothing was imported: correct these lines" in page
    assert "3 portal_url Required when the channel is portail." in page
    assert "3 answer_days A number of days, from 1 to 365." in page
    assert "3 departements “999” is not a département code." in page
    assert institution_keys() == []


def test_organisers_cannot_import_institutions(client, app):
    login(client, make_user("organiser"))
    assert client.get("/admin/institutions").status_code == 404
    assert upload(client, INSTITUTIONS_CSV).status_code == 404
    assert institution_keys() == []
    assert 'href="/admin/institutions"' not in client.get("/admin/").get_data(as_text=True)
