"""Signatory lists for the publication tests: many rows at once, and reading files back."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from datetime import timedelta

from sqlalchemy import insert

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.models import Petition
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import sort_key
from tests.conftest import unavailable

CATEGORIES = ("clinician", "researcher", "engineer", "mp", "organisation", "citizen")


def insert_signatories(petition: Petition, count: int, start: int = 0) -> None:
    """`count` confirmed, published signatures in one statement (the factories commit each)."""
    now = utcnow() - timedelta(days=1)
    rows = []
    for number in range(start, start + count):
        last, first = f"Nom{number:06d}", f"Prénom{number}"
        rows.append(
            {
                "petition_id": petition.id,
                "status": SignatureStatus.CONFIRMED,
                "first_name": first,
                "last_name": last,
                "title": f"Titre {number}",
                "organisation": f"Organisation {number % 7}",
                "category_key": CATEGORIES[number % len(CATEGORIES)],
                "show_name": True,
                "show_title": number % 2 == 0,
                "show_organisation": number % 3 == 0,
                "consent_version": "1",
                "consented_at": now,
                "created_at": now,
                "confirmed_at": now,
                "status_changed_at": now,
                "email_digest": f"{petition.id:08d}{number:056d}",
                "sort_last": sort_key(last),
                "sort_first": sort_key(first),
            }
        )
    db.session.execute(insert(Signature), rows)
    db.session.commit()


def xlsx_texts(content: bytes) -> str:
    """Every XML part of a workbook, for searching what it contains."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "\n".join(archive.read(name).decode() for name in archive.namelist())


def pdf_text(content: bytes) -> str:
    """The text of a PDF, extracted by poppler's pdftotext."""
    if shutil.which("pdftotext") is None:
        unavailable("pdftotext (Debian package poppler-utils) is not installed")
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=content, capture_output=True, check=True
    )
    return result.stdout.decode()


def json_document(content: bytes) -> dict:
    return json.loads(content)


AS_OF = r"(Liste arrêtée le \d{1,2}(er)? \w+ \d{4} à \d{1,2}\u00a0h\u00a0\d\d \(heure de Paris\)"
AS_OF += r"|List as of \d{1,2} \w+ \d{4}, \d\d:\d\d \(Paris time\)) — [\d\u202f,]+ signat\w+"


def txt_list(text: str) -> str:
    """The list part of a txt file, byte for byte: what follows its first line (the moment
    it reflects, checked here) and the blank line after it."""
    import re

    head, blank, rest = text.partition("\n\n")
    assert blank and re.fullmatch(AS_OF, head), head
    return rest
