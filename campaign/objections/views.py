"""The supporter's objection page, reached from the page their rights link opens: choose a
département, read the letters for its institutions, copy, email or print them."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.objections.forms import DepartementForm, LetterPdfForm, MarkSentForm
from campaign.objections.institutions import institutions_for
from campaign.objections.models import Institution
from campaign.objections.services import (
    details_placeholder,
    letter_pdf,
    mark_sent,
    objection_letter_of,
    prepare_letters,
    record_prepared,
    stop_reminders,
)
from campaign.petitions.models import Petition
from campaign.signatures.models import SignatureStatus
from campaign.signatures.services import signature_from_rights_token
from campaign.web.forms import ActionForm

bp = Blueprint("objections", __name__)


@bp.after_request
def never_cached(response: Response) -> Response:
    """These pages hold the supporter's name and letter: no browser or proxy keeps a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _supporter(token: str):
    """The signature of the rights link and its petition's letter template, or 404."""
    signature = signature_from_rights_token(token, utcnow())
    template = objection_letter_of(signature.petition_id)
    if template is None or signature.status == SignatureStatus.WITHDRAWN:
        abort(404)
    return signature, template


@bp.get("/s/<token>/objection")
def choose_departement(token: str):
    signature, _template = _supporter(token)
    form = DepartementForm(departement=signature.departement or "")
    petition = db.session.get(Petition, signature.petition_id)
    return render_template(
        "objections/choose.html",
        form=form,
        token=token,
        petition=petition,
        locale=str(get_locale()),
    )


@bp.post("/s/<token>/objection")
def show_letters(token: str):
    now = utcnow()
    signature, template = _supporter(token)
    petition = db.session.get(Petition, signature.petition_id)
    form = DepartementForm()
    if not form.validate_on_submit():
        return render_template(
            "objections/choose.html",
            form=form,
            token=token,
            petition=petition,
            locale=str(get_locale()),
        ), 422
    institutions = institutions_for(form.departement.data)
    letters = prepare_letters(signature, template, institutions, now)
    record_prepared(signature, institutions, now)
    return render_template(
        "objections/letters.html",
        letters=letters,
        token=token,
        petition=petition,
        departement=form.departement.data,
        pdf_form=LetterPdfForm(departement=form.departement.data),
        sent_form=MarkSentForm(),
        placeholder=details_placeholder(),
        locale=str(get_locale()),
    )


@bp.post("/s/<token>/objection/pdf")
def download_letter(token: str):
    now = utcnow()
    signature, template = _supporter(token)
    form = LetterPdfForm()
    if not form.validate_on_submit():
        abort(400)
    institution = db.session.get(Institution, form.institution.data) or abort(404)
    details = (form.details.data or "").strip()
    (letter,) = prepare_letters(
        signature, template, [institution], now, details=details or details_placeholder()
    )
    record_prepared(signature, [institution], now)
    return Response(
        letter_pdf(letter, now),
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="tribune-letter.pdf"'},
    )


@bp.post("/s/<token>/objection/sent")
def mark_letter_sent(token: str):
    now = utcnow()
    signature, _template = _supporter(token)
    form = MarkSentForm()
    if not form.validate_on_submit():
        abort(400)
    institution = db.session.get(Institution, form.institution.data) or abort(404)
    due = mark_sent(signature, institution, form.remind.data, now)
    if form.remind.data:
        message = _(
            "Noted. %(institution)s has until %(date)s to answer: we will remind you then.",
            institution=institution.name,
            date=format_date(due, "long"),
        )
    else:
        message = _(
            "Noted. %(institution)s has until %(date)s to answer.",
            institution=institution.name,
            date=format_date(due, "long"),
        )
    flash(message, "success")
    return redirect(url_for("privacy.my_data", token=token), code=303)


@bp.post("/s/<token>/objection/stop-reminders")
def stop_letter_reminders(token: str):
    signature = signature_from_rights_token(token, utcnow())
    if not ActionForm().validate_on_submit():
        abort(400)
    stop_reminders(signature)
    flash(_("No more reminders: nothing will be sent to you about your letters."), "success")
    return redirect(url_for("privacy.my_data", token=token), code=303)
