"""The petition page."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_babel import get_locale

from campaign.clock import utcnow
from campaign.mailings.letters import letters_ledger
from campaign.petitions.models import Petition
from campaign.petitions.services import find_public_petition, render_markdown, version_history
from campaign.signatures.forms import SignatureForm
from campaign.signatures.services import (
    latest_signatories,
    signatory_line,
    signature_count,
)
from campaign.verification.services import category_tallies

bp = Blueprint("petitions", __name__)


def render_petition_page(petition: Petition, form: SignatureForm, status: int = 200):
    """The petition with its counts, latest signatories and the sign form."""
    locale = str(get_locale())
    count = signature_count(petition.id)
    page = render_template(
        "petitions/show.html",
        petition=petition,
        text=petition.text(locale),
        body=render_markdown(petition.text(locale).body),
        count=count,
        progress=min(100, round(100 * count / petition.goal)) if petition.goal else 100,
        tallies=category_tallies(petition),
        latest=[(signatory_line(s), s) for s in latest_signatories(petition.id)],
        form=form,
        ledger=letters_ledger(petition.id, utcnow(), locale),
        locale=locale,
    )
    return page, status


@bp.get("/p/<slug>")
def show(slug: str):
    petition = find_public_petition(slug) or abort(404)
    return render_petition_page(
        petition, SignatureForm().offer_choices(petition, str(get_locale()))
    )


@bp.get("/p/<slug>/versions")
def versions(slug: str):
    petition = find_public_petition(slug) or abort(404)
    locale = str(get_locale())
    return render_template(
        "petitions/versions.html",
        petition=petition,
        text=petition.text(locale),
        versions=version_history(petition, locale),
    )
