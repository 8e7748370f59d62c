"""Finding, writing and rendering petitions: texts, their versions, and the lifecycle."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from difflib import SequenceMatcher
from enum import StrEnum
from io import BytesIO
from urllib.parse import urlsplit

import nh3
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from campaign.accounts.models import PetitionModerator, Role, User
from campaign.audit import record
from campaign.errors import DomainError, InvalidTransition
from campaign.extensions import db
from campaign.petitions.models import (
    LIFECYCLE_STEPS,
    PETITION_TRANSITIONS,
    PUBLIC,
    SUMMARY_MAX_LENGTH,
    Category,
    LifecycleStep,
    Petition,
    PetitionCategory,
    PetitionImage,
    PetitionStatus,
    PetitionText,
)

# The shared set of categories: key, French label, English label, position.
DEFAULT_CATEGORIES = [
    ("clinician", "Soignantes et soignants", "Clinicians", 10),
    ("researcher", "Chercheuses et chercheurs", "Researchers", 20),
    ("engineer", "Ingénieures et ingénieurs", "Engineers", 30),
    ("mp", "Parlementaires", "Members of parliament", 40),
    ("organisation", "Organisations", "Organisations", 50),
    ("citizen", "Citoyennes et citoyens", "Citizens", 60),
]

# CommonMark without raw HTML; nh3 then keeps only harmless tags, whatever the parser does.
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "h2", "h3", "h4",
    "code", "pre", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def render_markdown(text: str) -> Markup:
    """Markdown to sanitised HTML, safe to insert in a page."""
    html = _markdown.render(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above


def find_petition(petition_id: int) -> Petition | None:
    """A petition by id, whatever its state."""
    return db.session.get(Petition, petition_id)


def find_petition_by_slug(slug: str) -> Petition | None:
    """A petition by slug, whatever its state."""
    return db.session.scalar(select(Petition).where(Petition.slug == slug))


def find_public_petition(slug: str) -> Petition | None:
    """A petition visitors may see (not a draft), by slug, with its texts and offered
    categories: the one way to read a public petition (the page, the sign form, the API)."""
    return db.session.scalar(
        select(Petition)
        .where(Petition.slug == slug, Petition.status.in_(PUBLIC))
        .options(
            selectinload(Petition.texts),
            selectinload(Petition.offered_categories).joinedload(PetitionCategory.category),
        )
    )


def open_petitions() -> list[Petition]:
    """Petitions currently shown as open, newest first."""
    query = select(Petition).where(Petition.status == PetitionStatus.OPEN)
    return list(db.session.scalars(query.order_by(Petition.created_at.desc())))


def ensure_default_categories() -> None:
    """Create the shared categories that do not exist yet."""
    existing = set(db.session.scalars(select(Category.key)))
    for key, label_fr, label_en, position in DEFAULT_CATEGORIES:
        if key not in existing:
            db.session.add(Category(key=key, label_fr=label_fr, label_en=label_en,
                                    position=position))  # fmt: skip
    db.session.flush()


# --- Writing petitions in the workspace ------------------------------------------------------


class PetitionInputError(DomainError):
    """A submitted value the data refuses (an address taken...); `field` names the form field
    it is about, empty for the form as a whole."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class TextSubmission:
    """The title, summary and Markdown body submitted for one language."""

    language: str
    title: str
    summary: str
    body: str


@dataclass(frozen=True)
class NewCategory:
    """A category to add to the shared list, and to offer."""

    key: str
    label_fr: str
    label_en: str


@dataclass(frozen=True)
class OpEdSubmission:
    """How newspapers publish the op-ed: its initiators (a line of names), the newspaper that
    published it, on which day, the article's address, and a press contact."""

    initiators: str = ""
    newspaper: str = ""
    published_on: date | None = None
    article_url: str = ""
    press_contact: str = ""


@dataclass(frozen=True)
class PetitionSubmission:
    """What an organiser submitted, already validated by the form."""

    slug: str | None  # None keeps the address (a public petition's never changes)
    language: str
    goal: int
    opens_at: datetime | None
    closes_at: datetime | None
    category_keys: tuple[str, ...]
    new_categories: tuple[NewCategory, ...] = ()
    texts: tuple[TextSubmission, ...] = ()
    op_ed: OpEdSubmission | None = None  # None keeps the petition's


@dataclass(frozen=True)
class TextChange:
    """How one language's text changes, part by part, as word-level diffs."""

    language: str
    title: Markup
    summary: Markup
    body: Markup


class NewVersionUnconfirmed(DomainError):
    """A title or body change would publish a new version of a signed text: the organiser
    confirms, having seen the changes, before it is accepted."""

    def __init__(self, version: int, signers: int, changes: list[TextChange]) -> None:
        super().__init__(version)
        self.version = version
        self.next_version = version + 1
        self.signers = signers
        self.changes = changes


class EditOutcome(StrEnum):
    UNCHANGED = "unchanged"
    SAVED = "saved"
    NEW_VERSION = "new_version"


def normalise_text(text: str) -> str:
    """Unix line ends and no surrounding blank space, so that an unchanged text compares equal."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def shared_categories() -> list[Category]:
    """Every category petitions may offer, in the shared order."""
    return list(db.session.scalars(select(Category).order_by(Category.position, Category.key)))


def can_create_petitions(user: User) -> bool:
    """Admins and organisers start petitions; moderators do not."""
    return user.role in {Role.ADMIN, Role.ORGANISER}


def create_petition(submitted: PetitionSubmission, owner: User, now: datetime) -> Petition:
    """A draft owned by `owner`, with version 1 of its texts; raises PetitionInputError."""
    if not submitted.slug:
        raise PetitionInputError("slug", _l("Choose an address."))
    _ensure_slug_free(submitted.slug)
    _ensure_new_categories(submitted)
    _ensure_texts_fit(submitted.texts)
    check_op_ed(submitted.op_ed)
    positions = _category_positions()
    petition = Petition(
        slug=submitted.slug,
        language=submitted.language,
        status=PetitionStatus.DRAFT,
        goal=submitted.goal,
        opens_at=submitted.opens_at,
        closes_at=submitted.closes_at,
        current_version=1,
        owner_id=owner.id,
        created_at=now,
        updated_at=now,
    )
    petition.texts = [_text_row(text, 1, now) for text in submitted.texts]
    _apply_op_ed(petition, submitted.op_ed)
    _offer_categories(petition, submitted, positions, owner, now)
    db.session.add(petition)
    _flush_or_refuse(submitted.slug)
    record("petition created", now, actor=owner, petition_id=petition.id, detail=petition.slug)
    _commit_or_refuse(submitted.slug)
    return petition


@dataclass(frozen=True)
class Endorsements:
    """What an edit must know of the petition's signatures (every state but withdrawn): how
    many endorse each text version, and the categories they chose."""

    by_version: Mapping[int, int]
    categories: frozenset[str]


def update_petition(
    petition: Petition,
    submitted: PetitionSubmission,
    actor: User,
    now: datetime,
    *,
    endorsements: Endorsements,
    confirmed_version: int | None = None,
) -> EditOutcome:
    """Apply an edit. A text that anyone signed is never rewritten: changing it publishes the
    next version, and a title or body change first raises NewVersionUnconfirmed unless
    `confirmed_version` is the current one. Goal, dates and categories change in place.
    `endorsements` is what the signatures domain, above this one, counts of the petition's
    signatures (signatures/services.py: endorsements_of)."""
    if not petition.is_editable():
        raise PetitionInputError("", _l("An archived petition cannot be changed."))
    _ensure_texts_fit(submitted.texts)
    check_op_ed(submitted.op_ed)
    texts = [_normalised(text) for text in submitted.texts]
    changed, substantive = _compare_texts(petition, texts)
    version = petition.current_version
    publishes = changed and sum(endorsements.by_version.values()) > 0
    if publishes and substantive and confirmed_version != version:
        signers = endorsements.by_version.get(version, 0)
        raise NewVersionUnconfirmed(version, signers, text_changes(petition, texts))
    signers = endorsements.by_version.get(version, 0) if publishes else 0
    if submitted.slug is not None and submitted.slug != petition.slug:
        if petition.status != PetitionStatus.DRAFT:
            raise PetitionInputError("slug", _l("The address of a public petition cannot change."))
        _ensure_slug_free(submitted.slug)
    _ensure_new_categories(submitted)
    _ensure_categories_removable(petition, submitted, endorsements)
    changed_fields = _apply_settings(petition, submitted, _category_positions(), actor, now)
    if publishes:
        _publish_version(petition, texts, now)
        record(
            "petition version published",
            now,
            actor=actor,
            petition_id=petition.id,
            detail=f"version {version + 1}",
            count=signers,
        )
    elif changed:
        _rewrite_current_version(petition, texts, now)
        changed_fields.append("texts")
    if changed_fields:
        record(
            "petition edited",
            now,
            actor=actor,
            petition_id=petition.id,
            detail=", ".join(changed_fields),
        )
    if not (publishes or changed_fields):
        db.session.rollback()
        return EditOutcome.UNCHANGED
    _commit_or_refuse(petition.slug)
    return EditOutcome.NEW_VERSION if publishes else EditOutcome.SAVED


# Each lifecycle step's name in the audit log.
LIFECYCLE_ACTIONS = {
    LifecycleStep.OPEN: "petition opened",
    LifecycleStep.CLOSE: "petition closed",
    LifecycleStep.REOPEN: "petition reopened",
    LifecycleStep.ARCHIVE: "petition archived",
}


def take_lifecycle_step(
    petition: Petition, step: LifecycleStep, actor: User, now: datetime
) -> None:
    """Open, close, reopen or archive; raises InvalidTransition when the state forbids it,
    also when another organiser changed the state meanwhile (the UPDATE is guarded)."""
    source, to = LIFECYCLE_STEPS[step]
    moved = PETITION_TRANSITIONS.move(
        db.session, Petition, source, to, Petition.id == petition.id, updated_at=now
    )
    if not moved:
        db.session.rollback()
        raise InvalidTransition(f"petition {petition.slug}: {step} from {petition.status}")
    detail = f"{source} → {to}"
    record(LIFECYCLE_ACTIONS[step], now, actor=actor, petition_id=petition.id, detail=detail)
    db.session.commit()
    db.session.refresh(petition)


def _normalised(text: TextSubmission) -> TextSubmission:
    return TextSubmission(
        language=text.language,
        title=text.title.strip(),
        summary=normalise_text(text.summary),
        body=normalise_text(text.body),
    )


def _text_row(text: TextSubmission, version: int, now: datetime) -> PetitionText:
    text = _normalised(text)
    return PetitionText(
        version=version,
        language=text.language,
        title=text.title,
        summary=text.summary,
        body=text.body,
        created_at=now,
    )


def _parts(text: PetitionText | TextSubmission | None) -> tuple[str, str, str]:
    return (text.title, text.summary, text.body) if text else ("", "", "")


def _current_by_language(petition: Petition) -> dict[str, PetitionText]:
    return {text.language: text for text in petition.current_texts()}


def _compare_texts(petition: Petition, texts: list[TextSubmission]) -> tuple[bool, bool]:
    """Whether the texts change at all, and whether a title or a body does."""
    current = _current_by_language(petition)
    proposed = {text.language: text for text in texts}
    changed = substantive = False
    for language in current.keys() | proposed.keys():
        old, new = _parts(current.get(language)), _parts(proposed.get(language))
        changed = changed or old != new
        substantive = substantive or old[0] != new[0] or old[2] != new[2]
    return changed, substantive


def text_changes(petition: Petition, texts: list[TextSubmission]) -> list[TextChange]:
    """Word-level diffs between the current texts and the submitted ones, per language."""
    current = _current_by_language(petition)
    proposed = {text.language: _normalised(text) for text in texts}
    changes = []
    for language in sorted(current.keys() | proposed.keys(), key=_language_order):
        old, new = _parts(current.get(language)), _parts(proposed.get(language))
        if old != new:
            changes.append(TextChange(language, *map(word_diff, old, new)))
    return changes


def _language_order(language: str) -> tuple[int, str]:
    return (0 if language == "fr" else 1, language)


def _ensure_slug_free(slug: str) -> None:
    if db.session.scalar(select(Petition.id).where(Petition.slug == slug)) is not None:
        raise PetitionInputError("slug", _l("This address is taken: choose another."))


def _ensure_categories_removable(
    petition: Petition, submitted: PetitionSubmission, endorsements: Endorsements
) -> None:
    """A category that signatures chose stays offered, or they would drop out of its count."""
    removed = {offered.category_key for offered in petition.offered_categories} - set(
        submitted.category_keys
    )
    if removed & endorsements.categories:
        raise PetitionInputError(
            "categories", _l("Signatories chose a category you unticked: it stays offered.")
        )


def _category_positions() -> dict[str, int]:
    return dict(db.session.execute(select(Category.key, Category.position)).all())


def _ensure_new_categories(submitted: PetitionSubmission) -> None:
    keys = [new.key for new in submitted.new_categories]
    if keys and db.session.scalar(select(func.count(Category.key)).where(Category.key.in_(keys))):
        raise PetitionInputError("", _l("One of the new categories exists already."))


def _offer_categories(
    petition: Petition,
    submitted: PetitionSubmission,
    positions: dict[str, int],
    actor: User,
    now: datetime,
) -> None:
    """Offer the ticked categories and the new ones (added to the shared list), in the shared
    order."""
    next_position = max(positions.values(), default=0) + 10
    for new in submitted.new_categories:
        db.session.add(
            Category(
                key=new.key, label_fr=new.label_fr, label_en=new.label_en, position=next_position
            )
        )
        record("category created", now, actor=actor, detail=new.key)
        positions[new.key] = next_position
        next_position += 10
    wanted = [key for key in submitted.category_keys if key in positions]
    wanted += [new.key for new in submitted.new_categories]
    kept = {offered.category_key: offered for offered in petition.offered_categories}
    offered = []
    for key in sorted(set(wanted), key=lambda key: (positions[key], key)):
        row = kept.get(key) or PetitionCategory(category_key=key)
        row.position = positions[key]
        offered.append(row)
    petition.offered_categories = offered


def _apply_settings(
    petition: Petition,
    submitted: PetitionSubmission,
    positions: dict[str, int],
    actor: User,
    now: datetime,
) -> list[str]:
    """Address, language, goal, dates, categories and the op-ed's publication details;
    returns the names of what changed."""
    before = {
        "address": petition.slug,
        "language": petition.language,
        "goal": petition.goal,
        "dates": (petition.opens_at, petition.closes_at),
        "categories": [offered.category_key for offered in petition.offered_categories],
        "op-ed": _op_ed_of(petition),
    }
    if submitted.slug is not None:
        petition.slug = submitted.slug
    petition.language = submitted.language
    petition.goal = submitted.goal
    petition.opens_at = submitted.opens_at
    petition.closes_at = submitted.closes_at
    _apply_op_ed(petition, submitted.op_ed)
    _offer_categories(petition, submitted, positions, actor, now)
    after = {
        "address": petition.slug,
        "language": petition.language,
        "goal": petition.goal,
        "dates": (petition.opens_at, petition.closes_at),
        "categories": [offered.category_key for offered in petition.offered_categories],
        "op-ed": _op_ed_of(petition),
    }
    return [name for name in before if before[name] != after[name]]


def _ensure_texts_fit(texts: tuple[TextSubmission, ...]) -> None:
    """A summary longer than the limit is refused, never cut (the form says so first)."""
    for text in texts:
        if len(normalise_text(text.summary)) > SUMMARY_MAX_LENGTH:
            raise PetitionInputError(
                f"summary_{text.language}",
                _l("At most %(max)d characters.", max=SUMMARY_MAX_LENGTH),
            )


def _op_ed_of(petition: Petition) -> OpEdSubmission:
    return OpEdSubmission(
        initiators=petition.initiators or "",
        newspaper=petition.newspaper or "",
        published_on=petition.published_on,
        article_url=petition.article_url or "",
        press_contact=petition.press_contact or "",
    )


def _apply_op_ed(petition: Petition, op_ed: OpEdSubmission | None) -> None:
    if op_ed is None:
        return
    petition.initiators = _one_line(op_ed.initiators)
    petition.newspaper = _one_line(op_ed.newspaper)
    petition.published_on = op_ed.published_on
    petition.article_url = op_ed.article_url.strip()
    petition.press_contact = _one_line(op_ed.press_contact)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def check_op_ed(op_ed: OpEdSubmission | None) -> None:
    """The rules of the op-ed's publication details; raises PetitionInputError naming the
    field: a newspaper goes with the day it published the op-ed (and the day with a
    newspaper), an article's address needs its newspaper and is an http(s) address of
    another site, with no user name or password in it."""
    if op_ed is None:
        return
    newspaper = _one_line(op_ed.newspaper)
    if newspaper and op_ed.published_on is None:
        raise PetitionInputError("published_on", _l("Enter the day the newspaper published it."))
    if op_ed.published_on is not None and not newspaper:
        raise PetitionInputError("newspaper", _l("Enter the newspaper that published it."))
    url = op_ed.article_url.strip()
    if not url:
        return
    if not newspaper:
        raise PetitionInputError("newspaper", _l("Enter the newspaper that published it."))
    if len(url) > 500 or not _is_article_address(url):
        raise PetitionInputError(
            "article_url",
            _l("Enter the address of the article, starting with https:// or http://."),
        )


def _is_article_address(url: str) -> bool:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        return False
    return (
        parts.scheme in {"http", "https"}
        and bool(parts.hostname)
        and "." in (parts.hostname or "")
        and not parts.username
        and not parts.password
        and port_ok
        and not any(char.isspace() or ord(char) < 32 for char in url)
    )


def op_ed_fields(petition: Petition) -> dict[str, str]:
    """The op-ed's public publication details, only those given, as strings (a day as
    YYYY-MM-DD): what a publication's header fixes, and the API shows."""
    fields = {
        "initiators": petition.initiators or "",
        "newspaper": petition.newspaper or "",
        "published_on": petition.published_on.isoformat() if petition.published_on else "",
        "article_url": petition.article_url or "",
        "press_contact": petition.press_contact or "",
        "image_sha256": petition.image_sha256 or "",
        "image_alt": (petition.image_alt or "") if petition.image_sha256 else "",
    }
    return {key: value for key, value in fields.items() if value}


@dataclass(frozen=True)
class OpEd:
    """The op-ed's publication details as pages and files show them: from the petition, or
    from the fields a publication fixed (op_ed_fields)."""

    initiators: str = ""
    newspaper: str = ""
    published_on: date | None = None
    article_url: str = ""
    press_contact: str = ""
    image_sha256: str = ""
    image_alt: str = ""
    image_width: int | None = None
    image_height: int | None = None

    def __bool__(self) -> bool:
        return bool(self.initiators or self.newspaper or self.press_contact or self.image_sha256)

    @classmethod
    def from_fields(cls, fields: dict[str, str] | None) -> OpEd:
        """The details a publication fixed (an older one has none)."""
        fields = fields or {}
        day = fields.get("published_on")
        return cls(
            initiators=fields.get("initiators", ""),
            newspaper=fields.get("newspaper", ""),
            published_on=date.fromisoformat(day) if day else None,
            article_url=fields.get("article_url", ""),
            press_contact=fields.get("press_contact", ""),
            image_sha256=fields.get("image_sha256", ""),
            image_alt=fields.get("image_alt", ""),
        )


def op_ed_of(petition: Petition) -> OpEd:
    """The petition's current op-ed details, for its pages."""
    return OpEd(
        initiators=petition.initiators or "",
        newspaper=petition.newspaper or "",
        published_on=petition.published_on,
        article_url=petition.article_url or "",
        press_contact=petition.press_contact or "",
        image_sha256=petition.image_sha256 or "",
        image_alt=petition.image_alt or "",
        image_width=petition.image_width,
        image_height=petition.image_height,
    )


# --- The petition's image ---------------------------------------------------------------------

# What organisers may upload: these formats, up to this size; Tribune re-encodes the image as
# a JPEG at most IMAGE_MAX_WIDTH wide, without any metadata (EXIF, GPS position, XMP,
# comments), and serves it itself.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
IMAGE_MAX_BYTES = 5 * 1024 * 1024
IMAGE_MAX_PIXELS = 40_000_000
IMAGE_MAX_WIDTH = 1200
IMAGE_MEDIA_TYPE = "image/jpeg"


@dataclass(frozen=True)
class CleanImage:
    """An image as Tribune keeps it: JPEG bytes without metadata, and their digest."""

    content: bytes
    sha256: str
    width: int
    height: int


def reencode_image(data: bytes) -> CleanImage:
    """A JPEG, PNG or WebP image re-encoded as a JPEG without metadata, turned upright by its
    EXIF orientation, transparency on white, at most IMAGE_MAX_WIDTH wide; raises
    PetitionInputError("image") for anything else, or too large."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    refused = PetitionInputError(
        "image", _l("Choose a JPEG, PNG or WebP image of at most %(size)s MB.", size=5)
    )
    if not data or len(data) > IMAGE_MAX_BYTES:
        raise refused
    try:
        with Image.open(BytesIO(data), formats=IMAGE_FORMATS) as image:
            if image.width * image.height > IMAGE_MAX_PIXELS:
                raise refused
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgba = upright.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise refused from error
    if rgba.width > IMAGE_MAX_WIDTH:
        height = max(1, round(rgba.height * IMAGE_MAX_WIDTH / rgba.width))
        rgba = rgba.resize((IMAGE_MAX_WIDTH, height), Image.Resampling.LANCZOS)
    # A new image holds the pixels only: nothing of the upload's metadata comes along.
    clean = Image.new("RGB", rgba.size, (255, 255, 255))
    clean.paste(rgba, mask=rgba.getchannel("A"))
    output = BytesIO()
    clean.save(output, "JPEG", quality=85, optimize=True, progressive=True)
    content = output.getvalue()
    return CleanImage(content, hashlib.sha256(content).hexdigest(), clean.width, clean.height)


def store_petition_image(
    petition: Petition, data: bytes, alt: str, actor: User, now: datetime
) -> PetitionImage:
    """Replace the petition's image by the upload, re-encoded (reencode_image); `alt`, the
    text read in its place, is required. Raises PetitionInputError and changes nothing."""
    alt = _one_line(alt or "")
    if not alt:
        raise PetitionInputError("image_alt", _l("Describe the image for those who cannot see it."))
    if len(alt) > 300:
        raise PetitionInputError("image_alt", _l("At most %(max)d characters.", max=300))
    clean = reencode_image(data)
    image = db.session.get(PetitionImage, petition.id) or PetitionImage(petition_id=petition.id)
    image.sha256, image.media_type, image.content = clean.sha256, IMAGE_MEDIA_TYPE, clean.content
    image.width, image.height, image.created_at = clean.width, clean.height, now
    db.session.add(image)
    petition.image_sha256, petition.image_alt = clean.sha256, alt
    petition.image_width, petition.image_height = clean.width, clean.height
    petition.updated_at = now
    record("petition image changed", now, actor=actor, petition_id=petition.id,
           detail=clean.sha256[:16])  # fmt: skip
    db.session.commit()
    return image


def remove_petition_image(petition: Petition, actor: User, now: datetime) -> None:
    """Take the petition's image away (its address then answers 404)."""
    image = db.session.get(PetitionImage, petition.id)
    if image is None and petition.image_sha256 is None:
        return
    if image is not None:
        db.session.delete(image)
    petition.image_sha256, petition.image_alt = None, ""
    petition.image_width = petition.image_height = None
    petition.updated_at = now
    record("petition image removed", now, actor=actor, petition_id=petition.id)
    db.session.commit()


def find_petition_image(petition_id: int, sha256: str) -> PetitionImage | None:
    """The petition's image if its digest is `sha256` (an old address finds nothing)."""
    return db.session.scalar(
        select(PetitionImage).where(
            PetitionImage.petition_id == petition_id, PetitionImage.sha256 == sha256
        )
    )


def _publish_version(petition: Petition, texts: list[TextSubmission], now: datetime) -> None:
    version = petition.current_version + 1
    petition.texts.extend(_text_row(text, version, now) for text in texts)
    petition.current_version = version
    petition.updated_at = now


def _rewrite_current_version(
    petition: Petition, texts: list[TextSubmission], now: datetime
) -> None:
    """Change the current version in place: only while nobody has signed it."""
    current = _current_by_language(petition)
    proposed = {text.language: text for text in texts}
    for language in current.keys() - proposed.keys():
        petition.texts.remove(current[language])
    for language, text in proposed.items():
        row = current.get(language)
        if row is None:
            petition.texts.append(_text_row(text, petition.current_version, now))
        elif _parts(row) != _parts(text):
            row.title, row.summary, row.body = _parts(text)
            row.created_at = now
    petition.updated_at = now


def _flush_or_refuse(slug: str) -> None:
    try:
        db.session.flush()
    except IntegrityError as error:
        db.session.rollback()
        raise _conflict(slug) from error


def _commit_or_refuse(slug: str) -> None:
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise _conflict(slug) from error


def _conflict(slug: str) -> PetitionInputError:
    """Another request took the address or published a version at the same moment."""
    if db.session.scalar(select(Petition.id).where(Petition.slug == slug)) is None:
        return PetitionInputError(
            "", _l("Someone changed this petition at the same time: check it and save again.")
        )
    return PetitionInputError("slug", _l("This address is taken: choose another."))


# --- Version history -------------------------------------------------------------------------

# Words, runs of blank space, and single punctuation marks: what a diff shows as changed.
_DIFF_TOKENS = re.compile(r"\w+|\s+|[^\w\s]")
# Above this many token comparisons, common tokens stop anchoring matches (difflib's
# autojunk), which keeps a long rewritten paragraph fast at the cost of a coarser diff.
_EXACT_DIFF_LIMIT = 1_000_000


def word_diff(old: str, new: str) -> Markup:
    """Word-level differences, escaped: <del> and <ins>, each announced in words to screen
    readers, since strike-through and underline are not read out. Lines are matched first,
    then words within the lines that changed, so that long texts stay fast."""
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    parts = []
    for operation, i1, i2, j1, j2 in _opcodes(before, after, exact=True):
        if operation == "equal":
            parts.append(escape("".join(before[i1:i2])))
        else:
            parts.extend(_word_changes("".join(before[i1:i2]), "".join(after[j1:j2])))
    return Markup("").join(parts)


def _opcodes(before: list[str], after: list[str], exact: bool):
    return SequenceMatcher(None, before, after, autojunk=not exact).get_opcodes()


def _word_changes(old: str, new: str) -> list[Markup]:
    before, after = _DIFF_TOKENS.findall(old), _DIFF_TOKENS.findall(new)
    exact = len(before) * len(after) <= _EXACT_DIFF_LIMIT
    parts = []
    for operation, i1, i2, j1, j2 in _opcodes(before, after, exact):
        if operation == "equal":
            parts.append(escape("".join(before[i1:i2])))
            continue
        if i2 > i1:
            parts.append(_marked("del", "".join(before[i1:i2])))
        if j2 > j1:
            parts.append(_marked("ins", "".join(after[j1:j2])))
    return parts


_DELETED = Markup(
    '<del><span class="visually-hidden">{start} </span>{text}'
    '<span class="visually-hidden"> {end}</span></del>'
)
_INSERTED = Markup(
    '<ins><span class="visually-hidden">{start} </span>{text}'
    '<span class="visually-hidden"> {end}</span></ins>'
)


def _marked(tag: str, text: str) -> Markup:
    if tag == "del":
        return _DELETED.format(start=gettext("[deleted:"), text=text, end=gettext("end deleted]"))
    return _INSERTED.format(start=gettext("[added:"), text=text, end=gettext("end added]"))


@dataclass(frozen=True)
class PublishedVersion:
    """One version of a petition's text, as the public history shows it."""

    number: int
    published_at: datetime
    text: PetitionText
    body: Markup
    confirmed_signatures: int
    changes: list[TextChange]  # from the version before, per language; empty for the first


def version_history(
    petition: Petition, locale: str, counts: Mapping[int, int]
) -> list[PublishedVersion]:
    """Every version of the texts, newest first, with its confirmed signatures (`counts`, per
    version: signatures/services.py: confirmed_signatures_by_version) and what changed from
    the version before in each language, the reader's first."""
    by_version: dict[int, dict[str, PetitionText]] = {}
    for row in petition.texts:
        by_version.setdefault(row.version, {})[row.language] = row
    history = []
    previous: dict[str, PetitionText] = {}
    for number in sorted(by_version):
        texts = by_version[number]
        changes = []
        if previous:
            languages = previous.keys() | texts.keys()
            for language in sorted(languages, key=lambda code: (code != locale, code)):
                before, after = _parts(previous.get(language)), _parts(texts.get(language))
                if before != after:
                    changes.append(TextChange(language, *map(word_diff, before, after)))
        text = petition.text(locale, number)
        history.append(
            PublishedVersion(
                number=number,
                published_at=min(row.created_at for row in texts.values()),
                text=text,
                body=render_markdown(text.body),
                confirmed_signatures=counts.get(number, 0),
                changes=changes,
            )
        )
        previous = texts
    return history[::-1]


def petitions_visible_to(user: User) -> list[Petition]:
    """The petitions a user works on in the workspace."""
    query = select(Petition).order_by(Petition.created_at.desc())
    if user.role == Role.ORGANISER:
        query = query.where(Petition.owner_id == user.id)
    elif user.role == Role.MODERATOR:
        query = query.join(PetitionModerator, PetitionModerator.petition_id == Petition.id).where(
            PetitionModerator.user_id == user.id
        )
    return list(db.session.scalars(query))
