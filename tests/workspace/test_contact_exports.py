"""Organiser exports with personal data: only for the petition's managers, audit-logged."""

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from campaign.audit import AuditEntry
from campaign.extensions import db
from campaign.signatures.models import SignatureStatus
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, login


@pytest.fixture
def petition_with_signers(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    make_signature(petition, last_name="Martin", first_name="Alice", email="alice@example.org",
                   contact_ok=True, show_name=False)  # fmt: skip
    make_signature(petition, last_name='=HYPERLINK("http://x","y")', first_name="Eve",
                   contact_ok=True)  # fmt: skip
    make_signature(petition, last_name="Silent", email="bruno@example.org", contact_ok=False)
    make_signature(petition, last_name="Pending", status=SignatureStatus.PENDING, contact_ok=True)
    return owner, petition


def export(client, petition, file_format):
    token = csrf_token(client, f"/admin/p/{petition.slug}")
    # buffered: the streamed body is read inside the request, as a WSGI server would.
    return client.post(
        f"/admin/p/{petition.slug}/contacts.{file_format}",
        data={"csrf_token": token},
        buffered=True,
    )


def test_owner_downloads_the_addresses_of_those_who_agreed_only(app, petition_with_signers):
    owner, petition = petition_with_signers
    client = app.test_client()
    login(client, owner)
    response = export(client, petition, "csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert [row["last_name"] for row in rows] == ['\'=HYPERLINK("http://x","y")', "Martin"]
    alice = rows[1]
    assert (alice["email"], alice["published"]) == ("alice@example.org", "0")
    assert "bruno@example.org" not in response.get_data(as_text=True), "he did not agree"
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "personal data exported")
    )
    assert entry.actor == owner.email and entry.count == 2 and entry.petition_id == petition.id


def test_xlsx_cells_are_neutralised_text(app, petition_with_signers):
    owner, petition = petition_with_signers
    client = app.test_client()
    login(client, owner)
    response = export(client, petition, "xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][5] == "email"
    assert values[1][0].startswith("'=") and all(
        isinstance(value, str) for row in values for value in row if value is not None
    )


@pytest.mark.parametrize("role", ["moderator", "organiser"])
def test_others_cannot_export_and_nothing_is_logged(app, petition_with_signers, role):
    _owner, petition = petition_with_signers
    client = app.test_client()
    login(client, make_user(role))
    token = csrf_token(client, "/admin/")
    response = client.post(f"/admin/p/{petition.slug}/contacts.csv", data={"csrf_token": token})
    assert response.status_code == 404
    assert (
        db.session.scalar(select(AuditEntry).where(AuditEntry.action == "personal data exported"))
        is None
    )
