"""Press files a journalist can use at once (issue 16.5): the workbook in the petition's
language (headers, bold frozen header row, autofilter, widths, date cells, sheets named in
words, first signatories first), the csv for French Excel next to the canonical one, a PDF
whose counts table never splits and that lists the first signatories first without
"address not confirmed", and the op-ed alone as txt and PDF."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.publication.models import ExportFormat
from campaign.publication.services import ExportFile, publish_snapshot, render_stored
from campaign.signatures.moderation import mark_first_signatory
from tests.factories import make_petition, make_signature, make_user
from tests.publication.lists import pdf_text
from tests.support import visible_text


def press_petition(language: str = "fr", **overrides):
    """A petition with two first signatories collected by the organisers (their address not
    confirmed), and three who signed online."""
    owner = make_user("organiser")
    petition = make_petition(slug=f"presse-{language}", language=language, owner_id=owner.id,
                             **overrides)  # fmt: skip
    first = [
        make_signature(petition, last_name="Zola", first_name="Émile", title="Écrivain",
                       show_title=True, category_key="citizen", source="import"),
        make_signature(petition, last_name="Curie", first_name="Marie", title="Physicienne",
                       show_title=True, category_key="researcher", source="import"),
    ]  # fmt: skip
    make_signature(petition, last_name="Martin", first_name="Alice", category_key="clinician")
    make_signature(petition, last_name="Abadie", first_name="Paul", category_key="citizen")
    make_signature(petition, last_name="=HYPERLINK(1)", first_name="Eve", category_key="citizen")
    for position, signature in enumerate(first, start=1):
        mark_first_signatory(petition, signature.id, owner, utcnow(), position=position)
    db.session.commit()
    return petition


def workbook_of(petition):
    publication = publish_snapshot(petition, utcnow())
    content = render_stored(publication, ExportFile(ExportFormat.XLSX))
    return load_workbook(io.BytesIO(content))


def test_the_workbook_speaks_french_with_a_frozen_bold_filtered_header_and_dates(app):
    workbook = workbook_of(press_petition())
    assert workbook.sheetnames[:2] == ["Tous les signataires", "Premiers signataires"]
    assert "Soignantes et soignants" in workbook.sheetnames
    sheet = workbook["Tous les signataires"]
    header = [cell.value for cell in sheet[1]]
    assert header[:7] == ["Nom", "Prénom", "Fonction", "Organisation", "Catégorie",
                          "Confirmée le", "Vérification"]  # fmt: skip
    assert all(cell.font.b for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:I{sheet.max_row}" and sheet.max_row == 6
    assert all(sheet.column_dimensions[letter].width >= 10 for letter in "ABCDEFGHI")
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    # First signatories first, in their order, attested; then the others by name.
    assert [row[0] for row in rows] == ["Zola", "Curie", "Abadie", "=HYPERLINK(1)", "Martin"]
    assert [row[6] for row in rows[:2]] == ["attesté par les organisateurs"] * 2
    assert [row[8] for row in rows] == [1, 2, None, None, None]
    assert rows[0][4] == "Citoyennes et citoyens"
    day = sheet.cell(row=2, column=6)
    assert day.is_date and day.value.date() <= date.today()
    assert day.number_format == "DD/MM/YYYY"
    hostile = sheet.cell(row=5, column=1)
    assert hostile.data_type == "s" and hostile.value == "=HYPERLINK(1)"
    first = workbook["Premiers signataires"]
    assert [row[0].value for row in first.iter_rows(min_row=2)] == ["Zola", "Curie"]
    assert first.freeze_panes == "A2" and first.auto_filter.ref == "A1:I3"


def test_the_workbook_of_a_petition_in_english_speaks_english(app):
    workbook = workbook_of(press_petition("en"))
    assert workbook.sheetnames[:2] == ["All signatories", "First signatories"]
    assert "Clinicians" in workbook.sheetnames
    sheet = workbook["All signatories"]
    assert [cell.value for cell in sheet[1]][:7] == ["Last name", "First name", "Title",
        "Organisation", "Category", "Confirmed on", "Verification"]  # fmt: skip
    assert sheet.cell(row=2, column=6).number_format == "YYYY-MM-DD"


def test_the_csv_for_french_excel_has_a_bom_semicolons_and_words(client):
    petition = press_petition()
    content = client.get(f"/p/{petition.slug}/signatories.csv?variant=excel").get_data()
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    lines = text.split("\r\n")
    # A title row says the moment the list reflects; the column headers follow.
    assert lines[0].startswith('"Liste arrêtée le ') and ";" not in lines[0]
    assert lines[1].startswith('"Nom";"Prénom";"Fonction"') and "," not in lines[1]
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))[1:]
    assert rows[0][5] == "Confirmée le"
    assert [row[0] for row in rows[1:]] == ["Zola", "Curie", "Abadie", "'=HYPERLINK(1)", "Martin"]
    assert rows[1][6] == "attesté par les organisateurs" and rows[1][8] == "1"
    day, month, year = rows[1][5].split("/")
    assert len(day) == 2 and len(month) == 2 and len(year) == 4
    disposition = client.get(f"/p/{petition.slug}/signatories.csv?variant=excel").headers[
        "Content-Disposition"
    ]
    assert "signatories-excel.csv" in disposition
    # The canonical file is still RFC 4180 with its machine-readable columns.
    canonical = client.get(f"/p/{petition.slug}/signatories.csv").get_data().decode("utf-8-sig")
    assert canonical.startswith('"last_name","first_name","title"')


def pdf_of(petition) -> str:
    publication = publish_snapshot(petition, utcnow())
    return pdf_text(render_stored(publication, ExportFile(ExportFormat.PDF)))


def test_the_pdf_lists_first_signatories_first_without_address_noise(app):
    text = pdf_of(press_petition())
    flat = " ".join(text.split())
    heading = "Premiers signataires (attestés par les organisateurs)"
    assert flat.index(heading) < flat.index("Zola Émile") < flat.index("Curie Marie")
    assert flat.index("Curie Marie") < flat.index("Martin Alice")
    zola_line = next(line for line in text.splitlines() if "Zola" in line)
    assert "non confirmée" not in zola_line
    assert "adresse non confirmée" not in flat


@pytest.mark.parametrize("paragraphs", range(21, 29))
def test_the_counts_table_is_never_split_across_pages(app, paragraphs):
    """Texts of growing length push the table over the first page's end at some point: its
    heading and its last row stay on the same page."""
    petition = press_petition()
    body = "\n\n".join(f"Paragraphe {n} : " + "mot " * 60 for n in range(paragraphs))
    for text in petition.texts:
        text.body = body
    db.session.commit()
    pages = pdf_of(petition).split("\f")
    [heading_page] = [n for n, page in enumerate(pages) if "\nSignatures\n" in f"\n{page}\n"]
    [last_row_page] = [n for n, page in enumerate(pages) if "Noms publiés" in page]
    assert heading_page == last_row_page


def test_the_op_ed_downloads_alone_as_text(client):
    petition = press_petition(
        newspaper="Le Monde", published_on=date(2026, 12, 3), initiators="Jeanne Martin"
    )
    for text in petition.texts:
        text.summary = "Le résumé." if text.language == "fr" else "The summary."
        text.body = "Premier **paragraphe** avec [un lien](https://example.org).\n\n- un\n- deux"
    db.session.commit()
    response = client.get(f"/p/{petition.slug}/op-ed.txt")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True) == (
        f"{petition.text('fr').title}\n\nLe résumé.\n\n"
        "Premier paragraphe avec un lien.\n\n– un\n– deux\n\n"
        "Initiatrices et initiateurs\u00a0: Jeanne Martin\n"
        "Publiée dans Le Monde le 3 décembre 2026\n"
    )
    english = client.get(f"/p/{petition.slug}/op-ed.txt?lang=en").get_data(as_text=True)
    assert english.startswith(petition.text("en").title + "\n\nThe summary.\n\n")
    assert "Published in Le Monde on December 3, 2026" in english
    assert client.get(f"/p/{petition.slug}/op-ed.txt?lang=de").status_code == 404


def test_the_op_ed_downloads_alone_as_a_pdf(client):
    petition = press_petition()
    response = client.get(f"/p/{petition.slug}/op-ed.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = " ".join(pdf_text(response.get_data()).split())
    assert petition.text("fr").title in text and "Texte important." in text
    assert "Zola" not in text  # the text alone, not the list


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("fr", ["CSV pour Excel en français", "Le texte seul, en français"]),
        ("en", ["CSV for Excel in French", "The text alone, in French"]),
    ],
)
def test_the_press_page_offers_the_excel_csv_and_the_text_alone(client, language, labels):
    petition = press_petition()
    html = client.get(f"/p/{petition.slug}/press", headers={"Accept-Language": language}).get_data(
        as_text=True
    )
    text = visible_text(html)
    for label in labels:
        assert label in text
    assert f"/p/{petition.slug}/op-ed.txt?lang=fr" in html
    assert f"/p/{petition.slug}/op-ed.pdf?lang=en" in html
