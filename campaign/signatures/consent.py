"""Consent records: what a signer agreed to (or took back), when, and under which text."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from campaign.extensions import db
from campaign.signatures.models import Signature


class ConsentKind(StrEnum):
    SIGN = "sign"
    PUBLISH_NAME = "publish_name"
    PUBLISH_TITLE = "publish_title"
    PUBLISH_ORGANISATION = "publish_organisation"
    CONTACT = "contact"


# The signature's flag that holds the current state of each revocable consent.
CONSENT_FLAGS = {
    ConsentKind.PUBLISH_NAME: "show_name",
    ConsentKind.PUBLISH_TITLE: "show_title",
    ConsentKind.PUBLISH_ORGANISATION: "show_organisation",
    ConsentKind.CONTACT: "contact_ok",
}
# What the retention purge keeps: the proof that the signature and its publication were
# consented to. Contact consent goes with the address it was about.
PROOF_OF_CONSENT = frozenset(set(ConsentKind) - {ConsentKind.CONTACT})


class ConsentEvent(db.Model):
    """One consent given or taken back, with the version of the consent text shown."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    signature_id: Mapped[int] = mapped_column(
        ForeignKey("signatures.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    what: Mapped[ConsentKind] = mapped_column(String(30))
    given: Mapped[bool]
    consent_version: Mapped[str] = mapped_column(String(20))

    @classmethod
    def about(
        cls,
        signature: Signature,
        kind: ConsentKind,
        given: bool,
        now: datetime,
        version: str | None = None,
    ) -> ConsentEvent:
        """An event about `signature`, under the consent text `version` shown (by default
        the one it was signed under)."""
        return cls(
            signature_id=signature.id,
            at=now,
            what=kind,
            given=given,
            consent_version=version or signature.consent_version,
        )


def consent_events_at_signing(
    signature_id: int, signature: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """The consents recorded with a new signature, as consent_events rows: to sign, and each
    choice of the form, under the consent text it was signed under. `signature` holds the
    signature's column values."""
    version = signature["consent_version"]
    choices = [(ConsentKind.SIGN, True)]
    choices += [(kind, bool(signature[flag])) for kind, flag in CONSENT_FLAGS.items()]
    return [
        {
            "signature_id": signature_id,
            "at": now,
            "what": kind,
            "given": given,
            "consent_version": version,
        }
        for kind, given in choices
    ]
