"""A register badge follows its holder's whole life (issue 15.3): when the signature holding
an RPPS number's badge is withdrawn, erased, hidden or invalidated by a moderator, rejected in
the verification queue or struck off the register, it lets the badge go and shows it nowhere
(the list, the API, the press files); the next claimant of the number, waiting in the
moderators' queue, is not raised silently, and gets the badge by a moderator's decision.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from campaign.accounts.services import assign_moderator
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.privacy.services import erase_own_data
from campaign.publication.services import publish_snapshot
from campaign.signatures.models import Signature
from campaign.signatures.moderation import (
    hide_signature,
    invalidate_signature,
    restore_signature,
)
from campaign.signatures.services import withdraw_signature
from campaign.verification.models import ReviewDecision
from campaign.verification.registries import import_rpps_register
from campaign.verification.services import (
    decide_verification,
    reassess_registry_claims,
    verification_queue,
)
from tests.factories import make_petition, make_user
from tests.security.test_borrowed_badges import confirm, load_register, pending_physician
from tests.support import english_client, visible_text
from tests.verification.conftest import extract_line, extract_text

BADGE_WORDS = "✓ name and number in the RPPS register"


def strike_off(petition, holder, moderator) -> None:
    """A new register import without the number (the physician struck off)."""
    lines = [extract_line("99900000029", "DURAND", "Louis")]
    report = import_rpps_register(extract_text(lines).splitlines(), "new.txt", utcnow())
    assert report.imported, report.errors
    reassess_registry_claims(utcnow())


EVENTS: dict[str, Callable] = {
    "withdrawn": lambda petition, holder, moderator: withdraw_signature(holder.id, utcnow()),
    "erased": lambda petition, holder, moderator: erase_own_data(
        db.session.get(Signature, holder.id), utcnow()
    ),
    "hidden": lambda petition, holder, moderator: hide_signature(
        petition, holder.id, moderator, utcnow()
    ),
    "invalidated": lambda petition, holder, moderator: invalidate_signature(
        petition, holder.id, "Pas la signataire", moderator, utcnow()
    ),
    "rejected": lambda petition, holder, moderator: decide_verification(
        petition, holder.id, ReviewDecision.REJECTED, "Numéro emprunté", moderator, utcnow()
    ),
    "struck off": strike_off,
}


@pytest.fixture
def two_claimants(app):
    """Two confirmed signers giving one listed number: the first holds its badge, the second
    waits in the queue. And the petition's moderator."""
    load_register()
    petition = make_petition()
    moderator = make_user("moderator")
    assign_moderator(petition, moderator)
    client = english_client(app)
    holder, next_one = (pending_physician(petition, f"c{n}@example.net") for n in range(2))
    assert confirm(client, holder) == 303 and confirm(client, next_one) == 303
    assert badges(petition) == {holder.id: "registry"}
    assert shown_anywhere(client, petition) == ["list", "api", "press file"]
    return petition, holder, next_one, moderator, client


def badges(petition) -> dict[int, str]:
    """The signatures holding a register badge, with their level."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Signature.id, Signature.verification_level).where(
            Signature.petition_id == petition.id, Signature.register_badge.is_not(None)
        )
    )
    return {signature_id: str(level) for signature_id, level in rows}


def shown_anywhere(client, petition) -> list[str]:
    """Where the RPPS badge shows in public: the list, the API, the press file."""
    places = []
    listing = client.get(f"/p/{petition.slug}/signatories").get_data(as_text=True)
    if BADGE_WORDS in visible_text(listing):
        places.append("list")
    counts = client.get(f"/api/v1/petitions/{petition.slug}").json["verification_by_category"]
    if counts.get("clinician", {}).get("registry"):
        places.append("api")
    publish_snapshot(db.session.get(type(petition), petition.id), utcnow(), full=True)
    db.session.commit()
    # The latest publication: its entries and its counts (the chain keeps earlier headers).
    press = client.get(f"/p/{petition.slug}/signatories.json", buffered=True).get_json()
    listed = any(
        entry.get("verification") == "registry" or entry.get("verified_profession")
        for entry in press["entries"]
    )
    if listed or press["publication"]["verification"].get("clinician", {}).get("registry"):
        places.append("press file")
    return places


@pytest.mark.parametrize("event", list(EVENTS))
def test_a_holder_who_leaves_lets_the_badge_go_and_a_moderator_gives_it_to_the_next(
    two_claimants, event
):
    petition, holder, next_one, moderator, client = two_claimants
    EVENTS[event](petition, holder, moderator)
    assert badges(petition) == {}, "the holder let the badge go"
    holder_row = db.session.get(Signature, holder.id)
    assert holder_row.verification_level != "registry"
    assert holder_row.verified_profession is None
    assert shown_anywhere(client, petition) == []
    # Not silently: the next claimant stays at the confirmed-address level, in the queue.
    assert db.session.get(Signature, next_one.id).verification_level == "email"
    assert next_one.id in [item.signature.id for item in verification_queue(petition).items]
    if event == "struck off":
        return  # the number is in no register any more: nobody gets its badge
    decide_verification(
        petition, next_one.id, ReviewDecision.APPROVED, "Appel au cabinet", moderator, utcnow()
    )
    assert badges(petition) == {next_one.id: "moderator"}
    assert db.session.get(Signature, next_one.id).verified_profession == "Médecin"
    if event in {"hidden", "invalidated"}:
        # Restored, the first holder finds the badge taken and keeps a confirmed address.
        assert restore_signature(petition, holder.id, moderator, utcnow())
        assert badges(petition) == {next_one.id: "moderator"}
        assert db.session.get(Signature, holder.id).verification_level == "email"


def test_a_tombstone_keeps_no_level(two_claimants):
    _petition, holder, _next_one, _moderator, _client = two_claimants
    withdraw_signature(holder.id, utcnow())
    db.session.expire_all()
    levels = db.session.scalar(
        select(func.count(Signature.id)).where(
            Signature.id == holder.id, Signature.verification_level == "none"
        )
    )
    assert levels == 1
