"""The officials directory in the workspace: the list, and its import (upload, preview,
confirm). Organisers read it (their mailings write to it); only admins import into it: it is
shared by every petition's mailings and by the roster check of members of parliament, so one
organiser's file would change every other organiser's letters and badges.

The uploaded file waits for its confirmation as a signature list does (see
campaign.workspace.imports): encrypted in the upload folder, under a random name that only the
uploader's session knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from campaign.accounts.models import Role
from campaign.clock import utcnow
from campaign.extensions import csrf
from campaign.mailings.forms import OfficialFilterForm, OfficialsImportForm
from campaign.mailings.merge_fields import ROLE_LABELS, civility_word, role_label
from campaign.officials.services import (
    MAX_BYTES,
    official_chambers,
    official_directory,
    preview_officials_import,
)
from campaign.officials.services import import_officials as import_officials_file
from campaign.web.forms import ActionForm
from campaign.workspace.blueprint import bp, require_admin
from campaign.workspace.imports import discard_upload, keep_upload, list_name, load_upload

PENDING_IMPORT = "pending_officials_import"
# The multipart envelope around the file.
FORM_OVERHEAD = 64 * 1024
PREVIEW_LINES = 20
SHOWN_ERRORS = 50


@dataclass(frozen=True)
class PendingOfficialsImport:
    """An uploaded file of officials waiting for its confirmation, as the session holds it."""

    token: str
    user_id: int
    source: str
    deactivate_missing: bool


def _require_manager() -> None:
    """Organisers and admins; moderators get 404."""
    if current_user.role not in (Role.ADMIN, Role.ORGANISER):
        abort(404)


def _pending() -> PendingOfficialsImport | None:
    saved = session.get(PENDING_IMPORT)
    if not saved or saved["user_id"] != current_user.id:
        return None
    return PendingOfficialsImport(**saved)


def _forget_pending() -> None:
    saved = session.pop(PENDING_IMPORT, None)
    if saved:
        discard_upload(saved["token"])


def _remember_upload(form: OfficialsImportForm) -> None:
    """Keep the uploaded file, and in the session what to do with it once confirmed."""
    _forget_pending()
    upload = form.file.data
    session[PENDING_IMPORT] = {
        "token": keep_upload(upload.read(), utcnow()),
        "user_id": current_user.id,
        "source": form.source.data or list_name(upload.filename),
        "deactivate_missing": bool(form.deactivate_missing.data),
    }


def _naming() -> dict:
    """How the pages name an official's role (Députée, Député) and civility (Madame), in
    the reader's language."""
    locale = str(get_locale())
    return {
        "role_name": lambda official: role_label(official.role, locale, official.civility),
        "civility_name": lambda official: civility_word(official.civility, locale),
    }


def _expired():
    flash(_("This preview has expired: upload the file again."), "error")
    return redirect(url_for("workspace.import_officials"), code=303)


@bp.get("/officials")
def official_list():
    _require_manager()
    form = OfficialFilterForm(request.args).offer_choices(ROLE_LABELS, official_chambers())
    form.validate()
    page = official_directory(**form.criteria(), page=request.args.get("page", 1, type=int))
    return render_template("workspace/officials/list.html", form=form, page=page, **_naming())


@bp.route("/officials/import", methods=["GET", "POST"], endpoint="import_officials")
@csrf.exempt  # Read after raising the size limit; OfficialsImportForm checks the token itself.
def officials_upload():
    require_admin()
    request.max_content_length = MAX_BYTES + FORM_OVERHEAD
    form = OfficialsImportForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        page = render_template("workspace/officials/upload.html", form=form, max_bytes=MAX_BYTES)
        return page, status
    _remember_upload(form)
    return redirect(url_for("workspace.officials_import_preview"), code=303)


@bp.get("/officials/import/preview")
def officials_import_preview():
    require_admin()
    pending = _pending()
    content = pending and load_upload(pending.token, utcnow())
    if not content:
        return _expired()
    plan = preview_officials_import(
        content, source=pending.source, deactivate_missing=pending.deactivate_missing
    )
    return render_template(
        "workspace/officials/preview.html",
        pending=pending,
        plan=plan,
        shown_errors=plan.errors[:SHOWN_ERRORS],
        new_lines=plan.new[:PREVIEW_LINES],
        changes=plan.changes[:PREVIEW_LINES],
        form=ActionForm(),
        **_naming(),
    )


@bp.post("/officials/import/confirm")
def officials_import_confirm():
    require_admin()
    if not ActionForm().validate_on_submit():
        abort(400)
    pending = _pending()
    content = pending and load_upload(pending.token, utcnow())
    if not content:
        return _expired()
    outcome = import_officials_file(
        content,
        source=pending.source,
        now=utcnow(),
        deactivate_missing=pending.deactivate_missing,
        actor=current_user,
    )
    if not outcome.written:
        flash(_("Nothing was imported: check the preview again."), "error")
        return redirect(url_for("workspace.officials_import_preview"), code=303)
    _forget_pending()
    plan = outcome.plan
    flash(
        _(
            "Officials imported: %(created)d created, %(updated)d updated, %(unchanged)d "
            "unchanged, %(retired)d retired.",
            created=len(plan.new),
            updated=len(plan.changes),
            unchanged=plan.unchanged,
            retired=len(plan.retired),
        ),
        "success",
    )
    return redirect(url_for("workspace.official_list"), code=303)
