"""Login (with an optional second factor), logout, and second-factor enrolment."""

from __future__ import annotations

import hashlib
import hmac

import segno
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from campaign.accounts.forms import CodeForm, LoginForm, ReplaceCodeForm
from campaign.accounts.services import (
    accept_totp_code,
    authenticate,
    enable_totp,
    end_all_sessions,
    load_session_user,
    new_totp_secret,
    normalise_account_email,
    totp_uri,
)
from campaign.audit import record
from campaign.clock import utcnow
from campaign.extensions import db, limiter
from campaign.personal_data import request_ip_digest
from campaign.web.redirects import local_path

bp = Blueprint("accounts", __name__, url_prefix="/admin")

PENDING_SECOND_FACTOR = "pending_second_factor"
ENROLMENT_SECRET = "totp_enrolment_secret"  # noqa: S105 - a session key name


def _login_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN"]


def _login_account_limit() -> str:
    return current_app.config["RATELIMIT_LOGIN_ACCOUNT"]


def _account_digest() -> str:
    """The account typed in the form, as a keyed digest: no address in Redis."""
    email = normalise_account_email(request.form.get("email", ""))
    key = current_app.config["IP_HASH_KEY"].encode()
    return hmac.new(key, email.encode(), hashlib.sha256).hexdigest()[:32]


def _account_and_ip_key() -> str:
    """Attempts on one account from one client: the limit that stops a guesser without
    letting anyone else lock the account's owner out."""
    return f"login:{_account_digest()}:{request_ip_digest()}"


def _account_key() -> str:
    """Attempts on one account from everywhere: a ceiling far above the per-client limit,
    against guessing spread over many addresses."""
    return f"login-account:{_account_digest()}"


def _second_factor_key() -> str:
    """Codes tried for the account awaiting its second factor, from everywhere."""
    return f"login-code:{session.get(PENDING_SECOND_FACTOR, '')}"


def _refused(response) -> bool:
    """Only refused attempts count: signing in successfully uses up nothing."""
    return response.status_code == 401


def _complete_login(user) -> None:
    # A new session at login: nothing from before (a planted session) carries over.
    session.clear()
    login_user(user)
    record("login", utcnow(), actor=user)
    db.session.commit()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=request_ip_digest, deduct_when=_refused)
@limiter.limit(_login_limit, methods=["POST"], key_func=_account_and_ip_key, deduct_when=_refused)
@limiter.limit(_login_account_limit, methods=["POST"], key_func=_account_key, deduct_when=_refused)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data, utcnow(), request_ip_digest())
        if user is None:
            # The same answer for an unknown account and a wrong password.
            flash(_("Wrong email address or password."), "error")
            return render_template("accounts/login.html", form=form), 401
        next_path = local_path(request.args.get("next"), default=url_for("workspace.dashboard"))
        if user.totp_secret:
            session.clear()
            session[PENDING_SECOND_FACTOR] = user.get_id()
            session["next"] = next_path
            return redirect(url_for("accounts.second_factor"), code=303)
        _complete_login(user)
        return redirect(next_path, code=303)
    return render_template("accounts/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=request_ip_digest, deduct_when=_refused)
@limiter.limit(
    _login_account_limit, methods=["POST"], key_func=_second_factor_key, deduct_when=_refused
)
def second_factor():
    user = load_session_user(session.get(PENDING_SECOND_FACTOR, ""))
    if user is None or not user.totp_secret:
        return redirect(url_for("accounts.login"), code=303)
    form = CodeForm()
    if form.validate_on_submit():
        if accept_totp_code(user, form.code.data, utcnow()):
            next_path = session.get("next") or url_for("workspace.dashboard")
            _complete_login(user)
            return redirect(local_path(next_path, default=url_for("workspace.dashboard")), 303)
        flash(_("This code is not valid. Try the current one."), "error")
        return render_template("accounts/second_factor.html", form=form), 401
    return render_template("accounts/second_factor.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    end_all_sessions(current_user)
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("accounts.login"), code=303)


@bp.route("/account/second-factor", methods=["GET", "POST"])
@login_required
def enrol_second_factor():
    enabled = bool(current_user.totp_secret)
    form = ReplaceCodeForm() if enabled else CodeForm()
    secret = session.get(ENROLMENT_SECRET) or new_totp_secret()
    session[ENROLMENT_SECRET] = secret
    if form.validate_on_submit():
        # Replacing the second factor takes the one in place: a stolen session alone
        # cannot swap in the thief's authenticator.
        if enabled and not accept_totp_code(current_user, form.current_code.data, utcnow()):
            flash(_("The code from your current authenticator is not valid."), "error")
        elif enable_totp(current_user, secret, form.code.data, utcnow()):
            session.pop(ENROLMENT_SECRET, None)
            action = "second factor replaced" if enabled else "second factor enabled"
            record(action, utcnow(), actor=current_user)
            db.session.commit()
            flash(_("Two-factor authentication is on."), "success")
            return redirect(url_for("workspace.dashboard"), code=303)
        else:
            flash(_("This code is not valid. Try the current one."), "error")
    uri = totp_uri(current_user, secret)
    return render_template(
        "accounts/enrol.html",
        form=form,
        secret=secret,
        qr=segno.make(uri, error="m").svg_data_uri(scale=4),
        enabled=enabled,
    )
