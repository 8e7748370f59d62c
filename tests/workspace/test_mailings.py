"""The workspace pages of a petition's mailings: compose with merge fields, preview, a test
to oneself, start (once), live progress, pause, resume, cancel, and the failures.

Jobs run in-process (no REDIS_URL), inside the request that wakes them; mail goes to a real
SMTP server on loopback (aiosmtpd) that can refuse messages."""

from __future__ import annotations

import asyncio
import re

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.mail.outbox import OutboxMessage
from campaign.mailings.models import Delivery, DeliveryStatus, Mailing, MailingStatus
from campaign.officials.models import Official
from campaign.petitions.services import ensure_default_categories
from tests.conftest import Mailbox, free_port
from tests.factories import make_official, make_signature, make_user
from tests.support import csrf_token, english_client, login, text_part, visible_text
from tests.test_emails import ScriptedMailbox

PLATFORM = "tribune@tribune.example"
SUBJECT = "Nos données de santé, {{ official.name }}"
BODY = (
    "Madame, Monsieur {{ official.role }},\n\n"
    "{{ petition.confirmed }} personnes ont signé « {{ petition.title }} » : {{ petition.url }}\n"
)


class Box(ScriptedMailbox):
    """A scripted mailbox that can also take a message and then keep the client waiting
    past its timeout before answering (the outcome is then unknown to the sender)."""

    stall = 0.0

    async def handle_DATA(self, server, session, envelope):
        if not self.stall:
            return await super().handle_DATA(server, session, envelope)
        self.attempts += 1
        await Mailbox.handle_DATA(self, server, session, envelope)
        await asyncio.sleep(self.stall)
        return "250 OK"


@pytest.fixture
def box() -> Box:
    return Box()


@pytest.fixture
def app(make_app, box):
    """The app with mail going to `box` through a real SMTP server on loopback."""
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=controller.port,
        MAIL_TIMEOUT=1,
        MAIL_SUPPRESS_SEND=False,
        MAIL_DEFAULT_SENDER=f"Tribune <{PLATFORM}>",
    )
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()
    controller.stop()


@pytest.fixture
def organiser(app, owner):
    """The petition's owner, logged in, reading English (the French comes with the
    catalogue)."""
    return english_client(app, owner)


@pytest.fixture
def deputes(app):
    """Three active députés, and a senator the letters below do not select."""
    officials = [
        make_official(first_name="Claire", last_name="Dumont", email="claire.dumont@an.example"),
        make_official(first_name="Paul", last_name="Girard", email="paul.girard@an.example"),
        make_official(first_name="Inès", last_name="Benali", email="ines.benali@an.example"),
    ]
    make_official(
        first_name="Luc", last_name="Sénat", email="luc@senat.example", role="senateur",
        chamber="Sénat",
    )  # fmt: skip
    return officials


# --- Helpers -----------------------------------------------------------------------------------


def base(petition) -> str:
    return f"/admin/p/{petition.slug}/mailings"


def post(client, path: str, data: dict | None = None, token_from: str = "/admin/"):
    return client.post(path, data={"csrf_token": csrf_token(client, token_from), **(data or {})})


DIGEST = re.compile(r'name="recipients_digest" type="hidden" value="([0-9a-f]+)"')


def start(client, petition, mailing_id: int, typed: int | None = None):
    """Press "Send", then confirm on the page that names the recipients."""
    path = f"{base(petition)}/{mailing_id}/start"
    first = post(client, path)
    assert first.status_code == 200, first.get_data(as_text=True)[:500]
    digest = DIGEST.search(first.get_data(as_text=True)).group(1)
    data = {"recipients_digest": digest}
    if typed is not None:
        data["typed_count"] = str(typed)
    return post(client, path, data)


def compose_data(**overrides) -> dict:
    """A valid submission of the compose form of a letter to the députés."""
    data = {
        "name": "Lettre aux députés",
        "subject_template": SUBJECT,
        "body_template": BODY,
        "roles": ["depute"],
        "per_minute": "0",
        "domain_cap_per_hour": "0",
        "send_at": "",
        "save": "Save",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def new_letter(client, petition, **overrides) -> int:
    """Create a letter through the pages, save its compose form; returns its id."""
    response = post(client, f"{base(petition)}/new", {"kind": "letter", "name": "Lettre"})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    mailing_id = int(re.search(r"/mailings/(\d+)/edit", response.headers["Location"]).group(1))
    save(client, petition, mailing_id, **overrides)
    return mailing_id


def save(client, petition, mailing_id: int, **overrides):
    return post(
        client,
        f"{base(petition)}/{mailing_id}/edit",
        compose_data(**overrides),
        token_from="/admin/",
    )


def deliveries(mailing_id: int) -> dict[str, int]:
    db.session.expire_all()
    return dict(
        db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.mailing_id == mailing_id)
            .group_by(Delivery.status)
        ).all()
    )


def status_of(mailing_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Mailing, mailing_id).status


def progress(client, petition, mailing_id: int) -> dict:
    response = client.get(f"{base(petition)}/{mailing_id}/progress.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()


# --- Compose -----------------------------------------------------------------------------------


def test_petition_page_links_to_its_mailings_and_a_draft_is_listed(organiser, petition):
    page = organiser.get(f"/admin/p/{petition.slug}").get_data(as_text=True)
    assert f'href="{base(petition)}"' in page

    mailing_id = new_letter(organiser, petition, name="Lettre aux députés")

    listing = visible_text(organiser.get(base(petition)).get_data(as_text=True))
    assert "Lettre aux députés" in listing and "Draft" in listing
    assert db.session.get(Mailing, mailing_id).kind == "letter"


def test_new_mailing_without_a_kind_is_refused_and_creates_nothing(organiser, petition):
    response = post(organiser, f"{base(petition)}/new", {"name": "Sans type"})

    assert response.status_code == 422
    assert db.session.scalar(select(func.count(Mailing.id))) == 0


def test_compose_page_documents_the_merge_fields_and_counts_the_recipients(
    organiser, petition, deputes
):
    mailing_id = new_letter(organiser, petition)

    page = organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True)
    text = visible_text(page)
    assert "{{ official.name }}" in text and "{{ publication.sha256 }}" in text
    assert "{{ signatory.first_name }}" not in text
    assert "writes to 3 recipients" in text
    assert "<script>" not in page and 'src="/static/js/submit-once.js"' in page


def test_unknown_merge_field_is_shown_on_save_and_the_start_is_refused_with_nothing_queued(
    organiser, petition, deputes, box
):
    mailing_id = new_letter(organiser, petition, body_template="Bonjour {{ official.nom }}")

    saved = visible_text(
        organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True)
    )
    assert (
        "The text cannot be written out: {{ official.nom }} does not exist; "
        "did you mean {{ official.last_name }}?"
    ) in saved
    response = post(organiser, f"{base(petition)}/{mailing_id}/start")

    assert response.status_code == 422
    page = visible_text(response.get_data(as_text=True))
    assert (
        "The text cannot be written out: {{ official.nom }} does not exist; "
        "did you mean {{ official.last_name }}?"
    ) in page
    assert deliveries(mailing_id) == {}
    assert status_of(mailing_id) == MailingStatus.DRAFT
    assert box.messages == []


def test_unknown_merge_field_is_named_with_a_suggestion_in_french(app, owner, petition, deputes):
    client = app.test_client()
    login(client, owner)

    mailing_id = new_letter(client, petition, body_template="Bonjour {{ official.prenom }}")

    page = visible_text(client.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True))
    assert (
        "Le texte ne peut pas être rédigé : {{ official.prenom }} n’existe pas ; "
        "vouliez-vous dire {{ official.first_name }} ?"
    ) in page
    assert "dict object" not in page


def test_publication_fields_before_a_first_publication_ask_to_publish_with_the_button(
    organiser, petition, deputes
):
    mailing_id = new_letter(organiser, petition, body_template="La liste : {{ publication.url }}")

    page = organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True)
    assert (
        "{{ publication.url }} has no value yet: the list of signatories has not been "
        "published. Publish it first"
    ) in visible_text(page)
    assert "'None' has no attribute" not in visible_text(page)
    assert f'action="/admin/p/{petition.slug}/publish"' in page
    preview = organiser.get(f"{base(petition)}/{mailing_id}/preview").get_data(as_text=True)
    assert f'action="/admin/p/{petition.slug}/publish"' in preview

    published = post(organiser, f"/admin/p/{petition.slug}/publish")

    assert published.status_code == 303
    page = visible_text(organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(True))
    assert "has no value yet" not in page and "cannot be written out" not in page
    preview = visible_text(organiser.get(f"{base(petition)}/{mailing_id}/preview").get_data(True))
    assert f"/p/{petition.slug}/publications/1" in preview


def test_fields_empty_for_some_recipients_are_listed_with_how_many(organiser, petition, deputes):
    deputes[0].constituency = "1re circonscription"
    db.session.commit()

    mailing_id = new_letter(
        organiser, petition, body_template="{{ official.name }}, {{ official.constituency }}"
    )

    page = visible_text(organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(True))
    assert (
        "{{ official.constituency }} is empty for 2 recipients out of 3: "
        "the letter will have a blank there."
    ) in page
    assert "{{ official.name }} is empty" not in page


def test_saving_a_draft_with_a_template_error_keeps_it_and_shows_the_error_inline(
    organiser, petition, deputes
):
    mailing_id = new_letter(organiser, petition)

    response = save(organiser, petition, mailing_id, subject_template="{{ petition.titre }")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="subject_template-error"' in page and 'aria-invalid="true"' in page
    assert "The subject cannot be written out" in visible_text(page)
    assert db.session.get(Mailing, mailing_id).subject_template == "{{ petition.titre }"


def test_recipients_combine_criteria_and_officials_picked_by_hand(organiser, petition, deputes):
    mailing_id = new_letter(organiser, petition, roles=["depute"], departements=["75"])
    luc = db.session.scalar(select(Official).where(Official.email == "luc@senat.example"))

    searched = post(
        organiser,
        f"{base(petition)}/{mailing_id}/edit",
        compose_data(official_search="sénat", search="Search"),
    )
    assert searched.status_code == 200
    assert f'value="{luc.id}"' in searched.get_data(as_text=True)

    save(organiser, petition, mailing_id, official_ids=[str(luc.id)])

    mailing = db.session.get(Mailing, mailing_id)
    assert mailing.selection["official_ids"] == [luc.id]
    page = visible_text(organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True))
    assert "writes to 4 recipients" in page


def test_preview_shows_the_chosen_official_and_escapes_the_organisers_markup(
    organiser, petition, deputes
):
    mailing_id = new_letter(
        organiser, petition, body_template="Bonjour {{ official.name }} <b>gras</b>"
    )
    paul = deputes[1]

    response = organiser.get(f"{base(petition)}/{mailing_id}/preview?official={paul.id}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Nos données de santé, Paul Girard" in page
    assert "Bonjour Paul Girard &lt;b&gt;gras&lt;/b&gt;" in page
    assert "<b>gras</b>" not in page
    assert f'<option value="{paul.id}" selected>' in page


def test_send_at_is_entered_in_paris_time_and_stored_in_utc(organiser, petition, deputes):
    mailing_id = new_letter(organiser, petition, send_at="2031-07-01T09:30")

    mailing = db.session.get(Mailing, mailing_id)
    assert mailing.send_at.isoformat() == "2031-07-01T07:30:00"
    page = organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True)
    assert 'value="2031-07-01T09:30"' in page


def test_a_new_draft_opens_on_its_compose_page_without_errors(organiser, petition):
    response = post(organiser, f"{base(petition)}/new", {"kind": "letter"})

    page = organiser.get(response.headers["Location"])
    assert page.status_code == 200
    assert 'role="alert"' not in page.get_data(as_text=True)


def test_update_to_signatories_writes_to_those_who_asked_with_their_own_name(
    organiser, petition, box
):
    response = post(organiser, f"{base(petition)}/new", {"kind": "update", "name": "Nouvelles"})
    edit = response.headers["Location"]
    mailing_id = int(re.search(r"/mailings/(\d+)/edit", edit).group(1))
    page = visible_text(organiser.get(edit).get_data(as_text=True))
    assert "{{ signatory.first_name }}" in page and "{{ official.name }}" not in page
    data = compose_data(
        subject_template="Des nouvelles de « {{ petition.title }} »",
        body_template="Bonjour {{ signatory.first_name }},\n\nMerci !",
        roles=None,
    )
    post(organiser, edit, data)

    preview = organiser.get(f"{base(petition)}/{mailing_id}/preview").get_data(as_text=True)
    assert "Bonjour Camille," in preview
    refused = post(organiser, f"{base(petition)}/{mailing_id}/start")
    assert refused.status_code == 422
    assert "No signatory has asked to be kept informed" in visible_text(
        refused.get_data(as_text=True)
    )

    make_signature(petition, first_name="Zoé", email="zoe@example.org", contact_ok=True)
    make_signature(petition, first_name="Yves", email="yves@example.org", contact_ok=False)
    start(organiser, petition, mailing_id)

    [message] = box.wait_for(1)
    assert box.to("zoe@example.org") == [message]
    assert "Bonjour Zoé," in text_part(message)
    assert message["List-Unsubscribe"]


def test_supporters_template_keeps_its_moderation_settings(organiser, petition):
    response = post(organiser, f"{base(petition)}/new", {"kind": "representatives"})
    edit = response.headers["Location"]
    assert 'name="official_daily_cap"' in organiser.get(edit).get_data(as_text=True)

    post(organiser, edit, compose_data(official_daily_cap="5", hold_for_moderation="y"))

    mailing = db.session.scalar(select(Mailing))
    assert (mailing.official_daily_cap, mailing.hold_for_moderation) == (5, True)


# --- Test letter ---------------------------------------------------------------------------


def test_test_letter_reaches_the_organiser_only_with_test_in_the_subject(
    organiser, petition, deputes, owner, box
):
    mailing_id = new_letter(organiser, petition)

    response = post(organiser, f"{base(petition)}/{mailing_id}/test")

    assert response.status_code == 303
    [message] = box.wait_for(1)
    assert box.to(owner.email) == [message]
    assert message["Subject"].startswith("[TEST] Nos données de santé, ")
    assert "Benali" in message["Subject"]  # the first official, by name
    assert f"« {petition.text('fr').title} »" in text_part(message)
    assert PLATFORM in message["From"]
    assert deliveries(mailing_id) == {} and status_of(mailing_id) == MailingStatus.DRAFT
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1


def test_test_letter_with_a_template_error_sends_nothing(organiser, petition, deputes, box):
    mailing_id = new_letter(organiser, petition, subject_template="{{ oops }}")

    response = post(organiser, f"{base(petition)}/{mailing_id}/test")

    assert response.status_code == 303
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert box.messages == []


# --- Sending -------------------------------------------------------------------------------


def test_start_sends_each_official_one_letter_from_the_platform_with_reply_to_the_organiser(
    organiser, petition, deputes, owner, box
):
    mailing_id = new_letter(organiser, petition)

    response = start(organiser, petition, mailing_id)

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/mailings/{mailing_id}")
    messages = box.wait_for(3)
    assert len(messages) == 3
    for official in deputes:
        [message] = box.to(official.email)
        assert message["Subject"] == f"Nos données de santé, {official.full_name}"
        assert PLATFORM in message["From"] and owner.email not in message["From"]
        assert message["Reply-To"] == owner.email
        delivery = db.session.scalar(select(Delivery).where(Delivery.official_id == official.id))
        assert message["Message-ID"] == f"<delivery-{delivery.id}.{mailing_id}@tribune.example>"
    assert box.to("luc@senat.example") == []
    assert status_of(mailing_id) == MailingStatus.DONE

    again = post(organiser, f"{base(petition)}/{mailing_id}/start")

    assert again.status_code == 303
    assert "already started" in visible_text(
        organiser.get(again.headers["Location"]).get_data(as_text=True)
    )
    assert len(box.messages) == 3
    assert deliveries(mailing_id) == {DeliveryStatus.SENT: 3}


def test_progress_page_and_json_show_the_numbers(organiser, petition, deputes):
    mailing_id = new_letter(organiser, petition)
    start(organiser, petition, mailing_id)

    numbers = progress(organiser, petition, mailing_id)

    assert numbers["status"] == "done"
    assert (numbers["total"], numbers["sent"], numbers["failed"], numbers["remaining"]) == (
        3, 3, 0, 0,
    )  # fmt: skip
    assert numbers["percent"] == 100 and numbers["per_minute"] > 0
    page = organiser.get(f"{base(petition)}/{mailing_id}").get_data(as_text=True)
    assert re.search(r'<progress id="mailing-progress-bar" max="100" value="100">', page)
    assert 'data-field="sent">3<' in page and 'aria-live="polite"' in page
    assert f'data-progress-url="{base(petition)}/{mailing_id}/progress.json"' in page
    assert "<script>" not in page and 'src="/static/js/mailing-progress.js"' in page
    # The compose page of a started letter sends back to its progress.
    edit = organiser.get(f"{base(petition)}/{mailing_id}/edit")
    assert edit.status_code == 303


def test_pause_resume_and_cancel(app, organiser, petition, deputes, box):
    # No sending lane: the mailing stays where the buttons put it.
    app.config["MAILING_LANES"] = 0
    first = new_letter(organiser, petition)
    start(organiser, petition, first)
    assert progress(organiser, petition, first)["remaining"] == 3

    assert post(organiser, f"{base(petition)}/{first}/pause").status_code == 303
    assert status_of(first) == MailingStatus.PAUSED
    page = organiser.get(f"{base(petition)}/{first}").get_data(as_text=True)
    assert f"/mailings/{first}/resume" in page and f"/mailings/{first}/pause" not in page

    assert post(organiser, f"{base(petition)}/{first}/resume").status_code == 303
    assert status_of(first) == MailingStatus.SENDING
    # With its lanes back, the next resume sends the rest, once each.
    app.config["MAILING_LANES"] = 2
    post(organiser, f"{base(petition)}/{first}/pause")
    post(organiser, f"{base(petition)}/{first}/resume")
    assert len(box.wait_for(3)) == 3
    assert deliveries(first) == {DeliveryStatus.SENT: 3}
    assert progress(organiser, petition, first)["status"] == "done"

    app.config["MAILING_LANES"] = 0
    second = new_letter(organiser, petition)
    start(organiser, petition, second)
    assert post(organiser, f"{base(petition)}/{second}/cancel").status_code == 303
    assert status_of(second) == MailingStatus.CANCELLED
    assert deliveries(second) == {DeliveryStatus.CANCELLED: 3}
    app.config["MAILING_LANES"] = 2
    post(organiser, f"{base(petition)}/{second}/resume")
    assert status_of(second) == MailingStatus.CANCELLED
    assert len(box.messages) == 3


def test_refused_message_is_listed_with_its_reason_and_retry_failed_sends_it(
    organiser, petition, deputes, box
):
    box.replies = ["550 5.1.1 No such user here"]
    mailing_id = new_letter(organiser, petition)

    start(organiser, petition, mailing_id)

    assert deliveries(mailing_id) == {DeliveryStatus.SENT: 2, DeliveryStatus.FAILED: 1}
    page = organiser.get(f"{base(petition)}/{mailing_id}").get_data(as_text=True)
    assert "550 5.1.1 No such user here" in page
    assert f"/mailings/{mailing_id}/failures/retry" in page
    assert progress(organiser, petition, mailing_id)["failed"] == 1

    response = post(organiser, f"{base(petition)}/{mailing_id}/failures/retry")

    assert response.status_code == 303
    assert deliveries(mailing_id) == {DeliveryStatus.SENT: 3}
    assert status_of(mailing_id) == MailingStatus.DONE
    assert sorted(len(box.to(official.email)) for official in deputes) == [1, 1, 1]


def test_unknown_outcome_is_explained_and_the_organiser_decides(
    organiser, petition, deputes, box, app
):
    # The server keeps each message but answers after the client gave up waiting.
    box.stall = 1.5
    app.config["MAILING_JOB_BUDGET"] = 4
    mailing_id = new_letter(organiser, petition, roles=[], official_ids=[str(deputes[0].id)])

    start(organiser, petition, mailing_id)

    assert deliveries(mailing_id) == {DeliveryStatus.UNKNOWN: 1}
    page = visible_text(organiser.get(f"{base(petition)}/{mailing_id}").get_data(as_text=True))
    assert "the worker stopped during the send" in page and "two copies" in page

    response = post(organiser, f"{base(petition)}/{mailing_id}/failures/mark-unknown-sent")

    assert response.status_code == 303
    assert deliveries(mailing_id) == {DeliveryStatus.SENT: 1}
    assert len(box.wait_for(1)) == 1


def test_send_again_requeues_the_unknown_deliveries(organiser, petition, deputes, box, app):
    app.config["MAILING_LANES"] = 0
    mailing_id = new_letter(organiser, petition)
    start(organiser, petition, mailing_id)
    db.session.execute(
        Delivery.__table__.update()
        .where(Delivery.mailing_id == mailing_id)
        .values(status=DeliveryStatus.UNKNOWN)
    )
    db.session.commit()
    app.config["MAILING_LANES"] = 2

    response = post(organiser, f"{base(petition)}/{mailing_id}/failures/resend-unknown")

    assert response.status_code == 303
    assert deliveries(mailing_id) == {DeliveryStatus.SENT: 3}
    assert len(box.messages) == 3


# --- Access --------------------------------------------------------------------------------


def test_another_organiser_gets_404_everywhere(app, organiser, petition, deputes):
    mailing_id = new_letter(organiser, petition)
    stranger = app.test_client()
    login(stranger, make_user("organiser"))
    token = csrf_token(stranger, "/admin/")

    for path in ("", "/new", f"/{mailing_id}", f"/{mailing_id}/edit", f"/{mailing_id}/preview",
                 f"/{mailing_id}/progress.json"):  # fmt: skip
        assert stranger.get(base(petition) + path).status_code in (404, 405), path
    for path in ("start", "test", "pause", "cancel", "failures/retry"):
        url = f"{base(petition)}/{mailing_id}/{path}"
        assert stranger.post(url, data={"csrf_token": token}).status_code == 404, path
    assert status_of(mailing_id) == MailingStatus.DRAFT


def test_a_mailing_of_another_petition_is_404(organiser, petition, owner):
    from tests.factories import make_petition

    other = make_petition(owner_id=owner.id)
    mailing_id = new_letter(organiser, other)

    assert organiser.get(f"{base(petition)}/{mailing_id}/edit").status_code == 404
    assert post(organiser, f"{base(petition)}/{mailing_id}/start").status_code == 404


def test_buttons_without_csrf_token_change_nothing(organiser, petition, deputes, box):
    mailing_id = new_letter(organiser, petition)

    for path in ("start", "test", "cancel"):
        response = organiser.post(f"{base(petition)}/{mailing_id}/{path}")
        assert response.status_code == 400, path
    response = organiser.post(
        f"{base(petition)}/{mailing_id}/edit", data=compose_data(name="Changé")
    )
    assert response.status_code == 400

    assert status_of(mailing_id) == MailingStatus.DRAFT
    assert db.session.get(Mailing, mailing_id).name == "Lettre aux députés"
    assert deliveries(mailing_id) == {}
    assert box.messages == []
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


# --- No accident: a confirmation that names the recipients (issue 17, item 4) -------------------


def test_send_asks_a_confirmation_naming_the_number_and_the_first_recipients(
    organiser, petition, deputes, box
):
    mailing_id = new_letter(organiser, petition)
    response = post(organiser, f"{base(petition)}/{mailing_id}/start")
    assert response.status_code == 200
    page = visible_text(response.get_data(as_text=True))
    assert "This mailing writes to 3 recipients:" in page
    assert "Claire Dumont" in page and "Inès Benali" in page and "Luc Sénat" not in page
    assert "Send to 3 recipients" in page
    # Nothing left, nothing queued: the first press only asks.
    assert status_of(mailing_id) == MailingStatus.DRAFT and deliveries(mailing_id) == {}
    assert box.messages == []


def test_recipients_that_changed_after_the_confirmation_send_nothing_until_confirmed_again(
    organiser, petition, deputes, box
):
    mailing_id = new_letter(organiser, petition)
    path = f"{base(petition)}/{mailing_id}/start"
    shown = DIGEST.search(post(organiser, path).get_data(as_text=True)).group(1)
    # An import adds a député between the confirmation page and the click.
    make_official(first_name="Nouveau", last_name="Député", email="nouveau@an.example")
    response = post(organiser, path, {"recipients_digest": shown})
    assert response.status_code == 409
    page = visible_text(response.get_data(as_text=True))
    assert "changed since you looked" in page and "writes to 4 recipients" in page
    assert status_of(mailing_id) == MailingStatus.DRAFT and deliveries(mailing_id) == {}
    # Confirmed again: exactly the four shown.
    assert start(organiser, petition, mailing_id).status_code == 303
    box.wait_for(4)
    assert deliveries(mailing_id) == {DeliveryStatus.SENT: 4}


def test_a_large_mailing_is_confirmed_by_typing_its_number(app, organiser, petition, deputes, box):
    app.config["MAILING_CONFIRM_TYPED_ABOVE"] = 2
    mailing_id = new_letter(organiser, petition)
    page = post(organiser, f"{base(petition)}/{mailing_id}/start").get_data(as_text=True)
    assert "type 3 to confirm" in visible_text(page)
    for typed in (None, 4, 30):
        response = start(organiser, petition, mailing_id, typed=typed)
        assert response.status_code == 422
        assert "Type the number of recipients shown" in visible_text(
            response.get_data(as_text=True)
        )
    assert status_of(mailing_id) == MailingStatus.DRAFT and deliveries(mailing_id) == {}
    assert start(organiser, petition, mailing_id, typed=3).status_code == 303
    box.wait_for(3)
    assert deliveries(mailing_id) == {DeliveryStatus.SENT: 3}


def test_a_scheduled_mailing_writes_to_exactly_the_confirmed_recipients(
    organiser, petition, deputes, box
):
    from datetime import timedelta

    from campaign.clock import utcnow
    from campaign.mailings.services import start_due_mailings

    mailing_id = new_letter(organiser, petition)
    mailing = db.session.get(Mailing, mailing_id)
    mailing.send_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    assert start(organiser, petition, mailing_id).status_code == 303
    assert status_of(mailing_id) == MailingStatus.SCHEDULED
    # Matches the selection only after the confirmation: not written to.
    late = make_official(first_name="Tardif", last_name="Député", email="tardif@an.example")
    assert start_due_mailings(utcnow() + timedelta(hours=2)) == [mailing_id]
    written = set(db.session.scalars(select(Delivery.official_id)))
    assert written == {official.id for official in deputes} and late.id not in written


def test_a_scheduled_mailing_can_be_cancelled_until_it_starts(organiser, petition, deputes, box):
    from datetime import timedelta

    from campaign.clock import utcnow
    from campaign.mailings.services import start_due_mailings

    mailing_id = new_letter(organiser, petition)
    mailing = db.session.get(Mailing, mailing_id)
    mailing.send_at = utcnow() + timedelta(hours=1)
    db.session.commit()
    start(organiser, petition, mailing_id)
    progress_page = organiser.get(f"{base(petition)}/{mailing_id}").get_data(as_text=True)
    assert "Cancel the mailing" in visible_text(progress_page)
    assert post(organiser, f"{base(petition)}/{mailing_id}/cancel").status_code == 303
    assert status_of(mailing_id) == MailingStatus.CANCELLED
    assert start_due_mailings(utcnow() + timedelta(hours=2)) == []
    assert deliveries(mailing_id) == {} and box.messages == []


# --- A real sender (issue 17, item 3) --------------------------------------------------------


def test_a_mailing_leaves_as_the_campaign_via_the_site_with_its_confirmed_reply_to(
    app, organiser, petition, deputes, box
):
    from email import policy
    from email.utils import parseaddr
    from urllib.parse import urlsplit

    from campaign.mailings.models import ReplyAddress

    mailing_id = new_letter(
        organiser,
        petition,
        sender_name="Collectif Santé Publique",
        reply_to_address="Contact@Collectif.example",
    )
    # The campaign's inbox gets a link; nothing may leave until it is followed.
    [request] = box.wait_for(1)
    assert request["To"] == "contact@collectif.example"
    edit = organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True)
    assert "Waiting for confirmation" in visible_text(edit)
    refused = post(organiser, f"{base(petition)}/{mailing_id}/start")
    assert refused.status_code == 422
    assert "not confirmed yet" in visible_text(refused.get_data(as_text=True))
    assert status_of(mailing_id) == MailingStatus.DRAFT and deliveries(mailing_id) == {}

    link = urlsplit(re.search(r"https?://\S+/reply-to/\S+", text_part(request)).group(0)).path
    visitor = english_client(app)
    # Opening the link (a mail scanner does) confirms nothing.
    assert "Confirm this address" in visible_text(visitor.get(link).get_data(as_text=True))
    db.session.expire_all()
    assert db.session.scalar(select(ReplyAddress.confirmed_at)) is None
    # A POST without the CSRF token confirms nothing either.
    assert visitor.post(link).status_code == 400
    confirmed = visitor.post(link, data={"csrf_token": csrf_token(visitor, link)})
    assert "Confirmed" in visible_text(confirmed.get_data(as_text=True))

    assert start(organiser, petition, mailing_id).status_code == 303
    letters = box.wait_for(4)[1:]
    for letter in letters:
        decoded = str(policy.default.header_factory("From", letter["From"]))
        assert parseaddr(decoded) == ("Collectif Santé Publique via Tribune", PLATFORM)
        assert letter["Reply-To"] == "contact@collectif.example"


def test_a_reply_to_address_confirmed_once_serves_the_petitions_next_mailings(
    app, organiser, petition, deputes, box
):
    from campaign.clock import utcnow
    from campaign.mailings.models import ReplyAddress

    db.session.add(
        ReplyAddress(
            petition_id=petition.id, email="contact@collectif.example", confirmed_at=utcnow()
        )
    )
    db.session.commit()
    mailing_id = new_letter(organiser, petition, reply_to_address="contact@collectif.example")
    assert start(organiser, petition, mailing_id).status_code == 303
    letters = box.wait_for(3)
    assert {letter["Reply-To"] for letter in letters} == {"contact@collectif.example"}
    # Without a sender name, the platform's own From, as before.
    assert {letter["From"] for letter in letters} == {f"Tribune <{PLATFORM}>"}


def test_a_bad_reply_to_address_or_a_sender_name_with_a_line_break_is_refused(
    organiser, petition, deputes, box
):
    mailing_id = new_letter(organiser, petition)
    response = save(
        organiser, petition, mailing_id, reply_to_address="pas une adresse", sender_name="A\nB"
    )
    assert response.status_code == 422
    page = visible_text(response.get_data(as_text=True))
    assert "Enter a valid email address" in page
    assert db.session.get(Mailing, mailing_id).reply_to_address == ""
    assert box.messages == []


# --- Choosing recipients (issue 17, item 6) ------------------------------------------------------


def test_departements_are_chosen_by_region_and_a_whole_region_at_once(organiser, petition, deputes):
    mailing_id = new_letter(organiser, petition, regions=["Bretagne"], departements=["75"])
    selection = db.session.get(Mailing, mailing_id).selection
    assert selection["departements"] == ["22", "29", "35", "56", "75"]
    html = organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True)
    page = visible_text(html)
    assert "Bretagne (4 chosen)" in page and "Île-de-France (1 chosen)" in page
    # Grouped checkboxes, no list to ctrl-click through.
    boxes = re.findall(r"<input [^>]*>", html)
    assert any('name="departements"' in b and 'value="29"' in b and "checked" in b for b in boxes)
    assert "Hold Ctrl" not in page


def count(client, petition, mailing_id: int, query: str):
    return client.get(f"{base(petition)}/{mailing_id}/recipients.json?{query}")


def test_the_live_count_counts_the_selection_on_the_page_without_saving_it(
    organiser, petition, deputes
):
    mailing_id = new_letter(organiser, petition)
    response = count(organiser, petition, mailing_id, "roles=depute&departements=75")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.get_json() == {
        "count": 3,
        "skipped": [],
        "message": "With this selection, the letter goes to 3 recipients.",
        "skipped_message": "",
    }
    # A whole région, no role: the senator of Paris too.
    answer = count(organiser, petition, mailing_id, "regions=Île-de-France").get_json()
    assert answer["count"] == 4
    assert count(organiser, petition, mailing_id, "").get_json()["count"] == 0
    assert db.session.get(Mailing, mailing_id).selection["roles"] == ["depute"]


def test_the_live_count_names_the_bouncing_addresses_it_skips(organiser, petition, deputes):
    from campaign.clock import utcnow

    deputes[0].bouncing_since = utcnow()
    db.session.commit()
    mailing_id = new_letter(organiser, petition)
    answer = count(organiser, petition, mailing_id, "roles=depute").get_json()
    assert answer["count"] == 2
    assert answer["skipped"] == [{"name": "Claire Dumont", "email": "claire.dumont@an.example"}]
    assert answer["skipped_message"] == "1 address bounces and is skipped: Claire Dumont."


def test_the_live_count_is_for_the_petitions_organisers_only(app, organiser, petition, deputes):
    mailing_id = new_letter(organiser, petition)
    path = f"{base(petition)}/{mailing_id}/recipients.json?roles=depute"
    anonymous = app.test_client()
    response = anonymous.get(path)
    assert response.status_code in (302, 401) and "count" not in response.get_data(as_text=True)
    stranger = app.test_client()
    login(stranger, make_user("organiser"))
    assert stranger.get(path).status_code == 404
    # Nothing to count for an update to signatories; a value that is no choice is refused.
    update = post(organiser, f"{base(petition)}/new", {"kind": "update", "name": "Nouvelles"})
    update_id = int(re.search(r"/mailings/(\d+)/edit", update.headers["Location"]).group(1))
    assert count(organiser, petition, update_id, "roles=depute").status_code == 404
    refused = count(organiser, petition, mailing_id, "official_ids=abc")
    assert refused.status_code == 400 and "count" not in refused.get_json()


def test_without_javascript_the_count_button_shows_the_number_and_saves_nothing(
    organiser, petition, deputes
):
    mailing_id = new_letter(organiser, petition)
    response = save(
        organiser, petition, mailing_id, roles=None, departements=["75"], save=None,
        count="Count the recipients",
    )  # fmt: skip
    assert response.status_code == 200
    page = visible_text(response.get_data(as_text=True))
    assert "With this selection, the letter goes to 4 recipients." in page
    assert "As saved, this mailing writes to 3 recipients." in page
    assert db.session.get(Mailing, mailing_id).selection["departements"] == []


def test_without_javascript_find_filters_the_departements_and_keeps_those_ticked(
    organiser, petition, deputes
):
    mailing_id = new_letter(organiser, petition)
    response = save(
        organiser, petition, mailing_id, departements=["75"], departement_search="ardeche",
        save=None, find_departements="Find",
    )  # fmt: skip
    html = response.get_data(as_text=True)
    boxes = re.findall(r'<input type="checkbox" id="[^"]+" name="departements" value="(\w+)"', html)
    assert boxes == ["07"]
    assert '<input type="hidden" name="departements" value="75">' in html
    assert "1 département found." in visible_text(html)
    # Saving from the filtered page keeps Paris.
    response = save(organiser, petition, mailing_id, departements=["75", "07"])
    assert db.session.get(Mailing, mailing_id).selection["departements"] == ["07", "75"]


def test_without_javascript_unticking_a_whole_region_clears_it(organiser, petition, deputes):
    mailing_id = new_letter(organiser, petition, regions=["Bretagne"], departements=["75"])
    html = organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True)
    assert '<input type="hidden" name="whole_regions_shown" value="Bretagne"' in html
    save(
        organiser, petition, mailing_id, departements=["22", "29", "35", "56", "75"],
        whole_regions_shown=["Bretagne"],
    )  # fmt: skip
    assert db.session.get(Mailing, mailing_id).selection["departements"] == ["75"]


def test_authorities_are_their_own_group_of_the_picker(organiser, petition, deputes):
    cpam = make_official(
        first_name="", last_name="", role="autorite", chamber="CPAM de Paris",
        email="accueil@cpam-paris.example",
    )  # fmt: skip
    mailing_id = new_letter(organiser, petition, roles=None, authority_ids=[str(cpam.id)])
    mailing = db.session.get(Mailing, mailing_id)
    assert mailing.selection["authority_ids"] == [cpam.id]
    html = organiser.get(f"{base(petition)}/{mailing_id}/edit").get_data(as_text=True)
    group = html[html.index('class="picker-group authority-picker') :]
    assert re.search(rf'<input checked[^>]*name="authority_ids"[^>]*value="{cpam.id}"', group)
    assert "CPAM de Paris – 75" in visible_text(group[: group.index("</fieldset>")])
    # Not a chamber of people, and no person picked by hand either.
    chambers = html[html.index("<legend>Chambers</legend>") :]
    assert "CPAM de Paris" not in chambers[: chambers.index("</fieldset>")]
    assert "With this selection, the letter goes to 1 recipient." in visible_text(html)
