"""Supporters writing to their representatives: one letter per official, the daily cap,
headers that cannot be injected, duplicates flagged, moderation, and the public ledger;
mail received by a real SMTP server."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from email.utils import parseaddr

import pytest
from sqlalchemy import func, select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.mailings.jobs import wake_senders
from campaign.mailings.letters import (
    LetterRefused,
    flagged_letters,
    held_letters,
    letters_ledger,
    open_letter_mailing,
    reject_letters,
    release_letters,
    representatives_for,
    write_to_representatives,
)
from campaign.mailings.models import Delivery, DeliveryStatus, MailingKind
from campaign.mailings.services import MailingFields, create_mailing
from campaign.officials.models import OfficialRole
from tests.factories import make_official, make_petition, make_signature

BODY = "Madame la députée,\n\nL'hôpital de mon quartier ferme des lits. Merci de m'entendre.\n"


def english(message) -> str:
    """A lazy message as an English reader sees it."""
    from flask import current_app

    with current_app.test_request_context(headers={"Accept-Language": "en"}):
        return str(message)


def deliveries() -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).order_by(Delivery.id)))


@pytest.fixture(autouse=True)
def short_letters_allowed(site):
    """These tests are about delivery, not about the length of a supporter's words (tested
    on their own below)."""
    site.config["LETTER_MIN_OWN_WORDS"] = 1


def envelopes(mailbox) -> list[list[str]]:
    """The envelope recipients of each letter (not the supporters' copies) received."""
    return [rcpts for rcpts, message in mailbox._messages if not message["Auto-Submitted"]]


def letters_in(mailbox) -> list:
    """The letters the SMTP server received: the platform's own emails (the supporter's
    copy) are marked Auto-Submitted, letters are not."""
    return [message for message in mailbox.messages if not message["Auto-Submitted"]]


def letters_received(mailbox, count: int, timeout: float = 20.0) -> list:
    """Wait until at least `count` letters arrived (or fail)."""
    deadline = time.monotonic() + timeout
    while len(letters := letters_in(mailbox)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} letter(s), got {len(letters)}")
        time.sleep(0.02)
    return letters


def write(supporter, mailing, officials, subject="Les lits de l'hôpital", body=BODY, now=None):
    return write_to_representatives(
        supporter.id,
        mailing.id,
        "75",
        [official.id for official in officials],
        subject,
        body,
        now or utcnow(),
    )


# --- Who and where ------------------------------------------------------------------------------


def test_representatives_are_the_active_deputes_then_senateurs_of_the_departement(
    site, depute, senateur
):
    make_official(departement="13")
    make_official(departement="75", active=False)
    make_official(departement="75", role=OfficialRole.MINISTRE)
    other = make_official(departement="75", last_name="Abadie")
    assert representatives_for("75") == [other, depute, senateur]
    assert representatives_for("00") == [] and representatives_for(None) == []


def test_the_open_letter_mailing_is_the_newest_sending_one(site, petition, organiser, open_letters):
    assert open_letter_mailing(petition.id) is None
    create_mailing(petition, MailingKind.REPRESENTATIVES, MailingFields(), organiser, utcnow())
    assert open_letter_mailing(petition.id) is None  # a draft is not open
    mailing = open_letters()
    assert open_letter_mailing(petition.id) == mailing


# --- Writing --------------------------------------------------------------------------------


def test_confirmed_supporter_writes_to_their_depute_from_the_platform_address(
    site, mailbox, supporter, depute, open_letters
):
    mailing = open_letters()
    outcome = write(supporter, mailing, [depute])
    assert outcome.queued == [depute] and not outcome.refused
    (message,) = letters_received(mailbox, 1)
    assert envelopes(mailbox) == [[depute.email]]
    display, address = parseaddr(message["From"])
    assert display == "Alice Martin (via Tribune)"
    assert address == parseaddr(site.config["MAIL_DEFAULT_SENDER"])[1] != "alice@example.fr"
    assert parseaddr(message["Reply-To"])[1] == "alice@example.fr"
    assert message["Subject"] == "Les lits de l'hôpital"
    assert "ferme des lits" in message.get_body(("plain",)).get_content()
    (delivery,) = deliveries()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.idempotency_key == f"{mailing.id}:signature:{supporter.id}:official:{depute.id}"
    assert delivery.recipient_domain == "assemblee.example"


def test_writing_again_to_the_same_official_is_refused_and_sends_nothing_more(
    site, mailbox, supporter, depute, senateur, open_letters
):
    mailing = open_letters()
    write(supporter, mailing, [depute])
    letters_received(mailbox, 1)
    again = write(supporter, mailing, [depute, senateur], body="Autre texte, autre jour.")
    assert again.queued == [senateur]
    assert [official for official, _reason in again.refused] == [depute]
    assert "already written" in english(again.refused[0][1])
    letters_received(mailbox, 2)
    assert len(mailbox.to(depute.email)) == 1 and len(mailbox.to(senateur.email)) == 1
    assert len(deliveries()) == 2


def test_concurrent_letters_to_the_same_official_make_one_row(
    site, mailbox, supporter, depute, open_letters
):
    mailing = open_letters()
    # Plain ids: the threads must not touch this session's objects.
    ids = (supporter.id, mailing.id, "75", [depute.id], "Objet", BODY)
    results, errors = [], []
    start = threading.Barrier(6)

    def attempt() -> None:
        with site.app_context():
            try:
                start.wait()
                results.append(write_to_representatives(*ids, utcnow()))
            except Exception as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(len(result.queued) for result in results) == 1
    assert sum(len(result.refused) for result in results) == 5
    assert len(deliveries()) == 1
    letters_received(mailbox, 1)
    assert len(mailbox.to(depute.email)) == 1


def test_concurrent_letters_from_many_supporters_respect_the_daily_cap(
    site, mailbox, petition, depute, open_letters
):
    mailing = open_letters(official_daily_cap=2)
    # Plain ids: the threads must not touch this session's objects.
    writer_ids = [make_signature(petition, departement="75").id for _ in range(6)]
    mailing_id, depute_id = mailing.id, depute.id
    results, errors = [], []
    start = threading.Barrier(len(writer_ids))

    def attempt(writer_id: int) -> None:
        with site.app_context():
            try:
                start.wait()
                results.append(
                    write_to_representatives(
                        writer_id, mailing_id, "75", [depute_id], "Objet", f"{writer_id}", utcnow()
                    )
                )
            except Exception as error:
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(writer_id,)) for writer_id in writer_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(len(result.queued) for result in results) == 2
    assert len(deliveries()) == 2
    letters_received(mailbox, 2)
    assert len(mailbox.to(depute.email)) == 2


def test_an_unconfirmed_supporter_cannot_write(site, mailbox, petition, depute, open_letters):
    mailing = open_letters()
    pending = make_signature(petition, status="pending", departement="75")
    with pytest.raises(LetterRefused):
        write(pending, mailing, [depute])
    assert deliveries() == [] and letters_in(mailbox) == []


def test_only_the_representatives_of_the_departement_can_be_chosen(
    site, supporter, depute, open_letters
):
    mailing = open_letters()
    elsewhere = make_official(departement="13")
    minister = make_official(departement="75", role=OfficialRole.MINISTRE)
    for chosen in ([elsewhere], [minister], [depute, elsewhere], []):
        with pytest.raises(LetterRefused) as refusal:
            write(supporter, mailing, chosen)
        assert refusal.value.field == "officials"
    assert deliveries() == []


def test_letters_are_refused_once_the_mailing_is_no_longer_sending(
    site, supporter, depute, organiser, open_letters
):
    from campaign.mailings.services import pause_mailing

    mailing = open_letters()
    pause_mailing(mailing.id, organiser, utcnow())
    with pytest.raises(LetterRefused):
        write(supporter, mailing, [depute])
    assert deliveries() == []


def test_per_official_daily_cap(site, mailbox, petition, depute, senateur, open_letters):
    mailing = open_letters(official_daily_cap=2)
    start = utcnow() - timedelta(hours=30)
    first, second, third, fourth = (make_signature(petition, departement="75") for _ in range(4))
    for writer in (first, second):
        assert write(writer, mailing, [depute], body=f"Lettre {writer.id}", now=start).queued
    capped = write(third, mailing, [depute, senateur], body="Trois", now=start)
    assert capped.queued == [senateur]
    assert [official for official, _ in capped.refused] == [depute]
    assert "try again tomorrow" in english(capped.refused[0][1])
    # A cancelled (rejected) letter does not use up the cap, and the refused letter left no
    # row: the same supporter may write again.
    db.session.execute(
        Delivery.__table__.update()
        .where(Delivery.signature_id == second.id)
        .values(status=DeliveryStatus.CANCELLED)
    )
    db.session.commit()
    assert write(third, mailing, [depute], body="Trois", now=start).queued == [depute]
    assert write(fourth, mailing, [depute], body="Quatre", now=start).refused
    # 24 hours later, the count starts again.
    later = start + timedelta(hours=25)
    assert write(fourth, mailing, [depute], body="Quatre", now=later).queued == [depute]
    assert len([d for d in deliveries() if d.official_id == depute.id]) == 4


# --- Pace ---------------------------------------------------------------------------------------


def departures(mailing) -> list[timedelta]:
    """When each letter of the mailing may leave, from the first, in the order written."""
    rows = [d for d in deliveries() if d.mailing_id == mailing.id]
    return [row.not_before - rows[0].not_before for row in rows]


def test_letters_leave_at_the_mailings_pace_after_those_already_written(
    site, mailbox, petition, depute, senateur, open_letters
):
    mailing = open_letters(per_minute=2)
    now = utcnow()
    first, second = (make_signature(petition, departement="75") for _ in range(2))
    write(first, mailing, [depute, senateur], body="Un", now=now)
    write(second, mailing, [depute], body="Deux", now=now + timedelta(seconds=5))
    seconds = [0, 30, 60]
    assert departures(mailing) == [timedelta(seconds=s) for s in seconds]
    # The first was due at once and went; the others wait for their time.
    assert len(letters_received(mailbox, 1)) == 1
    assert [d.status for d in deliveries()][1:] == [DeliveryStatus.QUEUED] * 2
    # An hour later, the pace has nothing to catch up on.
    late = make_signature(petition, departement="75")
    later = now + timedelta(hours=2)
    write(late, mailing, [depute], body="Trois", now=later)
    assert deliveries()[-1].not_before == later


def test_letters_to_one_institution_respect_the_hourly_cap_per_domain(
    site, petition, depute, senateur, open_letters
):
    mailing = open_letters(domain_cap_per_hour=2)
    now = utcnow()
    writers = [make_signature(petition, departement="75") for _ in range(3)]
    for index, writer in enumerate(writers):
        write(writer, mailing, [depute, senateur], body=f"Lettre {index}", now=now)
    by_official = {
        official.id: [d.not_before - now for d in deliveries() if d.official_id == official.id]
        for official in (depute, senateur)
    }
    # Two domains, each at most two an hour, each evenly spaced; neither waits for the other.
    half_hours = [timedelta(minutes=30 * n) for n in range(3)]
    assert by_official == {depute.id: half_hours, senateur.id: half_hours}


def test_released_letters_leave_at_the_mailings_pace(
    site, mailbox, petition, depute, organiser, open_letters
):
    mailing = open_letters(hold_for_moderation=True, per_minute=60)
    writers = [make_signature(petition, departement="75") for _ in range(3)]
    for index, writer in enumerate(writers):
        write(writer, mailing, [depute], body=f"Lettre {index}")
    ids = [letter.id for letter in held_letters(mailing.id)]
    now = utcnow()
    assert release_letters(ids, organiser, now, petition_id=petition.id) == 3
    assert [d.not_before - now for d in deliveries()] == [timedelta(seconds=s) for s in (0, 1, 2)]
    assert len(letters_received(mailbox, 3, timeout=30)) == 3


# --- Header injection (reliability case 17) ---------------------------------------------------


@pytest.mark.parametrize("subject", ["Objet\r\nBcc: x@evil.example", "Objet\nBcc: x@evil.example"])
def test_a_subject_with_a_line_break_is_refused(
    site, mailbox, supporter, depute, open_letters, subject
):
    mailing = open_letters()
    with pytest.raises(LetterRefused) as refusal:
        write(supporter, mailing, [depute], subject=subject)
    assert refusal.value.field == "subject"
    assert deliveries() == [] and letters_in(mailbox) == []


def test_a_supporter_name_with_a_line_break_is_refused(
    site, mailbox, petition, depute, open_letters
):
    mailing = open_letters()
    evil = make_signature(
        petition, first_name="Alice\r\nBcc: x@evil.example", last_name="Martin", departement="75"
    )
    with pytest.raises(LetterRefused):
        write(evil, mailing, [depute])
    assert deliveries() == [] and letters_in(mailbox) == []


def test_the_engine_neutralises_a_name_and_subject_with_line_breaks(
    site, mailbox, petition, depute, open_letters
):
    """Defence in depth: a row written by other means still sends one message to one
    recipient, with no header added."""
    mailing = open_letters()
    evil = make_signature(petition, first_name="Alice\r\nBcc: x@evil.example", last_name="M")
    delivery = Delivery(
        mailing_id=mailing.id,
        idempotency_key=f"{mailing.id}:signature:{evil.id}:official:{depute.id}",
        official_id=depute.id,
        signature_id=evil.id,
        subject="Objet\r\nBcc: x@evil.example",
        body="Texte",
        recipient_domain=depute.email_domain,
        not_before=utcnow(),
    )
    db.session.add(delivery)
    db.session.commit()
    wake_senders(mailing.id, f"letter-{delivery.id}")
    (message,) = letters_received(mailbox, 1)
    assert envelopes(mailbox) == [[depute.email]]
    assert mailbox.to("x@evil.example") == []
    assert message["Bcc"] is None
    assert "\n" not in message["From"] and "\n" not in message["Subject"]


# --- Duplicates --------------------------------------------------------------------------------


def test_the_same_text_from_many_supporters_is_flagged_at_the_threshold(
    site, mailbox, petition, depute, senateur, open_letters
):
    site.config["MAILING_DUPLICATE_THRESHOLD"] = 3
    mailing = open_letters()
    writers = [make_signature(petition, departement="75") for _ in range(4)]
    # One supporter writing to two officials counts once.
    write(writers[0], mailing, [depute, senateur], body="Sauvez l'hôpital !")
    write(writers[1], mailing, [depute], body="sauvez   l'HÔPITAL")
    assert not any(delivery.flagged for delivery in deliveries())
    write(writers[2], mailing, [depute], body="Sauvez l’hôpital.")
    write(writers[3], mailing, [depute], body="Mes propres mots, sur mon hôpital.")
    flagged = {d.signature_id for d in deliveries() if d.flagged}
    assert flagged == {writers[0].id, writers[1].id, writers[2].id}
    assert len(flagged_letters(mailing.id)) == 4
    # Flagged letters still go when the mailing does not hold letters.
    letters_received(mailbox, 5)
    assert all(d.status == DeliveryStatus.SENT for d in deliveries())


# --- Moderation -------------------------------------------------------------------------------


def test_held_letters_are_sent_only_once_released(
    site, mailbox, petition, supporter, depute, senateur, organiser, open_letters
):
    mailing = open_letters(hold_for_moderation=True)
    outcome = write(supporter, mailing, [depute, senateur])
    assert outcome.held == [depute, senateur] and outcome.queued == []
    assert {d.status for d in deliveries()} == {DeliveryStatus.HELD}
    assert letters_in(mailbox) == []
    held = held_letters(mailing.id)
    assert [letter.official for letter in held] == ["Claire Dupont", "Bernard Arnaud"]
    assert held[0].supporter == "Alice Martin" and "ferme des lits" in held[0].body
    released = release_letters([held[0].id], organiser, utcnow(), petition_id=petition.id)
    assert released == 1
    letters_received(mailbox, 1)
    assert len(mailbox.to(depute.email)) == 1 and mailbox.to(senateur.email) == []
    assert [d.status for d in deliveries()] == [DeliveryStatus.SENT, DeliveryStatus.HELD]
    # Releasing again changes nothing.
    assert release_letters([held[0].id], organiser, utcnow(), petition_id=petition.id) == 0
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "letters.release")
        )
        == 1
    )


def test_rejected_letters_are_never_sent(
    site, mailbox, petition, supporter, depute, organiser, open_letters
):
    mailing = open_letters(hold_for_moderation=True)
    write(supporter, mailing, [depute])
    (letter,) = held_letters(mailing.id)
    assert reject_letters([letter.id], "Injurieux", organiser, utcnow(), petition_id=petition.id)
    (delivery,) = deliveries()
    assert delivery.status == DeliveryStatus.CANCELLED and delivery.last_error == "Injurieux"
    assert release_letters([letter.id], organiser, utcnow(), petition_id=petition.id) == 0
    wake_senders(mailing.id, "after-reject")
    assert letters_in(mailbox) == [] and held_letters(mailing.id) == []


def test_moderators_act_only_on_their_petitions_letters(
    site, mailbox, supporter, depute, organiser, open_letters
):
    mailing = open_letters(hold_for_moderation=True)
    write(supporter, mailing, [depute])
    (letter,) = held_letters(mailing.id)
    other = make_petition()
    assert release_letters([letter.id], organiser, utcnow(), petition_id=other.id) == 0
    assert reject_letters([letter.id], "x", organiser, utcnow(), petition_id=other.id) == 0
    assert [d.status for d in deliveries()] == [DeliveryStatus.HELD]


# --- The public ledger --------------------------------------------------------------------------


def test_the_ledger_counts_sent_letters_per_official_and_day(
    site, mailbox, petition, depute, senateur, open_letters
):
    mailing = open_letters()
    writers = [make_signature(petition, departement="75") for _ in range(3)]
    write(writers[0], mailing, [depute, senateur], body="Un")
    write(writers[1], mailing, [depute], body="Deux")
    letters_received(mailbox, 3)
    # Sent too long ago: not counted.
    write(writers[2], mailing, [senateur], body="Trois")
    letters_received(mailbox, 4)
    db.session.execute(
        Delivery.__table__.update()
        .where(Delivery.signature_id == writers[2].id)
        .values(sent_at=utcnow() - timedelta(days=40))
    )
    db.session.commit()
    ledger = letters_ledger(petition.id, utcnow(), "fr")
    today = utcnow().date()
    assert [(line.day, line.official, line.count) for line in ledger] == [
        (today, "Bernard Arnaud", 1),
        (today, "Claire Dupont", 2),
    ]
    assert letters_ledger(petition.id, utcnow(), "en")[1].role == "Member of the National Assembly"
    assert letters_ledger(make_petition().id, utcnow(), "fr") == []


# --- One letter per recipient, in the supporter's words, signed (issue 17, items 1 and 2) -------

PROMPT = "[Dites en quelques lignes pourquoi ce sujet vous tient à cœur.]"
ROLE_TEMPLATE = (
    "{{ official.salutation }},\n\nEn tant que {{ official.role|lower }} de mon département, "
    "soutenez « {{ petition.title }} ».\n\n" + PROMPT + "\n\nBien à vous,\n"
)
OWN_WORDS = (
    "Je suis infirmière à l'hôpital du quartier : trois services ont fermé cette année, "
    "et les patients attendent des heures aux urgences."
)


@pytest.fixture
def letters_with_prompt(petition, organiser):
    mailing = create_mailing(
        petition,
        MailingKind.REPRESENTATIVES,
        MailingFields(subject_template="Mon hôpital", body_template=ROLE_TEMPLATE),
        organiser,
        utcnow(),
    )
    from campaign.mailings.services import start_mailing

    assert start_mailing(mailing.id, organiser, utcnow())
    return mailing


def test_each_representative_receives_the_letter_addressed_to_them(
    site, mailbox, supporter, depute, senateur, letters_with_prompt
):
    site.config["LETTER_MIN_OWN_WORDS"] = 80
    write_to_representatives(
        supporter.id,
        letters_with_prompt.id,
        "75",
        [depute.id, senateur.id],
        "Mon hôpital",
        OWN_WORDS,
        utcnow(),
        place="Paris 11e",
    )
    letters_received(mailbox, 2)
    (to_her,) = mailbox.to(depute.email)
    (to_him,) = mailbox.to(senateur.email)
    her_text = to_her.get_body(("plain",)).get_content()
    his_text = to_him.get_body(("plain",)).get_content()
    assert her_text.startswith("Madame la députée,")
    assert "En tant que députée de mon département" in her_text
    assert his_text.startswith("Madame, Monsieur,")  # no civility in the directory
    assert "En tant que sénateur de mon département" in his_text
    for text in (her_text, his_text):
        # The supporter's words in place of the prompt, their signature last.
        assert OWN_WORDS in text and "[" not in text
        assert text.rstrip().endswith("Bien à vous,\n\nAlice Martin\nParis 11e")
    # Stored as sent, each with its own text.
    stored = {d.official_id: d.body for d in deliveries()}
    assert stored[depute.id].startswith("Madame la députée,")
    assert stored[senateur.id].startswith("Madame, Monsieur,")


def test_without_a_commune_the_letter_is_signed_with_the_departement(
    site, supporter, depute, letters_with_prompt
):
    site.config["LETTER_MIN_OWN_WORDS"] = 80
    write(supporter, letters_with_prompt, [depute], body=OWN_WORDS)
    (delivery,) = deliveries()
    assert delivery.body.rstrip().endswith("Alice Martin\nParis (75)")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (PROMPT, "prompt"),
        (PROMPT.strip("[]"), "prompt"),
        (PROMPT + "\n\n" + OWN_WORDS, "prompt"),
        ("[Mon texte ici]\n" + OWN_WORDS, "square brackets"),
        ("Je soutiens.", "at least 80 characters"),
        ("", "own words"),
    ],
)
def test_a_letter_without_the_supporters_own_words_is_refused(
    site, mailbox, supporter, depute, letters_with_prompt, words, message
):
    site.config["LETTER_MIN_OWN_WORDS"] = 80
    with pytest.raises(LetterRefused) as refusal:
        write(supporter, letters_with_prompt, [depute], body=words)
    assert refusal.value.field == "body"
    assert message in english(refusal.value.message)
    assert deliveries() == [] and mailbox.messages == []


def test_the_supporters_copy_says_to_whom_each_letter_went(
    site, mailbox, supporter, depute, senateur, letters_with_prompt
):
    site.config["LETTER_MIN_OWN_WORDS"] = 80
    write(supporter, letters_with_prompt, [depute, senateur], body=OWN_WORDS)
    mailbox.wait_for(3)
    (copy,) = mailbox.to("alice@example.fr")
    assert copy["Auto-Submitted"] == "auto-generated"
    text = copy.get_body(("plain",)).get_content()
    assert "Claire Dupont (Députée)" in text and "Bernard Arnaud (Sénateur)" in text
    assert "Madame la députée," in text and OWN_WORDS in text
    assert depute.email not in text and senateur.email not in text


def test_the_supporters_words_are_never_run_as_a_template(
    site, supporter, depute, letters_with_prompt
):
    words = "{{ petition.confirmed }} {% for x in range(3) %}x{% endfor %} \\1 " + OWN_WORDS
    write(supporter, letters_with_prompt, [depute], body=words)
    (delivery,) = deliveries()
    assert words in delivery.body
