"""Posters (issue 18.3): the QR code of the petition's address, the A4 poster and the paper
signing sheet, whose columns the CSV import reads back."""

import io
import subprocess
import xml.etree.ElementTree as ET

import segno
from PIL import Image
from pypdf import PdfReader

from campaign.petitions.models import PetitionStatus
from campaign.signatures.imports import COLUMNS, ImportMode, read_signature_list
from tests.factories import make_petition
from tests.publication.lists import pdf_text


def test_qr_codes_hold_the_tagged_address(client):
    petition = make_petition()
    png = client.get(f"/p/{petition.slug}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    image = Image.open(io.BytesIO(png.data))
    expected = segno.make(f"http://tribune.test/p/{petition.slug}?s=qr", error="m")
    # Same modules as the code of that address: 12 pixels a module, 4 of quiet zone.
    assert image.size == ((expected.symbol_size(scale=12, border=4))[0],) * 2
    svg = client.get(f"/p/{petition.slug}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    root = ET.fromstring(svg.data)
    assert root.tag.endswith("svg")
    assert b"http" not in svg.data.replace(b"http://www.w3.org/2000/svg", b"")
    assert client.get(f"/p/{petition.slug}/qr.gif").status_code == 404
    assert client.get("/p/nowhere/qr.png").status_code == 404


def test_a4_poster_has_the_title_the_address_and_a_qr_code(client):
    petition = make_petition(title="Nos données chez nous")
    response = client.get(f"/p/{petition.slug}/poster.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = pdf_text(response.data)
    assert "Nos données chez nous" in text
    assert f"http://tribune.test/p/{petition.slug}" in text
    assert "Scannez" in text or "Scan" in text


def raw_pdf_text(content: bytes) -> str:
    """The PDF's text in the order it was written (the table's cells left to right)."""
    pdf_text(content)  # says that pdftotext is missing, if it is
    result = subprocess.run(
        ["pdftotext", "-raw", "-enc", "UTF-8", "-", "-"], input=content, capture_output=True,
        check=True,
    )  # fmt: skip
    return result.stdout.decode()


def test_signing_sheet_columns_are_the_import_columns(client, app):
    petition = make_petition(title="Nos données chez nous")
    response = client.get(f"/p/{petition.slug}/sheet.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert width > height and len(reader.pages) == 1  # one landscape page
    text = raw_pdf_text(response.data)
    # Each heading prints the column's name on a line of its own, in the table's order.
    printed = [line for line in text.splitlines() if line.strip() in COLUMNS]
    assert printed[: len(COLUMNS)] == list(COLUMNS)
    assert "clinician" in text
    # What organisers type from the sheet, under the printed column names, imports.
    header = ",".join(printed[: len(COLUMNS)])
    line = "Martin,Alice,Médecin,AP-HP,clinician,alice@example.fr,75,1"
    report = read_signature_list(
        f"{header}\n{line}\n".encode(), petition, ImportMode.SEND_CONFIRMATION
    )
    assert not report.unreadable and len(report.lines) == 1 and not report.errors


def test_no_signing_sheet_for_a_closed_petition(client):
    petition = make_petition(status=PetitionStatus.CLOSED)
    assert client.get(f"/p/{petition.slug}/sheet.pdf").status_code == 404
    assert client.get(f"/p/{petition.slug}/poster.pdf").status_code == 200


def test_petition_page_links_to_the_printables(client):
    petition = make_petition()
    html = client.get(f"/p/{petition.slug}").get_data(as_text=True)
    for path in ("poster.pdf", "sheet.pdf", "qr.png", "qr.svg"):
        assert f'href="/p/{petition.slug}/{path}"' in html
