"""Verification levels, domain rules per category, what a signer offered as proof, their
professional address, and the imported generations of the RPPS register."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.tokens import new_link_key


class ReviewDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class RegistryName(StrEnum):
    RPPS = "rpps"


class ImportStatus(StrEnum):
    # Being written: invisible to look-ups until it becomes active.
    LOADING = "loading"
    ACTIVE = "active"
    SUPERSEDED = "superseded"


class DomainRule(db.Model):
    """An official email domain of a category: `assemblee-nationale.fr` for mp, or a pattern
    with `*` inside one label (`chu-*.fr`). Subdomains match too. A rule without a petition
    is the site's (its admins'), in force on every petition; a rule with one is that
    petition's (its organisers') and verifies its signatures only. Removing a rule keeps its
    row (removed_at), so that the job re-assessing its category can still name it."""

    __tablename__ = "domain_rules"
    __table_args__ = (
        Index(
            "uq_domain_rules_site",
            "category_key",
            "pattern",
            unique=True,
            sqlite_where=text("petition_id IS NULL"),
            postgresql_where=text("petition_id IS NULL"),
        ),
        Index("uq_domain_rules_petition", "petition_id", "category_key", "pattern", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int | None] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    category_key: Mapped[str] = mapped_column(ForeignKey("categories.key", ondelete="CASCADE"))
    pattern: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    removed_at: Mapped[datetime | None]


class VerificationClaim(db.Model):
    """What a signer offered to prove their category, and a moderator's decision on it.
    Personal data: erased with the signature's other fields on withdrawal."""

    __tablename__ = "verification_claims"

    signature_id: Mapped[int] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), primary_key=True
    )
    rpps_number: Mapped[str | None] = mapped_column(String(11), index=True)
    # Free text for moderators only: a professional page, a registration number...
    evidence: Mapped[str | None] = mapped_column(String(300))
    decision: Mapped[ReviewDecision | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(300))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    # Professional-address emails sent for this signature, all addresses together.
    address_emails_sent: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProfessionalAddress(db.Model):
    """A second address a signer adds after signing to reach the domain level, without
    changing the one they signed with; kept like the main one (digest + Fernet)."""

    __tablename__ = "professional_addresses"
    # Confirmation links name the row's id: SQLite must never give a replaced address's id
    # to its successor (PostgreSQL's sequences never do).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), unique=True
    )
    email_digest: Mapped[str] = mapped_column(String(64), index=True)
    email_ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    # What its confirmation link is bound to (campaign/tokens.py).
    link_key: Mapped[str] = mapped_column(String(32), default=new_link_key)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]


class RegistryImport(db.Model):
    """One imported extract of a register. Look-ups read the active one only; an import
    writes a new generation and switches to it in one transaction."""

    __tablename__ = "registry_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    register: Mapped[RegistryName] = mapped_column(String(20), index=True)
    status: Mapped[ImportStatus] = mapped_column(String(20), default=ImportStatus.LOADING)
    source: Mapped[str] = mapped_column(String(255), default="")
    line_count: Mapped[int] = mapped_column(default=0)
    record_count: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None]


class RppsRecord(db.Model):
    """One line of the RPPS extract that Tribune needs: identifier, practising names,
    profession. A professional with several activities has several lines."""

    __tablename__ = "rpps_records"
    __table_args__ = (Index("ix_rpps_records_import_rpps", "import_id", "rpps"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("registry_imports.id", ondelete="CASCADE"))
    rpps: Mapped[str] = mapped_column(String(11))
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    profession_code: Mapped[str] = mapped_column(String(10), default="")
    profession_label: Mapped[str] = mapped_column(String(200), default="")
