"""Officials, mailings (mail campaigns) and their deliveries.

A mailing is sent by materialising one Delivery row per recipient, each with a unique
idempotency key; workers then claim rows one at a time with a conditional update. The rows
are the truth: Redis only carries wake-up calls, so a flushed Redis or a killed worker loses
nothing, and a row is never sent twice.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, Session, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.tokens import new_link_key
from campaign.transitions import StateMachine


class OfficialRole(StrEnum):
    DEPUTE = "depute"
    SENATEUR = "senateur"
    DEPUTE_EUROPEEN = "depute_europeen"
    MINISTRE = "ministre"
    AUTORITE = "autorite"
    AUTRE = "autre"


class OfficialKind(StrEnum):
    """Whom a letter writes to: a person holding an office (a député, a minister), or an
    institution (the CNIL, a health insurance fund, a ministry's department), addressed as
    such and chosen in its own group of the recipients' picker."""

    PERSON = "person"
    AUTHORITY = "authority"


def kind_of_role(role: str) -> OfficialKind:
    """The kind of recipient a directory role stands for: "autorité" is an institution."""
    return OfficialKind.AUTHORITY if role == OfficialRole.AUTORITE else OfficialKind.PERSON


class Civility(StrEnum):
    """How a letter addresses the official: Madame or Monsieur. Unknown is None, and the
    letter says "Madame, Monsieur"."""

    MADAME = "mme"
    MONSIEUR = "m"


class Official(db.Model):
    """A recipient Tribune can write to: an MP, a senator, a minister (a person), or an
    authority (an institution: its name is `chamber`, and the names, when given, are its
    head's).

    Their address is a public, professional one; it is the import key.
    """

    __tablename__ = "officials"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    civility: Mapped[Civility | None] = mapped_column(String(3))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[OfficialRole] = mapped_column(String(30), index=True)
    # Follows the role (kind_of_role): the import and the factories set both.
    kind: Mapped[OfficialKind] = mapped_column(
        String(20), default=OfficialKind.PERSON, server_default=OfficialKind.PERSON, index=True
    )
    # "Assemblée nationale", "Sénat", "Parlement européen", "Gouvernement", "CNIL"...
    chamber: Mapped[str] = mapped_column(String(100), default="")
    departement: Mapped[str | None] = mapped_column(String(3), index=True)
    constituency: Mapped[str] = mapped_column(String(100), default="")
    party: Mapped[str] = mapped_column(String(100), default="")
    # Where the record comes from (an import's name) and the date of that record.
    source: Mapped[str] = mapped_column(String(100), default="")
    recorded_on: Mapped[date | None]
    active: Mapped[bool] = mapped_column(default=True)
    # Set when a server refused the address for good (5xx at RCPT or DATA): mailings skip
    # the official until an import lists them again.
    bouncing_since: Mapped[datetime | None]
    bounce_reason: Mapped[str] = mapped_column(String(300), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    @property
    def bouncing(self) -> bool:
        """Whether the address was refused for good and not re-imported since."""
        return self.bouncing_since is not None

    @property
    def is_authority(self) -> bool:
        """Whether this recipient is an institution rather than a person."""
        return self.kind == OfficialKind.AUTHORITY

    @property
    def head_named(self) -> bool:
        """Whether the directory names an authority's head (and says Madame or Monsieur)."""
        return bool(self.last_name and self.civility)

    @property
    def full_name(self) -> str:
        """First name then last name, as a letter addresses them; an authority whose head
        the directory does not name goes by its own name."""
        name = f"{self.first_name} {self.last_name}".strip()
        if self.is_authority and not name:
            return self.chamber
        return name

    @property
    def recipient_name(self) -> str:
        """How lists of recipients name it: the person, or the institution and its head."""
        if not self.is_authority:
            return self.full_name
        head = f"{self.first_name} {self.last_name}".strip()
        if head and head != self.chamber and self.chamber:
            return f"{self.chamber} ({head})"
        return self.chamber or head

    @property
    def email_domain(self) -> str:
        """The part of the address after the @, lower case."""
        return self.email.rpartition("@")[2].lower()


class MailingKind(StrEnum):
    # The organiser writes to officials.
    LETTER = "letter"
    # Supporters write to their own representatives, from the organiser's template.
    REPRESENTATIVES = "representatives"
    # The organiser writes to signatories who asked to be kept informed.
    UPDATE = "update"


class MailingStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


MAILING_TRANSITIONS = StateMachine(
    "mailing",
    {
        MailingStatus.DRAFT: {
            MailingStatus.SCHEDULED,
            MailingStatus.SENDING,
            MailingStatus.CANCELLED,
        },
        MailingStatus.SCHEDULED: {
            MailingStatus.SENDING,
            MailingStatus.DRAFT,
            MailingStatus.CANCELLED,
        },
        MailingStatus.SENDING: {MailingStatus.PAUSED, MailingStatus.DONE, MailingStatus.CANCELLED},
        MailingStatus.PAUSED: {MailingStatus.SENDING, MailingStatus.CANCELLED},
        # A supporters' mailing stays open to new letters; "retry failed" reopens a done one.
        MailingStatus.DONE: {MailingStatus.SENDING},
        MailingStatus.CANCELLED: set(),
    },
)
# Statuses in which workers take queued deliveries.
ACTIVE = frozenset({MailingStatus.SENDING})
EDITABLE = frozenset({MailingStatus.DRAFT})


class Mailing(db.Model):
    """A mail campaign of one petition: templates, recipients, pace, state."""

    __tablename__ = "mailings"

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[MailingKind] = mapped_column(String(20))
    status: Mapped[MailingStatus] = mapped_column(String(20), default=MailingStatus.DRAFT)
    name: Mapped[str] = mapped_column(String(200), default="")
    # Jinja templates run in the sandbox, with merge fields (see mailings.templates).
    subject_template: Mapped[str] = mapped_column(String(500), default="")
    body_template: Mapped[str] = mapped_column(Text, default="")
    # Who to write to: {"roles": [...], "chambers": [...], "departements": [...],
    # "official_ids": [...]}; criteria combine with AND, hand-picked ids are added.
    selection: Mapped[dict] = mapped_column(JSON, default=dict)
    # Messages per minute, spread evenly; 0 sends as fast as the workers go.
    per_minute: Mapped[int] = mapped_column(default=0)
    # Messages per hour to any one recipient domain; 0 for no cap.
    domain_cap_per_hour: Mapped[int] = mapped_column(default=0)
    # Supporters' letters: how many an official receives per day, and whether a moderator
    # reads each letter before it goes.
    official_daily_cap: Mapped[int] = mapped_column(default=50)
    hold_for_moderation: Mapped[bool] = mapped_column(default=False)
    send_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The organiser's address, for Reply-To: copied when sending starts.
    reply_to: Mapped[str] = mapped_column(String(254), default="")
    # Who the letter is from, in the From display name: "<sender_name> via <site>".
    sender_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # The campaign's address for replies; it must be confirmed (ReplyAddress) before a
    # mailing with it starts. Empty: the organiser's own account address.
    reply_to_address: Mapped[str] = mapped_column(String(254), default="", server_default="")
    # The recipients the organiser confirmed (official or signature ids), set when sending
    # is confirmed: a scheduled mailing writes to them, not to whoever matches later.
    confirmed_recipients: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @classmethod
    def move(
        cls,
        session: Session,
        mailing_id: int,
        sources: frozenset[MailingStatus],
        to: MailingStatus,
        **values: object,
    ) -> bool:
        """Move a mailing from one of `sources` to `to`, atomically; False when another
        request moved it first (a double-clicked "send" starts one run)."""
        return (
            MAILING_TRANSITIONS.move(session, cls, sources, to, cls.id == mailing_id, **values) == 1
        )


class ReplyAddress(db.Model):
    """A campaign's address for replies, and whether someone who reads it clicked the
    link sent there: an organiser cannot have officials reply to an address they do not
    hold."""

    __tablename__ = "reply_addresses"
    __table_args__ = (UniqueConstraint("petition_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    link_key: Mapped[str] = mapped_column(String(32), default=new_link_key)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]


class DeliveryStatus(StrEnum):
    # A supporter's letter waiting for a moderator.
    HELD = "held"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    # The worker died inside the SMTP exchange: the message may or may not have left.
    UNKNOWN = "unknown"
    # Cancelled with its mailing, or rejected by a moderator.
    CANCELLED = "cancelled"


DELIVERY_TRANSITIONS = StateMachine(
    "delivery",
    {
        # A moderator releases a held letter, or rejects it.
        DeliveryStatus.HELD: {DeliveryStatus.QUEUED, DeliveryStatus.CANCELLED},
        DeliveryStatus.QUEUED: {DeliveryStatus.SENDING, DeliveryStatus.CANCELLED},
        # A worker settles its claim: sent, failed for good, unknown (no answer after the
        # hand-over), back in the queue (retry later, or never handed over) or cancelled
        # (the recipient is gone).
        DeliveryStatus.SENDING: {
            DeliveryStatus.SENT,
            DeliveryStatus.FAILED,
            DeliveryStatus.UNKNOWN,
            DeliveryStatus.QUEUED,
            DeliveryStatus.CANCELLED,
        },
        # The sweeper marked it unknown while its worker still ran: the true outcome wins;
        # or the organiser decides it left, or that it goes again.
        DeliveryStatus.UNKNOWN: {
            DeliveryStatus.SENT,
            DeliveryStatus.FAILED,
            DeliveryStatus.QUEUED,
            DeliveryStatus.CANCELLED,
        },
        # "Retry failed".
        DeliveryStatus.FAILED: {DeliveryStatus.QUEUED},
        DeliveryStatus.SENT: set(),
        DeliveryStatus.CANCELLED: set(),
    },
)
OPEN_DELIVERIES = frozenset({DeliveryStatus.HELD, DeliveryStatus.QUEUED, DeliveryStatus.SENDING})


class Delivery(db.Model):
    """One message of a mailing to one recipient, sent at most once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_mailing_status", "mailing_id", "status", "not_before"),
        Index("ix_deliveries_official_sent", "official_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailing_id: Mapped[int] = mapped_column(ForeignKey("mailings.id", ondelete="CASCADE"))
    # "<mailing>:official:<id>", "<mailing>:signature:<id>:official:<id>" or
    # "<mailing>:signature:<id>": the same recipient is never materialised twice.
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    official_id: Mapped[int | None] = mapped_column(ForeignKey("officials.id", ondelete="SET NULL"))
    # The signatory written to (updates), or the supporter who wrote (letters).
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[DeliveryStatus] = mapped_column(String(20), default=DeliveryStatus.QUEUED)
    recipient_domain: Mapped[str] = mapped_column(String(254), default="")
    # Supporters' letters carry their own text; organiser mailings render the templates.
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    # Digest of the normalised text: many letters with the same one are flagged.
    text_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    flagged: Mapped[bool] = mapped_column(default=False)
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    # A fresh token per claim: a worker that lost its claim cannot settle the row.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
