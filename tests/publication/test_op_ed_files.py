"""The op-ed's publication details in the press files (issue 16.3): the header of a
publication fixes them, so the JSON file carries them and still verifies; the PDF prints
them with the image, fetching nothing; a petition without them publishes as before."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.services import store_petition_image
from campaign.publication.formats import refusing_url_fetcher
from campaign.publication.models import ExportFormat
from campaign.publication.services import (
    ExportFile,
    publication_due,
    publish_snapshot,
    render_stored,
)
from tests.factories import make_petition, make_signature, make_user
from tests.petitions.test_op_ed import jpeg_with_gps
from tests.publication.lists import pdf_text
from tests.support import visible_text

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_publication.py"


def op_ed_petition():
    owner = make_user("organiser")
    petition = make_petition(
        slug="presse",
        owner_id=owner.id,
        initiators="Jeanne Martin, Ali Benali",
        newspaper="Le Monde",
        published_on=date(2026, 12, 3),
        article_url="https://www.lemonde.fr/idees/tribune.html",
        press_contact="presse@example.org",
    )
    for text in petition.texts:
        text.summary = "Résumé de la tribune." if text.language == "fr" else "The summary."
    db.session.commit()
    store_petition_image(petition, jpeg_with_gps(800, 400), "Les signataires", owner, utcnow())
    make_signature(petition, last_name="Martin", first_name="Alice")
    return petition


def test_the_json_file_carries_the_op_ed_details_and_verifies(client, tmp_path):
    petition = op_ed_petition()
    content = client.get(f"/p/{petition.slug}/signatories.json").get_data()
    header = json.loads(content)["publication"]
    assert header["op_ed"] == {
        "initiators": "Jeanne Martin, Ali Benali",
        "newspaper": "Le Monde",
        "published_on": "2026-12-03",
        "article_url": "https://www.lemonde.fr/idees/tribune.html",
        "press_contact": "presse@example.org",
        "image_sha256": petition.image_sha256,
        "image_alt": "Les signataires",
    }
    path = tmp_path / "signatories.json"
    path.write_bytes(content)
    result = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_a_petition_without_details_publishes_a_header_without_op_ed(app):
    petition = make_petition()
    make_signature(petition)
    assert "op_ed" not in publish_snapshot(petition, utcnow()).header_fields


def test_new_details_make_the_petition_due_for_its_daily_publication(app):
    petition = make_petition()
    make_signature(petition)
    published = publish_snapshot(petition, utcnow())
    later = published.published_at.replace(year=published.published_at.year + 1)
    assert not publication_due(petition, later)
    petition.newspaper, petition.published_on = "Libération", date(2026, 12, 4)
    db.session.commit()
    assert publication_due(petition, later)


def test_the_pdf_prints_summary_details_and_image_fetching_nothing(app):
    petition = op_ed_petition()
    publication = publish_snapshot(petition, utcnow())
    fetcher = refusing_url_fetcher()
    content = render_stored(publication, ExportFile(ExportFormat.PDF), url_fetcher=fetcher)
    assert fetcher.refused == []
    text = " ".join(pdf_text(content).split())
    assert "Résumé de la tribune." in text
    assert "Jeanne Martin, Ali Benali" in text
    assert "Publiée dans Le Monde le 3 décembre 2026" in text
    assert "presse@example.org" in text
    assert b"/Subtype /Image" in content or b"/Subtype/Image" in content


def test_the_press_page_shows_the_op_ed_in_french_and_english(client):
    petition = op_ed_petition()
    french = visible_text(client.get(f"/p/{petition.slug}/press").get_data(as_text=True))
    assert "Résumé de la tribune." in french and "Contact presse" in french
    assert "Publiée dans Le Monde le 3 décembre 2026" in french
    html = client.get(f"/p/{petition.slug}/press", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )
    english = visible_text(html)
    assert "The summary." in english and "Press contact" in english
    assert "Published in Le Monde on December 3, 2026" in english
    assert f"/p/{petition.slug}/image/{petition.image_sha256}.jpg" in html
