"""Background jobs: the only module that imports rq.

enqueue(job, *ids) puts the job on Redis when REDIS_URL is set, and runs it in-process
otherwise (the embedded default). Jobs take ids, never personal data: RQ keeps the arguments
of failed jobs in Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from flask import current_app
from rq import Queue

from campaign.extensions import db

log = logging.getLogger(__name__)


def redis_connection() -> redis.Redis:
    """One client per application, with short timeouts so a dead Redis fails fast."""
    client = current_app.extensions.get("tribune_redis")
    if client is None:
        client = redis.Redis.from_url(
            current_app.config["REDIS_URL"], socket_timeout=5, socket_connect_timeout=2
        )
        current_app.extensions["tribune_redis"] = client
    return client


def job_queue() -> Queue:
    """The application's RQ queue."""
    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection())


def enqueue(job: Callable[..., object], *ids: int) -> None:
    """Run `job(*ids)` in the background. Never raises: the outbox row (or other database
    state) the caller committed first is what guarantees the work gets done."""
    for value in ids:
        if not isinstance(value, int):
            raise TypeError("jobs take ids, never objects or personal data")
    if not current_app.config["REDIS_URL"]:
        try:
            job(*ids)
        except Exception:
            db.session.rollback()
            log.exception("in-process job %s%s failed; it will be retried", job.__name__, ids)
        return
    try:
        # No RQ retries: jobs record their own retry schedule in the database.
        job_queue().enqueue(job, *ids, failure_ttl=7 * 86400)
    except redis.RedisError as error:
        log.warning("Redis unavailable (%s); %s%s waits for the flush", error, job.__name__, ids)
