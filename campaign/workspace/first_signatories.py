"""Workspace: the order of the first signatories, as newspapers print them. A sortable list
(drag and drop, static/js/first-order.js, saved with one POST of the whole order) over
"move up" and "move down" buttons, each a small form: the keyboard's and the no-JavaScript
way. Organisers only, as marking: the order is part of what they attest."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Regexp

from campaign.clock import utcnow
from campaign.signatures import moderation
from campaign.signatures.moderation import FirstOrderChanged, SignatureNotFound
from campaign.workspace.blueprint import bp, managed_petition
from campaign.workspace.signatures import VERIFICATION_LABELS


class FirstOrderForm(FlaskForm):
    """The whole order at once: the first signatories' ids, comma-separated."""

    order = HiddenField(validators=[DataRequired(), Regexp(r"^\d{1,12}(,\d{1,12}){0,999}$")])


class MoveForm(FlaskForm):
    """A move up or down: the button is the whole form."""


@bp.get("/p/<slug>/first-signatories")
def first_signatories(slug: str):
    petition = managed_petition(slug)
    signatories = moderation.first_signatory_list(petition)
    return render_template(
        "workspace/signatures/first_order.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        signatories=signatories,
        order_form=FirstOrderForm(order=",".join(str(s.id) for s in signatories)),
        move_form=MoveForm(),
        level_labels=VERIFICATION_LABELS,
    )


def _back(slug: str):
    return redirect(url_for(".first_signatories", slug=slug), 303)


@bp.post("/p/<slug>/first-signatories/order")
def order_first_signatories(slug: str):
    petition = managed_petition(slug)
    form = FirstOrderForm()
    if not form.validate_on_submit():
        abort(400)
    order = [int(part) for part in form.order.data.split(",")]
    try:
        changed = moderation.reorder_first_signatories(petition, order, current_user, utcnow())
    except FirstOrderChanged:
        flash(_("The first signatories changed meanwhile: here is their order now."), "error")
        return _back(slug)
    if changed:
        flash(_("The order of the first signatories is saved."), "success")
    return _back(slug)


@bp.post("/p/<slug>/first-signatories/<int:signature_id>/<any(up, down):direction>")
def move_first_signatory(slug: str, signature_id: int, direction: str):
    petition = managed_petition(slug)
    if not MoveForm().validate_on_submit():
        abort(400)
    step = -1 if direction == "up" else 1
    try:
        moved = moderation.move_first_signatory(
            petition, signature_id, step, current_user, utcnow()
        )
    except SignatureNotFound:
        flash(_("This signature is not a first signatory: nothing changed."), "error")
        return _back(slug)
    if moved:
        flash(_("The order of the first signatories is saved."), "success")
    return redirect(url_for(".first_signatories", slug=slug, _anchor=f"first-{signature_id}"), 303)
