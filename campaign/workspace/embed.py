"""Workspace: the petition's embed, the sites allowed to frame it, and the snippet to paste."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from campaign.petitions.embeds import EmbedOriginError, parse_embed_origins, set_embed_origins
from campaign.petitions.forms import EmbedOriginsForm
from campaign.petitions.models import Petition
from campaign.tokens import external_url
from campaign.workspace.blueprint import bp, managed_petition


def _render(petition: Petition, form: EmbedOriginsForm, status: int = 200):
    try:
        origins = parse_embed_origins(petition.embed_origins)
    except EmbedOriginError:
        origins = []
    page = render_template(
        "workspace/petitions/embed.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        form=form,
        origins=origins,
        embed_url=external_url("embed.show", slug=petition.slug),
    )
    return page, status


@bp.route("/p/<slug>/embed", methods=["GET", "POST"])
def petition_embed(slug: str):
    petition = managed_petition(slug)
    form = EmbedOriginsForm()
    if form.validate_on_submit():
        try:
            set_embed_origins(petition, form.origins.data or "")
        except EmbedOriginError as error:
            form.origins.errors.append(
                _(
                    "“%(entry)s” is not a site address: write it as https://example.org "
                    "(a port is allowed, no path), or * for every site.",
                    entry=error.entry,
                )
            )
            return _render(petition, form, status=422)
        flash(_("The list of sites is saved."), "success")
        return redirect(url_for("workspace.petition_embed", slug=slug), code=303)
    if not form.is_submitted():
        form.origins.data = petition.embed_origins
    return _render(petition, form, status=422 if form.is_submitted() else 200)
