"""Forms of the officials directory (the import upload, the list's filters) and of mailings
(the kind of a new one, the compose form, the buttons), and the supporter's letter."""

from __future__ import annotations

from dataclasses import asdict

from flask_babel import get_timezone, to_user_timezone, to_utc
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from campaign.abuse import proof_is_valid
from campaign.clock import utcnow
from campaign.departements import DEPARTEMENTS, REGIONS
from campaign.mailings.letters import LetterDraft
from campaign.mailings.merge_fields import role_label
from campaign.mailings.models import Mailing, MailingKind
from campaign.mailings.services import MailingFields, fields_of, text_digest
from campaign.mailings.templates import MAX_TEMPLATE_LENGTH
from campaign.officials.models import Official, OfficialRole
from campaign.petitions.forms import CheckboxesField
from campaign.text_rules import is_email_address
from campaign.web.forms import plain_text, strip_text


class OfficialsImportForm(FlaskForm):
    """Upload a CSV file of officials, to preview its import."""

    file = FileField(_l("CSV file"), validators=[FileRequired(_l("Choose a CSV file."))])
    source = StringField(
        _l("Source of the records (optional)"),
        filters=[strip_text],
        validators=[Length(max=100, message=_l("At most %(max)d characters.")), plain_text],
    )
    deactivate_missing = BooleanField(
        _l("Retire the officials of the same source that this file no longer lists")
    )


class OfficialFilterForm(FlaskForm):
    """The directory's filters, read from the query string."""

    class Meta:
        csrf = False

    role = SelectField(_l("Role"), default="")
    chamber = SelectField(_l("Chamber"), default="")
    departement = SelectField(_l("Département"), default="")
    include_retired = BooleanField(_l("Include retired officials"))

    def offer_choices(self, role_labels: dict, chambers: list[str]) -> OfficialFilterForm:
        """Fill the choices: roles, the chambers the directory names, départements."""
        everything = SelectChoice("", _l("All"))
        self.role.choices = [everything] + [
            SelectChoice(role.value, role_labels.get(role, role.value)) for role in OfficialRole
        ]
        self.chamber.choices = [everything] + [SelectChoice(chamber) for chamber in chambers]
        self.departement.choices = [everything] + [
            SelectChoice(code, f"{code} – {name}") for code, name in DEPARTEMENTS.items()
        ]
        return self

    def criteria(self) -> dict[str, object]:
        """The valid filters, as official_directory's arguments; an invalid one is dropped."""
        return {
            name: getattr(self, name).data or None
            for name in ("role", "chamber", "departement")
            if not getattr(self, name).errors
        } | {"include_retired": bool(self.include_retired.data)}


# --- Mailings: the kind of a new one, the compose form, the buttons -----------------------------

KIND_LABELS = {
    MailingKind.LETTER: _l("A letter to officials"),
    MailingKind.REPRESENTATIVES: _l("A template for supporters’ letters to their representatives"),
    MailingKind.UPDATE: _l("An update to the signatories who asked to be kept informed"),
}
# Hand-picked officials: with no search, the whole directory is listed up to this size.
LISTED_WITHOUT_SEARCH = 100
SEARCH_RESULTS = 50


class NewMailingForm(FlaskForm):
    """Start a draft mailing: its kind and a name."""

    kind = RadioField(
        _l("What will you send?"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        validators=[InputRequired(_l("Choose what you will send."))],
    )
    name = StringField(
        _l("Name (only the workspace shows it)"),
        filters=[strip_text],
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
    )


def _count(label: str, minimum: int, maximum: int) -> IntegerField:
    return IntegerField(
        label,
        validators=[
            InputRequired(_l("Enter a number.")),
            NumberRange(
                min=minimum,
                max=maximum,
                message=_l("Enter a number from %(min)s to %(max)s."),
            ),
        ],
    )


class MailingForm(FlaskForm):
    """A mailing's name, templates, recipients, pace and time. "Search" lists more officials
    to pick, keeping what was typed; "Save" saves the draft, template errors included."""

    name = StringField(
        _l("Name (only the workspace shows it)"),
        filters=[strip_text],
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
    )
    subject_template = StringField(
        _l("Subject"),
        validators=[Length(max=500, message=_l("At most %(max)d characters."))],
    )
    body_template = TextAreaField(
        _l("Text of the letter"),
        validators=[Length(max=MAX_TEMPLATE_LENGTH, message=_l("At most %(max)d characters."))],
        render_kw={"rows": 18},
    )
    roles = CheckboxesField(_l("Roles"))
    chambers = CheckboxesField(_l("Chambers"))
    departements = CheckboxesField(_l("Départements"))
    # Ticking a région adds all its départements when the draft is saved (no JavaScript).
    regions = CheckboxesField(_l("Whole régions"))
    official_ids = CheckboxesField(_l("Officials picked by hand"), coerce=int)
    official_search = StringField(
        _l("Find officials by name, chamber, département or constituency"),
        filters=[strip_text],
        validators=[Length(max=100, message=_l("At most %(max)d characters."))],
    )
    search = SubmitField(_l("Search"))
    per_minute = _count(_l("Messages per minute (0: as fast as possible)"), 0, 10_000)
    domain_cap_per_hour = _count(
        _l("Messages per hour to any one email domain (0: no limit)"), 0, 100_000
    )
    official_daily_cap = _count(_l("Letters an official receives per day, at most"), 1, 10_000)
    hold_for_moderation = BooleanField(_l("A moderator reads each letter before it leaves"))
    sender_name = StringField(
        _l("Sender name"),
        filters=[strip_text],
        validators=[Length(max=100, message=_l("At most %(max)d characters.")), plain_text],
    )
    reply_to_address = StringField(
        _l("Address for replies (optional)"),
        filters=[strip_text],
        validators=[Length(max=254, message=_l("At most %(max)d characters."))],
        render_kw={"type": "email", "autocomplete": "email"},
    )
    send_at = DateTimeLocalField(
        _l("Send at (optional)"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        validators=[Optional()],
    )
    save = SubmitField(_l("Save the draft"))

    @classmethod
    def for_mailing(
        cls,
        mailing: Mailing,
        chambers: list[str],
        officials: list[Official],
        role_labels: dict,
        saved: bool = False,
    ) -> MailingForm:
        """The form filled with the mailing's settings (the submitted values, unless `saved`
        asks for the stored ones), with the fields of its kind only."""
        fields = fields_of(mailing)
        form = cls(
            **({"formdata": None} if saved else {}),
            data={
                **asdict(fields),
                "send_at": to_user_timezone(fields.send_at).replace(tzinfo=None)
                if fields.send_at
                else None,
            },
        )
        if mailing.kind != MailingKind.LETTER:
            for name in ("roles", "chambers", "departements", "regions", "official_ids"):
                delattr(form, name)
            del form.official_search
            del form.search
        if mailing.kind != MailingKind.REPRESENTATIVES:
            del form.official_daily_cap
            del form.hold_for_moderation
        else:
            # Supporters' letters are from the supporter, and replies go to them.
            del form.sender_name
            del form.reply_to_address
        if "roles" in form:
            form.roles.choices = [
                SelectChoice(role.value, role_labels[role]) for role in OfficialRole
            ]
            form.chambers.choices = [SelectChoice(chamber, chamber) for chamber in chambers]
            form.departements.choices = [
                SelectChoice(code, f"{code} – {name}") for code, name in DEPARTEMENTS.items()
            ]
            form.regions.choices = [SelectChoice(region, region) for region in REGIONS]
            form.official_ids.choices = [
                SelectChoice(official.id, _official_label(official, role_labels))
                for official in officials
            ]
            form._officials = officials
        return form

    def validate_reply_to_address(self, field: StringField) -> None:
        if field.data and not is_email_address(field.data):
            raise ValidationError(_l("Enter a valid email address, such as name@example.org."))

    def show_problem(self, part: str, message: str) -> None:
        """Show a template error next to the subject or the text."""
        field = self.subject_template if part == "subject" else self.body_template
        field.errors = [*field.errors, message]

    def timezone_name(self) -> str:
        """The zone the sending time is entered in."""
        return str(get_timezone())

    def searching(self) -> bool:
        """Whether "Search" was pressed (nothing is saved then)."""
        return "search" in self and bool(self.search.data)

    def shown_official_ids(self) -> set[int]:
        """The officials to list: those picked, and those the search finds (or the whole
        directory when it is small)."""
        if "official_ids" not in self:
            return set()
        picked = set(self.official_ids.data or ())
        query = (self.official_search.data or "").casefold()
        if not query:
            if len(self._officials) <= LISTED_WITHOUT_SEARCH:
                return {official.id for official in self._officials}
            return picked
        found = [official.id for official in self._officials if query in _searchable(official)]
        return picked | set(found[:SEARCH_RESULTS])

    def fields(self, mailing: Mailing) -> MailingFields:
        """What was submitted, over the mailing's settings that the form does not show."""
        fields = fields_of(mailing)
        for name in (
            "name",
            "subject_template",
            "body_template",
            "roles",
            "chambers",
            "departements",
            "official_ids",
            "per_minute",
            "domain_cap_per_hour",
            "official_daily_cap",
            "hold_for_moderation",
            "sender_name",
            "reply_to_address",
        ):
            if name in self:
                setattr(fields, name, self[name].data)
        if "regions" in self:
            for region in self.regions.data or ():
                fields.departements = [*fields.departements, *REGIONS.get(region, ())]
        fields.name = fields.name or ""
        fields.subject_template = fields.subject_template or ""
        fields.body_template = fields.body_template or ""
        fields.send_at = to_utc(self.send_at.data) if self.send_at.data else None
        return fields


def _official_label(official: Official, role_labels: dict) -> str:
    details = [str(role_labels.get(official.role, official.role))]
    details += [part for part in (official.chamber, official.departement) if part]
    return f"{official.last_name} {official.first_name} ({', '.join(details)})"


def _searchable(official: Official) -> str:
    parts = (
        official.first_name,
        official.last_name,
        official.full_name,
        official.chamber,
        official.departement or "",
        official.constituency,
    )
    return " | ".join(parts).casefold()


class MailingActionForm(FlaskForm):
    """A mailing's button: start, pause, resume, cancel, retry, test (CSRF only)."""


class StartForm(FlaskForm):
    """The confirmation of a sending: the recipients as shown (their digest) and, for a
    large mailing, their number typed by the organiser."""

    recipients_digest = HiddenField()
    typed_count = IntegerField(
        _l("Type the number of recipients to confirm"),
        validators=[Optional()],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )

    def confirming(self) -> bool:
        """Whether this is the confirmation (the second step), not the first "Send"."""
        return bool(self.recipients_digest.data)


class LetterForm(FlaskForm):
    """A supporter's letter: whom to, the subject, their own words and where they sign from.
    The service checks the letter itself (a one-line subject, their own words, lengths,
    officials of the département) and says what is wrong."""

    departement = SelectField(_l("Your département"), default="", validate_choice=False)
    officials = CheckboxesField(_l("Write to"), validate_choice=False)
    subject = StringField(_l("Subject"), filters=[strip_text])
    body = TextAreaField(_l("In your own words"), render_kw={"rows": 8})
    place = StringField(_l("Your commune (optional)"), filters=[strip_text])
    # Digest of the text as prefilled: an untouched text follows a change of département.
    draft_digest = HiddenField()
    altcha = HiddenField()
    show = SubmitField(_l("Show my representatives"))
    preview = SubmitField(_l("Preview the letters"))
    send = SubmitField(_l("Send my letter"))

    def offer_choices(self, officials: list[Official], locale: str) -> LetterForm:
        """The départements, and the officials of the one chosen."""
        self.departement.choices = [SelectChoice("", "—")] + [
            SelectChoice(code, f"{code} – {name}") for code, name in DEPARTEMENTS.items()
        ]
        self.officials.choices = [
            SelectChoice(
                str(official.id),
                f"{official.full_name} ({role_label(official.role, locale, official.civility)})",
            )
            for official in officials
        ]
        return self

    def chosen_departement(self) -> str:
        """The département asked for, if it is one."""
        value = self.departement.data or ""
        return value if value in DEPARTEMENTS else ""

    def official_ids(self) -> list[int]:
        """The ticked officials' ids; anything else is dropped."""
        return [int(value) for value in self.officials.data or [] if str(value).isdigit()]

    def fill(self, draft: LetterDraft, written: set[int], keep_text: bool) -> None:
        """Tick the officials not yet written to and, unless the supporter changed the
        text, put the organisers' subject and prompt in."""
        self.officials.data = [
            str(official.id) for official in draft.officials if official.id not in written
        ]
        if keep_text and self._text_changed():
            return
        self.subject.data, self.body.data = draft.subject, draft.prompt
        self.draft_digest.data = text_digest(f"{draft.subject}\n{draft.prompt}")

    def _text_changed(self) -> bool:
        typed = f"{self.subject.data or ''}\n{self.body.data or ''}"
        return bool(typed.strip()) and text_digest(typed) != self.draft_digest.data

    def validate_altcha(self, field: HiddenField) -> None:
        if not proof_is_valid(field.data, utcnow()):
            raise ValidationError(
                _l(
                    "The anti-robot check did not complete. Wait until it shows it is done "
                    "(it needs JavaScript), then send again."
                )
            )
