"""Login and second factor: nobody can keep an account's owner out (attempts are limited per
account and client, per client, and under a much higher ceiling per account; only refused
attempts count), refused logins are audited, a second-factor code is good once, and
replacing the second factor asks for the current one."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from campaign.accounts.models import User
from campaign.audit import AuditEntry
from campaign.extensions import db
from campaign.extensions import limiter as flask_limiter
from campaign.petitions.services import ensure_default_categories
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.support import csrf_token, login


def post_login(client, email, password):
    token = csrf_token(client, "/admin/login")
    return client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": password}
    )


def from_ip(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


@pytest.fixture
def limited(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN="5 per minute",
        RATELIMIT_LOGIN_ACCOUNT="20 per minute",
    )
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        flask_limiter.reset()
        yield app
        flask_limiter.reset()
        db.session.remove()


def test_failures_from_many_addresses_do_not_lock_the_owner_out(limited):
    admin = make_user("admin")
    statuses = [
        post_login(from_ip(limited, f"198.51.100.{n}"), admin.email, "wrong password!!").status_code
        for n in range(12)
    ]
    assert statuses == [401] * 12
    assert (
        post_login(from_ip(limited, "203.0.113.7"), admin.email, DEFAULT_PASSWORD).status_code
        == 303
    )


def test_one_client_guessing_one_account_is_stopped_and_the_owner_still_gets_in(limited):
    admin = make_user("admin")
    guesser = from_ip(limited, "198.51.100.1")
    statuses = [post_login(guesser, admin.email, "wrong password!!").status_code for _ in range(7)]
    assert statuses == [401] * 5 + [429] * 2
    assert (
        post_login(from_ip(limited, "203.0.113.7"), admin.email, DEFAULT_PASSWORD).status_code
        == 303
    )


def test_one_client_spraying_many_accounts_is_stopped(limited):
    sprayer = from_ip(limited, "198.51.100.1")
    statuses = [
        post_login(sprayer, f"user{n}@example.org", "wrong password!!").status_code
        for n in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2


def test_guessing_spread_over_many_clients_meets_the_accounts_ceiling(limited):
    admin = make_user("admin")
    statuses = [
        post_login(from_ip(limited, f"198.51.{n}.1"), admin.email, "wrong password!!").status_code
        for n in range(22)
    ]
    assert statuses == [401] * 20 + [429] * 2


def test_successful_logins_use_up_no_attempt(limited):
    user = make_user("organiser")
    client = from_ip(limited, "198.51.100.1")
    for _ in range(8):
        assert post_login(client, user.email, DEFAULT_PASSWORD).status_code == 303


def test_refused_logins_are_audited_without_the_typed_address(client):
    user = make_user("organiser")
    assert post_login(client, user.email, "wrong password!!").status_code == 401
    assert post_login(client, "nobody-here@example.org", "wrong password!!").status_code == 401
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "login refused").order_by(AuditEntry.id)
    ).all()
    assert [(entry.actor_id, entry.actor) for entry in entries] == [
        (user.id, user.email),
        (None, "unknown account"),
    ]
    assert all("nobody-here" not in entry.detail for entry in entries)
    assert all(re.fullmatch(r"client [0-9a-f]{12}", entry.detail) for entry in entries)


def second_factor(client, code: str):
    token = csrf_token(client, "/admin/login/code")
    return client.post("/admin/login/code", data={"csrf_token": token, "code": code})


def test_a_second_factor_code_is_accepted_once(client):
    secret = pyotp.random_base32()
    user = make_user("organiser", totp_secret=secret)
    code = pyotp.TOTP(secret).now()
    assert post_login(client, user.email, DEFAULT_PASSWORD).status_code == 303
    assert second_factor(client, code).status_code == 303
    client.post("/admin/logout", data={"csrf_token": csrf_token(client, "/admin/")})
    assert post_login(client, user.email, DEFAULT_PASSWORD).status_code == 303
    assert second_factor(client, code).status_code == 401, "the same code played again"
    assert client.get("/admin/").status_code == 302


def enrolment(client) -> tuple[str, str]:
    page = client.get("/admin/account/second-factor").get_data(as_text=True)
    return re.search(r"<code>([A-Z2-7]+)</code>", page).group(1), page


def test_replacing_the_second_factor_asks_for_the_current_code(client):
    old = pyotp.random_base32()
    user = make_user("organiser")
    user.totp_secret = old
    db.session.commit()
    login_with_code = post_login(client, user.email, DEFAULT_PASSWORD)
    assert login_with_code.status_code == 303
    assert second_factor(client, pyotp.TOTP(old).now()).status_code == 303
    new, page = enrolment(client)
    assert 'name="current_code"' in page
    path = "/admin/account/second-factor"
    new_code = pyotp.TOTP(new).now()
    for current in ["", "000000"]:
        data = {"csrf_token": csrf_token(client, path), "code": new_code, "current_code": current}
        client.post(path, data=data)
        db.session.expire_all()
        assert db.session.get(User, user.id).totp_secret == old
    data = {
        "csrf_token": csrf_token(client, path),
        "code": new_code,
        # The next step's code: within the drift allowed, and not the one used to log in.
        "current_code": pyotp.TOTP(old).at(time.time() + 30),
    }
    assert client.post(path, data=data).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret == new
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == user.id))
    assert "second factor replaced" in list(actions)


def test_the_first_second_factor_needs_no_current_code(client):
    user = make_user("organiser")
    login(client, user)
    secret, page = enrolment(client)
    assert 'name="current_code"' not in page
    path = "/admin/account/second-factor"
    data = {"csrf_token": csrf_token(client, path), "code": pyotp.TOTP(secret).now()}
    assert client.post(path, data=data).status_code == 303
