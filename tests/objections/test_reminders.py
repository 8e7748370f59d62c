"""The one reminder a supporter asks for when they mark their letter sent: queued once the
institution's answer period is over (time passed as `now`), sent through a real SMTP
server, never twice, and never after one click on "Stop the reminders"."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.demo import DEMO_INSTITUTIONS, DEMO_OBJECTION_BODY, DEMO_OBJECTION_SUBJECT
from campaign.extensions import db
from campaign.objections.institutions import import_institutions
from campaign.objections.models import EventKind, Institution, ObjectionEvent
from campaign.objections.services import remind_due_letters, set_objection_letter
from campaign.tokens import make_token
from tests.factories import make_petition, make_signature
from tests.support import CSRF_PATTERN, csrf_token, links_in, path_of, text_part

ADDRESS = "aurore.vasseur@example.fr"


@pytest.fixture
def supporter(site):
    now = utcnow()
    import_institutions(DEMO_INSTITUTIONS.read_bytes(), source="demo", now=now)
    petition = make_petition()
    set_objection_letter(petition, DEMO_OBJECTION_SUBJECT, DEMO_OBJECTION_BODY, now)
    signature = make_signature(petition, email=ADDRESS, language="fr")
    return signature, make_token("rights", signature, now), site.test_client()


def mark_sent(client, token: str, remind: bool) -> Institution:
    fund = db.session.scalar(select(Institution).where(Institution.key == "caisse-exemple-69"))
    path = f"/s/{token}/objection"
    page = client.post(
        path, data={"csrf_token": csrf_token(client, path), "departement": "69"}
    ).get_data(as_text=True)
    data = {"csrf_token": CSRF_PATTERN.search(page).group(1), "institution": fund.id}
    if remind:
        data["remind"] = "y"
    assert client.post(f"/s/{token}/objection/sent", data=data).status_code == 303
    return fund


def test_the_reminder_comes_once_when_the_answer_period_is_over(supporter, mailbox):
    signature, token, client = supporter
    fund = mark_sent(client, token, remind=True)
    now = utcnow()
    assert remind_due_letters(now + timedelta(days=fund.answer_days - 1)) == 0
    later = now + timedelta(days=fund.answer_days, hours=1)
    assert remind_due_letters(later) == 1
    (message,) = mailbox.wait_for(1)
    assert message["To"] == ADDRESS
    text = text_part(message)
    assert "Caisse d’assurance maladie fictive du Rhône" in text
    assert "m’oppose" not in text  # the letter itself is nowhere to be sent again
    # The link opens the supporter's page, which shows the step.
    (link,) = [link for link in links_in(text) if "/my-data" in link]
    page = client.get(path_of(link)).get_data(as_text=True)
    assert "Caisse d’assurance maladie fictive du Rhône" in page
    # Once only.
    assert remind_due_letters(later + timedelta(days=40)) == 0
    kinds = db.session.scalars(
        select(ObjectionEvent.kind).where(ObjectionEvent.signature_id == signature.id)
    )
    assert sorted(kinds) == [
        EventKind.PREPARED,
        EventKind.PREPARED,
        EventKind.REMINDED,
        EventKind.SENT,
    ]
    assert len(mailbox.messages) == 1


def test_no_reminder_unless_asked(supporter, mailbox):
    _signature, token, client = supporter
    fund = mark_sent(client, token, remind=False)
    assert remind_due_letters(utcnow() + timedelta(days=fund.answer_days + 1)) == 0
    assert mailbox.messages == []


def test_one_click_stops_the_reminder(supporter, mailbox):
    _signature, token, client = supporter
    fund = mark_sent(client, token, remind=True)
    path = f"/s/{token}/my-data"
    response = client.post(
        f"/s/{token}/objection/stop-reminders", data={"csrf_token": csrf_token(client, path)}
    )
    assert response.status_code == 303
    assert remind_due_letters(utcnow() + timedelta(days=fund.answer_days + 1)) == 0
    assert mailbox.messages == []
