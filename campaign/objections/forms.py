"""The supporter's two forms: choose a département, and ask for the letter as a PDF."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from campaign.departements import DEPARTEMENTS
from campaign.objections.services import DETAILS_MAX
from campaign.text_rules import has_control_characters


class DepartementForm(FlaskForm):
    """Where the supporter lives: it says which institution holds their data."""

    departement = SelectField(
        _l("Your département"),
        choices=[SelectChoice("", "—")]
        + [SelectChoice(code, f"{code} – {name}") for code, name in DEPARTEMENTS.items()],
        validators=[DataRequired(_l("Choose your département."))],
    )


class LetterPdfForm(FlaskForm):
    """The letter for one institution as a PDF, with the details the supporter typed; they
    are used for this one document and never kept."""

    departement = HiddenField()
    institution = IntegerField(validators=[InputRequired()])
    details = TextAreaField(
        _l("What the institution needs to find you (optional)"),
        validators=[Length(max=DETAILS_MAX, message=_l("At most %(max)d characters."))],
    )

    def validate_details(self, field) -> None:
        if field.data and has_control_characters(field.data.replace("\n", " ").replace("\r", "")):
            raise ValidationError(_l("This field contains characters that are not allowed."))


class MarkSentForm(FlaskForm):
    """ "I sent it": one click, with the choice of one reminder when the answer period ends."""

    institution = IntegerField(validators=[InputRequired()])
    remind = BooleanField(_l("Remind me once, by email, when the answer period is over"))
