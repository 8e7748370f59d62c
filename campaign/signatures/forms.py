"""The sign form and the small confirm/withdraw/resend forms (CSRF only)."""

from __future__ import annotations

from functools import lru_cache

from babel import support
from email_validator import EmailNotValidError, validate_email
from flask import current_app, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup
from wtforms import BooleanField, EmailField, HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import Select

from campaign.abuse import domain_is_allowed, domain_is_blocked, proof_is_valid
from campaign.clock import utcnow
from campaign.departements import DEPARTEMENTS
from campaign.errors import InvalidRegistryNumber
from campaign.form_filters import strip_text
from campaign.petitions.models import Petition
from campaign.text_rules import contains_link, contains_web_address, has_control_characters
from campaign.tokens import embed_form_token_is_valid
from campaign.verification.registries import checked_rpps


def is_email_address(value: str) -> bool:
    """Valid address syntax, and a mailbox name Tribune can send to; no DNS query, since
    Tribune makes no request to third parties."""
    if not has_ascii_mailbox(value):
        return False
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def has_ascii_mailbox(value: str) -> bool:
    """Whether the part before the @ is plain ASCII. An accented domain is fine (it is sent
    in its ASCII form); an accented mailbox name ("josé@...") needs SMTPUTF8, which Tribune's
    mail path does not speak and which few French providers accept."""
    return value.rpartition("@")[0].isascii()


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


_WTFORMS_MESSAGES = _WTFormsMessages()


class SignatureForm(FlaskForm):
    class Meta:
        def get_translations(self, form: FlaskForm) -> object:
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return _WTFORMS_MESSAGES

    # Without JavaScript too: the box changes what the name fields must hold, not the page.
    for_organisation = BooleanField(
        _l("I sign for an organisation"), render_kw={"autocomplete": "off"}
    )
    # Required for a person, empty for an organisation: see validate_first_name.
    first_name = StringField(
        _l("First name"),
        filters=[strip_text],
        render_kw={"autocomplete": "given-name"},
        validators=[Length(max=100, message=_l("At most %(max)d characters.")), plain_text],
    )
    last_name = StringField(
        _l("Last name"),
        filters=[strip_text],
        render_kw={"autocomplete": "family-name"},
        validators=[Length(max=100, message=_l("At most %(max)d characters.")), plain_text],
    )
    email = EmailField(
        _l("Email address"),
        filters=[strip_text],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
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
        render_kw={"autocomplete": "off"},
    )
    title = StringField(
        _l("Title or profession"),
        filters=[strip_text],
        render_kw={"autocomplete": "organization-title"},
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
    )
    organisation = StringField(
        _l("Organisation"),
        filters=[strip_text],
        render_kw={"autocomplete": "organization"},
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
    )
    departement = DepartementField(
        _l("Département (optional)"),
        default="",
        validate_choice=True,
        widget=CachedSelect(),
        render_kw={"autocomplete": "off"},
    )
    # Verification of the category (campaign/verification): optional, never blocks signing.
    rpps_number = StringField(
        _l("RPPS number (health professionals, optional)"),
        filters=[strip_text],
        render_kw={"autocomplete": "off", "inputmode": "numeric"},
        validators=[Length(max=20, message=_l("At most %(max)d characters."))],
    )
    evidence = StringField(
        _l("How can we check your category? (optional)"),
        filters=[strip_text],
        render_kw={"autocomplete": "off"},
        validators=[Length(max=300, message=_l("At most %(max)d characters.")), plain_text],
    )
    # An explicit choice, no default: a box left unticked by oversight published nothing,
    # and a ticked one by habit published a name.
    show_name = RadioField(
        _l("May we publish your name in the list of signatories?"),
        choices=[
            SelectChoice("yes", _l("Yes, publish my name")),
            SelectChoice("no", _l("No, count my signature without my name")),
        ],
        validators=[InputRequired(_l("Choose whether your name may be published."))],
    )
    show_title = BooleanField(
        _l("Publish my title or profession"), render_kw={"autocomplete": "off"}
    )
    show_organisation = BooleanField(
        _l("Publish my organisation"), render_kw={"autocomplete": "off"}
    )
    contact_ok = BooleanField(
        _l("Keep me informed about this petition"), render_kw={"autocomplete": "off"}
    )
    consent = BooleanField(
        _l("I agree to the processing of my data to record my signature"),
        validators=[DataRequired(_l("Your consent is needed to record your signature."))],
        render_kw={"autocomplete": "off"},
    )
    # Filled by the proof-of-work widget.
    altcha = HiddenField()

    petition: Petition | None = None

    def validate_first_name(self, field: StringField) -> None:
        if self.for_organisation.data:
            if field.data:
                raise ValidationError(
                    _l("An organisation signs without a first name: leave it empty.")
                )
        elif not field.data:
            raise ValidationError(_l("Enter your first name."))
        else:
            person_name(self, field)

    def validate_last_name(self, field: StringField) -> None:
        if field.errors:
            return
        if not self.for_organisation.data:
            if not field.data:
                raise ValidationError(_l("Enter your last name."))
            person_name(self, field)
        elif not field.data:
            raise ValidationError(_l("Enter the name of the organisation."))
        elif contains_link(field.data):
            raise ValidationError(
                _l("A name cannot contain a link (https://… or a path after a domain).")
            )

    def validate_email(self, field: EmailField) -> None:
        if field.errors or not field.data:
            return
        if domain_is_blocked(field.data):
            raise ValidationError(
                _l("Addresses at this domain cannot be used to sign. Use your usual address.")
            )
        allowed = self.petition.allowed_email_domains if self.petition else ""
        if not domain_is_allowed(field.data, allowed):
            raise ValidationError(
                _l("This petition is open to addresses at %(domains)s only.", domains=allowed)
            )

    def validate_rpps_number(self, field: StringField) -> None:
        if not field.data:
            return
        try:
            checked_rpps(field.data)
        except InvalidRegistryNumber as error:
            raise ValidationError(
                _l(
                    "An RPPS number has 11 digits, the last one a check digit: check the "
                    "number, or leave the field empty."
                )
            ) from error

    def validate_altcha(self, field: HiddenField) -> None:
        if not proof_is_valid(field.data, utcnow()):
            raise ValidationError(
                _l(
                    "The anti-robot check did not complete. Wait until it shows it is done "
                    "(it needs JavaScript), then sign again."
                )
            )

    def offer_choices(self, petition: Petition, locale: str) -> SignatureForm:
        """Fill the choices that depend on the petition and the reader's language."""
        self.petition = petition
        self.category.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(category.key, category.label(locale)) for category in petition.categories
        ]
        self.departement.choices = DEPARTEMENT_CHOICES
        return self


class EmbedSignatureForm(SignatureForm):
    """The embed's sign box (campaign/signatures/embed.py): the same fields and checks, the
    proof of work included, but its CSRF check is the signed form token issued with the page,
    not the session's token, since the session cookie is often blocked inside a frame."""

    class Meta:
        csrf = False

    form_token = HiddenField()
    # An explicit choice, no default: in a small box on another site, a box left unticked by
    # oversight published nothing, and one ticked by habit published a name.
    show_name = RadioField(
        _l("May we publish your name in the list of signatories?"),
        choices=[
            SelectChoice("yes", _l("Yes, publish my name")),
            SelectChoice("no", _l("No, count my signature without my name")),
        ],
        validators=[InputRequired(_l("Choose whether your name may be published."))],
    )

    def validate_form_token(self, field: HiddenField) -> None:
        if self.petition is None or not embed_form_token_is_valid(field.data, self.petition.id):
            raise ValidationError(
                _l("This form has expired. Reload it and sign again."),
            )


class ActionForm(FlaskForm):
    """A button that changes something: confirm, withdraw, send a new link."""


class SignatureImportForm(FlaskForm):
    """Upload a list of signatures collected elsewhere, to preview its import."""

    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])
    # The values are campaign.signatures.imports.ImportMode's.
    mode = RadioField(
        _l("The people on this list"),
        choices=[
            SelectChoice("confirmed", _l("already agreed to be published: count them now")),
            SelectChoice(
                "send-confirmation", _l("must confirm: send each one the confirmation email")
            ),
        ],
        validators=[InputRequired(_l("Choose how the signatures are confirmed."))],
    )
    skip_invalid = BooleanField(_l("Import the valid lines even if other lines are invalid"))
    first_signatories = BooleanField(
        _l("These are the first signatories: shown first, attested by me")
    )
    source = StringField(
        _l("Name of the list (optional)"),
        filters=[strip_text],
        validators=[Length(max=100, message=_l("At most %(max)d characters.")), plain_text],
    )


class BlockDomainForm(FlaskForm):
    """Add an email domain to the block list."""

    domain = StringField(
        _l("Domain"),
        filters=[strip_text],
        validators=[DataRequired(_l("Enter a domain name, such as example.org.")),
                    Length(max=253)],
    )  # fmt: skip
    reason = StringField(
        _l("Reason (optional)"), filters=[strip_text], validators=[Length(max=200)]
    )
