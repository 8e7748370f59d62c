"""Moderation of signatures: hiding, invalidating and restoring one, invalidating many after
a preview, their effect on the public count, the audit log, and who may do it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.personal_data import email_domain_digest, ip_digest
from campaign.signatures import moderation
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.moderation import (
    BulkCountChanged,
    BulkCriterion,
    BulkSelection,
    SignatureNotFound,
    bulk_invalidation_count,
    hide_signature,
    invalidate_in_bulk,
    invalidate_signature,
    restore_signature,
)
from tests.factories import make_petition, make_signature, make_user
from tests.support import english_client, visible_text

_numbers = iter(range(1, 1_000_000))


def signature(petition, email=None, ip=None, **overrides):
    """A confirmed signature with its email domain digest and, if given, its origin."""
    email = email or f"signer{next(_numbers)}@example.org"
    return make_signature(
        petition,
        email=email,
        email_domain_digest=email_domain_digest(email),
        ip_digest=ip_digest(ip) if ip else None,
        **overrides,
    )


@pytest.fixture
def browser(app, moderator):
    return english_client(app, moderator)


def session_token(client) -> str:
    """The CSRF token of this client's session (any form carries it)."""
    html = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', html).group(1)


def base(petition) -> str:
    return f"/admin/p/{petition.slug}/signatures"


def public_count(client, petition) -> int:
    return client.get(f"/api/v1/petitions/{petition.slug}").get_json()["count"]


def fresh(signature_id: int) -> Signature:
    """The signature as the database holds it now (after other requests changed it)."""
    db.session.expire_all()
    return db.session.get(Signature, signature_id)


def status_of(signature_id: int) -> SignatureStatus:
    return SignatureStatus(fresh(signature_id).status)


def audit(action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action != "login").order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


# --- One signature -------------------------------------------------------------------------


def test_hiding_takes_a_signature_out_of_the_count_and_the_public_list(
    browser, petition, moderator
):
    kept = signature(petition, last_name="Gardé")
    hidden = signature(petition, last_name="Masqué")
    assert public_count(browser, petition) == 2
    response = browser.post(
        f"{base(petition)}/{hidden.id}/hide", data={"csrf_token": session_token(browser)}
    )
    assert response.status_code == 303 and response.headers["Location"] == base(petition)
    assert status_of(hidden.id) == SignatureStatus.HIDDEN
    assert status_of(kept.id) == SignatureStatus.CONFIRMED
    assert public_count(browser, petition) == 1
    public_list = visible_text(browser.get(f"/p/{petition.slug}/signatories").get_data(True))
    assert "Masqué" not in public_list
    row = fresh(hidden.id)
    assert row.moderated_by_id == moderator.id and row.moderated_at is not None
    [entry] = audit()
    assert (entry.action, entry.actor, entry.petition_id, entry.count) == (
        "signature hidden",
        moderator.email,
        petition.id,
        1,
    )
    assert entry.detail == f"signature {hidden.id}: confirmed -> hidden"


def test_invalidating_needs_a_reason_and_stores_it(browser, petition, moderator):
    target = signature(petition)
    path = f"{base(petition)}/{target.id}/invalidate"
    page = browser.get(path)
    assert page.status_code == 200 and "Reason" in page.get_data(as_text=True)
    refused = browser.post(path, data={"csrf_token": session_token(browser), "reason": "  "})
    assert refused.status_code == 422
    assert "Give the reason for invalidating." in visible_text(refused.get_data(as_text=True))
    assert status_of(target.id) == SignatureStatus.CONFIRMED and audit() == []
    done = browser.post(
        path, data={"csrf_token": session_token(browser), "reason": "Nom fantaisiste"}
    )
    assert done.status_code == 303
    row = fresh(target.id)
    assert row.status == SignatureStatus.INVALIDATED
    assert row.moderation_reason == "Nom fantaisiste" and row.moderated_by_id == moderator.id
    assert public_count(browser, petition) == 0
    [entry] = audit()
    assert entry.action == "signature invalidated" and entry.count == 1
    assert "fantaisiste" not in entry.detail  # reasons stay on the signature, not in the log


def test_restoring_brings_hidden_invalidated_and_held_signatures_into_the_count(browser, petition):
    rows = [
        signature(petition, status=SignatureStatus.HIDDEN),
        signature(petition, status=SignatureStatus.INVALIDATED, moderation_reason="doublon"),
        signature(petition, status=SignatureStatus.SUSPECT),
    ]
    assert public_count(browser, petition) == 0
    for row in rows:
        response = browser.post(
            f"{base(petition)}/{row.id}/restore", data={"csrf_token": session_token(browser)}
        )
        assert response.status_code == 303
    assert public_count(browser, petition) == 3
    assert all(status_of(row.id) == SignatureStatus.CONFIRMED for row in rows)
    assert fresh(rows[1].id).moderation_reason is None
    assert [entry.action for entry in audit()] == ["signature restored"] * 3


def test_actions_keep_the_page_of_the_table_they_came_from(browser, petition):
    target = signature(petition)
    after = "2026-11-20T10:00:00_99"
    response = browser.post(
        f"{base(petition)}/{target.id}/hide",
        data={"csrf_token": session_token(browser), "after": after},
    )
    assert response.headers["Location"] == f"{base(petition)}?after={after}"


def test_actions_in_the_wrong_state_change_nothing(app, petition, moderator):
    now = utcnow()
    pending = signature(petition, status=SignatureStatus.PENDING, confirmed_at=None)
    confirmed = signature(petition)
    withdrawn = signature(petition, status=SignatureStatus.WITHDRAWN)
    assert hide_signature(petition, pending.id, moderator, now) is False
    assert invalidate_signature(petition, pending.id, "spam", moderator, now) is False
    assert restore_signature(petition, confirmed.id, moderator, now) is False
    assert restore_signature(petition, withdrawn.id, moderator, now) is False
    assert status_of(pending.id) == SignatureStatus.PENDING
    assert status_of(confirmed.id) == SignatureStatus.CONFIRMED
    assert status_of(withdrawn.id) == SignatureStatus.WITHDRAWN
    assert audit() == []


def test_the_wrong_state_over_http_says_nothing_changed(browser, petition):
    pending = signature(petition, status=SignatureStatus.PENDING, confirmed_at=None)
    response = browser.post(
        f"{base(petition)}/{pending.id}/hide", data={"csrf_token": session_token(browser)}
    )
    assert response.status_code == 303
    page = visible_text(browser.get(base(petition)).get_data(as_text=True))
    assert "nothing changed" in page
    assert status_of(pending.id) == SignatureStatus.PENDING and audit() == []


def test_services_work_without_http_and_take_the_time_as_a_parameter(app, petition, moderator):
    when = datetime(2026, 11, 20, 9, 30)
    target = signature(petition)
    assert hide_signature(petition, target.id, moderator, when)
    assert invalidate_signature(petition, target.id, "faux", moderator, when + timedelta(1))
    row = fresh(target.id)
    assert row.status_changed_at == row.moderated_at == when + timedelta(1)
    assert restore_signature(petition, target.id, moderator, when + timedelta(2))
    assert [entry.at for entry in audit()] == [when, when + timedelta(1), when + timedelta(2)]
    with pytest.raises(ValueError):
        invalidate_signature(petition, target.id, " ", moderator, when)


def test_a_signature_of_another_petition_is_not_found_and_stays_untouched(
    browser, app, petition, moderator
):
    stranger = signature(make_petition())
    with pytest.raises(SignatureNotFound):
        hide_signature(petition, stranger.id, moderator, utcnow())
    token = session_token(browser)
    unknown = stranger.id + 1000
    answers = set()
    for signature_id in (stranger.id, unknown):
        for action in ("hide", "restore", "invalidate"):
            response = browser.post(
                f"{base(petition)}/{signature_id}/{action}",
                data={"csrf_token": token, "reason": "x"},
            )
            assert response.status_code == 303, action
            answers.add(response.headers["Location"])
        assert browser.get(f"{base(petition)}/{signature_id}/invalidate").status_code == 303
    assert answers == {base(petition)}  # the same answer: nothing tells the two apart
    page = visible_text(browser.get(base(petition)).get_data(as_text=True))
    assert "This petition has no such signature" in page
    assert status_of(stranger.id) == SignatureStatus.CONFIRMED and audit() == []


def test_actions_without_a_csrf_token_are_refused(browser, petition):
    target = signature(petition)
    assert browser.post(f"{base(petition)}/{target.id}/hide").status_code == 400
    assert status_of(target.id) == SignatureStatus.CONFIRMED and audit() == []


# --- In bulk -------------------------------------------------------------------------------


def preview(client, petition, **data):
    return client.post(f"{base(petition)}/bulk", data={"csrf_token": session_token(client), **data})


def confirmation_fields(html: str) -> dict[str, str]:
    """The hidden and visible fields of the confirmation form, as the browser would send."""
    start = re.search(r'<form[^>]*action="[^"]*/bulk/confirm"', html).start()
    form = html[start : html.index("</form>", start)]
    return dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))


def test_bulk_by_email_domain_previews_then_invalidates_with_the_reason(
    browser, petition, moderator
):
    spam = [signature(petition, email=f"bot{n}@spam.example") for n in range(3)]
    held = signature(petition, email="bot9@SPAM.example", status=SignatureStatus.SUSPECT)
    pending = signature(
        petition, email="late@spam.example", status=SignatureStatus.PENDING, confirmed_at=None
    )
    honest = signature(petition, email="someone@example.org")
    elsewhere = signature(make_petition(), email="bot@spam.example")
    shown = preview(browser, petition, criterion="email_domain", email_domain="@Spam.Example")
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert "This will invalidate 4 signatures: confirm." in visible_text(html)
    assert audit() == [] and status_of(spam[0].id) == SignatureStatus.CONFIRMED

    fields = confirmation_fields(html)
    assert fields["expected"] == "4" and fields["email_domain"] == "spam.example"
    done = browser.post(f"{base(petition)}/bulk/confirm", data={**fields, "reason": "Robots"})
    assert done.status_code == 303
    for row in [*spam, held]:
        assert status_of(row.id) == SignatureStatus.INVALIDATED
        assert fresh(row.id).moderation_reason == "Robots"
    assert status_of(pending.id) == SignatureStatus.PENDING
    assert status_of(honest.id) == SignatureStatus.CONFIRMED
    assert status_of(elsewhere.id) == SignatureStatus.CONFIRMED
    assert public_count(browser, petition) == 1
    [entry] = audit()
    assert (entry.action, entry.count, entry.actor) == (
        "signatures invalidated in bulk",
        4,
        moderator.email,
    )
    assert "spam.example" not in entry.detail
    assert "4 signatures invalidated." in visible_text(browser.get(base(petition)).get_data(True))


def test_bulk_by_origin_starts_from_a_signature_of_the_table(browser, petition):
    first = signature(petition, ip="203.0.113.9")
    second = signature(petition, ip="203.0.113.9")
    other = signature(petition, ip="198.51.100.1")
    form = browser.get(f"{base(petition)}/bulk?criterion=origin&origin_of={first.id}")
    assert ip_digest("203.0.113.9")[:8] in form.get_data(as_text=True)
    shown = preview(browser, petition, criterion="origin", origin_of=str(first.id))
    html = shown.get_data(as_text=True)
    assert "This will invalidate 2 signatures: confirm." in visible_text(html)
    assert ip_digest("203.0.113.9") not in html
    fields = confirmation_fields(html)
    done = browser.post(f"{base(petition)}/bulk/confirm", data={**fields, "reason": "Ferme"})
    assert done.status_code == 303
    assert status_of(first.id) == status_of(second.id) == SignatureStatus.INVALIDATED
    assert status_of(other.id) == SignatureStatus.CONFIRMED
    assert audit()[0].detail == f"same origin as signature {first.id}"


def test_bulk_by_time_window_reads_local_time(browser, petition):
    # 10:00-11:00 in Paris in November is 09:00-10:00 UTC.
    inside = signature(petition, now=datetime(2026, 11, 10, 9, 15))
    before = signature(petition, now=datetime(2026, 11, 10, 8, 59))
    after = signature(petition, now=datetime(2026, 11, 10, 10, 0))
    shown = preview(
        browser, petition, criterion="time_window",
        signed_from="2026-11-10T10:00", signed_before="2026-11-10T11:00",
    )  # fmt: skip
    html = shown.get_data(as_text=True)
    assert "This will invalidate 1 signature: confirm." in visible_text(html)
    fields = confirmation_fields(html)
    assert fields["signed_from"] == "2026-11-10T10:00"
    browser.post(f"{base(petition)}/bulk/confirm", data={**fields, "reason": "Vague"})
    assert status_of(inside.id) == SignatureStatus.INVALIDATED
    assert status_of(before.id) == status_of(after.id) == SignatureStatus.CONFIRMED
    assert (
        audit()[0].detail == "signed from 2026-11-10 09:00 UTC, signed before 2026-11-10 10:00 UTC"
    )


def test_a_time_window_narrows_a_domain(browser, petition):
    early = signature(petition, email="a@spam.example", now=datetime(2026, 11, 10, 8, 0))
    late = signature(petition, email="b@spam.example", now=datetime(2026, 11, 10, 12, 0))
    shown = preview(
        browser, petition, criterion="email_domain", email_domain="spam.example",
        signed_from="2026-11-10T12:00",
    )  # fmt: skip
    html = shown.get_data(as_text=True)
    assert "This will invalidate 1 signature: confirm." in visible_text(html)
    browser.post(
        f"{base(petition)}/bulk/confirm", data={**confirmation_fields(html), "reason": "Vague"}
    )
    assert status_of(late.id) == SignatureStatus.INVALIDATED
    assert status_of(early.id) == SignatureStatus.CONFIRMED
    assert audit()[0].detail == "by email domain, signed from 2026-11-10 11:00 UTC"


def test_a_bulk_above_the_limit_is_refused_and_changes_nothing(browser, petition, monkeypatch):
    monkeypatch.setattr(moderation, "BULK_LIMIT", 2)
    rows = [signature(petition, email=f"{n}@spam.example") for n in range(3)]
    shown = preview(browser, petition, criterion="email_domain", email_domain="spam.example")
    html = shown.get_data(as_text=True)
    assert "3 signatures match: more than the 2" in visible_text(html)
    assert "/bulk/confirm" not in html
    forged = {
        "csrf_token": session_token(browser), "criterion": "email_domain",
        "email_domain": "spam.example", "expected": "3", "reason": "Robots",
    }  # fmt: skip
    assert browser.post(f"{base(petition)}/bulk/confirm", data=forged).status_code == 409
    assert all(status_of(row.id) == SignatureStatus.CONFIRMED for row in rows)
    assert audit() == []


def test_bulk_confirmation_refuses_when_the_count_changed_since_the_preview(browser, petition):
    signature(petition, email="a@spam.example")
    signature(petition, email="b@spam.example")
    html = preview(browser, petition, criterion="email_domain", email_domain="spam.example")
    fields = confirmation_fields(html.get_data(as_text=True))
    assert fields["expected"] == "2"
    signature(petition, email="c@spam.example")
    changed = browser.post(f"{base(petition)}/bulk/confirm", data={**fields, "reason": "Robots"})
    page = changed.get_data(as_text=True)
    assert changed.status_code == 409
    assert "changed since the preview, from 2 to 3" in visible_text(page)
    assert "This will invalidate 3 signatures: confirm." in visible_text(page)
    assert public_count(browser, petition) == 3 and audit() == []
    again = confirmation_fields(page)
    assert again["expected"] == "3" and "Robots</textarea>" in page
    confirmed = browser.post(f"{base(petition)}/bulk/confirm", data={**again, "reason": "Robots"})
    assert confirmed.status_code == 303
    assert public_count(browser, petition) == 0


def test_bulk_confirmation_needs_a_reason(browser, petition):
    target = signature(petition, email="a@spam.example")
    html = preview(browser, petition, criterion="email_domain", email_domain="spam.example")
    fields = confirmation_fields(html.get_data(as_text=True))
    refused = browser.post(f"{base(petition)}/bulk/confirm", data={**fields, "reason": ""})
    assert refused.status_code == 422
    assert "Give the reason for invalidating." in visible_text(refused.get_data(as_text=True))
    assert status_of(target.id) == SignatureStatus.CONFIRMED and audit() == []


def test_bulk_with_nothing_to_invalidate_offers_no_confirmation(browser, petition):
    signature(petition, email="a@example.org")
    shown = preview(browser, petition, criterion="email_domain", email_domain="nobody.example")
    html = shown.get_data(as_text=True)
    assert "there is nothing to invalidate" in visible_text(html)
    assert "/bulk/confirm" not in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose which signatures to invalidate."),
        ({"criterion": "email_domain", "email_domain": "not a domain"}, "Enter a domain"),
        ({"criterion": "origin"}, "Choose an origin"),
        ({"criterion": "time_window", "signed_from": "2026-11-10T10:00"}, "Enter a date and time."),
        (
            {"criterion": "time_window", "signed_from": "2026-11-10T10:00",
             "signed_before": "2026-11-10T09:00"},
            "The end comes before the start.",
        ),
    ],
)  # fmt: skip
def test_bulk_form_rerenders_bad_input_with_a_message(browser, petition, data, message):
    target = signature(petition, email="a@spam.example")
    response = preview(browser, petition, **data)
    assert response.status_code == 422
    assert message in visible_text(response.get_data(as_text=True))
    assert status_of(target.id) == SignatureStatus.CONFIRMED and audit() == []


def test_bulk_origin_of_a_signature_without_origin_is_refused(browser, petition):
    imported = signature(petition, source="ordre-2026")
    response = preview(browser, petition, criterion="origin", origin_of=str(imported.id))
    assert response.status_code == 422
    assert "no recorded origin" in visible_text(response.get_data(as_text=True))


def test_bulk_services_work_without_http(app, petition, moderator):
    now = datetime(2026, 11, 20, 12, 0)
    for n in range(3):
        signature(petition, email=f"x{n}@spam.example")
    selection = BulkSelection(BulkCriterion.EMAIL_DOMAIN, email_domain="spam.example")
    assert bulk_invalidation_count(petition, selection) == 3
    with pytest.raises(BulkCountChanged) as changed:
        invalidate_in_bulk(petition, selection, 2, "spam", moderator, now)
    assert changed.value.current == 3
    assert invalidate_in_bulk(petition, selection, 3, "spam", moderator, now) == 3
    assert bulk_invalidation_count(petition, selection) == 0
    [entry] = audit()
    assert entry.at == now and entry.count == 3
    count = db.session.scalar(
        select(func.count(Signature.id)).where(Signature.status == SignatureStatus.INVALIDATED)
    )
    assert count == 3


# --- Who may moderate ------------------------------------------------------------------------


@pytest.fixture
def cast(app, owner, petition, moderator):
    return {
        "anonymous": None,
        "owner": owner,
        "admin": make_user("admin"),
        "assigned_moderator": moderator,
        "unassigned_moderator": make_user("moderator"),
        "other_organiser": make_user("organiser"),
    }


ALLOWED = {"owner", "admin", "assigned_moderator"}


def attempts(petition, target) -> list[tuple[str, str, dict]]:
    """(method, path, form data) of every moderation route, with valid input."""
    return [
        ("POST", f"{base(petition)}/{target.id}/hide", {}),
        ("POST", f"{base(petition)}/{target.id}/restore", {}),
        ("GET", f"{base(petition)}/{target.id}/invalidate", {}),
        ("POST", f"{base(petition)}/{target.id}/invalidate", {"reason": "faux"}),
        ("GET", f"{base(petition)}/bulk", {}),
        ("POST", f"{base(petition)}/bulk",
         {"criterion": "email_domain", "email_domain": "example.org"}),
        ("POST", f"{base(petition)}/bulk/confirm",
         {"criterion": "email_domain", "email_domain": "example.org", "expected": "0",
          "reason": "faux"}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "who",
    ["anonymous", "owner", "admin", "assigned_moderator", "unassigned_moderator",
     "other_organiser"],
)  # fmt: skip
def test_moderation_routes_are_for_the_petitions_moderators_only(app, petition, cast, who):
    target = signature(petition)
    client = english_client(app, cast[who])
    token = session_token(client)
    for method, path, data in attempts(petition, target):
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": token, **data})
        if who == "anonymous":
            assert response.status_code == 302, (method, path)
            assert "/admin/login" in response.headers["Location"]
        elif who in ALLOWED:
            assert response.status_code in (200, 303, 409), (method, path, response.status_code)
        else:
            assert response.status_code == 404, (method, path, response.status_code)
    if who not in ALLOWED:
        assert status_of(target.id) == SignatureStatus.CONFIRMED
        assert audit() == []
