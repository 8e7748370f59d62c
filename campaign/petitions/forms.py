"""The workspace form that creates and edits a petition, and its lifecycle buttons."""

from __future__ import annotations

from datetime import datetime

from flask_babel import get_timezone, to_user_timezone, to_utc
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from campaign.petitions.models import SUMMARY_MAX_LENGTH, Category, Petition, PetitionStatus
from campaign.petitions.services import (
    DEFAULT_CATEGORIES,
    NewCategory,
    NewVersionUnconfirmed,
    OpEdSubmission,
    PetitionInputError,
    PetitionSubmission,
    TextSubmission,
    normalise_text,
)
from campaign.web.forms import multiline_text, plain_text, strip_text

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
CATEGORY_KEY_PATTERN = r"^[a-z0-9]+([-_][a-z0-9]+)*$"
# The languages a petition is written in; French first, and required unless the petition is
# in English.
TEXT_LANGUAGES = ("fr", "en")
LANGUAGE_CHOICES = [
    SelectChoice("fr", "Français", render_kw={"lang": "fr"}),
    SelectChoice("en", "English", render_kw={"lang": "en"}),
]


def _normalise(value: str | None) -> str | None:
    return normalise_text(value) if isinstance(value, str) else value


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class NewCategoryForm(Form):
    """One custom category, created in the shared list; a blank row is ignored."""

    key = StringField(
        _l("Key"),
        filters=[strip_text],
        validators=[
            Optional(),
            Length(max=40, message=_l("At most %(max)d characters.")),
            Regexp(
                CATEGORY_KEY_PATTERN,
                message=_l("Use lowercase letters, digits, hyphens or underscores."),
            ),
        ],
    )
    label_fr = StringField(
        _l("Label in French"),
        filters=[strip_text],
        validators=[Length(max=100, message=_l("At most %(max)d characters.")), plain_text],
    )
    label_en = StringField(
        _l("Label in English"),
        filters=[strip_text],
        validators=[Length(max=100, message=_l("At most %(max)d characters.")), plain_text],
    )

    def is_blank(self) -> bool:
        return not (self.key.data or self.label_fr.data or self.label_en.data)


def _title(language: str, label: str) -> StringField:
    return StringField(
        label,
        filters=[strip_text],
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
        render_kw={"lang": language},
    )


def _summary(language: str, label: str) -> TextAreaField:
    # No maxlength attribute: browsers would silently cut a pasted summary mid-word. The limit
    # is stated in the hint, counted live by static/js/counter.js, and refused by the server.
    return TextAreaField(
        label,
        filters=[_normalise],
        validators=[
            Length(max=SUMMARY_MAX_LENGTH, message=_l("At most %(max)d characters.")),
            multiline_text,
        ],
        render_kw={
            "lang": language,
            "rows": 3,
            "maxlength": False,
            "data-count-max": SUMMARY_MAX_LENGTH,
        },
    )


def _body(language: str, label: str) -> TextAreaField:
    return TextAreaField(
        label,
        filters=[_normalise],
        validators=[Length(max=100_000, message=_l("At most %(max)d characters."))],
        render_kw={"lang": language, "rows": 16},
    )


class PetitionForm(FlaskForm):
    """Address, language, texts in French and English, goal, categories and dates. "Preview"
    re-renders with the Markdown rendered; "Save" applies the change."""

    slug = StringField(
        _l("Address"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Choose an address.")),
            Length(max=80, message=_l("At most %(max)d characters.")),
            Regexp(SLUG_PATTERN, message=_l("Use lowercase letters, digits and hyphens only.")),
        ],
    )
    language = SelectField(_l("Language of the petition"), choices=LANGUAGE_CHOICES)
    title_fr = _title("fr", _l("Title in French"))
    summary_fr = _summary("fr", _l("Summary in French (optional)"))
    body_fr = _body("fr", _l("Text in French (Markdown)"))
    title_en = _title("en", _l("Title in English"))
    summary_en = _summary("en", _l("Summary in English (optional)"))
    body_en = _body("en", _l("Text in English (Markdown)"))
    goal = IntegerField(
        _l("Goal (number of signatures)"),
        validators=[
            InputRequired(_l("Enter a goal.")),
            NumberRange(min=1, max=100_000_000, message=_l("Enter a number from 1 upwards.")),
        ],
    )
    categories = CheckboxesField(_l("Categories offered to signatories"), validate_choice=True)
    new_categories = FieldList(FormField(NewCategoryForm), min_entries=2, max_entries=5)
    initiators = StringField(
        _l("Initiators (optional)"),
        filters=[strip_text],
        validators=[Length(max=500, message=_l("At most %(max)d characters.")), plain_text],
    )
    newspaper = StringField(
        _l("Newspaper that published it (optional)"),
        filters=[strip_text],
        validators=[Length(max=200, message=_l("At most %(max)d characters.")), plain_text],
    )
    published_on = DateField(
        _l("Published on"),
        validators=[Optional()],
        format="%Y-%m-%d",
    )
    article_url = StringField(
        _l("Address of the article (optional)"),
        filters=[strip_text],
        validators=[Length(max=500, message=_l("At most %(max)d characters."))],
        render_kw={"inputmode": "url", "autocomplete": "off", "spellcheck": "false"},
    )
    press_contact = StringField(
        _l("Press contact (optional)"),
        filters=[strip_text],
        validators=[Length(max=300, message=_l("At most %(max)d characters.")), plain_text],
    )
    opens_at = DateTimeLocalField(_l("Opens at (optional)"), validators=[Optional()])
    closes_at = DateTimeLocalField(_l("Closes at (optional)"), validators=[Optional()])
    # The version the organiser saw the changes against, and their confirmation.
    base_version = HiddenField()
    confirm_new_version = BooleanField()
    preview = SubmitField(_l("Preview"))
    save = SubmitField(_l("Save"))

    @classmethod
    def for_new_petition(cls, categories: list[Category], locale: str) -> PetitionForm:
        """An empty form, in French, offering the default categories."""
        defaults = {key for key, _fr, _en, _position in DEFAULT_CATEGORIES}
        form = cls(
            data={
                "language": "fr",
                "goal": 1000,
                "categories": [category.key for category in categories if category.key in defaults],
            }
        )
        return form.offer_categories(categories, locale)

    @classmethod
    def for_petition(cls, petition: Petition, categories: list[Category], locale: str):
        """The form filled with the petition's current values; a public petition keeps its
        address, so the field is left out."""
        data = {
            "slug": petition.slug,
            "language": petition.language,
            "goal": petition.goal,
            "categories": [category.key for category in petition.categories],
            "opens_at": _local(petition.opens_at),
            "closes_at": _local(petition.closes_at),
            "base_version": str(petition.current_version),
            "initiators": petition.initiators,
            "newspaper": petition.newspaper,
            "published_on": petition.published_on,
            "article_url": petition.article_url,
            "press_contact": petition.press_contact,
        }
        for text in petition.current_texts():
            if text.language in TEXT_LANGUAGES:
                data[f"title_{text.language}"] = text.title
                data[f"summary_{text.language}"] = text.summary
                data[f"body_{text.language}"] = text.body
        form = cls(data=data)
        if petition.status != PetitionStatus.DRAFT:
            del form.slug
        return form.offer_categories(categories, locale)

    def offer_categories(self, categories: list[Category], locale: str) -> PetitionForm:
        """The shared categories as checkboxes, in their order."""
        self.categories.choices = [
            SelectChoice(category.key, category.label(locale)) for category in categories
        ]
        self._existing_keys = {category.key for category in categories}
        return self

    def timezone_name(self) -> str:
        """The zone the dates are entered in."""
        return str(get_timezone())

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        checks = (self._texts_complete(), self._categories_chosen(), self._dates_in_order())
        return valid and all(checks)

    def _texts_complete(self) -> bool:
        complete = True
        for language in TEXT_LANGUAGES:
            title, summary, body = self._text_fields(language)
            required = self.language.data == language
            if required or title.data or summary.data or body.data:
                if not title.data:
                    title.errors.append(_l("Enter a title."))
                    complete = False
                if not body.data:
                    body.errors.append(_l("Enter the text."))
                    complete = False
        return complete

    def _categories_chosen(self) -> bool:
        chosen = True
        keys = set()
        for entry in self.new_categories:
            row = entry.form
            if row.is_blank():
                continue
            for part in (row.key, row.label_fr, row.label_en):
                if not part.data:
                    part.errors.append(_l("Fill in the key and both labels, or none."))
                    chosen = False
            if row.key.data in self._existing_keys:
                row.key.errors.append(_l("This category exists already: tick it in the list."))
                chosen = False
            elif row.key.data and row.key.data in keys:
                row.key.errors.append(_l("This key is used twice."))
                chosen = False
            keys.add(row.key.data)
        if not self.categories.data and not keys - {None, ""}:
            self.categories.errors.append(_l("Offer at least one category."))
            chosen = False
        return chosen

    def _dates_in_order(self) -> bool:
        opens, closes = self.opens_at.data, self.closes_at.data
        if opens and closes and closes <= opens:
            self.closes_at.errors.append(_l("The closing date must come after the opening."))
            return False
        return True

    def _text_fields(self, language: str):
        return (self[f"title_{language}"], self[f"summary_{language}"], self[f"body_{language}"])

    def submission(self) -> PetitionSubmission:
        """What was submitted, for the services; dates converted to UTC."""
        texts = []
        for language in TEXT_LANGUAGES:
            title, summary, body = self._text_fields(language)
            if title.data:
                texts.append(TextSubmission(language, title.data, summary.data or "", body.data))
        new_categories = tuple(
            NewCategory(entry.form.key.data, entry.form.label_fr.data, entry.form.label_en.data)
            for entry in self.new_categories
            if not entry.form.is_blank()
        )
        return PetitionSubmission(
            slug=self.slug.data if "slug" in self else None,
            language=self.language.data,
            goal=self.goal.data,
            opens_at=_utc(self.opens_at.data),
            closes_at=_utc(self.closes_at.data),
            category_keys=tuple(self.categories.data or ()),
            new_categories=new_categories,
            texts=tuple(texts),
            op_ed=OpEdSubmission(
                initiators=self.initiators.data or "",
                newspaper=self.newspaper.data or "",
                published_on=self.published_on.data,
                article_url=self.article_url.data or "",
                press_contact=self.press_contact.data or "",
            ),
        )

    def previews(self) -> list[TextSubmission]:
        """The texts to render in a preview, whatever their validity."""
        previews = []
        for language in TEXT_LANGUAGES:
            title, summary, body = self._text_fields(language)
            if title.data or summary.data or body.data:
                previews.append(
                    TextSubmission(language, title.data or "", summary.data or "", body.data or "")
                )
        return previews

    def confirmed_version(self) -> int | None:
        """The version the organiser confirmed replacing, if they ticked the box."""
        if self.confirm_new_version.data and (self.base_version.data or "").isdigit():
            return int(self.base_version.data)
        return None

    def ask_confirmation(self, pending: NewVersionUnconfirmed) -> None:
        """Show the box again, unticked, about the version the changes were computed against."""
        self.base_version.data = str(pending.version)
        self.confirm_new_version.data = False

    def reject(self, error: PetitionInputError) -> None:
        """Show a refusal from the services next to the field it is about."""
        if error.field and error.field in self:
            self[error.field].errors.append(error.message)
        else:
            self.form_errors.append(error.message)


class PetitionImageForm(FlaskForm):
    """The petition's image: a file and the text read in its place. The file's type, size and
    content are checked by the services, which re-encode it."""

    image = FileField(
        _l("Image (JPEG, PNG or WebP, at most 5 MB)"),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )
    image_alt = StringField(
        _l("Description of the image"),
        filters=[strip_text],
        validators=[
            DataRequired(_l("Describe the image for those who cannot see it.")),
            Length(max=300, message=_l("At most %(max)d characters.")),
            plain_text,
        ],
    )
    upload = SubmitField(_l("Upload the image"))

    def upload_bytes(self) -> bytes:
        """The uploaded file's bytes (empty without a file), at most one byte past the limit
        read, so that an oversized file is refused without being held whole."""
        from campaign.petitions.services import IMAGE_MAX_BYTES

        upload = self.image.data
        if upload is None or not hasattr(upload, "read"):
            return b""
        return upload.read(IMAGE_MAX_BYTES + 1)

    def reject(self, error: PetitionInputError) -> None:
        """Show a refusal from the services next to its field."""
        target = self._fields.get(error.field, self.image)
        target.errors = [*target.errors, error.message]


class PetitionActionForm(FlaskForm):
    """A lifecycle button (CSRF only)."""


def _local(moment: datetime | None) -> datetime | None:
    """A stored UTC time as the organiser's wall-clock time."""
    return to_user_timezone(moment).replace(tzinfo=None) if moment else None


def _utc(moment: datetime | None) -> datetime | None:
    """An entered wall-clock time as naive UTC, as stored."""
    return to_utc(moment) if moment else None


class EmbedOriginsForm(FlaskForm):
    """The sites allowed to frame the petition's embed, one origin per line."""

    origins = TextAreaField(
        _l("Sites allowed to show the embed"),
        filters=[strip_text],
        validators=[Length(max=2000, message=_l("At most %(max)d characters."))],
    )
