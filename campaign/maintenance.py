"""Daily maintenance: publishing the lists that changed, the retention purge, pruning the
stored files of superseded publications, forgetting spent proof-of-work challenges, and
checking the petitions' stored counts. The worker runs it once a day (one worker only,
through a Redis key); `flask maintenance daily` does the same from cron on the embedded
default."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import current_app

from campaign.extensions import db

log = logging.getLogger(__name__)


def _publish(now: datetime) -> int:
    from campaign.publication.services import publish_changed_petitions

    return len(publish_changed_petitions(now))


def _prune_press_files(now: datetime) -> int:
    from campaign.publication.services import prune_superseded_files

    return prune_superseded_files(now)


def _purge(now: datetime) -> int:
    from campaign.privacy.jobs import purge_expired_personal_data

    return len(purge_expired_personal_data(now))


def _forget_challenges(now: datetime) -> int:
    from campaign.abuse import forget_spent_challenges

    return forget_spent_challenges(now)


def _remind_letters(now: datetime) -> int:
    from campaign.objections.services import remind_due_letters

    return remind_due_letters(now)


def _check_counts(now: datetime) -> int:
    """Compare the stored counts with the signatures; repair and log any drift (keys and
    numbers only: no personal data). Returns how many counts were repaired."""
    from campaign.signatures.counts import repair_counts

    drift = repair_counts()
    for item in drift:
        log.warning("stored count repaired: %s", item.describe())
    return len(drift)


DAILY_TASKS: list[tuple[str, Callable[[datetime], int]]] = [
    ("publications of changed lists", _publish),
    ("petitions purged of expired personal data", _purge),
    ("stored files of superseded publications pruned", _prune_press_files),
    ("spent challenges forgotten", _forget_challenges),
    ("reminders of objection letters queued", _remind_letters),
    ("stored counts repaired", _check_counts),
]


def claim_daily_run(now: datetime) -> bool:
    """True for the first worker to ask on a given day (always true without Redis)."""
    if not current_app.config["REDIS_URL"]:
        return True
    from campaign.jobs import redis_connection

    key = f"{current_app.config['RQ_QUEUE']}:daily:{now:%Y-%m-%d}"
    return bool(redis_connection().set(key, "1", nx=True, ex=36 * 3600))


def run_daily_tasks(now: datetime) -> dict[str, int]:
    """Run every daily task; one failing does not stop the others. Returns counts."""
    results = {}
    for name, task in DAILY_TASKS:
        try:
            results[name] = task(now)
            log.info("daily: %d %s", results[name], name)
        except Exception:
            db.session.rollback()
            log.exception("daily task failed: %s", name)
    return results
