"""Signatories' subscription to updates: the one-click unsubscribe of RFC 8058."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

import campaign.audit as audit
from campaign.extensions import db
from campaign.petitions.models import Petition
from campaign.signatures.consent import ConsentEvent, ConsentKind
from campaign.signatures.models import Signature

UNSUBSCRIBED_BY = "signer (unsubscribe link)"


def unsubscribe_signatory(signature_id: int, now: datetime) -> bool:
    """Stop updates to this signatory: contact_ok false, recorded as a consent taken back
    under the petition's current consent text, and audit-logged. Harmless when repeated
    (mail providers may POST twice); returns whether anything changed."""
    changed = db.session.execute(
        update(Signature)
        .where(Signature.id == signature_id, Signature.contact_ok.is_(True))
        .values(contact_ok=False)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        db.session.rollback()
        return False
    signature = db.session.get(Signature, signature_id)
    db.session.refresh(signature)
    version = db.session.get(Petition, signature.petition_id).consent_version
    db.session.add(ConsentEvent.about(signature, ConsentKind.CONTACT, False, now, version))
    audit.record(
        "signer unsubscribed",
        now,
        actor_label=UNSUBSCRIBED_BY,
        petition_id=signature.petition_id,
        detail=f"signature {signature_id}",
        count=1,
    )
    db.session.commit()
    return True
