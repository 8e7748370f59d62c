"""Forms of verification: the professional address, domain rules, a moderator's decision."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from campaign.petitions.models import Category
from campaign.verification.models import ReviewDecision
from campaign.verification.services import DomainRuleInvalid, normalise_pattern
from campaign.web.forms import email_address, strip_text


class ProfessionalAddressForm(FlaskForm):
    """A second, professional address, confirmed by email."""

    email = EmailField(
        _l("Professional email address"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Enter your professional email address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
            email_address,
        ],
    )


class DomainRuleForm(FlaskForm):
    """An official domain (or pattern) of a category."""

    category = SelectField(_l("Category"), validators=[InputRequired(_l("Choose a category."))])
    pattern = StringField(
        _l("Domain or pattern"),
        filters=[strip_text],
        validators=[DataRequired(_l("Enter a domain such as senat.fr.")), Length(max=253)],
    )

    def offer_choices(self, categories: list[Category], locale: str) -> DomainRuleForm:
        """The categories, in the reader's language."""
        self.category.choices = [SelectChoice(c.key, c.label(locale)) for c in categories]
        return self

    def validate_pattern(self, field: StringField) -> None:
        try:
            normalise_pattern(field.data or "")
        except DomainRuleInvalid as error:
            raise ValidationError(
                _l(
                    "Enter a domain such as senat.fr, or a pattern such as chu-*.fr (the * "
                    "stands for letters, digits or hyphens within one part of the name)."
                )
            ) from error


class ReviewForm(FlaskForm):
    """A moderator's decision on a signature's category, with its reason."""

    decision = RadioField(
        _l("Decision"),
        choices=[
            SelectChoice(
                ReviewDecision.APPROVED.value, _l("Verified: this person belongs to the category")
            ),
            SelectChoice(
                ReviewDecision.REJECTED.value, _l("Not verified: lower the signature's level")
            ),
        ],
        validators=[InputRequired(_l("Choose a decision."))],
    )
    reason = TextAreaField(
        _l("Reason (kept with the signature; sent to the signer if not verified)"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Give the reason for your decision.")),
            Length(max=300, message=_l("At most %(max)d characters.")),
        ],
    )
