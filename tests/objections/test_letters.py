"""The supporter's objection letter, from the page their rights link opens: the institutions
of their département, the letter with their name, `mailto:` and portal steps, the PDF with
the details they type, and the rule that no letter content is ever stored."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import String, Text, func, select

from campaign.clock import utcnow
from campaign.demo import DEMO_INSTITUTIONS, DEMO_OBJECTION_BODY, DEMO_OBJECTION_SUBJECT
from campaign.extensions import db
from campaign.objections.institutions import import_institutions
from campaign.objections.models import EventKind, Institution, ObjectionEvent
from campaign.objections.services import (
    letter_context,
    mark_sent,
    remind_due_letters,
    set_objection_letter,
    stop_reminders,
)
from campaign.privacy.services import erase_own_data, purge_personal_data
from campaign.tokens import make_token
from tests.factories import make_petition, make_signature
from tests.support import CSRF_PATTERN, csrf_token, links_in, path_of, text_part

DETAILS = "NIR 2 84 05 75 123 456 78 — né le 3 mai 1984"


@pytest.fixture
def campaign(app):
    """A petition with an objection letter, the demo's institutions, and one supporter."""
    now = utcnow()
    import_institutions(DEMO_INSTITUTIONS.read_bytes(), source="demo", now=now)
    petition = make_petition()
    set_objection_letter(petition, DEMO_OBJECTION_SUBJECT, DEMO_OBJECTION_BODY, now)
    signature = make_signature(petition, first_name="Aurore", last_name="Vasseur")
    return petition, signature, make_token("rights", signature, now)


def choose(client, token: str, departement: str):
    path = f"/s/{token}/objection"
    return client.post(
        path, data={"csrf_token": csrf_token(client, path), "departement": departement}
    )


def events(signature_id: int) -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Institution.key, ObjectionEvent.kind)
        .join(Institution)
        .where(ObjectionEvent.signature_id == signature_id)
        .order_by(Institution.key)
    )
    return [(key, str(kind)) for key, kind in rows]


def test_the_rights_page_leads_to_the_letter_when_the_petition_has_one(client, campaign):
    _petition, _signature, token = campaign
    page = client.get(f"/s/{token}/my-data").get_data(as_text=True)
    assert f"/s/{token}/objection" in page


def test_no_objection_page_without_a_letter_template(client, app):
    signature = make_signature(make_petition())
    token = make_token("rights", signature, utcnow())
    assert client.get(f"/s/{token}/objection").status_code == 404
    assert f"/s/{token}/objection" not in client.get(f"/s/{token}/my-data").get_data(as_text=True)


def test_the_departement_chooses_the_fund_and_the_letter_carries_the_name(client, campaign):
    _petition, signature, token = campaign
    response = choose(client, token, "69")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Caisse d’assurance maladie fictive du Rhône" in page
    assert "Autorité fictive de protection des données" in page
    assert "Caisse d’assurance maladie fictive de Paris" not in page
    assert "Je soussigné(e) Aurore Vasseur" in page
    # The fund takes email: the letter opens in the mail program, addressed to it.
    assert 'href="mailto:dpo-69@example.org?subject=' in page
    # The authority's portal: its steps, written by the organisers, beside the letter.
    assert "Ouvrez le formulaire «\u00a0Nous signaler\u00a0» de l’autorité." in page
    # Its complaint form's steps wait for the complaint.
    assert "Adresser une plainte" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert events(signature.id) == [
        ("autorite-exemple", EventKind.PREPARED),
        ("caisse-exemple-69", EventKind.PREPARED),
    ]
    # Preparing again records nothing more.
    choose(client, token, "69")
    assert len(events(signature.id)) == 2


def test_an_unknown_departement_is_refused_and_records_nothing(client, campaign):
    _petition, signature, token = campaign
    response = choose(client, token, "999")
    assert response.status_code == 422
    assert events(signature.id) == []


def test_a_post_without_csrf_token_records_nothing(client, campaign):
    _petition, signature, token = campaign
    response = client.post(f"/s/{token}/objection", data={"departement": "69"})
    assert response.status_code == 400
    assert events(signature.id) == []


def _pdf(client, token: str, institution: Institution, details: str):
    page = choose(client, token, "75").get_data(as_text=True)
    csrf = CSRF_PATTERN.search(page).group(1)
    return client.post(
        f"/s/{token}/objection/pdf",
        data={"csrf_token": csrf, "institution": institution.id, "details": details},
    )


def test_the_pdf_holds_the_typed_details_and_the_postal_address(client, campaign):
    _petition, _signature, token = campaign
    fund = db.session.scalar(select(Institution).where(Institution.key == "caisse-exemple-75"))
    response = _pdf(client, token, fund, DETAILS)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    assert "NIR 2 84 05 75 123 456 78" in text
    assert "75000 Paris" in text
    assert "Aurore Vasseur" in text


def _text_columns_holding(needle: str) -> list[str]:
    """Every text column of every table where `needle` appears."""
    found = []
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (String, Text)):
                hits = db.session.scalar(
                    select(func.count()).select_from(table).where(column.contains(needle))
                )
                if hits:
                    found.append(f"{table.name}.{column.name}")
    return found


def test_the_database_holds_no_letter_content_after_a_full_journey(site, mailbox):
    """Prepared, PDF with details, sent from the emailed link with the reminder, reminded
    (real SMTP), "no answer" from the reminder's link, the complaint shown and its PDF with
    details: the database holds steps, and not a word of a letter or a complaint."""
    now = utcnow()
    import_institutions(DEMO_INSTITUTIONS.read_bytes(), source="demo", now=now)
    petition = make_petition()
    set_objection_letter(petition, DEMO_OBJECTION_SUBJECT, DEMO_OBJECTION_BODY, now)
    signature = make_signature(
        petition, first_name="Aurore", last_name="Vasseur", email="aurore@example.fr"
    )
    token = make_token("rights", signature, now)
    client = site.test_client()
    fund = db.session.scalar(select(Institution).where(Institution.key == "caisse-exemple-69"))
    client.get(f"/s/{token}/my-data")
    page = choose(client, token, "69").get_data(as_text=True)
    csrf = CSRF_PATTERN.search(page).group(1)
    pdf = client.post(
        f"/s/{token}/objection/pdf",
        data={"csrf_token": csrf, "institution": fund.id, "details": DETAILS},
    )
    assert pdf.status_code == 200
    # "Sent" from the email, with the reminder, a month and more ago (time passed as now).
    client.post(f"/s/{token}/objection/sent-links", data={"csrf_token": csrf})
    (message,) = mailbox.wait_for(1)
    (link,) = [link for link in links_in(text_part(message)) if link.endswith(f"/{fund.id}/sent")]
    html = client.get(path_of(link)).get_data(as_text=True)
    data = {"csrf_token": CSRF_PATTERN.search(html).group(1), "institution": fund.id, "remind": "y"}
    assert client.post(f"/s/{token}/objection/sent", data=data).status_code == 303
    # As if it was sent 40 days ago.
    sent = db.session.scalar(select(ObjectionEvent).where(ObjectionEvent.kind == EventKind.SENT))
    sent.at -= timedelta(days=40)
    sent.remind_at -= timedelta(days=40)
    db.session.commit()
    mailbox.clear()
    assert remind_due_letters(utcnow()) == 1
    (reminder,) = mailbox.wait_for(1)
    (none,) = [link for link in links_in(text_part(reminder)) if link.endswith("/answer/none")]
    html = client.get(path_of(none)).get_data(as_text=True)
    complaint = client.post(path_of(none), data={"csrf_token": CSRF_PATTERN.search(html).group(1)})
    assert "dépose une plainte" in complaint.get_data(as_text=True)
    pdf = client.post(
        f"/s/{token}/objection/{fund.id}/complaint/pdf",
        data={"csrf_token": csrf, "institution": fund.id, "details": DETAILS},
    )
    assert pdf.status_code == 200
    db.session.expire_all()
    assert _text_columns_holding("84 05 75") == []
    assert _text_columns_holding("1984") == []
    # The rendered letter (the template holds "{{ supporter.first_name }}", not the name).
    assert _text_columns_holding("soussigné(e) Aurore") == []
    # The complaint (rendered from a template file, in no column).
    assert _text_columns_holding("dépose une plainte") == []
    assert _text_columns_holding("Je n’ai reçu aucune réponse") == []
    # The checker itself finds what is there: the signer's name, on their signature.
    assert "signatures.last_name" in _text_columns_holding("Vasseur")
    assert {kind for _key, kind in events(signature.id)} == {
        "prepared",
        "sent",
        "reminded",
        "no_answer",
        "complaint_prepared",
    }


def test_erasing_ones_data_erases_the_letters_timeline(client, campaign):
    _petition, signature, token = campaign
    choose(client, token, "13")
    assert events(signature.id)
    erase_own_data(db.session.get(type(signature), signature.id), utcnow())
    assert events(signature.id) == []
    # And the letter page closes with the signature.
    assert client.get(f"/s/{token}/objection").status_code == 404


def test_withdrawing_from_the_rights_page_erases_the_letters_timeline(client, campaign):
    _petition, signature, token = campaign
    choose(client, token, "13")
    path = f"/s/{token}/my-data"
    client.post(f"{path}/withdraw", data={"csrf_token": csrf_token(client, path)})
    assert events(signature.id) == []


def test_the_retention_purge_erases_the_letters_timeline(app, client, campaign):
    petition, signature, token = campaign
    choose(client, token, "13")
    petition.closes_at = utcnow() - timedelta(days=1)
    db.session.commit()
    later = utcnow() + timedelta(days=app.config["PRIVACY_RETENTION_DAYS"] + 2)
    report = purge_personal_data(later)
    assert events(signature.id) == []
    assert report[0].letter_steps_deleted == 2


def _mark_sent(client, token: str, institution: Institution):
    page = choose(client, token, "69").get_data(as_text=True)
    data = {"csrf_token": CSRF_PATTERN.search(page).group(1), "institution": institution.id}
    return client.post(f"/s/{token}/objection/sent", data=data)


def test_marking_sent_keeps_one_step_shown_on_the_rights_page(client, campaign):
    _petition, signature, token = campaign
    fund = db.session.scalar(select(Institution).where(Institution.key == "caisse-exemple-69"))
    response = _mark_sent(client, token, fund)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/s/{token}/my-data")
    _mark_sent(client, token, fund)
    assert events(signature.id).count(("caisse-exemple-69", EventKind.SENT)) == 1
    page = client.get(f"/s/{token}/my-data").get_data(as_text=True)
    assert "Caisse d’assurance maladie fictive du Rhône" in page


def test_the_reminder_seam_sets_and_stops_the_date_of_the_answer_period(app, campaign):
    _petition, signature, _token = campaign
    fund = db.session.scalar(select(Institution).where(Institution.key == "caisse-exemple-69"))
    now = utcnow()
    due = mark_sent(signature, fund, True, now)
    assert due == now + timedelta(days=fund.answer_days)
    sent = db.session.scalar(select(ObjectionEvent).where(ObjectionEvent.kind == EventKind.SENT))
    assert sent.remind_at == due
    assert stop_reminders(signature) == 1
    assert db.session.get(ObjectionEvent, sent.id).remind_at is None


def test_the_download_of_ones_data_lists_the_letter_steps(client, campaign):
    _petition, _signature, token = campaign
    choose(client, token, "13")
    data = client.get(f"/s/{token}/my-data.json").get_json()
    steps = {(step["institution"], step["step"]) for step in data["letter_steps"]}
    assert steps == {
        ("Caisse d’assurance maladie fictive des Bouches-du-Rhône", "prepared"),
        ("Autorité fictive de protection des données", "prepared"),
    }


def test_the_letters_date_is_the_sites_day_not_utcs(app, campaign):
    petition, _signature, _token = campaign
    institution = db.session.scalars(select(Institution).order_by(Institution.key)).first()
    # 23:30 UTC on 7 December is 00:30 on 8 December in Paris, where the letter is written.
    late_evening = datetime(2026, 12, 7, 23, 30, tzinfo=UTC)
    with app.test_request_context():
        context = letter_context(petition, institution, "Aurore", "Vasseur", "", late_evening)
    assert context["today"] == "8 décembre 2026"
