"""Accounts: creating users, checking passwords and second factors, and who may do what."""

from __future__ import annotations

import hmac
from datetime import datetime
from functools import lru_cache
from typing import Protocol

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST
from flask import current_app
from sqlalchemy import or_, select, update

from campaign.accounts.models import PetitionModerator, Role, User, new_session_nonce
from campaign.audit import record
from campaign.errors import DomainError
from campaign.extensions import db

# argon2-cffi's defaults: Argon2id with RFC 9106's low-memory profile.
_HASHER = PasswordHasher()
# Its cheapest parameters, for the test suite only (password_hasher()).
_TEST_HASHER = PasswordHasher.from_parameters(CHEAPEST)


def password_hasher() -> PasswordHasher:
    """The Argon2id hasher. A testing app (TESTING and FAST_PASSWORD_HASHING both set) gets
    argon2-cffi's cheapest parameters: at full strength, hashing took nearly half the time
    of the tests that sign in. A hash carries its parameters, so either hasher verifies it."""
    config = current_app.config
    if config.get("TESTING") and config.get("FAST_PASSWORD_HASHING"):
        return _TEST_HASHER
    return _HASHER


@lru_cache(maxsize=2)
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified when the account does not exist, so that both answers take the same time."""
    return hasher.hash("an account that does not exist")


MIN_PASSWORD_LENGTH = 12


class AccountError(DomainError):
    """An account could not be created or changed; the message says why."""


def normalise_account_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, role: Role | str, password: str, now: datetime) -> User:
    """Create an account; raises AccountError for a duplicate address or a short password."""
    email = normalise_account_email(email)
    if "@" not in email:
        raise AccountError("not an email address")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")
    if find_user_by_email(email) is not None:
        raise AccountError(f"an account already exists for {email}")
    password_hash = password_hasher().hash(password)
    user = User(email=email, role=Role(role), password_hash=password_hash, created_at=now)
    db.session.add(user)
    db.session.commit()
    return user


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_account_email(email)))


def load_session_user(session_id: str) -> User | None:
    """The user a session cookie names, if its nonce is still current (not logged out)."""
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit() or not nonce:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_nonce != nonce:
        return None
    return user


def _record_refused_login(user: User | None, client: str, now: datetime) -> None:
    """Audit a refused login: the account when it exists (an unknown address is not
    written down: it may be a real person's mistyped address), and the client's keyed IP
    digest. The same one write for an unknown account and a wrong password."""
    record(
        "login refused",
        now,
        actor=user,
        actor_label=None if user else "unknown account",
        detail=f"client {client[:12]}",
    )
    db.session.commit()


def authenticate(email: str, password: str, now: datetime, client: str = "") -> User | None:
    """The account if the password is right; None otherwise, in the same time either way,
    and audited (`client`: the keyed digest of the client's IP)."""
    user = find_user_by_email(email)
    hasher = password_hasher()
    try:
        hasher.verify(user.password_hash if user else _dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        _record_refused_login(user, client, now)
        return None
    if user is None or not user.active:
        _record_refused_login(user, client, now)
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = now
    db.session.commit()
    return user


def end_all_sessions(user: User) -> None:
    """Logout: every cookie issued so far stops working."""
    user.session_nonce = new_session_nonce()
    db.session.commit()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str, issuer: str = "Tribune") -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is, allowing one step of clock drift either way."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def totp_matches(secret: str, code: str, now: datetime) -> bool:
    """A 6-digit code from the authenticator, allowing one step of clock drift."""
    return _matching_step(secret, code, now) is not None


def accept_totp_code(user: User, code: str, now: datetime) -> bool:
    """Whether `code` is the user's current code, used for the first time: a code (or an
    earlier one) already accepted is refused, so that a code seen over a shoulder or in a
    proxy's log cannot be played again within its minute and a half. Commits."""
    step = _matching_step(user.totp_secret or "", code, now) if user.totp_secret else None
    if step is None:
        return False
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def enable_totp(user: User, secret: str, code: str, now: datetime) -> bool:
    """Turn on (or replace) the second factor once the user proved their authenticator has
    the secret; the code that proved it is spent."""
    step = _matching_step(secret, code, now)
    if step is None:
        return False
    user.totp_secret = secret
    user.totp_last_step = step
    db.session.commit()
    return True


# --- Authorisation: per object, never by role alone ------------------------------------------


class Petition(Protocol):
    """What authorisation reads of a petition (campaign.petitions.models.Petition, a floor
    above accounts: the petitions a user works on are petitions.services'
    petitions_visible_to)."""

    id: int
    owner_id: int | None


def can_manage(user: User, petition: Petition) -> bool:
    """Edit, open and close the petition, import, see personal data: admins and its owner."""
    return user.is_admin or (user.role == Role.ORGANISER and petition.owner_id == user.id)


def can_moderate(user: User, petition: Petition) -> bool:
    """Hide, invalidate and restore signatures: managers and assigned moderators."""
    if can_manage(user, petition):
        return True
    if user.role != Role.MODERATOR:
        return False
    assigned = db.session.get(PetitionModerator, (petition.id, user.id))
    return assigned is not None


def assign_moderator(petition: Petition, user: User) -> None:
    """Let a moderator moderate this petition."""
    if user.role != Role.MODERATOR:
        raise AccountError("only moderators can be assigned")
    if db.session.get(PetitionModerator, (petition.id, user.id)) is None:
        db.session.add(PetitionModerator(petition_id=petition.id, user_id=user.id))
        db.session.commit()
