"""The supporter's objection page, reached from the page their rights link opens: choose a
département, read the letters for its institutions, copy, email or print them."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.objections.complaints import (
    AnswerPeriodRunning,
    NoComplaint,
    NotSent,
    email_sent_links,
    follow_up_of,
    prepare_complaint,
    record_answer,
    record_complaint_prepared,
)
from campaign.objections.forms import DepartementForm, LetterPdfForm, MarkSentForm
from campaign.objections.institutions import institutions_for
from campaign.objections.models import ANSWERS, EventKind, Institution
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


@bp.get("/s/<token>/objection/stop-reminders")
def confirm_stop_reminders(token: str):
    # The email's one-click link: a page with one button, since mail scanners open links.
    signature_from_rights_token(token, utcnow())
    return render_template("objections/confirm_stop.html", token=token, form=ActionForm())


@bp.post("/s/<token>/objection/sent-links")
def email_my_sent_links(token: str):
    now = utcnow()
    signature, _template = _supporter(token)
    if not ActionForm().validate_on_submit():
        abort(400)
    if email_sent_links(signature, now):
        flash(_("We have emailed you the links: one click once each letter is sent."), "success")
    else:
        flash(
            _("No email was sent: every letter is marked sent, or you asked three times today."),
            "info",
        )
    return redirect(url_for("privacy.my_data", token=token), code=303)


@bp.get("/s/<token>/objection/<int:institution_id>/sent")
def confirm_sent(token: str, institution_id: int):
    # The email's one-click link to say "sent": the page's button does it.
    _supporter(token)
    institution = db.session.get(Institution, institution_id) or abort(404)
    return render_template(
        "objections/confirm_sent.html", token=token, institution=institution, form=MarkSentForm()
    )


def _answer_of(choice: str) -> EventKind:
    return ANSWERS.get(choice) or abort(404)


@bp.get("/s/<token>/objection/<int:institution_id>/answer/<choice>")
def confirm_answer(token: str, institution_id: int, choice: str):
    # The reminder's one-click links: a page with one button, since mail scanners open links.
    signature, _template = _supporter(token)
    answer = _answer_of(choice)
    try:
        follow_up = follow_up_of(signature.id, institution_id)
    except NotSent:
        abort(404)
    if not follow_up.asks_answer:
        abort(404)
    return render_template(
        "objections/confirm_answer.html",
        token=token,
        follow_up=follow_up,
        answer=str(answer),
        choice=choice,
        form=ActionForm(),
    )


def _render_complaint(token: str, signature, institution: Institution):
    now = utcnow()
    try:
        prepared = prepare_complaint(signature, institution, details_placeholder())
    except (NotSent, NoComplaint):
        abort(404)
    record_complaint_prepared(signature, institution, now)
    return render_template(
        "objections/complaint.html",
        token=token,
        prepared=prepared,
        petition=db.session.get(Petition, signature.petition_id),
        pdf_form=LetterPdfForm(),
        placeholder=details_placeholder(),
        locale=str(get_locale()),
    )


@bp.post("/s/<token>/objection/<int:institution_id>/answer/<choice>")
def answer(token: str, institution_id: int, choice: str):
    now = utcnow()
    signature, _template = _supporter(token)
    said = _answer_of(choice)
    if not ActionForm().validate_on_submit():
        abort(400)
    institution = db.session.get(Institution, institution_id) or abort(404)
    try:
        record_answer(signature, institution, said, now)
    except NotSent:
        abort(404)
    except AnswerPeriodRunning as running:
        flash(
            _(
                "%(institution)s has until %(date)s to answer: come back then if it has not.",
                institution=institution.name,
                date=format_date(running.due, "long"),
            ),
            "info",
        )
        return redirect(url_for("privacy.my_data", token=token), code=303)
    if said == EventKind.ANSWERED:
        flash(_("Noted: %(institution)s answered you.", institution=institution.name), "success")
        return redirect(url_for("privacy.my_data", token=token), code=303)
    return _render_complaint(token, signature, institution)


@bp.post("/s/<token>/objection/<int:institution_id>/complaint")
def show_complaint(token: str, institution_id: int):
    signature, _template = _supporter(token)
    if not ActionForm().validate_on_submit():
        abort(400)
    institution = db.session.get(Institution, institution_id) or abort(404)
    return _render_complaint(token, signature, institution)


@bp.post("/s/<token>/objection/<int:institution_id>/complaint/pdf")
def download_complaint(token: str, institution_id: int):
    now = utcnow()
    signature, _template = _supporter(token)
    form = LetterPdfForm()
    if not form.validate_on_submit():
        abort(400)
    institution = db.session.get(Institution, institution_id) or abort(404)
    details = (form.details.data or "").strip()
    try:
        prepared = prepare_complaint(signature, institution, details or details_placeholder())
    except (NotSent, NoComplaint):
        abort(404)
    record_complaint_prepared(signature, institution, now)
    return Response(
        letter_pdf(prepared.complaint, now),
        mimetype="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="tribune-complaint.pdf"'},
    )
