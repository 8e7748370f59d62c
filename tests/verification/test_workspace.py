"""The workspace pages: admins manage the official domains, moderators work through the
queue and record decisions; bad input changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaign.accounts.services import assign_moderator
from campaign.extensions import db
from campaign.signatures.models import Signature
from campaign.verification.models import DomainRule, VerificationClaim
from tests.factories import make_petition, make_signature, make_user
from tests.support import csrf_token, english_client, visible_text


@pytest.fixture
def petition(app):
    owner = make_user("organiser")
    return make_petition(owner_id=owner.id)


@pytest.fixture
def moderator(petition):
    user = make_user("moderator")
    assign_moderator(petition, user)
    return user


def test_an_admin_adds_and_removes_an_official_domain(app):
    client = english_client(app, make_user("admin"))
    token = csrf_token(client, "/admin/verification")
    response = client.post(
        "/admin/verification",
        data={"csrf_token": token, "category": "mp", "pattern": "@Senat.fr"},
    )
    assert response.status_code == 303
    rule = db.session.scalar(select(DomainRule))
    assert (rule.category_key, rule.pattern) == ("mp", "senat.fr")
    page = visible_text(client.get("/admin/verification").get_data(as_text=True))
    assert "senat.fr" in page and "No register imported yet" in page
    response = client.post(
        f"/admin/verification/rules/{rule.id}/remove",
        data={"csrf_token": csrf_token(client, "/admin/verification")},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(DomainRule, rule.id).removed_at is not None


def test_a_too_broad_pattern_is_refused_and_nothing_is_added(app):
    client = english_client(app, make_user("admin"))
    response = client.post(
        "/admin/verification",
        data={
            "csrf_token": csrf_token(client, "/admin/verification"),
            "category": "mp",
            "pattern": "*.fr",
        },
    )
    assert response.status_code == 422
    assert "chu-*.fr" in visible_text(response.get_data(as_text=True))
    assert db.session.scalar(select(func.count(DomainRule.id))) == 0


def test_a_moderator_approves_from_the_queue(app, petition, moderator):
    claimed = make_signature(
        petition, last_name="Girard", first_name="Paul", category_key="clinician"
    )
    db.session.add(VerificationClaim(signature_id=claimed.id, evidence="Annuaire de l'hôpital"))
    db.session.commit()
    client = english_client(app, moderator)
    queue = client.get(f"/admin/p/{petition.slug}/verification")
    text = visible_text(queue.get_data(as_text=True))
    assert queue.status_code == 200 and "Girard Paul" in text and "Annuaire de l'hôpital" in text
    path = f"/admin/p/{petition.slug}/verification/{claimed.id}"
    response = client.post(
        path,
        data={
            "csrf_token": csrf_token(client, path),
            "decision": "approved",
            "reason": "Vu dans l'annuaire",
        },
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Signature, claimed.id).verification_level == "moderator"
    after = visible_text(
        client.get(f"/admin/p/{petition.slug}/verification").get_data(as_text=True)
    )
    assert "Girard Paul" not in after


def test_a_decision_without_reason_is_refused_and_changes_nothing(app, petition, moderator):
    claimed = make_signature(petition, category_key="clinician")
    client = english_client(app, moderator)
    path = f"/admin/p/{petition.slug}/verification/{claimed.id}"
    response = client.post(
        path, data={"csrf_token": csrf_token(client, path), "decision": "rejected", "reason": " "}
    )
    assert response.status_code == 422
    assert "Give the reason" in visible_text(response.get_data(as_text=True))
    assert db.session.get(VerificationClaim, claimed.id) is None


def test_another_petitions_signature_is_not_reviewed_here(app, petition, moderator):
    elsewhere = make_signature(make_petition(), category_key="clinician")
    client = english_client(app, moderator)
    response = client.get(f"/admin/p/{petition.slug}/verification/{elsewhere.id}")
    assert response.status_code == 303
    assert db.session.get(VerificationClaim, elsewhere.id) is None
