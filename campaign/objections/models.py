"""Institutions supporters write to, each petition's objection letter template, and the
content-free timeline of the letters supporters prepared."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db


class InstitutionKind(StrEnum):
    """A body that holds the supporter's data (a health insurance fund), or the data
    protection authority that takes complaints about it."""

    HOLDER = "holder"
    AUTHORITY = "authority"


class Channel(StrEnum):
    """How the institution takes a request: by email, through its own portal, by post."""

    EMAIL = "email"
    PORTAL = "portal"
    POST = "post"


class Institution(db.Model):
    """One institution of the directory; `departements` lists the codes it serves, separated
    by spaces; empty for a national one (the authority)."""

    __tablename__ = "objection_institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The import key, as the organisers' file writes it ("cpam-75").
    key: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[InstitutionKind] = mapped_column(String(20))
    channel: Mapped[Channel] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254), default="")
    portal_url: Mapped[str] = mapped_column(String(500), default="")
    postal_address: Mapped[str] = mapped_column(Text, default="")
    # The days the institution has to answer before a complaint can follow.
    answer_days: Mapped[int] = mapped_column(default=30)
    departements: Mapped[str] = mapped_column(String(1000), default="")
    # The steps of the institution's own online channel, one per line, written by organisers.
    portal_steps: Mapped[str] = mapped_column(Text, default="")
    # On an authority: the steps of its online complaint form, one per line, written by
    # organisers; shown beside the complaint Tribune prepares.
    complaint_steps: Mapped[str] = mapped_column(Text, default="", server_default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def serves(self, departement: str) -> bool:
        """Whether the institution serves this département (a national one serves all)."""
        codes = self.departements.split()
        return not codes or departement in codes

    @property
    def steps(self) -> list[str]:
        """The portal steps, one per non-empty line."""
        return _lines(self.portal_steps)

    @property
    def complaint_form_steps(self) -> list[str]:
        """The steps of the authority's complaint form, one per non-empty line."""
        return _lines(self.complaint_steps)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


class ObjectionLetter(db.Model):
    """A petition's objection campaign: the letter template organisers wrote for it
    (sandboxed merge fields, as in mailings)."""

    __tablename__ = "objection_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), unique=True
    )
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EventKind(StrEnum):
    """A step of a supporter's request. Only the step is kept, never the letter."""

    PREPARED = "prepared"
    SENT = "sent"
    REMINDED = "reminded"
    # The supporter's word on the institution's answer, one of three (the last one given):
    # answered satisfactorily, answered unsatisfactorily, or no answer in the period.
    ANSWERED = "answered"
    ANSWERED_UNSATISFACTORILY = "answered_unsatisfactorily"
    NO_ANSWER = "no_answer"
    COMPLAINT_PREPARED = "complaint_prepared"


# What the supporter may say of the institution's answer, as the links write it.
ANSWERS = {
    "satisfactory": EventKind.ANSWERED,
    "unsatisfactory": EventKind.ANSWERED_UNSATISFACTORILY,
    "none": EventKind.NO_ANSWER,
}
# The answers after which Tribune prepares the complaint to the authority.
COMPLAINABLE = frozenset({EventKind.ANSWERED_UNSATISFACTORILY, EventKind.NO_ANSWER})


class ObjectionEvent(db.Model):
    """That a supporter took a step towards an institution, and when: no content, no name.
    Erased with the signature and by the retention purge."""

    __tablename__ = "objection_events"
    __table_args__ = (Index("ix_objection_events_signature", "signature_id", "institution_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(ForeignKey("signatures.id", ondelete="CASCADE"))
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("objection_institutions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[EventKind] = mapped_column(String(30))
    at: Mapped[datetime]
    # On a `sent` step whose supporter asked to be reminded: when the answer period ends.
    remind_at: Mapped[datetime | None]
