"""Workspace accounts: login, second factor, logout, throttling and the users CLI."""

import re
import subprocess
import sys

import pyotp
import pytest
from sqlalchemy import select

from campaign.accounts.models import User
from campaign.accounts.services import assign_moderator
from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from tests.conftest import ROOT, TEST_SECRETS
from tests.factories import DEFAULT_PASSWORD, make_petition, make_user
from tests.support import csrf_token, login


def post_login(client, email, password, query=""):
    token = csrf_token(client, "/admin/login")
    return client.post(
        f"/admin/login{query}", data={"csrf_token": token, "email": email, "password": password}
    )


def test_workspace_requires_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login")


def test_login_opens_the_workspace_and_is_audited(client):
    user = make_user("organiser")
    response = login(client, user)
    assert response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "login"))
    assert entry.actor == user.email


def test_unknown_account_and_wrong_password_get_the_same_answer(client):
    make_user("organiser", email="real@example.org")
    unknown = post_login(client, "nobody@example.org", DEFAULT_PASSWORD)
    wrong = post_login(client, "real@example.org", "not the password at all")
    assert unknown.status_code == wrong.status_code == 401
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", unknown.get_data(as_text=True)) == strip.sub(
        "", wrong.get_data(as_text=True)
    )


def test_session_is_renewed_at_login(client):
    user = make_user("organiser")
    client.get("/admin/login")
    client.set_cookie("session", "planted-value", domain="localhost")
    login(client, user)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.value != "planted-value"


def test_old_cookie_replayed_after_logout_is_refused(app):
    user = make_user("organiser")
    client = app.test_client()
    login(client, user)
    stolen = client.get_cookie("session").value
    token = csrf_token(client, "/admin/")
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 303
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "target",
    ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", "/\t/x"],
)
def test_login_next_parameter_stays_inside_tribune(client, target):
    user = make_user("organiser")
    token = csrf_token(client, "/admin/login")
    response = client.post(
        "/admin/login",
        query_string={"next": target},
        data={"csrf_token": token, "email": user.email, "password": DEFAULT_PASSWORD},
    )
    assert response.headers["Location"] == "/admin/"


def test_login_is_throttled_per_account_and_the_user_is_not_locked_out_for_good(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN="50 per minute",
        RATELIMIT_LOGIN_ACCOUNT="5 per minute",
    )
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        user = make_user("organiser")
        statuses = []
        for attempt in range(7):
            client = app.test_client()
            client.environ_base["REMOTE_ADDR"] = f"198.51.100.{attempt}"
            statuses.append(post_login(client, user.email, "wrong password!!").status_code)
        # Only past the account's ceiling (far above one client's limit in production:
        # tests/security/test_login_hardening.py).
        assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
        # Limits are windows, not locks: once the window passes, the real user gets in.
        from campaign.extensions import limiter

        limiter.reset()
        assert post_login(app.test_client(), user.email, DEFAULT_PASSWORD).status_code == 303


def test_login_is_throttled_per_ip(make_app):
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute")
    with app.app_context():
        client = app.test_client()
        statuses = [
            post_login(client, f"user{n}@example.org", "whatever password").status_code
            for n in range(5)
        ]
        assert statuses == [401, 401, 401, 429, 429]


def test_second_factor_is_asked_when_enabled(client):
    secret = pyotp.random_base32()
    user = make_user("organiser", totp_secret=secret)
    response = post_login(client, user.email, DEFAULT_PASSWORD)
    assert response.headers["Location"] == "/admin/login/code"
    assert client.get("/admin/").status_code == 302, "not logged in before the code"
    token = csrf_token(client, "/admin/login/code")
    bad = client.post("/admin/login/code", data={"csrf_token": token, "code": "000000"})
    assert bad.status_code == 401
    good = client.post(
        "/admin/login/code", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()}
    )
    assert good.status_code == 303
    assert client.get("/admin/").status_code == 200


def test_enrolling_a_second_factor(client):
    user = make_user("organiser")
    login(client, user)
    page = client.get("/admin/account/second-factor").get_data(as_text=True)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", page).group(1)
    assert 'src="data:image/svg+xml' in page
    token = csrf_token(client, "/admin/account/second-factor")
    response = client.post(
        "/admin/account/second-factor",
        data={"csrf_token": token, "code": pyotp.TOTP(secret).now()},
    )
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).totp_secret == secret


@pytest.mark.parametrize(("role", "forced"), [("organiser", True), ("admin", True),
                                              ("moderator", False)])  # fmt: skip
def test_required_second_factor_for_roles_that_export_personal_data(make_app, role, forced):
    app = make_app(REQUIRE_2FA=True)
    with app.app_context():
        user = make_user(role)
        client = app.test_client()
        login(client, user)
        response = client.get("/admin/")
        if forced:
            assert response.status_code == 303
            assert response.headers["Location"] == "/admin/account/second-factor"
        else:
            assert response.status_code == 200


def test_dashboard_lists_only_the_petitions_of_the_organiser(client):
    mine, theirs = make_user("organiser"), make_user("organiser")
    make_petition(title="Ma pétition", owner_id=mine.id)
    make_petition(title="Leur pétition", owner_id=theirs.id)
    login(client, mine)
    page = client.get("/admin/").get_data(as_text=True)
    assert "Ma pétition" in page and "Leur pétition" not in page


def test_dashboard_links_each_petition_to_the_pages_its_reader_may_open(
    app, client, petition, owner
):
    moderator = make_user("moderator")
    assign_moderator(petition, moderator)
    slug = petition.slug
    login(client, moderator)
    page = client.get("/admin/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    # A moderator cannot open the petition's overview, where these are linked too.
    assert f'href="/admin/p/{slug}/signatures"' in page
    assert f'<a href="/admin/p/{slug}/letters">Letters to representatives</a>' in page
    assert f'href="/admin/p/{slug}"' not in page and f"/admin/p/{slug}/mailings" not in page
    assert client.get(f"/admin/p/{slug}/letters").status_code == 200

    owner_client = app.test_client()
    login(owner_client, owner)
    page = owner_client.get("/admin/").get_data(as_text=True)
    assert f'href="/admin/p/{slug}"' in page and f'href="/admin/p/{slug}/mailings"' in page


def test_audit_log_is_for_admins_only(client, app):
    organiser = make_user("organiser")
    login(client, organiser)
    assert client.get("/admin/audit").status_code == 404
    admin_client = app.test_client()
    login(admin_client, make_user("admin"))
    page = admin_client.get("/admin/audit").get_data(as_text=True)
    assert organiser.email in page and "login" in page


def run_cli(base_config, *args, stdin=""):
    env = {
        **TEST_SECRETS,
        "DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"],
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", str(ROOT / "app.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_users_create_reads_the_password_from_stdin(app, base_config):
    result = run_cli(base_config, "users", "create", "New@Example.org", "--role", "moderator",
                     "--password-stdin", stdin="a long enough password\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    db.session.expire_all()
    user = db.session.scalar(select(User).where(User.email == "new@example.org"))
    assert user.role == "moderator"
    assert "a long enough password" not in user.password_hash
    # The command runs as in production: full-strength Argon2id, whatever the tests use.
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    from campaign.accounts.services import authenticate

    assert authenticate("new@example.org", "a long enough password", utcnow()) is not None


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "organiser", "--password-stdin"], "short\n", "12 characters"),
        (["--role", "king", "--password-stdin"], "a long enough password\n", "king"),
    ],
)
def test_users_create_refuses_bad_input_and_creates_nothing(app, base_config, args, stdin,
                                                            message):  # fmt: skip
    result = run_cli(base_config, "users", "create", "x@example.org", *args, stdin=stdin)
    assert result.returncode != 0 and message in result.stderr
    assert db.session.scalar(select(User)) is None
