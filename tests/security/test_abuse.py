"""Proof of work, rate thresholds that hold signatures for review, domain block/allow lists."""

import base64
import json
import threading
from datetime import timedelta

import pytest
from altcha import solve_challenge_v1
from sqlalchemy import func, select

from campaign.abuse import BlockedDomain, new_challenge, proof_is_valid
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import (
    SignatureRequest,
    confirm_signature,
    sign_petition,
    signature_count,
)
from tests.factories import make_petition
from tests.support import sign, sign_data


def solved_payload(challenge: dict) -> str:
    solution = solve_challenge_v1(
        challenge["challenge"], challenge["salt"], challenge["algorithm"], challenge["maxnumber"]
    )
    payload = {key: challenge[key] for key in ("algorithm", "challenge", "salt", "signature")}
    payload["number"] = solution.number
    return base64.b64encode(json.dumps(payload).encode()).decode()


@pytest.fixture
def guarded(make_app):
    app = make_app(ALTCHA_ENABLED=True, ALTCHA_MAX_NUMBER=2000)
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


def rows() -> int:
    return db.session.scalar(select(func.count(Signature.id)))


def test_the_challenge_comes_from_tribune_itself(guarded):
    response = guarded.test_client().get("/altcha/challenge")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert set(response.json) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}


def test_signing_without_the_proof_is_refused_with_a_message(guarded):
    petition = make_petition()
    response = sign(guarded.test_client(), petition)
    assert response.status_code == 422
    assert "anti-robot" in response.get_data(as_text=True) or "robot" in response.get_data(
        as_text=True
    )
    assert rows() == 0


def test_signing_with_a_solved_challenge_is_accepted_once(guarded):
    petition = make_petition()
    client = guarded.test_client()
    payload = solved_payload(client.get("/altcha/challenge").json)
    assert sign(client, petition, altcha=payload).status_code == 303
    replay = sign(client, petition, altcha=payload, email="other@example.org")
    assert replay.status_code == 422, "a solution signs once"
    assert rows() == 1


def reencodings(payload: str) -> list[str]:
    """The same solution written otherwise: JSON spacing, key order, characters base64 skips."""
    fields = json.loads(base64.b64decode(payload))
    compact = json.dumps(fields, separators=(",", ":"))
    reordered = json.dumps(dict(reversed(list(fields.items()))))
    return [
        base64.b64encode(compact.encode()).decode(),
        base64.b64encode(reordered.encode()).decode(),
        "!" + payload[:8] + "\n" + payload[8:] + "@",
    ]


def test_a_solution_re_encoded_does_not_sign_again(guarded):
    petition = make_petition()
    client = guarded.test_client()
    payload = solved_payload(client.get("/altcha/challenge").json)
    assert sign(client, petition, altcha=payload).status_code == 303
    for number, other in enumerate(reencodings(payload)):
        assert other != payload
        replay = sign(client, petition, altcha=other, email=f"replay{number}@example.org")
        assert replay.status_code == 422, f"re-encoding {number} signed again"
    assert rows() == 1


def test_one_solution_posted_by_ten_signers_at_once_signs_once(make_app):
    app = make_app(ALTCHA_ENABLED=True, ALTCHA_MAX_NUMBER=2000, WTF_CSRF_ENABLED=False)
    with app.app_context():
        ensure_default_categories()
        slug = make_petition().slug
        payload = solved_payload(new_challenge(utcnow()))
    barrier = threading.Barrier(10)
    statuses = []

    def post(number: int) -> None:
        data = sign_data(email=f"signer{number}@example.org", altcha=payload)
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(f"/p/{slug}/sign", data=data).status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303] + [422] * 9
    with app.app_context():
        assert rows() == 1


@pytest.mark.parametrize("tamper", ["number", "signature", "garbage"])
def test_forged_or_tampered_proofs_are_refused(guarded, tamper):
    challenge = new_challenge(utcnow())
    payload = json.loads(base64.b64decode(solved_payload(challenge)))
    if tamper == "number":
        payload["number"] += 1
    elif tamper == "signature":
        payload["signature"] = "0" * 64
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    assert not proof_is_valid("not base64 at all" if tamper == "garbage" else encoded, utcnow())


def test_an_expired_challenge_is_refused(guarded):
    from datetime import timedelta

    old = new_challenge(utcnow() - timedelta(hours=2))
    assert not proof_is_valid(solved_payload(old), utcnow())


def request_from(ip: str, email: str) -> SignatureRequest:
    return SignatureRequest(first_name="Bot", last_name="Net", email=email,
                            category_key="citizen", show_name=True, ip=ip)  # fmt: skip


def test_mass_signing_from_one_ip_is_held_for_review_and_not_counted(make_app):
    app = make_app(SUSPECT_SIGNATURES_PER_IP_PER_HOUR=3)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        now = utcnow()
        for number in range(6):
            sign_petition(petition, request_from("203.0.113.66", f"bot{number}@example.org"), now)
        for signature in db.session.scalars(select(Signature)).all():
            confirm_signature(signature.id, now)
        db.session.expire_all()
        statuses = [s.status for s in db.session.scalars(select(Signature).order_by(Signature.id))]
        assert statuses == [SignatureStatus.CONFIRMED] * 3 + [SignatureStatus.SUSPECT] * 3
        assert signature_count(petition.id) == 3
        # Someone else, from elsewhere, is not affected.
        sign_petition(petition, request_from("198.51.100.1", "human@example.net"), now)
        human = db.session.scalar(
            select(Signature).where(Signature.ip_digest.isnot(None)).order_by(Signature.id.desc())
        )
        assert not human.held_for_review


def test_a_domain_is_held_from_its_threshold_within_the_last_hour_only(make_app):
    app = make_app(SUSPECT_SIGNATURES_PER_DOMAIN_PER_HOUR=2)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        now = utcnow()
        moments = [now - timedelta(hours=2)] * 2 + [now] * 3
        for number, moment in enumerate(moments):
            signer = request_from(f"198.51.100.{number}", f"s{number}@busy.example")
            sign_petition(petition, signer, moment)
        held = db.session.scalars(select(Signature.held_for_review).order_by(Signature.id))
        # The two of two hours ago are not in the last hour of the later ones.
        assert list(held) == [False, False, False, False, True]


def test_held_signer_sees_the_same_pages_as_everyone(make_app, smtp_config, mailbox):
    app = make_app(SUSPECT_SIGNATURES_PER_IP_PER_HOUR=1, **smtp_config)
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        client = app.test_client()
        first = sign(client, petition, email="a@example.org")
        second = sign(client, petition, email="b@example.org")
        assert first.headers["Location"] == second.headers["Location"]
        from tests.support import csrf_token, links_in, path_of, text_part

        mailbox.wait_for(2)
        pages = []
        for address in ("a@example.org", "b@example.org"):
            path = path_of(links_in(text_part(mailbox.to(address)[0]))[0])
            client.post(path, data={"csrf_token": csrf_token(client, path)})
            page = client.get(path).get_data(as_text=True)
            pages.append("success" in page)
        assert pages == [True, True]
        assert signature_count(petition.id) == 1


def test_disposable_and_blocked_domains_cannot_sign(app, client):
    petition = make_petition()
    db.session.add(BlockedDomain(domain="spam.example", reason="campaign of fakes"))
    db.session.commit()
    for address in ("someone@mailinator.com", "someone@spam.example"):
        response = sign(client, petition, email=address)
        assert response.status_code == 422
        assert "domain" in response.get_data(as_text=True)  # "domaine" in French
    assert rows() == 0


def test_petition_allow_list_admits_only_its_domains(app, client):
    petition = make_petition(allowed_email_domains="aphp.fr, chu-nantes.fr")
    assert sign(client, petition, email="someone@example.org").status_code == 422
    assert sign(client, petition, email="Dr.Who@APHP.fr").status_code == 303
    assert rows() == 1


def test_trending_alert_for_an_ip_signing_far_above_its_usual_rate(app):
    from datetime import timedelta

    from campaign.signatures.rates import trending_sources

    petition = make_petition()
    now = utcnow()
    for minutes in range(8):
        make_signature_at(petition, now - timedelta(minutes=minutes), ip_digest="burst")
    make_signature_at(petition, now - timedelta(days=2), ip_digest="steady")
    make_signature_at(petition, now - timedelta(minutes=3), ip_digest="steady")
    alerts = trending_sources([petition.id], now)
    assert [(alert.kind, alert.digest, alert.last_hour) for alert in alerts] == [("ip", "burst", 8)]
    assert trending_sources([], now) == []


def make_signature_at(petition, when, **values):
    from tests.factories import make_signature

    return make_signature(petition, now=when, **values)


def test_admins_manage_the_block_list_and_it_is_audited(app, client):
    from campaign.audit import AuditEntry
    from tests.factories import make_user
    from tests.support import csrf_token, login

    login(client, make_user("admin"))
    token = csrf_token(client, "/admin/blocked-domains")
    bad = client.post(
        "/admin/blocked-domains", data={"csrf_token": token, "domain": "not a domain"}
    )
    assert bad.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(BlockedDomain)) == 0
    response = client.post(
        "/admin/blocked-domains",
        data={"csrf_token": token, "domain": "@Spam.Example", "reason": "fakes"},
    )
    assert response.status_code == 303
    assert db.session.get(BlockedDomain, "spam.example").reason == "fakes"
    petition = make_petition()
    assert sign(client, petition, email="x@spam.example").status_code == 422
    client.post("/admin/blocked-domains/spam.example/remove", data={"csrf_token": token})
    assert db.session.get(BlockedDomain, "spam.example") is None
    # The process that unblocks forgets its cached block list at once.
    assert sign(client, petition, email="x@spam.example").status_code == 303
    actions = db.session.scalars(select(AuditEntry.action)).all()
    assert "email domain blocked" in actions and "email domain unblocked" in actions


@pytest.mark.parametrize("role", ["moderator", "organiser"])
def test_only_admins_manage_the_block_list(app, client, role):
    from tests.factories import make_user
    from tests.support import login

    login(client, make_user(role))
    assert client.get("/admin/blocked-domains").status_code == 404
