"""Press downloads and pages over HTTP: headers, conditional requests, streaming, the chain,
proofs, and a withdrawal that takes effect at once."""

import base64
import contextvars
import hashlib
import json
import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.models import PetitionStatus
from campaign.publication import services
from campaign.publication.services import latest_publication, publish_snapshot, receipt_for
from campaign.signatures.models import Signature
from campaign.signatures.services import withdraw_signature
from tests.factories import make_petition, make_signature
from tests.publication.lists import insert_signatories, txt_list
from tests.support import visible_text

FORMATS = {
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8; header=present",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


@pytest.fixture
def petition(app):
    petition = make_petition(slug="sante")
    make_signature(petition, last_name="Martin", first_name="Alice", title="Médecin",
                   show_title=True)  # fmt: skip
    make_signature(petition, last_name="Durand", first_name="Paul", category_key="researcher")
    return petition


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_downloads_as_an_attachment_with_its_checksums(client, petition, fmt):
    response = client.get(f"/p/sante/signatories.{fmt}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FORMATS[fmt]
    body = response.get_data()
    digest = hashlib.sha256(body).digest()
    assert response.headers["ETag"] == f'"{digest.hex()}"'
    assert response.headers["Digest"] == "sha-256=" + base64.b64encode(digest).decode()
    assert response.headers["Repr-Digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
    assert int(response.headers["Content-Length"]) == len(body)
    assert response.headers["Last-Modified"]
    moment = latest_publication(petition.id).published_at.strftime("%Y-%m-%dT%H%MZ")
    assert response.headers["Content-Disposition"] == (
        f"attachment; filename=sante-1-{moment}-signatories.{fmt}"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_known_etag_or_date_gets_304_without_a_body(client, petition):
    first = client.get("/p/sante/signatories.csv")
    again = client.get("/p/sante/signatories.csv", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    since = client.get(
        "/p/sante/signatories.csv", headers={"If-Modified-Since": first.headers["Last-Modified"]}
    )
    assert since.status_code == 304
    stale = client.get("/p/sante/signatories.csv", headers={"If-None-Match": '"0000"'})
    assert stale.status_code == 200


def streamed(app, path: str):
    """The response and the chunks the application yielded, read as a WSGI server would."""

    def run():
        response = FlaskClient.open(app.test_client(), path, buffered=False)
        streaming = response.is_streamed
        chunks = list(response.response)
        response.close()
        return response, streaming, chunks

    return contextvars.Context().run(run)


def test_a_list_of_thousands_streams_and_matches_its_digest(app):
    petition = make_petition(slug="longue")
    insert_signatories(petition, 3000)
    for fmt in ("csv", "txt", "json"):
        response, streaming, chunks = streamed(app, f"/p/longue/signatories.{fmt}")
        assert streaming and len(chunks) > 1, fmt
        body = b"".join(chunks)
        assert hashlib.sha256(body).hexdigest() == response.headers["ETag"].strip('"')
    assert body.count(b"\n") > 3000
    assert json.loads(body)["publication"]["entries"] == 3000


def test_txt_grouped_by_category_has_one_section_per_category(client, petition):
    text = client.get("/p/sante/signatories.txt?group=category").get_data(as_text=True)
    assert txt_list(text) == (
        "Chercheuses et chercheurs\n\nDurand Paul\n\nCitoyennes et citoyens\n\n"
        "Martin Alice, Médecin\n"
    )


def test_withdrawn_name_leaves_the_live_download_at_once(client, app):
    petition = make_petition(slug="retrait")
    leaving = make_signature(petition, last_name="Partante")
    make_signature(petition, last_name="Restante")
    assert b"Partante" in client.get("/p/retrait/signatories.csv").get_data()
    withdraw_signature(leaving.id, utcnow())
    response = client.get("/p/retrait/signatories.csv")
    assert b"Partante" not in response.get_data() and b"Restante" in response.get_data()
    assert re.search(r"retrait-2-\d{4}-\d\d-\d\dT\d{4}Z-signatories\.csv$",
                     response.headers["Content-Disposition"])  # fmt: skip
    first = client.get("/p/retrait/publications/1/signatories.csv").get_data()
    assert b"Partante" not in first


def test_each_publication_downloads_in_every_format(client, petition):
    publish_snapshot(petition, utcnow() - timedelta(days=1))
    for fmt in FORMATS:
        response = client.get(f"/p/sante/publications/1/signatories.{fmt}")
        assert response.status_code == 200, fmt
    assert client.get("/p/sante/publications/9/signatories.csv").status_code == 404


def test_press_page_shows_files_counts_history_and_how_to_check_once(client, petition):
    client.get("/p/sante/signatories.csv")
    page = client.get("/p/sante/press")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    record = services.file_records(services.latest_publication(petition.id))
    sha = record["signatories.csv"].sha256
    assert sha[:16] in html and sha[48:] in html
    for fmt in FORMATS:
        assert f"/p/sante/signatories.{fmt}" in html
    assert "/p/sante/signatories.txt?group=category" in html
    assert "/p/sante/signatories.csv?variant=excel" in html
    assert visible_text(html).count("Comment vérifier cette liste") == 1
    assert "How to check this list" not in html
    english = client.get("/p/sante/press", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert visible_text(english).count("How to check this list") == 1
    assert "Comment vérifier" not in english
    assert "verify_publication.py" in html
    text = visible_text(html)
    assert "Soignantes et soignants" in text and "/p/sante/publications/1" in html


def test_press_page_is_linked_from_the_petition_and_the_list(client, petition):
    for path in ("/p/sante", "/p/sante/signatories"):
        assert 'href="/p/sante/press"' in client.get(path).get_data(as_text=True)


def test_publication_page_shows_who_was_added_and_counts_who_left(client, app):
    petition = make_petition(slug="diff")
    leaving = make_signature(petition, last_name="Partante", first_name="Paule")
    make_signature(petition, last_name="Restante", first_name="Rita")
    publish_snapshot(petition, utcnow() - timedelta(days=1))
    withdraw_signature(leaving.id, utcnow())
    make_signature(petition, last_name="Nouvelle", first_name="Nina")
    publish_snapshot(petition, utcnow())
    english = {"Accept-Language": "en"}
    text = visible_text(
        client.get("/p/diff/publications/2", headers=english).get_data(as_text=True)
    )
    assert "Nouvelle Nina" in text and "Restante" not in text and "Partante" not in text
    assert "1 name added" in text and "1 entry removed" in text
    chain = visible_text(client.get("/p/diff/publications").get_data(as_text=True))
    assert "Partante" not in chain
    first = visible_text(
        client.get("/p/diff/publications/1", headers=english).get_data(as_text=True)
    )
    assert "Partante" not in first and "1 entry of this publication was erased" in first


def test_a_receipt_gets_its_inclusion_proof(client, petition):
    signature = db.session.scalars(select(Signature).filter_by(last_name="Martin")).one()
    receipt = receipt_for(signature)
    page = client.get(
        f"/p/sante/proof?receipt={receipt.upper()}", headers={"Accept-Language": "en"}
    )
    assert page.status_code == 200 and "entry 2 of 2" in visible_text(page.get_data(as_text=True))
    proof = client.get(f"/p/sante/proof.json?receipt={receipt}").get_json()
    assert proof["leaf"] == receipt and proof["index"] == 1 and proof["size"] == 2
    assert client.get(f"/p/sante/proof.json?receipt={'ab' * 32}").status_code == 404
    assert client.get("/p/sante/proof.json?receipt=xyz").status_code == 400
    assert client.get("/p/sante/proof?receipt=xyz").status_code == 400


def test_a_pdf_of_a_list_too_long_is_refused_with_a_message(make_app):
    app = make_app(PUBLICATION_PDF_MAX_ENTRIES=1)
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        petition = make_petition(slug="trop")
        make_signature(petition)
        make_signature(petition)
        response = app.test_client().get(
            "/p/trop/signatories.pdf", headers={"Accept-Language": "en"}
        )
        assert response.status_code == 404
        assert "too long" in response.get_data(as_text=True)
        db.session.remove()


def test_a_large_workbook_is_left_to_a_job_while_the_client_retries(client, petition, enqueued,
                                                                   monkeypatch):  # fmt: skip
    monkeypatch.setitem(services.INLINE_RENDER_ENTRIES, services.ExportFormat.XLSX, 1)
    response = client.get("/p/sante/signatories.xlsx")
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    publication = services.latest_publication(petition.id)
    assert ("render_publication_files", publication.id) in enqueued


def test_drafts_and_unknown_petitions_have_no_press_files(client, app):
    make_petition(slug="brouillon", status=PetitionStatus.DRAFT)
    for path in ("/p/brouillon/press", "/p/brouillon/signatories.csv", "/p/nulle/press",
                 "/p/nulle/signatories.json", "/p/brouillon/publications"):  # fmt: skip
        assert client.get(path).status_code == 404, path


def test_the_verification_script_is_served(client, app):
    response = client.get("/press/verify_publication.py")
    assert response.status_code == 200 and b"import hashlib" in response.get_data()


def test_the_receipt_snippet_shows_the_receipt_and_links_to_its_proof(app, petition):
    from flask import render_template_string

    signature = db.session.scalars(select(Signature).filter_by(last_name="Martin")).one()
    receipt = receipt_for(signature)
    with app.test_request_context("/s/token"):
        html = render_template_string(
            '{% include "publication/_receipt.html" %}', receipt=receipt, petition=petition
        )
        empty = render_template_string(
            '{% include "publication/_receipt.html" %}', receipt=None, petition=petition
        )
    assert receipt[:16] in html and receipt[48:] in html
    assert f'href="/p/sante/proof?receipt={receipt}"' in html
    assert empty.strip() == ""


def test_the_publications_page_shows_hundreds_of_publications_a_page_at_a_time(client, app):
    petition = make_petition(slug="souvent")
    make_signature(petition, last_name="Martin")
    start = utcnow()
    for number in range(120):
        publish_snapshot(petition, start + timedelta(minutes=5 * number))
    english = {"Accept-Language": "en"}
    first = visible_text(client.get("/p/souvent/publications", headers=english).get_data(True))
    assert "120 publications, newest first." in first and "Page 1 of 3" in first
    numbers = re.findall(r"/p/souvent/publications/(\d+)\"", client.get(
        "/p/souvent/publications").get_data(True))  # fmt: skip
    assert numbers[:3] == ["120", "119", "118"] and len(numbers) == 50
    last = client.get("/p/souvent/publications?page=3", headers=english).get_data(True)
    assert "Page 3 of 3" in visible_text(last)
    assert re.findall(r"/p/souvent/publications/(\d+)\"", last)[-1] == "1"
    beyond = client.get("/p/souvent/publications?page=99", headers=english).get_data(True)
    assert "Page 3 of 3" in visible_text(beyond)
