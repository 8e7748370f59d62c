"""Asking for the link to one's data, and changing one's consents."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from campaign.petitions.models import Petition
from campaign.web.forms import email_address, plain_text, strip_text


class RightsLinkForm(FlaskForm):
    """The address a petition was signed with, to send the link to its data."""

    email = EmailField(
        _l("Email address you signed with"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Enter your email address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
            email_address,
        ],
    )


class RightsLinkAnyPetitionForm(RightsLinkForm):
    """The same, from the footer: the signer also says which petition."""

    petition = SelectField(
        _l("Petition you signed"),
        validate_choice=True,
        validators=[InputRequired(_l("Choose the petition."))],
    )

    def offer_choices(self, petitions: list[Petition], locale: str) -> RightsLinkAnyPetitionForm:
        """The public petitions, by title in the reader's language."""
        self.petition.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(petition.slug, petition.text(locale).title) for petition in petitions
        ]
        return self


class ConsentForm(FlaskForm):
    """What may be published, and whether we may write: as on the sign form, both ways."""

    show_name = BooleanField(_l("Publish my name in the list of signatories"))
    show_title = BooleanField(_l("Publish my title or profession"))
    show_organisation = BooleanField(_l("Publish my organisation"))
    contact_ok = BooleanField(_l("Keep me informed about this petition"))


class DetailsForm(FlaskForm):
    """A signer's own correction of a typo in their title or organisation (the name, which
    the list sorts and the press checks, stays as signed)."""

    title = StringField(
        _l("Title or profession"),
        filters=[strip_text],
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
        render_kw={"autocomplete": "organization-title"},
    )
    organisation = StringField(
        _l("Organisation"),
        filters=[strip_text],
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
        render_kw={"autocomplete": "organization"},
    )
