"""Forms of the officials directory (the import upload, the list's filters) and of mailings
(the kind of a new one, the compose form, the buttons), and the supporter's letter."""

from __future__ import annotations

from dataclasses import asdict

from flask_babel import get_locale, get_timezone, to_user_timezone, to_utc
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
from campaign.mailings.recipients import (
    clean_selection,
    departements_after_regions,
    departements_matching,
)
from campaign.mailings.services import MailingFields, fields_of, text_digest
from campaign.mailings.templates import MAX_TEMPLATE_LENGTH
from campaign.officials.models import Official, OfficialKind, OfficialRole
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


KIND_OF_OFFICIAL_LABELS = {
    OfficialKind.PERSON: _l("People"),
    OfficialKind.AUTHORITY: _l("Authorities"),
}


class OfficialFilterForm(FlaskForm):
    """The directory's filters, read from the query string."""

    class Meta:
        csrf = False

    kind = SelectField(_l("Kind"), default="")
    role = SelectField(_l("Role"), default="")
    chamber = SelectField(_l("Chamber"), default="")
    departement = SelectField(_l("Département"), default="")
    include_retired = BooleanField(_l("Include retired officials"))

    def offer_choices(self, role_labels: dict, chambers: list[str]) -> OfficialFilterForm:
        """Fill the choices: roles, the chambers the directory names, départements."""
        everything = SelectChoice("", _l("All"))
        self.kind.choices = [everything] + [
            SelectChoice(kind.value, label) for kind, label in KIND_OF_OFFICIAL_LABELS.items()
        ]
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
            for name in ("kind", "role", "chamber", "departement")
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


# The picker names roles as groups, in both genders.
ROLE_GROUP_LABELS = {
    OfficialRole.DEPUTE: _l("Members of the National Assembly"),
    OfficialRole.SENATEUR: _l("Senators"),
    OfficialRole.DEPUTE_EUROPEEN: _l("Members of the European Parliament"),
    OfficialRole.MINISTRE: _l("Ministers"),
    OfficialRole.AUTRE: _l("Other officials"),
}


class RecipientPickerForm(FlaskForm):
    """The recipients of a letter to officials: roles, chambers and départements (criteria
    that select people, combined with AND), authorities ticked one by one, and officials
    picked by hand. Shared by the compose form and the live count (mailings.recipients)."""

    roles = CheckboxesField(_l("Roles"))
    chambers = CheckboxesField(_l("Chambers"))
    departements = CheckboxesField(_l("Départements"))
    # Ticking a région adds all its départements when the draft is saved (no JavaScript).
    regions = CheckboxesField(_l("Whole régions"))
    # The régions shown ticked whole: unticking one of them clears it (no JavaScript; the
    # script, which keeps the boxes in step, removes these).
    whole_regions_shown = CheckboxesField(validate_choice=False)
    departement_search = StringField(
        _l("Find a département by number or name"),
        filters=[strip_text],
        validators=[Length(max=60, message=_l("At most %(max)d characters."))],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    find_departements = SubmitField(_l("Find"))
    authority_ids = CheckboxesField(_l("Authorities"), coerce=int)
    official_ids = CheckboxesField(_l("Officials picked by hand"), coerce=int)

    def offer_recipients(
        self, chambers: list[str], officials: list[Official], authorities: list[Official]
    ) -> None:
        """Fill the choices: roles of people, their chambers, départements, régions, the
        authorities, and the people that may be picked by hand."""
        self.roles.choices = [
            SelectChoice(role.value, label) for role, label in ROLE_GROUP_LABELS.items()
        ]
        self.chambers.choices = [SelectChoice(chamber, chamber) for chamber in chambers]
        self.departements.choices = [
            SelectChoice(code, f"{code} – {name}") for code, name in DEPARTEMENTS.items()
        ]
        self.regions.choices = [SelectChoice(region, region) for region in REGIONS]
        self.authority_ids.choices = [
            SelectChoice(authority.id, _authority_label(authority)) for authority in authorities
        ]
        # One label per role and civility, not one translation lookup per official.
        roles: dict[tuple[str, str | None], str] = {}
        locale = str(get_locale())
        for official in officials:
            key = (official.role, official.civility)
            if key not in roles:
                roles[key] = role_label(official.role, locale, official.civility)
        self.official_ids.choices = [
            SelectChoice(
                official.id, _official_label(official, roles[official.role, official.civility])
            )
            for official in officials
        ]
        self._officials = officials

    def chosen_departements(self) -> list[str]:
        """The départements ticked, with the régions ticked whole added and those unticked
        cleared."""
        return departements_after_regions(
            self.departements.data or (),
            self.regions.data or (),
            self.whole_regions_shown.data or (),
        )

    def selection(self) -> dict[str, list]:
        """The recipients chosen, as a mailing stores them; values that are not choices are
        dropped."""
        offered = {
            name: {choice.value for choice in self[name].choices}
            for name in ("roles", "chambers", "authority_ids", "official_ids")
        }
        return clean_selection(
            {
                name: [value for value in self[name].data or () if value in offered[name]]
                for name in offered
            }
            | {"departements": self.chosen_departements()}
        )

    def finding_departements(self) -> bool:
        """Whether "Find" was pressed (nothing is saved then)."""
        return bool(self.find_departements.data)

    def found_departements(self) -> set[str] | None:
        """The départements the search finds, or None when nothing is searched."""
        query = self.departement_search.data or ""
        if not query or self.departement_search.errors:
            return None
        return set(departements_matching(query))


class RecipientCountForm(RecipientPickerForm):
    """A selection sent by the picker's script to count its recipients (a GET that changes
    nothing: no CSRF token)."""

    class Meta:
        csrf = False

    def accept_values(
        self, chambers: list[str], people: list[int], authorities: list[int]
    ) -> RecipientCountForm:
        """The values a selection may hold, without the labels a page would show (the count
        runs on every change: the directory is not loaded for it)."""
        self.offer_recipients(chambers, [], [])
        self.official_ids.choices = [SelectChoice(value) for value in people]
        self.authority_ids.choices = [SelectChoice(value) for value in authorities]
        return self


class MailingForm(RecipientPickerForm):
    """A mailing's name, templates, recipients, pace and time. "Search" lists more officials
    to pick, "Find" filters the départements, "Count the recipients" counts the selection,
    each keeping what was typed; "Save" saves the draft, template errors included."""

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
    official_search = StringField(
        _l("Find officials by name, chamber, département or constituency"),
        filters=[strip_text],
        validators=[Length(max=100, message=_l("At most %(max)d characters."))],
    )
    search = SubmitField(_l("Search"))
    count = SubmitField(_l("Count the recipients"))
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
        authorities: list[Official],
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
            for name in PICKER_FIELDS:
                delattr(form, name)
        if mailing.kind != MailingKind.REPRESENTATIVES:
            del form.official_daily_cap
            del form.hold_for_moderation
        else:
            # Supporters' letters are from the supporter, and replies go to them.
            del form.sender_name
            del form.reply_to_address
        if "roles" in form:
            form.offer_recipients(chambers, officials, authorities)
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
        """Whether "Search", "Find" or "Count the recipients" was pressed: the page is shown
        again with what was typed, and nothing is saved."""
        if "roles" not in self:
            return False
        return bool(self.search.data or self.count.data or self.find_departements.data)

    def counting(self) -> bool:
        """Whether "Count the recipients" was pressed."""
        return "count" in self and bool(self.count.data)

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
            "per_minute",
            "domain_cap_per_hour",
            "official_daily_cap",
            "hold_for_moderation",
            "sender_name",
            "reply_to_address",
        ):
            if name in self:
                setattr(fields, name, self[name].data)
        if "roles" in self:
            selection = self.selection()
            fields.roles, fields.chambers = selection["roles"], selection["chambers"]
            fields.departements = selection["departements"]
            fields.official_ids = selection["official_ids"]
            fields.authority_ids = selection["authority_ids"]
        fields.name = fields.name or ""
        fields.subject_template = fields.subject_template or ""
        fields.body_template = fields.body_template or ""
        fields.send_at = to_utc(self.send_at.data) if self.send_at.data else None
        return fields


# The compose form's fields of the recipients' picker, absent from other kinds of mailing.
PICKER_FIELDS = (
    "authority_ids",
    "official_ids",
    "roles",
    "chambers",
    "departements",
    "regions",
    "whole_regions_shown",
    "departement_search",
    "find_departements",
    "official_search",
    "search",
    "count",
)


def _official_label(official: Official, role: str) -> str:
    details = [role]
    details += [part for part in (official.chamber, official.departement) if part]
    return f"{official.last_name} {official.first_name} ({', '.join(details)})"


def _authority_label(authority: Official) -> str:
    """The institution, its head when named, and its département when it has one."""
    if authority.departement:
        return f"{authority.recipient_name} – {authority.departement}"
    return authority.recipient_name


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
