"""Import a list of signatures from the workspace: upload, preview, confirm.

Between the preview and the confirmation, the uploaded file waits in instance/imports/,
Fernet-encrypted (it holds email addresses), under a random name that only the uploader's
session knows; it is deleted by the import, and any upload older than an hour is refused
and deleted at the next upload. So the organiser confirms exactly the file they previewed,
without uploading it twice, and no personal data travels in a URL or a hidden field. (With
several web servers, instance/ must be shared, or sessions sticky.)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user

from campaign.clock import utcnow
from campaign.extensions import csrf
from campaign.signatures.forms import SignatureImportForm
from campaign.signatures.imports import (
    ImportMode,
    ImportNotAllowed,
    import_signatures,
    preview_import,
)
from campaign.text_rules import has_control_characters
from campaign.web.forms import ActionForm
from campaign.workspace.blueprint import bp, managed_petition

PENDING_IMPORT = "pending_signature_import"
UPLOAD_LIFETIME = timedelta(hours=1)
# Larger than the site-wide request limit: a list of 10,000 signers is about 1 MB.
IMPORT_MAX_BYTES = 16 * 1024 * 1024
PREVIEW_LINES = 20
SHOWN_ERRORS = 50


@dataclass(frozen=True)
class PendingImport:
    """An uploaded list waiting for its confirmation, as the session remembers it."""

    token: str
    petition_id: int
    user_id: int
    mode: ImportMode
    skip_invalid: bool
    source: str
    first_signatories: bool = False


def _uploads() -> Path:
    """instance/imports/, unless IMPORT_UPLOAD_DIR names another folder (tests do)."""
    configured = current_app.config.get("IMPORT_UPLOAD_DIR")
    folder = Path(configured or Path(current_app.instance_path) / "imports")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _fernet() -> Fernet:
    return Fernet(current_app.config["EMAIL_ENCRYPTION_KEY"].encode())


def _seconds(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def discard_stale_uploads(now: datetime) -> None:
    """Delete the uploads nobody confirmed within their lifetime."""
    oldest = _seconds(now - UPLOAD_LIFETIME)
    for path in _uploads().glob("*.csv.enc"):
        if path.stat().st_mtime < oldest:
            path.unlink(missing_ok=True)


def keep_upload(content: bytes, now: datetime) -> str:
    """Store an uploaded file until its confirmation; returns its random token."""
    discard_stale_uploads(now)
    token = secrets.token_urlsafe(24)
    path = _uploads() / f"{token}.csv.enc"
    path.touch(mode=0o600)
    path.write_bytes(_fernet().encrypt_at_time(content, _seconds(now)))
    return token


def load_upload(token: str, now: datetime) -> bytes | None:
    """The uploaded file, unless it is gone or older than its lifetime."""
    path = _uploads() / f"{token}.csv.enc"
    try:
        ciphertext = path.read_bytes()
        lifetime = int(UPLOAD_LIFETIME.total_seconds())
        return _fernet().decrypt_at_time(ciphertext, lifetime, _seconds(now))
    except (OSError, InvalidToken):
        return None


def discard_upload(token: str) -> None:
    """Delete an uploaded file (imported, or replaced by another upload)."""
    (_uploads() / f"{token}.csv.enc").unlink(missing_ok=True)


def _pending(petition_id: int) -> PendingImport | None:
    """The current user's upload for this petition, if the session holds one."""
    saved = session.get(PENDING_IMPORT)
    if not saved:
        return None
    pending = PendingImport(**{**saved, "mode": ImportMode(saved["mode"])})
    if pending.petition_id != petition_id or pending.user_id != current_user.id:
        return None
    return pending


def list_name(filename: str | None) -> str:
    """The uploaded file's own name, as the default name of the list."""
    name = Path((filename or "").replace("\\", "/")).name
    name = "".join(char for char in name if not has_control_characters(char))
    return name[:100] or "import"


def _remember_upload(petition_id: int, form: SignatureImportForm) -> None:
    """Keep the uploaded file, and in the session what to do with it once confirmed."""
    _forget_pending()
    upload = form.file.data
    session[PENDING_IMPORT] = {
        "token": keep_upload(upload.read(), utcnow()),
        "petition_id": petition_id,
        "user_id": current_user.id,
        "mode": form.mode.data,
        "skip_invalid": form.skip_invalid.data,
        "first_signatories": form.first_signatories.data,
        "source": form.source.data or list_name(upload.filename),
    }


def _forget_pending() -> None:
    saved = session.pop(PENDING_IMPORT, None)
    if saved:
        discard_upload(saved["token"])


def _expired(slug: str):
    flash(_("This preview has expired: upload the file again."), "error")
    return redirect(url_for("workspace.import_signatures", slug=slug), code=303)


@bp.route("/p/<slug>/import", methods=["GET", "POST"], endpoint="import_signatures")
@csrf.exempt  # Read after raising the size limit; SignatureImportForm checks the token itself.
def import_upload(slug: str):
    petition = managed_petition(slug)
    request.max_content_length = IMPORT_MAX_BYTES
    form = SignatureImportForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        page = render_template(
            "workspace/imports/upload.html",
            petition=petition,
            form=form,
            max_bytes=IMPORT_MAX_BYTES,
        )
        return page, status
    _remember_upload(petition.id, form)
    return redirect(url_for("workspace.import_preview", slug=slug), code=303)


@bp.get("/p/<slug>/import/preview")
def import_preview(slug: str):
    petition = managed_petition(slug)
    pending = _pending(petition.id)
    content = pending and load_upload(pending.token, utcnow())
    if not content:
        return _expired(slug)
    try:
        plan = preview_import(petition, content, pending.mode)
    except ImportNotAllowed:
        flash(_("This petition is archived: no signatures can be imported."), "error")
        return redirect(url_for("workspace.import_signatures", slug=slug), code=303)
    locale = str(get_locale())
    return render_template(
        "workspace/imports/preview.html",
        petition=petition,
        pending=pending,
        plan=plan,
        ready=plan.ready(pending.skip_invalid),
        shown_errors=plan.errors[:SHOWN_ERRORS],
        preview_lines=plan.new[:PREVIEW_LINES],
        category_labels={c.key: c.label(locale) for c in petition.categories},
        form=ActionForm(),
    )


@bp.post("/p/<slug>/import/confirm")
def import_confirm(slug: str):
    petition = managed_petition(slug)
    if not ActionForm().validate_on_submit():
        abort(400)
    pending = _pending(petition.id)
    content = pending and load_upload(pending.token, utcnow())
    if not content:
        return _expired(slug)
    try:
        outcome = import_signatures(
            petition,
            content,
            mode=pending.mode,
            source=pending.source,
            now=utcnow(),
            skip_invalid=pending.skip_invalid,
            actor=current_user,
            first_signatories=pending.first_signatories,
        )
    except ImportNotAllowed:
        flash(_("This petition is archived: no signatures can be imported."), "error")
        return redirect(url_for("workspace.import_signatures", slug=slug), code=303)
    if not outcome.imported:
        flash(_("Nothing was imported: check the preview again."), "error")
        return redirect(url_for("workspace.import_preview", slug=slug), code=303)
    _forget_pending()
    flash(
        ngettext("%(num)d signature imported.", "%(num)d signatures imported.", outcome.imported),
        "success",
    )
    if pending.mode is ImportMode.SEND_CONFIRMATION:
        flash(_("Each signer is being sent the confirmation email."), "info")
    return redirect(url_for("workspace.import_signatures", slug=slug), code=303)
