"""Signing rates: the hourly thresholds above which a new signature is held for review
instead of counted (read in the sign path's one query), and the trending alerts of the
workspace (a source signing far above its usual rate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, Integer, bindparam, func, select
from sqlalchemy.sql.selectable import ScalarSelect

from campaign.extensions import db
from campaign.personal_data import email_domain_digest
from campaign.signatures.models import Signature

# --- Rate thresholds -------------------------------------------------------------------------


def recent_signing_counts(with_ip: bool) -> tuple[ScalarSelect[int] | None, ScalarSelect[int]]:
    """Scalar subqueries counting the last hour's signatures from one IP digest (None unless
    `with_ip`) and from one email domain, to be read in the caller's one query. They take
    their values from recent_signing_params(): built once, they are not compiled again.

    Each count stops at its threshold: over_thresholds() only asks whether it is reached,
    and a busy domain (a webmail at a viral moment) must not make every signature count
    its whole last hour. With the (digest, created_at) indexes, a count reads at most its
    threshold's worth of index entries."""
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


# --- Trending alerts -------------------------------------------------------------------


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
