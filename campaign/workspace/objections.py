"""A petition's objection campaign in the workspace, for its managers: the letter template
supporters start from, and what supporters did with it, in counts only."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from campaign.clock import utcnow
from campaign.mailings.templates import TemplateProblem
from campaign.objections.charts import bar_chart, recent_weeks
from campaign.objections.services import (
    MERGE_FIELDS,
    STEPS,
    objection_letter_of,
    objection_tallies,
    set_objection_letter,
    steps_per_week,
)
from campaign.petitions.models import Petition
from campaign.workspace.blueprint import bp, managed_petition

STEP_LABELS = {
    "prepared": _l("Letters prepared"),
    "sent": _l("Marked sent"),
    "answered": _l("Answered"),
    "complaint_prepared": _l("Complaints prepared"),
}


class ObjectionLetterForm(FlaskForm):
    """The letter supporters start from: a subject and a body, with merge fields."""

    subject = StringField(
        _l("Subject"),
        validators=[
            DataRequired(_l("Write the letter's subject.")),
            Length(max=200, message=_l("At most %(max)d characters.")),
        ],
    )
    body = TextAreaField(
        _l("Letter"),
        validators=[
            DataRequired(_l("Write the letter.")),
            Length(max=20_000, message=_l("At most %(max)d characters.")),
        ],
    )


def _render(petition: Petition, form: ObjectionLetterForm, status: int = 200):
    tallies = objection_tallies(petition.id)
    weeks = steps_per_week(petition.id)
    steps = [(str(step), STEP_LABELS[str(step)]) for step in STEPS]
    page = render_template(
        "workspace/objections/edit.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        form=form,
        merge_fields=MERGE_FIELDS,
        tallies=tallies,
        weeks=weeks,
        steps=steps,
        institution_chart=bar_chart([(t.name, t.counts) for t in tallies], steps),
        week_chart=bar_chart(
            [(format_date(monday, "long"), counts) for monday, counts in recent_weeks(weeks)],
            steps,
        ),
    )
    return page, status


@bp.get("/p/<slug>/objection")
def objection_letter(slug: str):
    petition = managed_petition(slug)
    return _render(petition, ObjectionLetterForm(obj=objection_letter_of(petition.id)))


@bp.post("/p/<slug>/objection")
def save_objection_letter(slug: str):
    petition = managed_petition(slug)
    form = ObjectionLetterForm()
    if not form.validate_on_submit():
        return _render(petition, form, status=422)
    try:
        set_objection_letter(petition, form.subject.data, form.body.data, utcnow())
    except TemplateProblem as problem:
        field = form.subject if problem.part == "subject" else form.body
        field.errors = [*field.errors, problem.message()]
        return _render(petition, form, status=422)
    flash(_("The letter is saved: supporters see it from their signature's page."), "success")
    return redirect(url_for("workspace.objection_letter", slug=slug), code=303)
