"""Workspace: the petition's signatures by département on the map, each département linked to
its officials (the directory, filtered), to prepare a mailing."""

from __future__ import annotations

from flask import render_template
from flask_babel import get_locale

from campaign.signatures.services import DEPARTEMENT_COUNT_THRESHOLD, counts_by_departement
from campaign.web.departement_map import departement_map
from campaign.workspace.blueprint import bp, managed_petition


@bp.get("/p/<slug>/departements")
def petition_departements(slug: str):
    petition = managed_petition(slug)
    return render_template(
        "workspace/petitions/departements.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        departement_map=departement_map(
            counts_by_departement(petition.id), DEPARTEMENT_COUNT_THRESHOLD
        ),
    )
