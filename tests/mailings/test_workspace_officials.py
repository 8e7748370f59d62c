"""The officials directory in the workspace: who may, the list and its filters, the import's
upload, preview and confirmation."""

import io
import re

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.officials.models import Official, OfficialRole
from campaign.petitions.services import ensure_default_categories
from campaign.web.language import LANGUAGE_COOKIE
from tests.factories import make_official, make_user
from tests.support import csrf_token, login, visible_text

HEADER = "email;first_name;last_name;role;chamber;departement;constituency;party;recorded_on;source"
CLAIRE = "claire.dumont@example.org;Claire;Dumont;députée;;75;;Parti A;2026-01-15;"
PAUL = "paul.girard@example.org;Paul;Girard;sénateur;Sénat;69;;Parti B;2026-01-10;"


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode("utf-8-sig")


@pytest.fixture
def site(make_app, tmp_path):
    """The app, keeping uploads in a temporary folder, with its context pushed."""
    app = make_app(IMPORT_UPLOAD_DIR=str(tmp_path / "imports"))
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


@pytest.fixture
def uploads(site, tmp_path):
    return tmp_path / "imports"


@pytest.fixture
def organiser(site):
    return make_user("organiser")


@pytest.fixture
def admin(site):
    return make_user("admin")


def as_user(site, user):
    """A logged-in client reading the workspace in English."""
    client = site.test_client()
    client.set_cookie(LANGUAGE_COOKIE, "en")
    login(client, user)
    return client


def session_csrf_token(client) -> str:
    page = client.get("/admin/").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*? value="([^"]+)"', page).group(1)


def upload(client, content=None, **extra):
    path = "/admin/officials/import"
    data = {"csrf_token": csrf_token(client, path), "source": "", **extra}
    if content is not None:
        data["file"] = (io.BytesIO(content), "annuaire AN.csv")
    return client.post(path, data=data, content_type="multipart/form-data")


def confirm(client):
    token = session_csrf_token(client)
    return client.post("/admin/officials/import/confirm", data={"csrf_token": token})


def officials() -> list[Official]:
    db.session.expire_all()
    return list(db.session.scalars(select(Official).order_by(Official.email)))


def test_moderators_cannot_reach_the_directory_or_import_into_it(site, uploads):
    client = as_user(site, make_user("moderator"))
    token = session_csrf_token(client)
    assert client.get("/admin/officials").status_code == 404
    assert client.get("/admin/officials/import").status_code == 404
    data = {"csrf_token": token, "file": (io.BytesIO(csv_bytes(CLAIRE)), "a.csv")}
    response = client.post("/admin/officials/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 404
    assert client.get("/admin/officials/import/preview").status_code == 404
    assert (
        client.post("/admin/officials/import/confirm", data={"csrf_token": token}).status_code
        == 404
    )
    assert officials() == [] and not uploads.exists()
    assert "/admin/officials" not in client.get("/admin/").get_data(as_text=True)


def test_anonymous_visitors_are_sent_to_the_login_page(site):
    response = site.test_client().get("/admin/officials")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


def test_admins_import_a_file_after_its_preview(site, uploads):
    client = as_user(site, make_user("admin"))
    assert 'href="/admin/officials"' in client.get("/admin/").get_data(as_text=True)
    assert client.get("/admin/officials/import").status_code == 200
    response = upload(client, csv_bytes(CLAIRE, PAUL))
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/officials/import/preview"
    assert officials() == []
    (stored,) = uploads.glob("*.csv.enc")
    assert b"claire.dumont" not in stored.read_bytes()
    page = visible_text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Source: annuaire AN.csv" in page
    assert "New officials 2" in page and "Officials unchanged 0" in page
    assert "2 Dumont Claire Member of the National Assembly Assemblée nationale 75" in page
    assert "Confirm the import" in page
    done = confirm(client)
    assert done.status_code == 303 and done.headers["Location"] == "/admin/officials"
    assert [(o.last_name, o.source) for o in officials()] == [
        ("Dumont", "annuaire AN.csv"),
        ("Girard", "annuaire AN.csv"),
    ]
    assert list(uploads.glob("*")) == []
    listing = visible_text(client.get(done.headers["Location"]).get_data(as_text=True))
    assert "Officials imported: 2 created, 0 updated, 0 unchanged, 0 retired." in listing
    assert "annuaire AN.csv 2026-01-15" in listing


def test_preview_of_a_file_already_imported_offers_nothing_to_confirm(site, admin):
    client = as_user(site, admin)
    upload(client, csv_bytes(CLAIRE, PAUL))
    confirm(client)
    upload(client, csv_bytes(CLAIRE, PAUL.replace("Parti B", "Parti C")))
    page = visible_text(client.get("/admin/officials/import/preview").get_data(as_text=True))
    assert "Officials updated 1" in page and "Officials unchanged 1" in page
    assert "Girard Paul paul.girard@example.org party" in page
    confirm(client)
    upload(client, csv_bytes(CLAIRE, PAUL.replace("Parti B", "Parti C")))
    page = visible_text(client.get("/admin/officials/import/preview").get_data(as_text=True))
    assert "there is nothing to import" in page and "Confirm the import" not in page
    response = confirm(client)
    assert response.headers["Location"] == "/admin/officials/import/preview"


def test_a_file_with_errors_shows_them_and_cannot_be_confirmed(site, admin):
    client = as_user(site, admin)
    upload(client, csv_bytes(CLAIRE, "x@example.org;Jean;Maire;maire;;;;;;"))
    page = visible_text(client.get("/admin/officials/import/preview").get_data(as_text=True))
    assert "3 role “maire” is not a role" in page
    assert "Confirm the import" not in page
    response = confirm(client)
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/officials/import/preview"
    assert officials() == []


def test_upload_without_file_or_csrf_token_is_refused(site, admin, uploads):
    client = as_user(site, admin)
    response = upload(client, None)
    assert response.status_code == 400
    assert "Choose a CSV file." in response.get_data(as_text=True)
    response = client.post(
        "/admin/officials/import",
        data={"file": (io.BytesIO(csv_bytes(CLAIRE)), "a.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert not uploads.exists() or not any(uploads.iterdir())
    assert client.get("/admin/officials/import/preview").status_code == 303


def test_confirm_without_csrf_token_is_refused(site, admin):
    client = as_user(site, admin)
    upload(client, csv_bytes(CLAIRE))
    assert client.post("/admin/officials/import/confirm").status_code == 400
    assert officials() == []


def test_a_pending_upload_belongs_to_its_uploader(site, admin):
    client = as_user(site, admin)
    upload(client, csv_bytes(CLAIRE))
    # Another account in the same browser session finds no upload to confirm.
    login(client, make_user("admin"))
    assert confirm(client).headers["Location"] == "/admin/officials/import"
    assert officials() == []


def test_the_list_filters_and_shows_source_and_record_date(site, organiser):
    from datetime import date

    make_official(last_name="Dumont", departement="75", source="AN", recorded_on=date(2026, 1, 15))
    make_official(
        last_name="Girard", first_name="Hélène", civility="mme", role=OfficialRole.SENATEUR,
        chamber="Sénat", departement="69",
    )  # fmt: skip
    make_official(last_name="Ancien", active=False)
    client = as_user(site, organiser)
    page = visible_text(client.get("/admin/officials").get_data(as_text=True))
    assert "2 officials" in page and "Ancien" not in page.split("Record date", 1)[1]
    assert "AN 2026-01-15" in page
    assert "Girard Hélène (Ms) Senator" in page
    page = visible_text(client.get("/admin/officials?role=senateur").get_data(as_text=True))
    assert "1 official" in page and "Girard" in page and "Dumont" not in page
    page = visible_text(client.get("/admin/officials?departement=75").get_data(as_text=True))
    assert "Dumont" in page and "Girard" not in page
    page = visible_text(client.get("/admin/officials?include_retired=y").get_data(as_text=True))
    assert "3 officials" in page and "(retired)" in page
    # An unknown filter value is ignored rather than an error.
    assert client.get("/admin/officials?role=nope&page=99").status_code == 200


def test_the_list_is_paginated(site, organiser):
    for number in range(55):
        make_official(last_name=f"Nom{number:02d}")
    client = as_user(site, organiser)
    first = client.get("/admin/officials?chamber=Assembl%C3%A9e+nationale").get_data(as_text=True)
    assert "Page 1 of 2" in visible_text(first)
    assert "page=2" in first and "chamber=Assembl" in first
    second = visible_text(client.get("/admin/officials?page=2").get_data(as_text=True))
    assert "Nom54" in second and "Nom00" not in second


def test_the_directory_shows_an_address_that_bounces(site, organiser):
    from datetime import datetime

    make_official(last_name="Fiable", email="ok@an.example")
    make_official(
        last_name="Perdu",
        email="gone@an.example",
        bouncing_since=datetime(2026, 12, 1, 9, 30),
        bounce_reason="recipient refused [550]",
    )
    page = visible_text(as_user(site, organiser).get("/admin/officials").get_data(as_text=True))
    assert "gone@an.example bounces since 12/1/26" in page
    assert "ok@an.example bounces" not in page
