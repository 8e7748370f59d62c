"""Petition lifecycle transitions, word-level diffs, and text versions pinned by signatures."""

from __future__ import annotations

import pytest

from campaign.clock import utcnow
from campaign.errors import InvalidTransition
from campaign.extensions import db
from campaign.petitions.models import LifecycleStep, PetitionStatus
from campaign.petitions.services import (
    EditOutcome,
    NewVersionUnconfirmed,
    PetitionSubmission,
    TextSubmission,
    update_petition,
    version_history,
    word_diff,
)
from campaign.signatures.models import SignatureStatus
from campaign.signatures.services import confirmed_signatures_by_version, endorsements_of
from tests.factories import make_petition, make_signature, make_user


def submission(petition, **texts) -> PetitionSubmission:
    """The petition's current settings with the French text replaced by `texts`."""
    current = petition.text("fr")
    french = TextSubmission(
        "fr",
        texts.get("title", current.title),
        texts.get("summary", current.summary),
        texts.get("body", current.body),
    )
    others = tuple(
        TextSubmission(text.language, text.title, text.summary, text.body)
        for text in petition.current_texts()
        if text.language != "fr"
    )
    return PetitionSubmission(
        slug=None,
        language=petition.language,
        goal=petition.goal,
        opens_at=petition.opens_at,
        closes_at=petition.closes_at,
        category_keys=tuple(category.key for category in petition.categories),
        texts=(french, *others),
    )


@pytest.mark.parametrize(
    ("status", "steps"),
    [
        (PetitionStatus.DRAFT, [LifecycleStep.OPEN]),
        (PetitionStatus.OPEN, [LifecycleStep.CLOSE]),
        (PetitionStatus.CLOSED, [LifecycleStep.REOPEN, LifecycleStep.ARCHIVE]),
        (PetitionStatus.ARCHIVED, []),
    ],
)
def test_available_steps_follow_the_transitions(app, status, steps):
    assert make_petition(status=status).available_steps() == steps


@pytest.mark.parametrize("status", [PetitionStatus.DRAFT, PetitionStatus.OPEN])
def test_only_a_closed_petition_reopens_or_archives(app, status):
    petition = make_petition(status=status)
    with pytest.raises(InvalidTransition):
        petition.reopen()
    with pytest.raises(InvalidTransition):
        petition.archive()
    assert petition.status == status


def test_an_archived_petition_is_final_public_and_not_signable(app):
    petition = make_petition(status=PetitionStatus.CLOSED)
    petition.archive()
    assert petition.status == PetitionStatus.ARCHIVED
    assert petition.is_public() and not petition.is_editable()
    assert not petition.accepts_signatures(utcnow())
    for move in (petition.open, petition.reopen, petition.close):
        with pytest.raises(InvalidTransition):
            move()


def test_word_diff_escapes_and_names_each_change_for_screen_readers(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        diff = str(word_diff("Le chat <dort>.", "Le chien <dort>."))
    assert diff == (
        'Le <del><span class="visually-hidden">[deleted: </span>chat'
        '<span class="visually-hidden"> end deleted]</span></del>'
        '<ins><span class="visually-hidden">[added: </span>chien'
        '<span class="visually-hidden"> end added]</span></ins> &lt;dort&gt;.'
    )


def test_identical_texts_have_no_marked_change(app):
    with app.test_request_context():
        assert str(word_diff("Même texte.", "Même texte.")) == "Même texte."


def test_pending_signatures_pin_the_text_too(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    make_signature(petition, status=SignatureStatus.PENDING, confirmed_at=None)
    with app.test_request_context(), pytest.raises(NewVersionUnconfirmed) as pending:
        update_petition(
            petition,
            submission(petition, body="Autre."),
            owner,
            utcnow(),
            endorsements=endorsements_of(petition.id),
        )
    assert (pending.value.version, pending.value.next_version, pending.value.signers) == (1, 2, 1)
    assert [change.language for change in pending.value.changes] == ["fr"]


def test_each_confirmed_change_publishes_the_next_version(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    make_signature(petition)
    with app.test_request_context():
        for number, body in [(2, "Deux."), (3, "Trois.")]:
            outcome = update_petition(
                petition,
                submission(petition, body=body),
                owner,
                utcnow(),
                endorsements=endorsements_of(petition.id),
                confirmed_version=number - 1,
            )
            assert outcome == EditOutcome.NEW_VERSION
            db.session.refresh(petition)
            assert petition.current_version == number and petition.text("fr").body == body
    assert petition.versions() == [1, 2, 3]
    assert [petition.text("fr", version).body for version in (1, 2)] == [
        "Texte **important**.",
        "Deux.",
    ]


def test_history_counts_confirmed_signatures_per_version_newest_first(app):
    owner = make_user("organiser")
    petition = make_petition(owner_id=owner.id)
    make_signature(petition)
    make_signature(petition, status=SignatureStatus.PENDING, confirmed_at=None)
    with app.test_request_context():
        update_petition(
            petition,
            submission(petition, title="Nouveau"),
            owner,
            utcnow(),
            endorsements=endorsements_of(petition.id),
            confirmed_version=1,
        )
        make_signature(petition, text_version=2)
        make_signature(petition, text_version=2)
        db.session.refresh(petition)
        history = version_history(petition, "fr", confirmed_signatures_by_version(petition.id))
    assert [(entry.number, entry.confirmed_signatures) for entry in history] == [(2, 2), (1, 1)]
    assert [change.language for change in history[0].changes] == ["fr"]
    assert "<ins>" in history[0].changes[0].title and history[1].changes == []
