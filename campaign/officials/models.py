"""The officials directory: the people Tribune can write to (MPs, senators, ministers,
regulators), kept up to date by CSV imports and marked when their address bounces.

Mailings write to them; verification reads the MP roster from them."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db


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
