"""The institutions directory of objection campaigns in the workspace: the list, and its
import from a CSV file with the rules of `flask institutions import` (all lines or none,
every invalid line named by line and field, shown in the form). Admins only, as the
officials import: the directory is shared by every petition's objection campaign, so one
organiser's file would change the address other campaigns' supporters write to."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField, StringField
from wtforms.validators import Length

from campaign.clock import utcnow
from campaign.extensions import csrf, db
from campaign.objections.institutions import (
    MAX_BYTES,
    import_institutions,
    plan_institutions_import,
)
from campaign.objections.models import Institution
from campaign.web.forms import plain_text, strip_text
from campaign.workspace.blueprint import bp, require_admin
from campaign.workspace.imports import list_name

# The multipart envelope around the file.
FORM_OVERHEAD = 64 * 1024
SHOWN_ERRORS = 50


class InstitutionsImportForm(FlaskForm):
    """Upload a CSV file of institutions: import it, or only check it."""

    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])
    source = StringField(
        _l("Source of the records (optional)"),
        filters=[strip_text],
        validators=[Length(max=100, message=_l("At most %(max)d characters.")), plain_text],
    )
    dry_run = BooleanField(_l("Only check the file: import nothing"))


def _render(form: InstitutionsImportForm, plan=None, status: int = 200):
    institutions = db.session.scalars(
        select(Institution).order_by(Institution.kind.desc(), Institution.name)
    ).all()
    page = render_template(
        "workspace/institutions/list.html",
        form=form,
        plan=plan,
        shown_errors=plan.errors[:SHOWN_ERRORS] if plan else [],
        institutions=institutions,
        max_bytes=MAX_BYTES,
    )
    return page, status


@bp.get("/institutions")
def institution_list():
    require_admin()
    return _render(InstitutionsImportForm())


@bp.post("/institutions/import")
@csrf.exempt  # Read after raising the size limit; the form checks the token itself.
def import_institutions_file():
    require_admin()
    request.max_content_length = MAX_BYTES + FORM_OVERHEAD
    form = InstitutionsImportForm()
    if not form.validate_on_submit():
        return _render(form, status=400 if form.csrf_token.errors else 422)
    upload = form.file.data
    content = upload.read(MAX_BYTES + 1)
    source = form.source.data or list_name(upload.filename)
    if form.dry_run.data:
        plan = plan_institutions_import(content, source)
    else:
        plan = import_institutions(
            content, source=source, now=utcnow(), via="workspace", actor=current_user
        )
    if plan.errors:
        return _render(form, plan, status=422)
    counts = {"created": len(plan.new), "updated": len(plan.changed), "unchanged": plan.unchanged}
    if form.dry_run.data:
        flash(
            _(
                "The file is valid: %(created)d to create, %(updated)d to update, "
                "%(unchanged)d unchanged. Nothing was imported.",
                **counts,
            ),
            "info",
        )
    else:
        flash(
            _(
                "Institutions imported: %(created)d created, %(updated)d updated, "
                "%(unchanged)d unchanged.",
                **counts,
            ),
            "success",
        )
    return redirect(url_for("workspace.institution_list"), code=303)
