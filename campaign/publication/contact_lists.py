"""Organiser exports with personal data: the confirmed signers of a petition who agreed to be
kept informed, with their email address; never anyone who did not agree. Only managers of
the petition get them, each export is audit-logged, and addresses are decrypted on the
server, row by row, as the file streams."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from openpyxl import Workbook

from campaign.audit import record
from campaign.extensions import db
from campaign.personal_data import decrypt_email
from campaign.petitions.models import Petition
from campaign.publication.formats import neutralise_cell
from campaign.signatures import queries

CONTACT_COLUMNS = (
    "last_name", "first_name", "title", "organisation", "category", "email",
    "published", "confirmed_on", "source",
)  # fmt: skip


def contact_rows(petition_id: int) -> Iterator[tuple[str, ...]]:
    """The contactable signers in French alphabetical order, as text cells."""
    query = queries.contactable(petition_id).execution_options(yield_per=1000)
    for signature in db.session.scalars(query):
        email = decrypt_email(signature.email_ciphertext) if signature.email_ciphertext else ""
        yield (
            signature.last_name,
            signature.first_name,
            signature.title,
            signature.organisation,
            signature.category_key,
            email,
            "1" if signature.show_name else "0",
            f"{signature.confirmed_at:%Y-%m-%d}" if signature.confirmed_at else "",
            signature.source,
        )


def _csv_field(value: str) -> str:
    return '"' + neutralise_cell(value).replace('"', '""') + '"'


def render_contact_csv(rows: Iterable[tuple[str, ...]]) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM, every field quoted and neutralised against formulas."""
    yield ("\ufeff" + ",".join(_csv_field(c) for c in CONTACT_COLUMNS) + "\r\n").encode()
    for row in rows:
        yield (",".join(_csv_field(value) for value in row) + "\r\n").encode()


def render_contact_xlsx(rows: Iterable[tuple[str, ...]]) -> bytes:
    """One sheet, every cell stored as (neutralised) text."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Contacts")
    sheet.append(list(CONTACT_COLUMNS))
    for row in rows:
        sheet.append([neutralise_cell(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def record_contact_export(petition: Petition, actor, file_format: str, now: datetime) -> int:
    """Write the audit entry for an export of personal data; returns how many rows it holds."""
    count = queries.contactable_count(petition.id)
    record(
        "personal data exported",
        now,
        actor=actor,
        petition_id=petition.id,
        detail=f"contacts, {file_format}",
        count=count,
    )
    db.session.commit()
    return count
