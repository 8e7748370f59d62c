"""Organiser exports with personal data: the addresses of the signers who agreed to be kept
informed."""

from __future__ import annotations

from flask import Response, abort, current_app
from flask_login import current_user

from campaign.clock import utcnow
from campaign.petitions.forms import PetitionActionForm
from campaign.publication.contact_lists import (
    contact_rows,
    record_contact_export,
    render_contact_csv,
    render_contact_xlsx,
)
from campaign.workspace.blueprint import bp, managed_petition

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.post("/p/<slug>/contacts.<any(csv, xlsx):file_format>")
def export_contacts(slug: str, file_format: str):
    petition = managed_petition(slug)
    if not PetitionActionForm().validate_on_submit():
        abort(400)
    record_contact_export(petition, current_user, file_format, utcnow())
    if file_format == "csv":
        app, petition_id = current_app._get_current_object(), petition.id

        def stream():
            # Its own app context: the response is sent after the request's has ended.
            with app.app_context():
                yield from render_contact_csv(contact_rows(petition_id))

        response = Response(stream(), mimetype="text/csv")
    else:
        response = Response(render_contact_xlsx(contact_rows(petition.id)), mimetype=XLSX)
    filename = f"{petition.slug}-contacts.{file_format}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
