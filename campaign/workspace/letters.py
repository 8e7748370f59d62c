"""Supporters' letters in the workspace, for the petition's moderators and managers: those
held for moderation (read, then release or reject with a reason) and those flagged because
many supporters sent the same text."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from campaign.clock import utcnow
from campaign.mailings.letters import (
    flagged_letters,
    held_letters,
    letter_mailings,
    reject_letters,
    release_letters,
)
from campaign.mailings.merge_fields import role_label
from campaign.petitions.forms import CheckboxesField
from campaign.petitions.models import Petition
from campaign.web.forms import plain_text, strip_text
from campaign.workspace.blueprint import bp, moderated_petition

DELIVERY_STATUS_LABELS = {
    "held": _l("Held"),
    "queued": _l("Waiting to be sent"),
    "sending": _l("Sending"),
    "sent": _l("Sent"),
    "failed": _l("Failed"),
    "unknown": _l("Outcome unknown"),
    "cancelled": _l("Rejected or cancelled"),
}
REASON_LABEL = _l("Reason for rejecting (kept with the letter, never sent)")


class LetterModerationForm(FlaskForm):
    """Held letters chosen in the table."""

    letters = CheckboxesField(_l("Letters"), validate_choice=False)
    reason = StringField(
        REASON_LABEL,
        filters=[strip_text],
        validators=[Length(max=300, message=_l("At most %(max)d characters.")), plain_text],
    )

    def letter_ids(self) -> list[int]:
        """The chosen letters' ids; anything else is dropped."""
        return [int(value) for value in self.letters.data or [] if str(value).isdigit()]


class RejectLettersForm(LetterModerationForm):
    """Rejecting needs a reason."""

    reason = StringField(
        REASON_LABEL,
        filters=[strip_text],
        validators=[
            DataRequired(_l("Give a reason for rejecting.")),
            Length(max=300, message=_l("At most %(max)d characters.")),
            plain_text,
        ],
    )


def _render(petition: Petition, form: LetterModerationForm, status: int = 200):
    locale = str(get_locale())
    sections = [
        (mailing, held_letters(mailing.id), flagged_letters(mailing.id))
        for mailing in letter_mailings(petition.id)
    ]
    page = render_template(
        "workspace/letters/moderation.html",
        petition=petition,
        text=petition.text(locale),
        sections=sections,
        any_held=any(held for _, held, _ in sections),
        form=form,
        chosen={str(value) for value in form.letters.data or []},
        role_name=lambda role: role_label(role, locale),
        status_labels=DELIVERY_STATUS_LABELS,
    )
    return page, status


def _nothing_chosen(petition: Petition, form: LetterModerationForm):
    form.letters.errors = [*form.letters.errors, _("Choose at least one letter.")]
    return _render(petition, form, status=422)


@bp.get("/p/<slug>/letters")
def moderation_letters(slug: str):
    petition = moderated_petition(slug)
    return _render(petition, LetterModerationForm(formdata=None))


@bp.post("/p/<slug>/letters/release")
def moderation_release_letters(slug: str):
    petition = moderated_petition(slug)
    form = LetterModerationForm()
    if not form.validate_on_submit():
        return _render(petition, form, status=422)
    if not form.letter_ids():
        return _nothing_chosen(petition, form)
    count = release_letters(form.letter_ids(), current_user, utcnow(), petition_id=petition.id)
    if count:
        message = ngettext("%(num)d letter released: it is being sent.",
                           "%(num)d letters released: they are being sent.", count)  # fmt: skip
        flash(message, "success")
    else:
        flash(_("These letters were no longer held: nothing changed."), "error")
    return redirect(url_for("workspace.moderation_letters", slug=slug), code=303)


@bp.post("/p/<slug>/letters/reject")
def moderation_reject_letters(slug: str):
    petition = moderated_petition(slug)
    form = RejectLettersForm()
    if not form.validate_on_submit():
        return _render(petition, form, status=422)
    if not form.letter_ids():
        return _nothing_chosen(petition, form)
    count = reject_letters(
        form.letter_ids(), form.reason.data, current_user, utcnow(), petition_id=petition.id
    )
    if count:
        message = ngettext("%(num)d letter rejected: it will not be sent.",
                           "%(num)d letters rejected: they will not be sent.", count)  # fmt: skip
        flash(message, "success")
    else:
        flash(_("These letters were no longer held: nothing changed."), "error")
    return redirect(url_for("workspace.moderation_letters", slug=slug), code=303)
