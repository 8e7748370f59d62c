"""The audit log: who did what to which petition, when, and to how many signatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db


class AuditEntry(db.Model):
    """One recorded action. Never holds personal data of signers: counts and ids only."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60))
    petition_id: Mapped[int | None] = mapped_column(
        ForeignKey("petitions.id", ondelete="SET NULL"), index=True
    )
    detail: Mapped[str] = mapped_column(String(500), default="")
    count: Mapped[int] = mapped_column(default=0)


def record(
    action: str,
    now: datetime,
    *,
    actor=None,
    actor_label: str | None = None,
    petition_id: int | None = None,
    detail: str = "",
    count: int = 0,
) -> AuditEntry:
    """Add an entry to the current transaction; the caller's commit records it."""
    entry = AuditEntry(
        at=now,
        actor_id=getattr(actor, "id", None),
        actor=actor_label or getattr(actor, "email", None) or "system",
        action=action,
        petition_id=petition_id,
        detail=detail[:500],
        count=count,
    )
    db.session.add(entry)
    return entry


def recent_entries(limit: int = 200, before_id: int | None = None) -> list[AuditEntry]:
    """The newest entries first, keyset-paginated by id."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(db.session.scalars(query))
