"""Fresh downloads: a change to the public list schedules a publication at the end of the
current slot of PUBLICATION_MAX_DELAY seconds, so that a confirmed or withdrawn name reaches
every download within that delay, and a petition is published at most once per slot.

Slots are aligned on the epoch, so every process computes the same one; the job's id names
the petition and the slot, so RQ keeps one job per slot (and the in-process mode one timer).
If Redis loses the job, the worker's periodic sweep (publish_stale_lists) publishes anyway.

The signatures domain does not call this module: it sends `public_list_changed`
(campaign.signatures.events), which this domain's init_app connects to schedule_publication."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app

from campaign.clock import utcnow
from campaign.jobs import enqueue_at
from campaign.publication.services import publish_if_changed, publish_stale_petitions
from campaign.publication.slots import max_delay, slot_end


def publication_job_id(petition_id: int, when: datetime) -> str:
    """The id of the publication job of a petition for the slot ending at `when`."""
    return f"publish-list-{petition_id}-{int(when.replace(tzinfo=UTC).timestamp())}"


def on_public_list_changed(petition_id: int, now: datetime) -> None:
    """Receiver of campaign.signatures.events.public_list_changed."""
    schedule_publication(petition_id, now)


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

    if not current_app.config["PUBLICATION_MAX_DELAY"]:
        return
    publish_if_changed(petition_id, utcnow(), max_delay())


def publish_stale_lists(now: datetime) -> int:
    """The worker's periodic safety net: publish every public list that changed before the
    current slot and was not published since (a job Redis lost). Returns how many."""

    if not current_app.config["PUBLICATION_MAX_DELAY"]:
        return 0
    return len(publish_stale_petitions(now, max_delay()))
