"""The op-ed as newspapers publish it (issue 16.3): the summary's stated limit, initiators,
the newspaper and its article, a press contact and an uploaded image, on the petition page
and the API, in French and English."""

from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.models import Petition, PetitionImage, PetitionStatus
from campaign.petitions.services import (
    IMAGE_MAX_WIDTH,
    OpEdSubmission,
    PetitionInputError,
    PetitionSubmission,
    TextSubmission,
    check_op_ed,
    create_petition,
    reencode_image,
    store_petition_image,
)
from tests.factories import make_petition, make_user
from tests.support import csrf_token, login, visible_text


def jpeg_with_gps(width: int = 2400, height: int = 1600) -> bytes:
    """A photo as a phone takes it: EXIF with the camera, the time and the GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyPhone"
    exif[ExifTags.Base.DateTime] = "2026:12:01 08:15:00"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (2.0, 21.0, 7.0),
    }
    output = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(
        output, "JPEG", exif=exif, comment=b"taken at home"
    )
    return output.getvalue()


def image_bytes(fmt: str, size=(300, 200), mode="RGB") -> bytes:
    output = io.BytesIO()
    Image.new(mode, size, (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200)).save(
        output, fmt
    )
    return output.getvalue()


def submission(**overrides) -> PetitionSubmission:
    values = {
        "slug": "tribune-presse",
        "language": "fr",
        "goal": 100,
        "opens_at": None,
        "closes_at": None,
        "category_keys": ("citizen",),
        "texts": (TextSubmission("fr", "Titre", "Résumé.", "Texte."),),
    }
    values.update(overrides)
    return PetitionSubmission(**values)


# --- The summary: a stated limit, a form error, never a cut -------------------------------------


def test_a_summary_over_the_limit_is_refused_by_the_service_never_cut(app):
    owner = make_user("organiser")
    long_summary = "mot " * 130  # 520 characters
    with pytest.raises(PetitionInputError) as refused:
        create_petition(
            submission(texts=(TextSubmission("fr", "Titre", long_summary, "Texte."),)),
            owner,
            utcnow(),
        )
    assert refused.value.field == "summary_fr"
    assert db.session.scalar(select(func.count(Petition.id))) == 0


def test_the_summary_field_states_its_limit_and_has_no_maxlength_that_cuts(client):
    login(client, make_user("organiser"))
    html = client.get("/admin/petitions/new").get_data(as_text=True)
    start = html.index('name="summary_fr"')
    area = html[html.rindex("<textarea", 0, start) :].split(">", 1)[0]
    assert "maxlength" not in area
    assert 'data-count-max="500"' in area
    assert "500" in visible_text(html[html.index('id="summary_fr-hint"') :][:400])
    assert "js/counter.js" in html


@pytest.mark.parametrize(
    ("language", "message"),
    [("fr", "500 caractères au maximum."), ("en", "At most 500 characters.")],
)
def test_a_long_summary_gets_a_form_error_in_the_readers_language(client, language, message):
    login(client, make_user("organiser"))
    token = csrf_token(client, "/admin/petitions/new")
    data = {
        "csrf_token": token,
        "slug": "trop-long",
        "language": "fr",
        "title_fr": "Titre",
        "summary_fr": "é" * 501,
        "body_fr": "Texte.",
        "goal": "100",
        "categories": ["citizen"],
        "save": "Save",
    }
    response = client.post("/admin/petitions/new", data=data, headers={"Accept-Language": language})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Petition.id))) == 0


# --- Initiators, newspaper, article, press contact ----------------------------------------------


@pytest.mark.parametrize(
    ("op_ed", "field"),
    [
        (OpEdSubmission(newspaper="Le Monde"), "published_on"),
        (OpEdSubmission(published_on=date(2026, 12, 3)), "newspaper"),
        (OpEdSubmission(article_url="https://www.lemonde.fr/a"), "newspaper"),
        (
            OpEdSubmission("", "Le Monde", date(2026, 12, 3), "javascript:alert(1)"),
            "article_url",
        ),
        (OpEdSubmission("", "Le Monde", date(2026, 12, 3), "ftp://lemonde.fr/a"), "article_url"),
        (
            OpEdSubmission("", "Le Monde", date(2026, 12, 3), "https://u:p@lemonde.fr/a"),
            "article_url",
        ),
        (OpEdSubmission("", "Le Monde", date(2026, 12, 3), "https://localhost/a"), "article_url"),
        (OpEdSubmission("", "Le Monde", date(2026, 12, 3), "lemonde.fr/a"), "article_url"),
    ],
)
def test_op_ed_rules_name_the_field_at_fault(app, op_ed, field):
    with pytest.raises(PetitionInputError) as refused:
        check_op_ed(op_ed)
    assert refused.value.field == field


def test_complete_op_ed_details_pass_the_rules(app):
    check_op_ed(
        OpEdSubmission(
            "Jeanne Martin, Ali Benali",
            "Le Monde",
            date(2026, 12, 3),
            "https://www.lemonde.fr/idees/article/2026/12/03/tribune.html",
            "presse@example.org",
        )
    )
    check_op_ed(OpEdSubmission(initiators="Jeanne Martin"))


def test_op_ed_details_are_saved_from_the_workspace_form_and_audited(client):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    login(client, owner)
    path = f"/admin/p/{petition.slug}/edit"
    token = csrf_token(client, path)
    data = {
        "csrf_token": token,
        "language": "fr",
        "title_fr": petition.text("fr").title,
        "body_fr": petition.text("fr").body,
        "title_en": petition.text("en").title,
        "body_en": petition.text("en").body,
        "goal": "100",
        "categories": [category.key for category in petition.categories],
        "base_version": "1",
        "initiators": "Jeanne Martin,  Ali Benali",
        "newspaper": "Le Monde",
        "published_on": "2026-12-03",
        "article_url": "https://www.lemonde.fr/idees/tribune.html",
        "press_contact": "Ali Benali, 01 23 45 67 89",
        "save": "Save",
    }
    response = client.post(path, data=data)
    assert response.status_code == 303
    db.session.expire_all()
    petition = db.session.get(Petition, petition.id)
    assert petition.initiators == "Jeanne Martin, Ali Benali"
    assert petition.newspaper == "Le Monde" and petition.published_on == date(2026, 12, 3)
    assert petition.press_contact == "Ali Benali, 01 23 45 67 89"
    details = db.session.scalars(select(AuditEntry.detail)).all()
    assert any("op-ed" in (detail or "") for detail in details)
    # A newspaper without its day: the form says so, nothing changes.
    data.update(newspaper="Libération", published_on="", csrf_token=csrf_token(client, path))
    response = client.post(path, data=data)
    assert response.status_code == 422
    assert "Indiquez le jour" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Petition, petition.id).newspaper == "Le Monde"


def published_petition(**overrides) -> Petition:
    values = {
        "initiators": "Jeanne Martin, Ali Benali",
        "newspaper": "Le Monde",
        "published_on": date(2026, 12, 3),
        "article_url": "https://www.lemonde.fr/idees/tribune.html",
        "press_contact": "presse@example.org",
    }
    values.update(overrides)
    petition = make_petition(**values)
    summaries = {"fr": "Un résumé qui tient en une phrase.", "en": "A one-sentence summary."}
    for text in petition.texts:
        text.summary = summaries[text.language]
    db.session.commit()
    return petition


@pytest.mark.parametrize(
    ("language", "summary", "published"),
    [
        ("fr", "Un résumé qui tient en une phrase.", "Publiée dans Le Monde le 3 décembre 2026"),
        ("en", "A one-sentence summary.", "Published in Le Monde on December 3, 2026"),
    ],
)
def test_the_page_shows_summary_initiators_newspaper_and_contact(
    client, language, summary, published
):
    petition = published_petition()
    html = client.get(f"/p/{petition.slug}", headers={"Accept-Language": language}).get_data(
        as_text=True
    )
    text = visible_text(html)
    assert summary in text and published in text
    assert "Jeanne Martin, Ali Benali" in text and "presse@example.org" in text
    # A link to the article, never an embed.
    assert (
        '<a href="https://www.lemonde.fr/idees/tribune.html" '
        'rel="noopener noreferrer nofollow external">Le Monde</a>'
    ) in html
    assert "<iframe" not in html and "lemonde.fr" not in html.replace(
        'href="https://www.lemonde.fr/idees/tribune.html"', ""
    )


def test_a_petition_without_op_ed_details_shows_none_of_their_headings(client):
    petition = make_petition()
    text = visible_text(client.get(f"/p/{petition.slug}").get_data(as_text=True))
    assert "Initiateurs" not in text and "Contact presse" not in text


def test_the_api_gives_summary_and_op_ed_details(client):
    petition = published_petition()
    body = client.get(f"/api/v1/petitions/{petition.slug}").get_json()
    assert body["summary"] == {"fr": "Un résumé qui tient en une phrase.",
                               "en": "A one-sentence summary."}  # fmt: skip
    assert body["initiators"] == "Jeanne Martin, Ali Benali"
    assert body["published_in"] == {
        "newspaper": "Le Monde",
        "published_on": "2026-12-03",
        "article_url": "https://www.lemonde.fr/idees/tribune.html",
    }
    assert body["press_contact"] == "presse@example.org"
    assert body["image"] is None


# --- The image ---------------------------------------------------------------------------------


def test_an_uploaded_photo_loses_its_exif_and_gps_and_is_resized(app):
    upload = jpeg_with_gps()
    assert b"SpyPhone" in upload and b"Exif" in upload
    clean = reencode_image(upload)
    with Image.open(io.BytesIO(clean.content)) as image:
        assert image.format == "JPEG"
        assert image.width == IMAGE_MAX_WIDTH and image.height == 800
        assert not image.getexif()
        assert "exif" not in image.info and "comment" not in image.info
    assert b"SpyPhone" not in clean.content and b"Exif" not in clean.content
    assert b"taken at home" not in clean.content


@pytest.mark.parametrize(
    "upload",
    [
        image_bytes("GIF"),
        image_bytes("BMP"),
        b"%PDF-1.7 not an image",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"",
    ],
)
def test_anything_but_jpeg_png_or_webp_is_refused(app, upload):
    with pytest.raises(PetitionInputError) as refused:
        reencode_image(upload)
    assert refused.value.field == "image"


def test_an_image_over_the_size_limit_is_refused(app, monkeypatch):
    from campaign.petitions import services

    monkeypatch.setattr(services, "IMAGE_MAX_BYTES", 1000)
    with pytest.raises(PetitionInputError):
        reencode_image(jpeg_with_gps(400, 300))


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_with_transparency_become_a_jpeg(app, fmt):
    clean = reencode_image(image_bytes(fmt, (500, 250), "RGBA"))
    with Image.open(io.BytesIO(clean.content)) as image:
        assert image.format == "JPEG" and image.size == (500, 250)


def test_an_image_needs_its_description(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    with pytest.raises(PetitionInputError) as refused:
        store_petition_image(petition, jpeg_with_gps(400, 300), "  ", owner, utcnow())
    assert refused.value.field == "image_alt"
    assert db.session.get(PetitionImage, petition.id) is None


def upload(client, petition, content: bytes, alt="Les signataires devant l’hôpital", **headers):
    path = f"/admin/p/{petition.slug}/image"
    data = {
        "csrf_token": csrf_token(client, path),
        "image": (io.BytesIO(content), "photo.jpg"),
        "image_alt": alt,
        "upload": "Upload",
    }
    return client.post(path, data=data, content_type="multipart/form-data", headers=headers)


def test_the_organiser_uploads_an_image_served_by_tribune_with_a_long_cache(client):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    login(client, owner)
    assert upload(client, petition, jpeg_with_gps()).status_code == 303
    db.session.expire_all()
    petition = db.session.get(Petition, petition.id)
    digest = petition.image_sha256
    url = f"/p/{petition.slug}/image/{digest}.jpg"
    page = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    assert f'src="{url}"' in page and 'alt="Les signataires devant l’hôpital"' in page
    assert f'width="{IMAGE_MAX_WIDTH}" height="800"' in page
    anonymous = client.application.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert b"SpyPhone" not in response.data
    # A new image gets a new address; the old one is gone.
    assert upload(client, petition, image_bytes("PNG")).status_code == 303
    assert anonymous.get(url).status_code == 404
    db.session.expire_all()
    body = anonymous.get(f"/api/v1/petitions/{petition.slug}").get_json()
    assert body["image"]["url"].endswith(
        f"/image/{db.session.get(Petition, petition.id).image_sha256}.jpg"
    )


@pytest.mark.parametrize(
    ("language", "message"),
    [("fr", "Choisissez une image JPEG, PNG ou WebP"), ("en", "Choose a JPEG, PNG or WebP image")],
)
def test_an_upload_that_is_not_an_image_gets_a_form_error(client, language, message):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    login(client, owner)
    response = upload(client, petition, b"GIF89a not really", **{"Accept-Language": language})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Petition, petition.id).image_sha256 is None


def test_an_upload_without_csrf_token_is_refused(client):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    login(client, owner)
    response = client.post(
        f"/admin/p/{petition.slug}/image",
        data={"image": (io.BytesIO(jpeg_with_gps(300, 200)), "a.jpg"), "image_alt": "x"},
        content_type="multipart/form-data",
    )
    assert response.status_code in {400, 422}
    assert db.session.get(PetitionImage, petition.id) is None


def test_a_drafts_image_is_not_served_to_visitors(client):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id, status=PetitionStatus.DRAFT)
    store_petition_image(petition, jpeg_with_gps(300, 200), "Photo", owner, utcnow())
    url = f"/p/{petition.slug}/image/{petition.image_sha256}.jpg"
    assert client.get(url).status_code == 404
    login(client, owner)
    assert client.get(url).status_code == 200
