"""Fresh downloads: a change to the public list schedules a publication at the end of the
current slot of PUBLICATION_MAX_DELAY seconds, so that a confirmed or withdrawn name reaches
every download within that delay, and a petition is published at most once per slot.

Slots are aligned on the epoch, so every process computes the same one; the job's id names
the petition and the slot, so RQ keeps one job per slot (and the in-process mode one timer).
If Redis loses the job, the worker's periodic sweep (publish_stale_lists) publishes anyway.

This module imports the publication services only inside functions: the signature services,
which publication.services imports, call schedule_publication()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import current_app

from campaign.clock import utcnow
from campaign.jobs import enqueue_at

EPOCH = datetime(1970, 1, 1)


def max_delay() -> timedelta:
    """PUBLICATION_MAX_DELAY as a timedelta."""
    return timedelta(seconds=current_app.config["PUBLICATION_MAX_DELAY"])


def slot_start(now: datetime, delay: timedelta) -> datetime:
    """The start of the slot `now` falls in (naive UTC)."""
    return now - (now - EPOCH) % delay


def slot_end(now: datetime, delay: timedelta) -> datetime:
    """The end of the slot `now` falls in: when a change made now gets published."""
    return slot_start(now, delay) + delay


def publication_job_id(petition_id: int, when: datetime) -> str:
    """The id of the publication job of a petition for the slot ending at `when`."""
    return f"publish-list-{petition_id}-{int(when.replace(tzinfo=UTC).timestamp())}"


def schedule_publication(petition_id: int, now: datetime) -> datetime | None:
    """Have the petition's list published at the end of the current slot (once per slot,
    however many changes); returns when, or None when PUBLICATION_MAX_DELAY is 0. Call it
    after committing the change. Never raises."""
    if not current_app.config["PUBLICATION_MAX_DELAY"]:
        return None
    when = slot_end(now, max_delay())
    enqueue_at(when, publish_fresh_list, petition_id, job_id=publication_job_id(petition_id, when))
    return when


def publish_fresh_list(petition_id: int) -> None:
    """Job: publish the petition's list if it changed since its latest publication and it
    was not published in this slot yet. Takes an id; harmless when run twice."""
    from campaign.publication.services import publish_if_changed

    if not current_app.config["PUBLICATION_MAX_DELAY"]:
        return
    publish_if_changed(petition_id, utcnow(), max_delay())


def publish_stale_lists(now: datetime) -> int:
    """The worker's periodic safety net: publish every public list that changed before the
    current slot and was not published since (a job Redis lost). Returns how many."""
    from campaign.publication.services import publish_stale_petitions

    if not current_app.config["PUBLICATION_MAX_DELAY"]:
        return 0
    return len(publish_stale_petitions(now, max_delay()))
