"""Every public change reaches the downloads within PUBLICATION_MAX_DELAY (issue 16.4), not
only confirmations and withdrawals: a signer correcting their title (an organisation its
description) or choosing what to publish, a moderator restoring a name or deciding a
verification, an organiser marking, unmarking or reordering first signatories. Each sends
public_list_changed, and the slot's publication sees the change although the counts may
not move. Time is passed as `now`: nothing sleeps."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from campaign.privacy.services import ConsentChoices, change_consents, correct_details
from campaign.publication.services import (
    publish_changed_petitions,
    publish_if_changed,
    publish_snapshot,
)
from campaign.signatures.events import public_list_changed
from campaign.signatures.moderation import (
    hide_signature,
    mark_first_signatory,
    reorder_first_signatories,
    restore_signature,
    unmark_first_signatory,
)
from campaign.verification.models import ReviewDecision
from campaign.verification.services import decide_verification
from tests.factories import make_petition, make_signature, make_user
from tests.publication.lists import txt_list

FIVE_MINUTES = timedelta(minutes=5)
NOON = datetime(2026, 12, 7, 12, 0)
BEFORE = NOON - timedelta(hours=1)
CHANGE = NOON + timedelta(minutes=1)


@pytest.fixture
def signals() -> list[tuple[int, datetime]]:
    """Each public_list_changed sent: the petition and the moment of the change."""
    sent: list[tuple[int, datetime]] = []

    def receive(petition_id, now):
        sent.append((petition_id, now))

    public_list_changed.connect(receive, weak=False)
    yield sent
    public_list_changed.disconnect(receive)


def rows(client, slug: str) -> dict[str, dict[str, str]]:
    text = client.get(f"/p/{slug}/signatories.csv").get_data().decode("utf-8-sig")
    return {row["last_name"]: row for row in csv.DictReader(io.StringIO(text))}


def txt(client, slug: str) -> str:
    return txt_list(client.get(f"/p/{slug}/signatories.txt").get_data(as_text=True))


def edit_title(petition, people, organiser):
    correct_details(people["Martin"], "Cheffe de service", "", CHANGE)


def edit_description(petition, people, organiser):
    correct_details(people["soignants.example"], "Collectif de soignants", "", CHANGE)


def show_title(petition, people, organiser):
    choices = ConsentChoices(show_name=True, show_title=True, show_organisation=False,
                             contact_ok=False)  # fmt: skip
    change_consents(people["Durand"], choices, CHANGE)


def hide_name(petition, people, organiser):
    choices = ConsentChoices(show_name=False, show_title=False, show_organisation=False,
                             contact_ok=False)  # fmt: skip
    change_consents(people["Durand"], choices, CHANGE)


def restore_name(petition, people, organiser):
    restore_signature(petition, people["Caché"].id, organiser, CHANGE)


def verify(petition, people, organiser):
    decide_verification(petition, people["Martin"].id, ReviewDecision.APPROVED,
                        "Carte professionnelle vue", organiser, CHANGE)  # fmt: skip


def mark_first(petition, people, organiser):
    mark_first_signatory(petition, people["Durand"].id, organiser, CHANGE, position=1)


def unmark_first(petition, people, organiser):
    unmark_first_signatory(petition, people["Zola"].id, organiser, CHANGE)


def reorder_first(petition, people, organiser):
    reorder_first_signatories(petition, [people["Zola"].id, people["Hugo"].id], organiser, CHANGE)


def expect(check: Callable[[dict, str], bool]) -> Callable[[dict, str], bool]:
    return check


CHANGES = {
    "a signer corrects their title": (
        edit_title,
        lambda r, t: r["Martin"]["title"] == "Cheffe de service",
    ),
    "an organisation edits its description": (
        edit_description,
        lambda r, t: "soignants.example, Collectif de soignants\n" in t,
    ),
    "a signer shows their title": (show_title, lambda r, t: r["Durand"]["title"] == "Interne"),
    "a signer hides their name": (hide_name, lambda r, t: "Durand" not in r),
    "a moderator shows a hidden name again": (restore_name, lambda r, t: "Caché" in r),
    "a moderator verifies a category": (
        verify,
        lambda r, t: r["Martin"]["verification"] == "moderator",
    ),
    "an organiser marks a first signatory": (
        mark_first,
        lambda r, t: (r["Durand"]["first_signatory"], r["Hugo"]["first_signatory"]) == ("1", "2"),
    ),
    "an organiser unmarks a first signatory": (
        unmark_first,
        lambda r, t: (r["Zola"]["first_signatory"], r["Hugo"]["first_signatory"]) == ("", "1"),
    ),
    "an organiser reorders the first signatories": (
        reorder_first,
        lambda r, t: t.startswith("Premiers signataires\n\nZola Émile\nHugo Victor\n"),
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_each_public_change_reaches_the_downloads_at_the_end_of_its_slot(
    app, client, signals, change
):
    organiser = make_user("organiser")
    petition = make_petition(slug="tribune")
    people = {
        "Martin": make_signature(petition, last_name="Martin", first_name="Alice",
                                 title="Médecin", show_title=True, category_key="clinician",
                                 now=BEFORE),
        "Durand": make_signature(petition, last_name="Durand", first_name="Paul",
                                 title="Interne", show_title=False, now=BEFORE),
        "soignants.example": make_signature(petition, kind="organisation", first_name="",
                                            last_name="soignants.example", title="Collectif",
                                            show_title=True, category_key="organisation",
                                            now=BEFORE),
        "Zola": make_signature(petition, last_name="Zola", first_name="Émile", now=BEFORE),
        "Hugo": make_signature(petition, last_name="Hugo", first_name="Victor", now=BEFORE),
        "Caché": make_signature(petition, last_name="Caché", first_name="Jean", now=BEFORE),
    }  # fmt: skip
    mark_first_signatory(petition, people["Hugo"].id, organiser, BEFORE, position=1)
    mark_first_signatory(petition, people["Zola"].id, organiser, BEFORE, position=2)
    hide_signature(petition, people["Caché"].id, organiser, BEFORE)
    publish_snapshot(petition, BEFORE)
    before = (rows(client, "tribune"), txt(client, "tribune"))
    signals.clear()

    apply, shows = CHANGES[change]
    apply(petition, people, organiser)
    assert signals == [(petition.id, CHANGE)]
    assert not shows(*before)

    published = publish_if_changed(petition.id, NOON + FIVE_MINUTES, FIVE_MINUTES)
    assert published is not None and published.sequence == 2
    assert shows(rows(client, "tribune"), txt(client, "tribune"))
    # Published once: the next slot finds nothing more to publish.
    assert publish_if_changed(petition.id, NOON + 2 * FIVE_MINUTES, FIVE_MINUTES) is None


def test_with_fresh_downloads_off_the_daily_publication_still_sees_an_edited_line(app, client):
    # PUBLICATION_MAX_DELAY is 0 here: only the daily publication publishes.
    petition = make_petition(slug="quotidien")
    signer = make_signature(petition, last_name="Martin", title="Interne", show_title=True,
                            now=NOON - timedelta(days=2))  # fmt: skip
    publish_snapshot(petition, NOON - timedelta(days=1))
    correct_details(signer, "Médecin", "", CHANGE)
    assert publish_changed_petitions(NOON + timedelta(hours=1)) != []
    assert rows(client, "quotidien")["Martin"]["title"] == "Médecin"
    assert publish_changed_petitions(NOON + timedelta(days=2)) == []
