"""Signature: one person's endorsement of one petition, and its states."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    and_,
    false,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import ColumnElement

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.levels import VerificationLevel, VerificationMethod
from campaign.tokens import new_link_key
from campaign.transitions import StateMachine

# Sort keys compare byte by byte on both databases: PostgreSQL's locale collations skip
# spaces, which would put "Leblond" before "Le Bouter".
SortKey = String(240).with_variant(String(240, collation="C"), "postgresql")


class SignatureStatus(StrEnum):
    PENDING = "pending"
    # Confirmed, but signed above a rate limit: not counted until a moderator releases it.
    SUSPECT = "suspect"
    CONFIRMED = "confirmed"
    HIDDEN = "hidden"
    INVALIDATED = "invalidated"
    WITHDRAWN = "withdrawn"


COUNTED = frozenset({SignatureStatus.CONFIRMED})
SIGNATURE_TRANSITIONS = StateMachine(
    "signature",
    {
        SignatureStatus.PENDING: {
            SignatureStatus.CONFIRMED,
            SignatureStatus.SUSPECT,
            SignatureStatus.WITHDRAWN,
        },
        SignatureStatus.SUSPECT: {
            SignatureStatus.CONFIRMED,
            SignatureStatus.INVALIDATED,
            SignatureStatus.WITHDRAWN,
        },
        SignatureStatus.CONFIRMED: {
            SignatureStatus.HIDDEN,
            SignatureStatus.INVALIDATED,
            SignatureStatus.WITHDRAWN,
        },
        SignatureStatus.HIDDEN: {
            SignatureStatus.CONFIRMED,
            SignatureStatus.INVALIDATED,
            SignatureStatus.WITHDRAWN,
        },
        SignatureStatus.INVALIDATED: {SignatureStatus.CONFIRMED, SignatureStatus.WITHDRAWN},
        SignatureStatus.WITHDRAWN: set(),
    },
)


class SignatoryKind(StrEnum):
    """Who signs: a person (first and last name), or an organisation (one name, written as
    it names itself, in last_name; its description in title; no first name)."""

    PERSON = "person"
    ORGANISATION = "organisation"


class Signature(db.Model):
    """A signature. The email is kept as a keyed digest (uniqueness, look-ups) and encrypted
    (sending mail); withdrawal erases both and the personal fields, leaving a tombstone."""

    __tablename__ = "signatures"
    __table_args__ = (
        UniqueConstraint("petition_id", "email_digest"),
        Index("ix_signatures_public_list", "petition_id", "status", "sort_last", "sort_first"),
        # The workspace table's keyset order, and bulk moderation by origin.
        Index("ix_signatures_petition_created", "petition_id", "created_at", "id"),
        # What changed in the public list since a publication (publication.services).
        Index("ix_signatures_petition_status_changed", "petition_id", "status_changed_at"),
        Index("ix_signatures_petition_first", "petition_id", "first_signatory"),
        Index("ix_signatures_petition_ip_digest", "petition_id", "ip_digest"),
        # The hourly counts of the sign path (signatures/rates.py) read the last hour's rows
        # of one IP or one domain, and moderation looks rows up by either digest.
        Index("ix_signatures_ip_digest_created", "ip_digest", "created_at"),
        Index("ix_signatures_domain_digest_created", "email_domain_digest", "created_at"),
        # One register entry (an RPPS number, a member of parliament of the directory) gives
        # its badge to one signature per petition: the database decides between two
        # confirmations at once (NULLs, the usual case, never collide).
        Index(
            "uq_signatures_petition_register_badge", "petition_id", "register_badge", unique=True
        ),
        # Never reuse an id (SQLite would reuse the highest after a delete): a link is about
        # one signature, for ever.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    status: Mapped[SignatureStatus] = mapped_column(String(20), default=SignatureStatus.PENDING)
    kind: Mapped[SignatoryKind] = mapped_column(
        String(20), default=SignatoryKind.PERSON, server_default=SignatoryKind.PERSON.value
    )
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    category_key: Mapped[str] = mapped_column(ForeignKey("categories.key"))
    departement: Mapped[str | None] = mapped_column(String(3))
    language: Mapped[str] = mapped_column(String(5), default="fr")
    # The version of the petition's text this signature endorsed.
    text_version: Mapped[int] = mapped_column(default=1)
    # Consents: publishing is opt-in per field; contact is opt-in.
    show_name: Mapped[bool] = mapped_column(default=False)
    show_title: Mapped[bool] = mapped_column(default=False)
    show_organisation: Mapped[bool] = mapped_column(default=False)
    contact_ok: Mapped[bool] = mapped_column(default=False)
    consent_version: Mapped[str] = mapped_column(String(20))
    consented_at: Mapped[datetime]
    # Personal data at rest.
    email_digest: Mapped[str | None] = mapped_column(String(64), index=True)
    # What every emailed link about this signature is bound to (campaign/tokens.py): random,
    # never changed, kept on the tombstone.
    link_key: Mapped[str] = mapped_column(String(32), default=new_link_key)
    email_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    ip_digest: Mapped[str | None] = mapped_column(String(32))
    # Signed above a rate limit: becomes suspect rather than confirmed.
    held_for_review: Mapped[bool] = mapped_column(default=False)
    # Keyed digest of the address's domain: moderators can act on a domain without the
    # addresses being readable.
    email_domain_digest: Mapped[str | None] = mapped_column(String(64))
    # Where the signature came from: "online", or the name of an imported list.
    source: Mapped[str] = mapped_column(String(100), default="online")
    imported_at: Mapped[datetime | None]
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderation_reason: Mapped[str | None] = mapped_column(String(300))
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None]
    # Verification of the category (campaign/verification): the public level, the check
    # that gave it, the profession a register names, and when the signer proved their address.
    verification_level: Mapped[VerificationLevel] = mapped_column(
        String(20), default=VerificationLevel.NONE, server_default=VerificationLevel.NONE.value
    )
    verification_method: Mapped[VerificationMethod | None] = mapped_column(String(30))
    verified_profession: Mapped[str | None] = mapped_column(String(200))
    address_confirmed_at: Mapped[datetime | None]
    # Keyed digest of the register entry whose badge this signature holds in its petition
    # (campaign/verification/services.py: register_badge_digest), or None.
    register_badge: Mapped[str | None] = mapped_column(String(64))
    # A first signatory (an initiator), shown first under its own heading; first_position is
    # the organisers' order among them (None: after those placed, by name). The organiser
    # who marked it attests it: the attested level (campaign/verification) rests on them.
    first_signatory: Mapped[bool] = mapped_column(default=False, server_default=false())
    first_position: Mapped[int | None]
    attested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    attested_at: Mapped[datetime | None]
    # Collation keys of the names, for the public order and accent-blind search.
    sort_last: Mapped[str] = mapped_column(SortKey, default="")
    sort_first: Mapped[str] = mapped_column(SortKey, default="")
    confirmation_sends: Mapped[int] = mapped_column(default=0)
    last_confirmation_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    # The two rules every domain asks about, written once: in Python on a loaded signature,
    # and in SQL (`select(...).where(Signature.published)`) on the table.
    @hybrid_property
    def counted(self) -> bool:
        """Whether this signature is in the petition's count."""
        return self.status in COUNTED

    @counted.inplace.expression
    @classmethod
    def _counted_expression(cls) -> ColumnElement[bool]:
        return cls.status.in_(COUNTED)

    @hybrid_property
    def published(self) -> bool:
        """Whether this signature appears in the public list (counted, name shown)."""
        return self.status in COUNTED and self.show_name

    @published.inplace.expression
    @classmethod
    def _published_expression(cls) -> ColumnElement[bool]:
        return and_(cls.status.in_(COUNTED), cls.show_name.is_(True))
