"""The form toolkit every domain's forms share: filters, validators, the département field,
WTForms' messages read once, and the one-button ActionForm."""

from __future__ import annotations

from functools import lru_cache

from babel import support
from flask import request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import ValidationError
from wtforms.widgets import Select

from campaign.departements import DEPARTEMENTS
from campaign.text_rules import (
    contains_web_address,
    has_ascii_mailbox,
    has_control_characters,
    is_email_address,
)


def strip_text(value: str | None) -> str | None:
    """Leading and trailing whitespace removed; non-text values as they are."""
    return value.strip() if isinstance(value, str) else value


def plain_text(form: FlaskForm, field: StringField) -> None:
    """No control or invisible formatting characters (newlines, bidi overrides...)."""
    if field.data and has_control_characters(field.data):
        raise ValidationError(_l("This field contains characters that are not allowed."))


def multiline_text(form: FlaskForm, field: StringField) -> None:
    """plain_text() for a multi-line field: line breaks and tabs are allowed."""
    if field.data and has_control_characters(field.data, allowed="\r\n\t"):
        raise ValidationError(_l("This field contains characters that are not allowed."))


def person_name(form: FlaskForm, field: StringField) -> None:
    """A name, not a link: spam hides URLs in the name fields of public lists."""
    plain_text(form, field)
    if field.data and contains_web_address(field.data):
        raise ValidationError(_l("A name cannot contain a web address."))


def email_address(form: FlaskForm, field: EmailField) -> None:
    """Syntax only: no DNS query, since Tribune makes no request to third parties."""
    if not has_ascii_mailbox(field.data or ""):
        raise ValidationError(
            _l(
                "Use an address without accents before the @: many mail servers cannot "
                "deliver to it."
            )
        )
    if not is_email_address(field.data or ""):
        raise ValidationError(_l("Enter a valid email address."))


# The same in every language and for every petition: built once.
DEPARTEMENT_CHOICES = (
    SelectChoice("", "—"),
    *(SelectChoice(code, f"{code} – {name}") for code, name in DEPARTEMENTS.items()),
)


class CachedSelect(Select):
    """A select that renders DEPARTEMENT_CHOICES once per selected value and attributes: its
    hundred options cost more than the rest of the form on every petition page."""

    def __init__(self) -> None:
        super().__init__()
        self._rendered: dict[tuple, Markup] = {}

    def __call__(self, field: SelectField, **kwargs: object) -> Markup:
        # Only known values are kept, so that submitted junk cannot grow the cache.
        if field.choices is not DEPARTEMENT_CHOICES or not (
            field.data in (None, "") or field.data in DEPARTEMENTS
        ):
            return super().__call__(field, **kwargs)
        key = (field.id, field.name, field.data, tuple(sorted(kwargs.items())))
        html = self._rendered.get(key)
        if html is None:
            # At most one entry per département (and none) times the error/no-error attributes.
            html = self._rendered[key] = super().__call__(field, **kwargs)
        return html


class DepartementField(SelectField):
    """The département select, checked against a set: WTForms' own check walks the hundred
    choices on every sign POST."""

    valid_values = frozenset(choice.value for choice in DEPARTEMENT_CHOICES)

    def pre_validate(self, form: FlaskForm) -> None:
        if self.choices is not DEPARTEMENT_CHOICES:
            return super().pre_validate(form)
        if self.data not in self.valid_values:
            raise ValidationError(_l("Choose a département from the list."))


@lru_cache(maxsize=16)
def _wtforms_catalogue(locale: str) -> support.Translations:
    """WTForms' own messages in one language, read once per process."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class _WTFormsMessages:
    """flask_wtf's translations of WTForms' messages, without reading the catalogue file again
    for every request as flask_wtf does (about 3 % of the web CPU)."""

    def gettext(self, string: str) -> str:
        if not request:
            return string
        return _wtforms_catalogue(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if not request:
            return singular if n == 1 else plural
        return _wtforms_catalogue(str(get_locale())).ungettext(singular, plural, n)


WTFORMS_MESSAGES = _WTFormsMessages()


class ActionForm(FlaskForm):
    """A button that changes something: confirm, withdraw, send a new link."""
