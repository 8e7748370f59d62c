"""Background jobs: the only module that imports rq.

enqueue(job, *ids) puts the job on Redis when REDIS_URL is set, and runs it in-process
otherwise (the embedded default). Jobs take ids, never personal data: RQ keeps the arguments
of failed jobs in Redis.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import redis
from flask import current_app
from rq import Queue
from rq.exceptions import DuplicateJobError

from campaign.clock import utcnow
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


def _check_ids(ids: tuple[int, ...]) -> None:
    for value in ids:
        if not isinstance(value, int):
            raise TypeError("jobs take ids, never objects or personal data")


def _run_in_process(job: Callable[..., object], ids: tuple[int, ...]) -> None:
    try:
        job(*ids)
    except Exception:
        db.session.rollback()
        log.exception("in-process job %s%s failed; it will be retried", job.__name__, ids)


def _put_on_redis(
    job: Callable[..., object], ids: tuple[int, ...], job_id: str | None, at: datetime | None
) -> None:
    """Enqueue on Redis now, or in RQ's scheduler for `at`. Never raises."""
    options = {
        "job_id": job_id,
        # With an id, the job is unique while it waits or runs; it is deleted once done,
        # so that the same id can be enqueued again later.
        "unique": job_id is not None,
        "result_ttl": 0 if job_id else None,
        # No RQ retries: jobs record their own retry schedule in the database.
        "failure_ttl": 7 * 86400,
    }
    try:
        if at is None:
            job_queue().enqueue(job, *ids, **options)
        else:
            job_queue().enqueue_at(at.replace(tzinfo=UTC), job, *ids, **options)
    except DuplicateJobError:
        log.debug("job %s is already queued, scheduled or running", job_id)
    except redis.RedisError as error:
        log.warning("Redis unavailable (%s); %s%s waits for the flush", error, job.__name__, ids)


def enqueue(job: Callable[..., object], *ids: int, job_id: str | None = None) -> None:
    """Run `job(*ids)` in the background. Never raises: the outbox row (or other database
    state) the caller committed first is what guarantees the work gets done.

    With a `job_id`, the job is unique: enqueueing it again while it waits or runs does
    nothing (a double-clicked button enqueues once)."""
    _check_ids(ids)
    if not current_app.config["REDIS_URL"]:
        _run_in_process(job, ids)
        return
    _put_on_redis(job, ids, job_id, None)


# How long a coalesced job may wait in the queue before another request enqueues a second
# one (a worker died, or the queue is long): a second one is harmless, it finds less to do.
COALESCE_TTL_SECONDS = 60


def _waiting_key(name: str) -> str:
    return f"tribune:{current_app.config['RQ_QUEUE']}:{name}:waiting"


def enqueue_coalesced(job: Callable[[], object], name: str) -> None:
    """Enqueue `job()` unless one enqueued under `name` has not started yet (Redis only).

    For jobs that drain a table: the first request after a job started enqueues the next
    one, and every request until that one starts adds nothing. The job must call
    job_started(name) before it reads the table, so that work committed before a request
    that enqueued nothing is always seen by the waiting job. Never raises: if Redis is down,
    the periodic flush takes over."""
    key = _waiting_key(name)
    try:
        client = redis_connection()
        if not client.set(key, 1, nx=True, ex=COALESCE_TTL_SECONDS):
            return
        try:
            job_queue().enqueue(job, result_ttl=0, failure_ttl=7 * 86400)
        except redis.RedisError:
            client.delete(key)
            raise
    except redis.RedisError as error:
        log.warning("Redis unavailable (%s); %s waits for the flush", error, job.__name__)


def job_started(name: str) -> None:
    """Called first by a coalesced job: from now on, a request enqueues the next one."""
    try:
        redis_connection().delete(_waiting_key(name))
    except redis.RedisError as error:
        log.warning("Redis unavailable (%s); %s:waiting expires by itself", error, name)


def enqueue_at(
    when: datetime, job: Callable[..., object], *ids: int, job_id: str | None = None
) -> None:
    """Run `job(*ids)` at `when` (naive UTC), through RQ's scheduler; in-process, on a timer
    thread. Losing it is harmless: the periodic sweep finds work that is due."""
    _check_ids(ids)
    delay = (when - utcnow()).total_seconds()
    if delay <= 0:
        enqueue(job, *ids, job_id=job_id)
        return
    if not current_app.config["REDIS_URL"]:
        _run_on_timer(job, ids, delay)
        return
    _put_on_redis(job, ids, job_id, when)


def _run_on_timer(job: Callable[..., object], ids: tuple[int, ...], delay: float) -> None:
    """In-process: run `job(*ids)` on a timer thread, in its own application context."""
    app = current_app._get_current_object()
    timers: set[threading.Timer] = app.extensions.setdefault("tribune_timers", set())

    def run_later() -> None:
        try:
            with app.app_context():
                _run_in_process(job, ids)
                db.session.remove()
        finally:
            timers.discard(timer)

    timer = threading.Timer(delay, run_later)
    timer.daemon = True
    timers.add(timer)
    timer.start()


def enqueue_detached(job: Callable[..., object], *ids: int) -> None:
    """enqueue(), but never on the request's own thread: in-process, on a thread of its
    own. For jobs whose duration must not show in the response time (whether an address
    signed is decided by the job, and a response that waited for it would tell)."""
    _check_ids(ids)
    if not current_app.config["REDIS_URL"]:
        _run_on_timer(job, ids, 0)
        return
    _put_on_redis(job, ids, None, None)


def cancel_pending_timers(app) -> None:
    """Cancel the in-process delayed jobs of `app` that have not started (tests, shutdown)."""
    for timer in list(app.extensions.get("tribune_timers", ())):
        timer.cancel()
