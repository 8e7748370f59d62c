"""Petition, its texts per language, and the categories its signatories choose from."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from campaign.clock import utcnow
from campaign.errors import InvalidTransition
from campaign.extensions import db
from campaign.transitions import StateMachine


class PetitionStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    ARCHIVED = "archived"


class LifecycleStep(StrEnum):
    """A lifecycle button of the workspace: each is a guarded method of Petition."""

    OPEN = "open"
    CLOSE = "close"
    REOPEN = "reopen"
    ARCHIVE = "archive"


# The summary's limit, stated on the form and enforced as a form error (never truncated).
SUMMARY_MAX_LENGTH = 500

SIGNABLE = frozenset({PetitionStatus.OPEN})
PUBLIC = frozenset({PetitionStatus.OPEN, PetitionStatus.CLOSED, PetitionStatus.ARCHIVED})
PETITION_TRANSITIONS = StateMachine(
    "petition",
    {
        PetitionStatus.DRAFT: {PetitionStatus.OPEN},
        PetitionStatus.OPEN: {PetitionStatus.CLOSED},
        PetitionStatus.CLOSED: {PetitionStatus.OPEN, PetitionStatus.ARCHIVED},
        PetitionStatus.ARCHIVED: set(),
    },
)
# Each lifecycle button: the state it starts from and the state it leads to ("open" and
# "reopen" both lead to open, from draft and from closed).
LIFECYCLE_STEPS = {
    LifecycleStep.OPEN: (PetitionStatus.DRAFT, PetitionStatus.OPEN),
    LifecycleStep.CLOSE: (PetitionStatus.OPEN, PetitionStatus.CLOSED),
    LifecycleStep.REOPEN: (PetitionStatus.CLOSED, PetitionStatus.OPEN),
    LifecycleStep.ARCHIVE: (PetitionStatus.CLOSED, PetitionStatus.ARCHIVED),
}


def signable(
    status: str, opens_at: datetime | None, closes_at: datetime | None, now: datetime
) -> bool:
    """Whether a petition in this state and with these dates accepts signatures now."""
    return (
        status in SIGNABLE
        and (opens_at is None or opens_at <= now)
        and (closes_at is None or now < closes_at)
    )


class Category(db.Model):
    """A kind of signatory (clinician, engineer, MP...), shared by all petitions."""

    __tablename__ = "categories"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    label_fr: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(default=0)

    def label(self, locale: str) -> str:
        """The label in the given language, French otherwise."""
        return self.label_en if locale == "en" else self.label_fr


class PetitionCategory(db.Model):
    """A category offered by a petition, in the petition's order."""

    __tablename__ = "petition_categories"

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    category_key: Mapped[str] = mapped_column(ForeignKey("categories.key"), primary_key=True)
    position: Mapped[int] = mapped_column(default=0)

    category: Mapped[Category] = relationship(lazy="joined")


class PetitionText(db.Model):
    """The title, summary and body of a petition in one language, in one numbered version:
    signatures record the version they endorsed, so an edit never changes what they signed."""

    __tablename__ = "petition_texts"
    __table_args__ = (UniqueConstraint("petition_id", "version", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(default=1)
    language: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(SUMMARY_MAX_LENGTH), default="")
    body: Mapped[str] = mapped_column(Text)


class Petition(db.Model):
    """A tribune-petition: an op-ed that people sign, in one or more languages."""

    __tablename__ = "petitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    language: Mapped[str] = mapped_column(String(5), default="fr")
    status: Mapped[PetitionStatus] = mapped_column(
        String(20), default=PetitionStatus.DRAFT, index=True
    )
    goal: Mapped[int] = mapped_column(default=1000)
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    consent_version: Mapped[str] = mapped_column(String(20), default="1")
    current_version: Mapped[int] = mapped_column(default=1)
    # When set (comma-separated), only addresses at these domains may sign.
    allowed_email_domains: Mapped[str] = mapped_column(String(500), default="")
    # The origins (scheme://host[:port], one a line, or *) whose pages may frame the embed
    # (/p/<slug>/embed); empty: no site may. Checked by campaign.petitions.embeds.
    embed_origins: Mapped[str] = mapped_column(String(2000), default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The highest goal milestone (25, 50, 75, 100 %) the organiser was told about.
    milestone_notified: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The op-ed as newspapers publish it (all public, all optional): who initiated it, where
    # and when a newspaper published it (a link to the article, never an embed), whom the
    # press calls, and an image the organisers uploaded (bytes in PetitionImage; its digest
    # names it in URLs, so that a new image gets a new address).
    initiators: Mapped[str] = mapped_column(String(500), default="", server_default="")
    newspaper: Mapped[str] = mapped_column(String(200), default="", server_default="")
    published_on: Mapped[date | None]
    article_url: Mapped[str] = mapped_column(String(500), default="", server_default="")
    press_contact: Mapped[str] = mapped_column(String(300), default="", server_default="")
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    image_width: Mapped[int | None]
    image_height: Mapped[int | None]
    image_alt: Mapped[str] = mapped_column(String(300), default="", server_default="")

    texts: Mapped[list[PetitionText]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    offered_categories: Mapped[list[PetitionCategory]] = relationship(
        cascade="all, delete-orphan", order_by=PetitionCategory.position, lazy="selectin"
    )

    @property
    def categories(self) -> list[Category]:
        """The categories offered, in the petition's order."""
        return [offered.category for offered in self.offered_categories]

    def current_texts(self) -> list[PetitionText]:
        """The texts of the current version, one per language."""
        return [text for text in self.texts if text.version == self.current_version]

    def text(self, locale: str, version: int | None = None) -> PetitionText:
        """The text in the reader's language (or the petition's own), of the current version
        unless another is asked for."""
        wanted = version or self.current_version
        by_language = {text.language: text for text in self.texts if text.version == wanted}
        return (
            by_language.get(locale)
            or by_language.get(self.language)
            or next(iter(by_language.values()))
        )

    def accepts_signatures(self, now: datetime) -> bool:
        """Open, and within its opening and closing dates."""
        return signable(self.status, self.opens_at, self.closes_at, now)

    def is_public(self) -> bool:
        """Shown to visitors (every state but draft)."""
        return self.status in PUBLIC

    def take(self, step: LifecycleStep) -> None:
        """Make a lifecycle step on this (unsaved or loaded) petition; raises
        InvalidTransition when its state forbids it. Services use `move_lifecycle`, which
        also guards against a concurrent change."""
        source, to = LIFECYCLE_STEPS[step]
        if self.status != source:
            raise InvalidTransition(f"petition {self.slug}: {step} from {self.status}")
        PETITION_TRANSITIONS.check(source, to)
        self.status = to

    def open(self) -> None:
        """Start accepting signatures."""
        self.take(LifecycleStep.OPEN)

    def close(self) -> None:
        """Stop accepting signatures; the list stays public."""
        self.take(LifecycleStep.CLOSE)

    def reopen(self) -> None:
        """Accept signatures again after closing."""
        self.take(LifecycleStep.REOPEN)

    def archive(self) -> None:
        """Freeze a closed petition for good: still public, never signable nor editable."""
        self.take(LifecycleStep.ARCHIVE)

    def available_steps(self) -> list[LifecycleStep]:
        """The lifecycle steps that the current state allows, in the table's order."""
        return [step for step, (source, _) in LIFECYCLE_STEPS.items() if source == self.status]

    def is_editable(self) -> bool:
        """Texts and settings may change in every state but archived."""
        return self.status != PetitionStatus.ARCHIVED

    def versions(self) -> list[int]:
        """The numbers of the text versions, oldest first."""
        return sorted({text.version for text in self.texts})


class ShareCount(db.Model):
    """How many visits a share source (?s=mail, ?s=x...) brought to a petition on one day:
    a count per petition, source and day, never tied to a person (no address, no cookie)."""

    __tablename__ = "share_counts"

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(default=0, server_default="0")


class PetitionImage(db.Model):
    """The image of a petition, as Tribune re-encoded it (resized, without metadata): kept in
    the database, so that the embedded SQLite default and a PostgreSQL deployment serve it
    alike, backups hold it, and no shared directory is needed between processes."""

    __tablename__ = "petition_images"

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(40))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int]
    height: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
