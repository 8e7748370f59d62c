"""The publication slots: PUBLICATION_MAX_DELAY cuts time into slots aligned on the epoch,
so that every process computes the same ones; a change is published at the end of its slot,
and a petition at most once per slot."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

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
