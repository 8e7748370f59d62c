"""Short factories with valid defaults: make_x(**overrides)."""

from __future__ import annotations

import itertools
from datetime import datetime

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.personal_data import email_digest, encrypt_email
from campaign.petitions.models import Petition, PetitionCategory, PetitionStatus, PetitionText
from campaign.petitions.services import DEFAULT_CATEGORIES
from campaign.signatures.counts import count_new_signatures
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import sort_key

_numbers = itertools.count(1)


def make_petition(**overrides) -> Petition:
    """An open petition in French and English offering every default category."""
    number = next(_numbers)
    title = overrides.pop("title", f"Pétition {number}")
    values = {
        "slug": f"petition-{number}",
        "language": "fr",
        "status": PetitionStatus.OPEN,
        "goal": 100,
    }
    values.update(overrides)
    petition = Petition(**values)
    petition.texts = [
        PetitionText(language="fr", title=title, body="Texte **important**."),
        PetitionText(language="en", title=f"{title} (en)", body="Important **text**."),
    ]
    petition.offered_categories = [
        PetitionCategory(category_key=key, position=position)
        for key, _fr, _en, position in DEFAULT_CATEGORIES
    ]
    db.session.add(petition)
    db.session.commit()
    return petition


def make_signature(petition: Petition, **overrides) -> Signature:
    """A confirmed, published signature unless told otherwise."""
    number = next(_numbers)
    now: datetime = overrides.pop("now", None) or utcnow()
    email = overrides.pop("email", f"signer{number}@example.org")
    values = {
        "petition_id": petition.id,
        "status": SignatureStatus.CONFIRMED,
        "first_name": f"Prénom{number}",
        "last_name": f"Nom{number}",
        "title": "",
        "organisation": "",
        "category_key": "citizen",
        "show_name": True,
        "consent_version": "1",
        "consented_at": now,
        "created_at": now,
        "confirmed_at": now,
        "status_changed_at": now,
    }
    # Confirmed online: the signer followed the emailed link, so the address is confirmed.
    confirmed_at = overrides.get("confirmed_at", now)
    confirmed_online = (
        confirmed_at is not None
        and overrides.get("status", SignatureStatus.CONFIRMED) != SignatureStatus.PENDING
        and overrides.get("source", "online") == "online"
    )
    values["verification_level"] = "email" if confirmed_online else "none"
    values["address_confirmed_at"] = confirmed_at if confirmed_online else None
    values.update(overrides)
    signature = Signature(
        **values,
        email_digest=email_digest(email),
        email_ciphertext=encrypt_email(email),
        sort_last=sort_key(values["last_name"]),
        sort_first=sort_key(values["first_name"]),
    )
    db.session.add(signature)
    db.session.flush()
    # Written as an import would: the petition's stored counts follow.
    count_new_signatures(db.session, [signature])
    db.session.commit()
    return signature


DEFAULT_PASSWORD = "correct horse battery staple"


def make_user(role: str = "organiser", **overrides):
    """A workspace account with DEFAULT_PASSWORD."""
    from campaign.accounts.services import create_user

    email = overrides.pop("email", f"user{next(_numbers)}@example.org")
    user = create_user(email, role, overrides.pop("password", DEFAULT_PASSWORD), utcnow())
    for name, value in overrides.items():
        setattr(user, name, value)
    db.session.commit()
    return user


def make_official(**overrides):
    """An active député of Paris, with an example.org address; an authority when its role
    is "autorite"."""
    from campaign.officials.models import Official, OfficialRole, kind_of_role

    number = next(_numbers)
    values = {
        "email": f"official{number}@example.org",
        "first_name": f"Prénom{number}",
        "last_name": f"Nom{number}",
        "role": OfficialRole.DEPUTE,
        "chamber": "Assemblée nationale",
        "departement": "75",
        "source": "factory",
    }
    values.update(overrides)
    values.setdefault("kind", kind_of_role(values["role"]))
    official = Official(**values)
    db.session.add(official)
    db.session.commit()
    return official
