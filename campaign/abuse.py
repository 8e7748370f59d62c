"""Abuse resistance for public forms: the proof-of-work challenge (ALTCHA, computed in the
browser, nothing sent to another host) and the email-domain block list. The rate thresholds
above which signatures are held for review, and the trending alerts, count signatures: they
are the signatures domain's (campaign/signatures/rates.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from datetime import datetime, timedelta
from functools import lru_cache

from altcha import ChallengeOptionsV1, create_challenge_v1, verify_solution_v1
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from flask import current_app
from sqlalchemy import (
    ForeignKey,
    Insert,
    String,
    delete,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.personal_data import canonical_domain, canonical_email

DOMAIN_PATTERN = re.compile(r"(?=.{3,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class SpentChallenge(db.Model):
    """A solved challenge already used once: a solution cannot sign twice."""

    __tablename__ = "spent_challenges"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class BlockedDomain(db.Model):
    """An email domain that may not be used to sign (managed in the workspace)."""

    __tablename__ = "blocked_domains"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- Proof of work --------------------------------------------------------------------------


def _challenge_key() -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"altcha-challenge", hashlib.sha256).hexdigest()


def new_challenge(now: datetime) -> dict[str, object]:
    """A signed challenge for the widget, expiring after ALTCHA_EXPIRY seconds."""
    challenge = create_challenge_v1(
        ChallengeOptionsV1(
            hmac_key=_challenge_key(),
            max_number=current_app.config["ALTCHA_MAX_NUMBER"],
            expires=now + timedelta(seconds=current_app.config["ALTCHA_EXPIRY"]),
        )
    )
    return {
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "maxnumber": challenge.max_number,
        "salt": challenge.salt,
        "signature": challenge.signature,
    }


def widget_strings() -> dict[str, str]:
    """The widget's texts in the reader's language (from Tribune's own catalogues)."""
    from flask_babel import gettext as _

    return {
        "label": _("I am not a robot"),
        "verifying": _("Checking…"),
        "verified": _("Checked"),
        "verify": _("Check"),
        "loading": _("Loading…"),
        "error": _("The check failed. Reload the page and try again."),
        "expired": _("The check expired. Try again."),
        "verificationRequired": _("Please wait for the anti-robot check to finish."),
        "waitAlert": _("Checking… please wait."),
        "footer": "",
    }


def _decoded_proof(payload: str) -> dict[str, object] | None:
    """The widget's payload (base64 of a JSON object), decoded as the altcha library does."""
    try:
        decoded = json.loads(base64.b64decode(payload).decode())
    except (ValueError, TypeError):
        return None
    return decoded if isinstance(decoded, dict) else None


def proof_is_valid(payload: str | None, now: datetime) -> bool:
    """Whether the widget's payload solves a challenge of ours, unexpired and unused.
    A valid proof spends its challenge: the challenge is refused the second time, however
    its solution is written (the decoding is lenient: other JSON spacing or key order, or
    characters base64 skips, would make another payload of the same solution)."""
    if not current_app.config["ALTCHA_ENABLED"]:
        return True
    if not payload or len(payload) > 2000:
        return False
    proof = _decoded_proof(payload)
    if proof is None or not isinstance(proof.get("signature"), str):
        return False
    try:
        valid, _error = verify_solution_v1(proof, _challenge_key(), check_expires=True)
    except (ValueError, TypeError, KeyError):
        return False
    if not valid:
        return False
    # The challenge's own signature (our HMAC of it) names the challenge, not its encoding.
    return _spend_challenge(hashlib.sha256(proof["signature"].encode()).hexdigest(), now)


@lru_cache(maxsize=2)
def _insert_spent_challenge(dialect: str) -> Insert:
    table = SpentChallenge.__table__
    statement = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    # RETURNING tells whether the row went in: on PostgreSQL its rowcount came back -1.
    return statement.on_conflict_do_nothing(index_elements=[table.c.digest]).returning(
        table.c.digest
    )


def _spend_challenge(digest: str, now: datetime) -> bool:
    """Record a solution as spent in the request's transaction; False if it already was.

    One INSERT that does nothing on a known digest, instead of a look-up then an INSERT.
    It commits with the signature; if the request ends without a commit (an invalid form),
    the rollback leaves the solution unspent. A concurrent replay waits on the first one's
    row, then does nothing."""
    statement = _insert_spent_challenge(db.session.get_bind().dialect.name)
    expires_at = now + timedelta(seconds=current_app.config["ALTCHA_EXPIRY"])
    result = db.session.execute(statement, {"digest": digest, "expires_at": expires_at})
    return result.first() is not None


def forget_spent_challenges(now: datetime) -> int:
    """Drop spent challenges that have expired anyway; returns how many."""
    result = db.session.execute(delete(SpentChallenge).where(SpentChallenge.expires_at < now))
    db.session.commit()
    return result.rowcount


# --- Email domains --------------------------------------------------------------------------


def email_domain(address: str) -> str:
    return canonical_email(address).rpartition("@")[2]


# The admins' block list is read on every sign POST: each process keeps it this long.
# Blocking or unblocking empties the cache of the process that does it; the others follow
# within this delay.
BLOCKED_DOMAINS_CACHE_SECONDS = 10.0
_BLOCKED_KEY = "tribune.blocked_domains"


def _organisers_blocked_domains() -> frozenset[str]:
    """This app's cached copy of the blocked_domains table (one per app, as in tests)."""
    entry = current_app.extensions.get(_BLOCKED_KEY)
    now = time.monotonic()
    if entry is None or entry[0] <= now:
        entry = (
            now + BLOCKED_DOMAINS_CACHE_SECONDS,
            frozenset(db.session.scalars(select(BlockedDomain.domain))),
        )
        current_app.extensions[_BLOCKED_KEY] = entry
    return entry[1]


def forget_blocked_domains() -> None:
    """Read the block list again on the next check in this process."""
    current_app.extensions.pop(_BLOCKED_KEY, None)


def _domain_and_parents(domain: str) -> list[str]:
    """ "a.b.mailinator.com" -> itself, "b.mailinator.com", "mailinator.com" (not "com")."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


def domain_is_blocked(address: str) -> bool:
    """Disposable-address providers (maintained list) and domains blocked by organisers,
    with their subdomains: most disposable providers take mail for any subdomain."""
    blocked = _organisers_blocked_domains()
    return any(
        domain in DISPOSABLE_DOMAINS or domain in blocked
        for domain in _domain_and_parents(email_domain(address))
    )


def domain_is_allowed(address: str, allowed: str) -> bool:
    """Whether the petition's allow-list (comma-separated domains; empty: all) admits it."""
    domains = {
        canonical_domain(part.strip().lower()) for part in allowed.split(",") if part.strip()
    }
    return not domains or email_domain(address) in domains


# --- The block list ---------------------------------------------------------------------------


def blocked_domains() -> list[BlockedDomain]:
    """The organisers' block list, alphabetically."""
    return list(db.session.scalars(select(BlockedDomain).order_by(BlockedDomain.domain)))


def block_domain(domain: str, reason: str, actor, now: datetime) -> BlockedDomain:
    """Refuse signatures from `domain` from now on (audit-logged)."""
    from campaign.audit import record

    domain = canonical_domain(domain.strip().lower().lstrip("@"))
    if not DOMAIN_PATTERN.fullmatch(domain):
        raise ValueError(domain)
    entry = db.session.get(BlockedDomain, domain) or BlockedDomain(domain=domain)
    entry.reason, entry.added_by_id, entry.added_at = reason[:200], actor.id, now
    db.session.add(entry)
    record("email domain blocked", now, actor=actor, detail=domain)
    db.session.commit()
    forget_blocked_domains()
    return entry


def unblock_domain(domain: str, actor, now: datetime) -> bool:
    """Accept signatures from `domain` again (audit-logged)."""
    from campaign.audit import record

    entry = db.session.get(BlockedDomain, domain)
    if entry is None:
        return False
    db.session.delete(entry)
    record("email domain unblocked", now, actor=actor, detail=domain)
    db.session.commit()
    forget_blocked_domains()
    return True
