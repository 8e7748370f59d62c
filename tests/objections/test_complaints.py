"""After the letter: "sent" said from the email, the one reminder asking "did they answer?"
with one-click links (a page with one button: a mail scanner's GET changes nothing), the
complaint to the authority prepared with the right dates and the authority's form steps,
and the stop link in every email. Real SMTP; time passed as `now`."""

import io
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale, format_date
from pypdf import PdfReader
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.demo import DEMO_INSTITUTIONS, DEMO_OBJECTION_BODY, DEMO_OBJECTION_SUBJECT
from campaign.extensions import db
from campaign.objections.complaints import email_sent_links
from campaign.objections.institutions import import_institutions
from campaign.objections.models import Institution, ObjectionEvent
from campaign.objections.services import mark_sent, remind_due_letters, set_objection_letter
from campaign.tokens import make_token
from tests.factories import make_petition, make_signature
from tests.support import CSRF_PATTERN, csrf_token, links_in, path_of, text_part, visible_text

ADDRESS = "aurore.vasseur@example.fr"
FUND = "Caisse d’assurance maladie fictive du Rhône"
AUTHORITY = "Autorité fictive de protection des données"


@pytest.fixture
def supporter(site):
    now = utcnow()
    import_institutions(DEMO_INSTITUTIONS.read_bytes(), source="demo", now=now)
    petition = make_petition()
    set_objection_letter(petition, DEMO_OBJECTION_SUBJECT, DEMO_OBJECTION_BODY, now)
    signature = make_signature(
        petition, email=ADDRESS, language="fr", first_name="Aurore", last_name="Vasseur"
    )
    return signature, make_token("rights", signature, now), site.test_client()


def fund() -> Institution:
    return db.session.scalar(select(Institution).where(Institution.key == "caisse-exemple-69"))


def kinds(signature_id: int) -> list[str]:
    rows = db.session.scalars(
        select(ObjectionEvent.kind).where(ObjectionEvent.signature_id == signature_id)
    )
    return sorted(str(kind) for kind in rows)


def prepare(client, token: str) -> str:
    path = f"/s/{token}/objection"
    return client.post(
        path, data={"csrf_token": csrf_token(client, path), "departement": "69"}
    ).get_data(as_text=True)


def sent_long_ago(signature, days_ago: int = 31):
    """The letter marked sent `days_ago` days ago, with the reminder: time passed as `now`."""
    sent_at = utcnow() - timedelta(days=days_ago)
    mark_sent(signature, fund(), True, sent_at)
    return sent_at


def reminder_links(mailbox) -> dict[str, str]:
    assert remind_due_letters(utcnow()) == 1
    (message,) = mailbox.wait_for(1)
    assert message["To"] == ADDRESS
    text = text_part(message)
    links = links_in(text)
    found = {
        "stop": next(link for link in links if link.endswith("/objection/stop-reminders")),
        "my-data": next(link for link in links if link.endswith("/my-data")),
    }
    for choice in ("satisfactory", "unsatisfactory", "none"):
        found[choice] = next(link for link in links if link.endswith(f"/answer/{choice}"))
    return found


def follow(client, link: str):
    """Open an emailed link (GET: what a mail scanner does), then press the page's button."""
    page = client.get(path_of(link))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html).group(1)
    data = {"csrf_token": CSRF_PATTERN.search(html).group(1)}
    institution = re.search(r'name="institution" value="(\d+)"', html)
    if institution:
        data["institution"] = institution.group(1)
    return client.post(action, data=data)


def test_no_answer_from_the_reminder_prepares_the_complaint_with_the_dates(supporter, mailbox):
    signature, _token, client = supporter
    sent_at = sent_long_ago(signature)
    links = reminder_links(mailbox)
    # A mail scanner opening every link changes nothing.
    for name in ("satisfactory", "unsatisfactory", "none", "stop"):
        assert client.get(path_of(links[name])).status_code == 200
    assert kinds(signature.id) == ["reminded", "sent"]
    response = follow(client, links["none"])
    assert response.status_code == 200
    page = visible_text(response.get_data(as_text=True))
    sent_on = french_date(sent_at)
    due_on = french_date(sent_at + timedelta(days=30))
    # The complaint, in the petition's language, names the fund and both dates.
    assert f"Le {sent_on}, j’ai adressé à {FUND} une demande d’opposition" in page
    assert f"a pris fin le {due_on}" in page
    assert "Je n’ai reçu aucune réponse." in page
    assert "Je soussigné(e) Aurore Vasseur dépose une plainte contre " + FUND in page
    # Addressed to the authority, with the steps of its complaint form.
    assert "Madame, Monsieur, Je soussigné(e) Aurore Vasseur" in page
    assert f"Sans réponse satisfaisante, vous pouvez porter plainte auprès de {AUTHORITY}" in page
    assert "Adresser une plainte" in page and "Description des faits" in page
    assert kinds(signature.id) == ["complaint_prepared", "no_answer", "reminded", "sent"]


def test_the_complaint_pdf_holds_the_dates_the_details_and_the_authoritys_address(
    supporter, mailbox
):
    signature, token, client = supporter
    sent_at = sent_long_ago(signature, days_ago=40)
    links = reminder_links(mailbox)
    html = follow(client, links["unsatisfactory"]).get_data(as_text=True)
    assert "La réponse que j’ai reçue ne respecte pas mon opposition." in visible_text(html)
    response = client.post(
        f"/s/{token}/objection/{fund().id}/complaint/pdf",
        data={
            "csrf_token": CSRF_PATTERN.search(html).group(1),
            "institution": fund().id,
            "details": "NIR 2 84 05 75 123 456 78",
        },
    )
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    text = " ".join(text.split())
    assert "NIR 2 84 05 75 123 456 78" in text
    assert french_date(sent_at) in text
    assert french_date(sent_at + timedelta(days=30)) in text
    assert "Service des plaintes" in text
    assert kinds(signature.id).count("complaint_prepared") == 1


def test_a_satisfactory_answer_prepares_no_complaint(supporter, mailbox):
    signature, token, client = supporter
    sent_long_ago(signature)
    links = reminder_links(mailbox)
    response = follow(client, links["satisfactory"])
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/my-data")
    assert kinds(signature.id) == ["answered", "reminded", "sent"]
    page = visible_text(client.get(f"/s/{token}/my-data").get_data(as_text=True))
    assert "Vous avez indiqué qu’il a répondu de façon satisfaisante." in page
    assert "Préparer ma plainte" not in page
    # And the complaint cannot be asked for.
    path = f"/s/{token}/objection/{fund().id}/complaint"
    data = {"csrf_token": csrf_token(client, f"/s/{token}/my-data")}
    assert client.post(path, data=data).status_code == 404


def test_the_supporters_page_answers_and_prepares_the_complaint(supporter):
    signature, token, client = supporter
    sent_long_ago(signature)
    path = f"/s/{token}/my-data"
    page = visible_text(client.get(path).get_data(as_text=True))
    assert "Ont-ils répondu" in page
    # The supporter's word replaces the one before it: a wrong click is undone.
    for choice in ("satisfactory", "unsatisfactory"):
        response = client.post(
            f"/s/{token}/objection/{fund().id}/answer/{choice}",
            data={"csrf_token": csrf_token(client, path)},
        )
    assert response.status_code == 200
    assert kinds(signature.id) == ["answered_unsatisfactorily", "complaint_prepared", "sent"]
    page = client.get(path).get_data(as_text=True)
    assert f"/s/{token}/objection/{fund().id}/complaint" in page
    response = client.post(
        f"/s/{token}/objection/{fund().id}/complaint",
        data={"csrf_token": csrf_token(client, path)},
    )
    assert response.status_code == 200
    assert kinds(signature.id).count("complaint_prepared") == 1


def test_no_answer_cannot_be_said_before_the_period_is_over(supporter):
    signature, token, client = supporter
    sent_long_ago(signature, days_ago=5)
    path = f"/s/{token}/my-data"
    response = client.post(
        f"/s/{token}/objection/{fund().id}/answer/none",
        data={"csrf_token": csrf_token(client, path)},
    )
    assert response.status_code == 303
    assert kinds(signature.id) == ["sent"]


def test_answers_need_a_letter_sent_and_a_known_choice(supporter):
    signature, token, client = supporter
    path = f"/s/{token}/my-data"
    data = {"csrf_token": csrf_token(client, path)}
    answer = f"/s/{token}/objection/{fund().id}/answer"
    assert client.post(f"{answer}/none", data=data).status_code == 404
    sent_long_ago(signature)
    assert client.post(f"{answer}/maybe", data=data).status_code == 404
    assert client.get(f"{answer}/maybe").status_code == 404
    # Without the CSRF token, nothing.
    assert client.post(f"{answer}/none").status_code == 400
    # The authority owes no answer that a complaint would follow.
    authority = db.session.scalar(select(Institution).where(Institution.key == "autorite-exemple"))
    mark_sent(signature, authority, False, utcnow() - timedelta(days=100))
    assert client.get(f"/s/{token}/objection/{authority.id}/answer/none").status_code == 404
    path = f"/s/{token}/objection/{authority.id}/answer/none"
    assert client.post(path, data=data).status_code == 404
    assert kinds(signature.id) == ["sent", "sent"]


def test_the_stop_link_of_the_email_stops_the_reminder(supporter, mailbox):
    signature, token, client = supporter
    prepare(client, token)
    assert email_sent_links(signature, utcnow())
    (message,) = mailbox.wait_for(1)
    (stop,) = [link for link in links_in(text_part(message)) if link.endswith("stop-reminders")]
    mark_sent(signature, fund(), True, utcnow() - timedelta(days=31))
    assert follow(client, stop).status_code == 303
    assert remind_due_letters(utcnow()) == 0


def test_sent_from_the_email(supporter, mailbox):
    signature, token, client = supporter
    page = prepare(client, token)
    response = client.post(
        f"/s/{token}/objection/sent-links",
        data={"csrf_token": CSRF_PATTERN.search(page).group(1)},
    )
    assert response.status_code == 303
    (message,) = mailbox.wait_for(1)
    assert message["To"] == ADDRESS
    text = text_part(message)
    assert FUND in text and AUTHORITY in text
    assert "m’oppose" not in text  # no letter in it
    links = links_in(text)
    assert any(link.endswith("/objection/stop-reminders") for link in links)
    (sent_link,) = [link for link in links if link.endswith(f"/objection/{fund().id}/sent")]
    # Opening it changes nothing; its button does.
    assert client.get(path_of(sent_link)).status_code == 200
    assert "sent" not in kinds(signature.id)
    assert follow(client, sent_link).status_code == 303
    assert kinds(signature.id).count("sent") == 1
    # The next email lists only the letter not yet sent.
    mailbox.clear()
    assert email_sent_links(signature, utcnow())
    (message,) = mailbox.wait_for(1)
    assert FUND not in text_part(message) and AUTHORITY in text_part(message)


def test_the_sent_links_email_is_limited_per_day(supporter, mailbox):
    signature, token, client = supporter
    prepare(client, token)
    now = utcnow()
    assert [email_sent_links(signature, now) for _ in range(4)] == [True, True, True, False]
    assert email_sent_links(signature, now + timedelta(days=1, seconds=1))


def test_withdrawing_by_the_confirmation_emails_link_erases_the_timeline(supporter):
    signature, token, client = supporter
    prepare(client, token)
    sent_long_ago(signature)
    withdraw = make_token("withdraw", signature, utcnow())
    path = f"/s/{withdraw}/withdraw"
    client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert kinds(signature.id) == []


def test_any_withdrawal_erases_the_timeline_in_its_transaction(supporter):
    from campaign.signatures.services import withdraw_signature

    signature, token, client = supporter
    prepare(client, token)
    assert kinds(signature.id)
    # The service every withdrawal goes through, whoever asks (an organiser's tool too).
    assert withdraw_signature(signature.id, utcnow())
    db.session.expire_all()
    assert kinds(signature.id) == []


def test_the_organisers_see_answers_and_complaints_in_counts_and_a_chart(supporter, app):
    from tests.factories import make_user
    from tests.support import login

    signature, token, client = supporter
    prepare(client, token)
    sent_long_ago(signature)
    path = f"/s/{token}/my-data"
    client.post(
        f"/s/{token}/objection/{fund().id}/answer/none",
        data={"csrf_token": csrf_token(client, path)},
    )
    owner = make_user("organiser")
    petition = db.session.get(type(signature), signature.id).petition_id
    from campaign.petitions.models import Petition

    db.session.get(Petition, petition).owner_id = owner.id
    db.session.commit()
    manager = app.test_client()
    login(manager, owner)
    slug = db.session.get(Petition, petition).slug
    html = manager.get(f"/admin/p/{slug}/objection", headers={"Accept-Language": "en"})
    html = html.get_data(as_text=True)
    page = visible_text(html)
    # Prepared, marked sent, answered (no), complaint prepared.
    assert f"{FUND} 1 1 0 1" in page
    assert html.count('<svg width="100%"') == 2
    assert '<title id="institution-chart-title">' in html and "<desc" in html
    assert "Vasseur" not in page


def french_date(moment) -> str:
    """A date as the complaint writes it: in French, in the site's time zone."""
    with force_locale("fr"):
        return format_date(moment, "long")


def test_a_later_reminder_asks_only_about_its_own_letters(supporter, mailbox):
    signature, _token, _client = supporter
    sent_long_ago(signature, days_ago=31)
    authority = db.session.scalar(select(Institution).where(Institution.key == "autorite-exemple"))
    assert remind_due_letters(utcnow()) == 1
    assert FUND in text_part(mailbox.wait_for(1)[0])
    mailbox.clear()
    mark_sent(signature, authority, True, utcnow() - timedelta(days=authority.answer_days))
    assert remind_due_letters(utcnow() + timedelta(minutes=1)) == 1
    text = text_part(mailbox.wait_for(1)[0])
    assert AUTHORITY in text and FUND not in text
