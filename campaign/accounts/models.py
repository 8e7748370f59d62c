"""User accounts of the workspace, their roles, and who moderates which petition."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db


class Role(StrEnum):
    ADMIN = "admin"
    ORGANISER = "organiser"
    MODERATOR = "moderator"


# Roles that may export personal data (and so need a second factor when REQUIRE_2FA is on).
EXPORTS_PERSONAL_DATA = frozenset({Role.ADMIN, Role.ORGANISER})


def new_session_nonce() -> str:
    return secrets.token_hex(16)


class User(UserMixin, db.Model):
    """A workspace account. The session cookie names the user *and* a nonce that logout
    replaces, so a copied cookie stops working as soon as its owner logs out."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(20))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The time step of the last code accepted: a code is good once (no replay).
    totp_last_step: Mapped[int | None]
    session_nonce: Mapped[str] = mapped_column(String(32), default=new_session_nonce)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def exports_personal_data(self) -> bool:
        """Whether this role may download lists with email addresses."""
        return self.role in EXPORTS_PERSONAL_DATA


class PetitionModerator(db.Model):
    """A moderator assigned to a petition."""

    __tablename__ = "petition_moderators"

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
