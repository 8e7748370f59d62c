"""The level in the press exports: each entry carries it (and the verified profession), the
header counts confirmed signatures per category and level, the files still verify offline,
and a change of level replaces the entry at the next publication."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.publication.formats import CSV_COLUMNS
from campaign.publication.models import ExportFormat
from campaign.publication.services import (
    ExportFile,
    publication_due,
    publish_snapshot,
    receipt_for,
    render_stored,
    render_streamed,
)
from campaign.publication.verification import publication_problems
from campaign.signatures.counts import change_counted_fields
from campaign.signatures.models import Signature
from tests.factories import make_petition, make_signature
from tests.publication.lists import pdf_text

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "verify_publication.py"


def file_bytes(publication, fmt: str) -> bytes:
    export = ExportFile(ExportFormat(fmt))
    if fmt in ("xlsx", "pdf"):
        return render_stored(publication, export)
    return b"".join(render_streamed(publication, export))


def verified_petition():
    petition = make_petition()
    make_signature(
        petition,
        last_name="Fontaine",
        first_name="Camille",
        category_key="clinician",
        verification_level="registry",
        verification_method="rpps",
        verified_profession="Médecin",
    )
    make_signature(
        petition,
        last_name="Dumont",
        first_name="Claire",
        category_key="mp",
        verification_level="roster",
        verification_method="roster",
    )
    make_signature(petition, last_name="Martin", first_name="Alice", category_key="clinician")
    make_signature(petition, last_name="Importé", first_name="Léo", source="liste papier")
    make_signature(
        petition,
        last_name="Caché",
        first_name="Paul",
        category_key="clinician",
        verification_level="registry",
        verified_profession="Pharmacien",
        show_name=False,
    )
    return petition


def test_each_entry_carries_its_level_and_the_verified_profession(app):
    publication = publish_snapshot(verified_petition(), utcnow())
    document = json.loads(file_bytes(publication, "json"))
    entries = {entry["last_name"]: entry for entry in document["entries"]}
    assert entries["Fontaine"]["verification"] == "registry"
    assert entries["Fontaine"]["verified_profession"] == "Médecin"
    assert entries["Dumont"]["verification"] == "roster"
    assert "verified_profession" not in entries["Dumont"]
    assert entries["Martin"]["verification"] == "email"
    assert entries["Importé"]["verification"] == "none"
    assert publication_problems(document) == []


def test_the_header_counts_confirmed_signatures_per_category_and_level(app):
    publication = publish_snapshot(verified_petition(), utcnow())
    assert publication.header_fields["verification"] == {
        "citizen": {"none": 1},
        "clinician": {"email": 1, "registry": 2},
        "mp": {"roster": 1},
    }


def test_csv_and_xlsx_have_the_level_columns(app):
    publication = publish_snapshot(verified_petition(), utcnow())
    content = file_bytes(publication, "csv").decode().removeprefix("\ufeff")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert tuple(rows[0]) == CSV_COLUMNS
    by_name = {row["last_name"]: row for row in rows}
    assert (by_name["Fontaine"]["verification"], by_name["Fontaine"]["verified_profession"]) == (
        "registry",
        "Médecin",
    )
    assert by_name["Martin"]["verification"] == "email"
    assert "Pharmacien" not in content  # an unpublished name shows nothing, not even that
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(file_bytes(publication, "xlsx"))).worksheets[0]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][6:8] == ["Vérification", "Profession vérifiée"]
    assert ["nom et numéro au répertoire RPPS", "Médecin"] in [row[6:8] for row in rows]


def test_the_pdf_names_the_level_in_words(app):
    publication = publish_snapshot(verified_petition(), utcnow())
    text = " ".join(pdf_text(file_bytes(publication, "pdf")).split())
    assert "RPPS" in text and "Médecin" in text


def test_the_standalone_script_verifies_a_list_with_levels(app, tmp_path):
    publication = publish_snapshot(verified_petition(), utcnow())
    path = tmp_path / "signatories.json"
    path.write_bytes(file_bytes(publication, "json"))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("OK"), result.stdout


def test_a_new_level_replaces_the_entry_at_the_next_publication(app):
    petition = make_petition()
    signature = make_signature(petition, last_name="Martin", category_key="clinician")
    first = publish_snapshot(petition, utcnow())
    receipt = receipt_for(signature)
    signature = db.session.get(Signature, signature.id)
    signature.verification_level = "domain"
    db.session.commit()
    second = publish_snapshot(petition, utcnow())
    assert (second.added_count, second.removed_count) == (1, 1)
    assert receipt_for(signature) != receipt
    entries = json.loads(file_bytes(second, "json"))["entries"]
    # The log keeps the replaced entry's leaf, as removed, before the new entry.
    assert entries[0] == {"removed": receipt} and entries[1]["verification"] == "domain"
    assert publication_problems(json.loads(file_bytes(first, "json"))) == []


def test_a_day_later_a_change_of_level_alone_makes_the_list_due_again(app):
    petition = make_petition()
    signature = make_signature(petition, category_key="clinician")
    now = utcnow()
    publish_snapshot(petition, now)
    later = now + timedelta(days=1)
    assert not publication_due(petition, later)
    change_counted_fields(db.session, signature.id, verification_level="moderator")
    db.session.commit()
    assert publication_due(petition, later)
