"""The signature forms: signing (on the petition page and in the embed) and importing a
list of signatures. The pieces every form shares are in campaign/web/forms.py."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from campaign.abuse import domain_is_allowed, domain_is_blocked, proof_is_valid
from campaign.clock import utcnow
from campaign.errors import InvalidRegistryNumber
from campaign.levels import checked_rpps
from campaign.petitions.models import Petition
from campaign.text_rules import contains_link
from campaign.tokens import embed_form_token_is_valid
from campaign.web.forms import (
    DEPARTEMENT_CHOICES,
    WTFORMS_MESSAGES,
    CachedSelect,
    DepartementField,
    email_address,
    person_name,
    plain_text,
    strip_text,
)


class SignatureForm(FlaskForm):
    class Meta:
        def get_translations(self, form: FlaskForm) -> object:
            if not current_app.config.get("WTF_I18N_ENABLED", True):
                return super().get_translations(form)
            return WTFORMS_MESSAGES

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
