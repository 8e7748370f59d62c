"""Workspace pages of a petition for its managers (its owner, admins): create, edit (with
preview and version confirmation), its overview with counts, and the lifecycle buttons."""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from campaign.accounts.services import can_manage, can_moderate
from campaign.clock import utcnow
from campaign.errors import InvalidTransition
from campaign.extensions import csrf
from campaign.petitions.forms import PetitionActionForm, PetitionForm, PetitionImageForm
from campaign.petitions.models import SUMMARY_MAX_LENGTH, LifecycleStep, Petition
from campaign.petitions.services import (
    IMAGE_MAX_BYTES,
    EditOutcome,
    NewVersionUnconfirmed,
    PetitionInputError,
    can_create_petitions,
    create_petition,
    op_ed_of,
    remove_petition_image,
    render_markdown,
    shared_categories,
    store_petition_image,
    take_lifecycle_step,
    update_petition,
)
from campaign.petitions.sharing import share_tallies
from campaign.publication.services import publish_by
from campaign.signatures.services import (
    endorsement_count,
    endorsements_of,
    signature_tally,
)
from campaign.workspace.blueprint import bp, managed_petition

# Pages of other areas about one petition, linked from its overview once they exist:
# (endpoint, label, who may follow the link).
PETITION_TOOLS = [
    ("workspace.moderation_table", _l("Signatures"), can_moderate),
    ("workspace.import_signatures", _l("Import"), can_manage),
    ("workspace.first_signatories", _l("First signatories"), can_manage),
    ("workspace.mailings", _l("Mailings"), can_manage),
    ("workspace.moderation_letters", _l("Letters to representatives"), can_moderate),
    ("workspace.petition_verification_rules", _l("Official domains"), can_manage),
    ("workspace.petition_embed", _l("Embed on other sites"), can_manage),
    ("workspace.petition_departements", _l("Signatures by département"), can_manage),
]

STEP_DONE = {
    LifecycleStep.OPEN: _l("The petition is open for signatures."),
    LifecycleStep.CLOSE: _l("The petition is closed."),
    LifecycleStep.REOPEN: _l("The petition is open for signatures again."),
    LifecycleStep.ARCHIVE: _l("The petition is archived."),
}


def _locale() -> str:
    return str(get_locale())


def _render_form(form: PetitionForm, petition: Petition | None = None, status: int = 200, **page):
    signed = endorsement_count(petition.id) if petition else 0
    previews = [
        (text, render_markdown(text.body)) for text in form.previews() if page.get("preview")
    ]
    page = render_template(
        "workspace/petitions/form.html",
        form=form,
        petition=petition,
        signed=signed,
        previews=previews,
        summary_max=SUMMARY_MAX_LENGTH,
        **page,
    )
    return page, status


def petition_tools(petition: Petition) -> list[tuple[str, str]]:
    """(url, label) of the petition's pages the current user may open."""
    return [
        (url_for(endpoint, slug=petition.slug), label)
        for endpoint, label, allowed in PETITION_TOOLS
        if endpoint in current_app.view_functions and allowed(current_user, petition)
    ]


@bp.route("/petitions/new", methods=["GET", "POST"])
def new_petition():
    if not can_create_petitions(current_user):
        abort(404)
    form = PetitionForm.for_new_petition(shared_categories(), _locale())
    if form.is_submitted() and form.preview.data:
        form.validate()
        return _render_form(form, preview=True)
    if form.validate_on_submit():
        try:
            petition = create_petition(form.submission(), current_user, utcnow())
        except PetitionInputError as error:
            form.reject(error)
            return _render_form(form, status=422)
        flash(_("Draft created. Open it when it is ready."), "success")
        return redirect(url_for("workspace.petition", slug=petition.slug), code=303)
    return _render_form(form, status=422 if form.is_submitted() else 200)


@bp.get("/p/<slug>")
def petition(slug: str):
    petition = managed_petition(slug)
    return render_template(
        "workspace/petitions/show.html",
        petition=petition,
        op_ed=op_ed_of(petition),
        text=petition.text(_locale()),
        tally=signature_tally(petition.id),
        shares=share_tallies(petition.id, since=utcnow().date() - timedelta(days=6)),
        action_form=PetitionActionForm(),
        tools=petition_tools(petition),
    )


@bp.route("/p/<slug>/edit", methods=["GET", "POST"])
def edit_petition(slug: str):
    petition = managed_petition(slug)
    if not petition.is_editable():
        flash(_("An archived petition cannot be changed."), "error")
        return redirect(url_for("workspace.petition", slug=slug), code=303)
    form = PetitionForm.for_petition(petition, shared_categories(), _locale())
    if form.is_submitted() and form.preview.data:
        form.validate()
        return _render_form(form, petition, preview=True)
    if form.validate_on_submit():
        try:
            outcome = update_petition(
                petition,
                form.submission(),
                current_user,
                utcnow(),
                endorsements=endorsements_of(petition.id),
                confirmed_version=form.confirmed_version(),
            )
        except NewVersionUnconfirmed as pending:
            form.ask_confirmation(pending)
            return _render_form(form, petition, pending=pending)
        except PetitionInputError as error:
            form.reject(error)
            return _render_form(form, petition, status=422)
        if outcome == EditOutcome.NEW_VERSION:
            flash(_("Version %(number)s published.", number=petition.current_version), "success")
        elif outcome == EditOutcome.SAVED:
            flash(_("Changes saved."), "success")
        else:
            flash(_("Nothing changed."), "info")
        return redirect(url_for("workspace.petition", slug=petition.slug), code=303)
    return _render_form(form, petition, status=422 if form.is_submitted() else 200)


@bp.post("/p/<slug>/publish")
def publish_petition(slug: str):
    petition = managed_petition(slug)
    if not PetitionActionForm().validate_on_submit():
        abort(400)
    publication = publish_by(petition, current_user, utcnow())
    flash(_("Publication %(number)s of the list is out.", number=publication.sequence), "success")
    return redirect(url_for("publication.press", slug=slug), code=303)


@bp.post("/p/<slug>/lifecycle/<any(open, close, reopen, archive):step>")
def move_petition(slug: str, step: str):
    petition = managed_petition(slug)
    if not PetitionActionForm().validate_on_submit():
        abort(400)
    try:
        take_lifecycle_step(petition, LifecycleStep(step), current_user, utcnow())
    except InvalidTransition:
        flash(_("This petition cannot make that change in its current state."), "error")
    else:
        flash(STEP_DONE[LifecycleStep(step)], "success")
    return redirect(url_for("workspace.petition", slug=slug), code=303)


def _render_image_form(petition: Petition, form: PetitionImageForm, status: int = 200):
    page = render_template(
        "workspace/petitions/image.html",
        petition=petition,
        text=petition.text(_locale()),
        op_ed=op_ed_of(petition),
        form=form,
        remove_form=PetitionActionForm(),
    )
    return page, status


@bp.route("/p/<slug>/image", methods=["GET", "POST"])
@csrf.exempt  # Read after raising the size limit; PetitionImageForm checks the token itself.
def petition_image(slug: str):
    petition = managed_petition(slug)
    if not petition.is_editable():
        flash(_("An archived petition cannot be changed."), "error")
        return redirect(url_for("workspace.petition", slug=slug), code=303)
    # Twice the limit, so that a file just over it gets the form's message, not a 413 page.
    request.max_content_length = 2 * IMAGE_MAX_BYTES + 64 * 1024
    form = PetitionImageForm()
    if not form.validate_on_submit():
        return _render_image_form(petition, form, 422 if form.is_submitted() else 200)
    try:
        store_petition_image(
            petition, form.upload_bytes(), form.image_alt.data, current_user, utcnow()
        )
    except PetitionInputError as error:
        form.reject(error)
        return _render_image_form(petition, form, 422)
    flash(_("Image saved: it is shown on the petition page and the press page."), "success")
    return redirect(url_for("workspace.petition_image", slug=slug), code=303)


@bp.post("/p/<slug>/image/remove")
def remove_image(slug: str):
    petition = managed_petition(slug)
    if not PetitionActionForm().validate_on_submit():
        abort(400)
    remove_petition_image(petition, current_user, utcnow())
    flash(_("Image removed."), "success")
    return redirect(url_for("workspace.petition_image", slug=slug), code=303)
