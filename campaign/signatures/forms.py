"""The sign form and the small confirm/withdraw/resend forms (CSRF only)."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from campaign.departements import DEPARTEMENTS
from campaign.petitions.models import Petition

URL_PATTERN = re.compile(r"(://|www\.|\b[\w-]+\.(com|net|org|fr|io|info|ru|xyz|biz)\b)", re.I)


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) in {"Cc", "Cf"} for char in value)


def plain_text(form: FlaskForm, field: StringField) -> None:
    """No control or invisible formatting characters (newlines, bidi overrides...)."""
    if field.data and _has_control_characters(field.data):
        raise ValidationError(_l("This field contains characters that are not allowed."))


def person_name(form: FlaskForm, field: StringField) -> None:
    """A name, not a link: spam hides URLs in the name fields of public lists."""
    plain_text(form, field)
    if field.data and URL_PATTERN.search(field.data):
        raise ValidationError(_l("A name cannot contain a web address."))


def email_address(form: FlaskForm, field: EmailField) -> None:
    """Syntax only: no DNS query, since Tribune makes no request to third parties."""
    try:
        validate_email(field.data or "", check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationError(_l("Enter a valid email address.")) from error


class SignatureForm(FlaskForm):
    first_name = StringField(
        _l("First name"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter your first name.")),
            Length(max=100, message=_l("At most %(max)d characters.")),
            person_name,
        ],
    )
    last_name = StringField(
        _l("Last name"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter your last name.")),
            Length(max=100, message=_l("At most %(max)d characters.")),
            person_name,
        ],
    )
    email = EmailField(
        _l("Email address"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter your email address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
            email_address,
        ],
    )
    category = SelectField(
        _l("You sign as"),
        validate_choice=True,
        validators=[InputRequired(_l("Choose a category."))],
    )
    title = StringField(
        _l("Title or profession"),
        filters=[_strip],
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
    )
    organisation = StringField(
        _l("Organisation"),
        filters=[_strip],
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
    )
    departement = SelectField(_l("Département (optional)"), default="", validate_choice=True)
    show_name = BooleanField(_l("Publish my name in the list of signatories"))
    show_title = BooleanField(_l("Publish my title or profession"))
    show_organisation = BooleanField(_l("Publish my organisation"))
    contact_ok = BooleanField(_l("Keep me informed about this petition"))
    consent = BooleanField(
        _l("I agree to the processing of my data to record my signature"),
        validators=[DataRequired(_l("Your consent is needed to record your signature."))],
    )

    def offer_choices(self, petition: Petition, locale: str) -> SignatureForm:
        """Fill the choices that depend on the petition and the reader's language."""
        self.category.choices = [("", _l("Choose…"))] + [
            (category.key, category.label(locale)) for category in petition.categories
        ]
        self.departement.choices = [("", "—")] + [
            (code, f"{code} – {name}") for code, name in DEPARTEMENTS.items()
        ]
        return self


class ActionForm(FlaskForm):
    """A button that changes something: confirm, withdraw, send a new link."""
