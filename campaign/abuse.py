"""Abuse resistance for public forms: the proof-of-work challenge (ALTCHA, computed in the
browser, nothing sent to another host), the email-domain block list, and the rate thresholds
above which signatures are held for review instead of counted."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from altcha import ChallengeOptionsV1, create_challenge_v1, verify_solution_v1
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from flask import current_app
from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Insert,
    Integer,
    String,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.selectable import ScalarSelect

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.personal_data import canonical_domain, canonical_email, email_domain_digest

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


# --- Rate thresholds -------------------------------------------------------------------------


def recent_signing_counts(with_ip: bool) -> tuple[ScalarSelect[int] | None, ScalarSelect[int]]:
    """Scalar subqueries counting the last hour's signatures from one IP digest (None unless
    `with_ip`) and from one email domain, to be read in the caller's one query. They take
    their values from recent_signing_params(): built once, they are not compiled again.

    Each count stops at its threshold: over_thresholds() only asks whether it is reached,
    and a busy domain (a webmail at a viral moment) must not make every signature count
    its whole last hour. With the (digest, created_at) indexes, a count reads at most its
    threshold's worth of index entries."""
    from campaign.signatures.models import Signature

    table = Signature.__table__

    def bounded_count(column: ColumnElement[str], value: str, limit: str) -> ScalarSelect[int]:
        recent = (
            select(table.c.id)
            .where(column == bindparam(value), table.c.created_at > bindparam("hour_ago"))
            .limit(bindparam(limit, type_=Integer))
            .subquery()
        )
        return select(func.count()).select_from(recent).scalar_subquery()

    ip_recent = bounded_count(table.c.ip_digest, "ip_digest", "ip_limit") if with_ip else None
    domain_recent = bounded_count(table.c.email_domain_digest, "domain_digest", "domain_limit")
    return ip_recent, domain_recent


def recent_signing_params(ip_digest: str | None, address: str, now: datetime) -> dict[str, object]:
    """The values of recent_signing_counts()'s subqueries for one signer."""
    config = current_app.config
    return {
        "hour_ago": now - timedelta(hours=1),
        "ip_digest": ip_digest,
        "ip_limit": config["SUSPECT_SIGNATURES_PER_IP_PER_HOUR"],
        "domain_digest": email_domain_digest(address),
        "domain_limit": config["SUSPECT_SIGNATURES_PER_DOMAIN_PER_HOUR"],
    }


def over_thresholds(ip_recent: int | None, domain_recent: int) -> bool:
    """Whether these hourly counts reach the configured thresholds (no IP: only the domain)."""
    config = current_app.config
    if ip_recent is not None and ip_recent >= config["SUSPECT_SIGNATURES_PER_IP_PER_HOUR"]:
        return True
    return domain_recent >= config["SUSPECT_SIGNATURES_PER_DOMAIN_PER_HOUR"]


# --- Trending alerts and the block list -------------------------------------------------------


@dataclass(frozen=True)
class TrendingSource:
    """An IP digest or email-domain digest signing far above its usual hourly rate."""

    kind: str  # "ip" or "domain"
    digest: str
    petition_id: int
    last_hour: int
    usual_per_hour: float


def trending_sources(
    petition_ids: list[int], now: datetime, factor: float = 5.0, minimum: int = 5
) -> list[TrendingSource]:
    """Sources whose signatures in the last hour exceed `factor` times their average hourly
    rate over the previous week (and at least `minimum`)."""
    from campaign.signatures.models import Signature

    if not petition_ids:
        return []
    hour_ago, week_ago = now - timedelta(hours=1), now - timedelta(days=7)
    alerts = []
    for kind, column in (("ip", Signature.ip_digest), ("domain", Signature.email_domain_digest)):
        recent = db.session.execute(
            select(column, Signature.petition_id, func.count(Signature.id))
            .where(
                Signature.petition_id.in_(petition_ids),
                column.isnot(None),
                Signature.created_at > hour_ago,
            )
            .group_by(column, Signature.petition_id)
            .having(func.count(Signature.id) >= minimum)
        ).all()
        for digest, petition_id, last_hour in recent:
            before = db.session.scalar(
                select(func.count(Signature.id)).where(
                    column == digest,
                    Signature.petition_id == petition_id,
                    Signature.created_at > week_ago,
                    Signature.created_at <= hour_ago,
                )
            )
            usual = before / (7 * 24 - 1)
            if last_hour >= factor * max(usual, 1.0):
                alerts.append(TrendingSource(kind, digest, petition_id, last_hour, usual))
    return sorted(alerts, key=lambda alert: alert.last_hour, reverse=True)


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
