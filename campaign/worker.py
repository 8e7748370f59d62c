"""`flask worker`: an RQ worker inside the application, flushing the outbox as it goes."""

from __future__ import annotations

import logging
import threading

import click
from flask import Flask, current_app
from rq import SimpleWorker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.queue import Queue

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import job_queue, redis_connection
from campaign.mail.outbox import flush_outbox
from campaign.mailings.services import sweep_mailings
from campaign.maintenance import claim_daily_run, run_daily_tasks
from campaign.publication.jobs import publish_stale_lists

log = logging.getLogger(__name__)


# How long the thread that listens for RQ's commands (shutdown, stop-job) waits on Redis at a
# time: how long a shutdown can wait for it. rq polls every 60 s (rq#2228) and, on shutdown,
# unsubscribes and then calls PubSubWorkerThread.stop(). Since redis-py 8.0, stop() joins the
# thread with no timeout; a thread that looped back between the UNSUBSCRIBE reply and stop()
# waits out its whole poll for a subscription that will not come, and so did every SIGTERM
# (up to 60 s, past systemd's and our tests' patience). No upstream report was found; this
# bound holds with every redis-py and rq that pyproject.toml allows.
PUBSUB_POLL_SECONDS = 1.0


class AppWorker(SimpleWorker):
    """Runs each job in a fresh application context, so each has its own DB session."""

    flask_app: Flask

    def subscribe(self) -> None:
        """Listen for RQ's commands as rq does, but wake every PUBSUB_POLL_SECONDS."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_POLL_SECONDS,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def handle_job_success(self, job: Job, queue: Queue, **kwargs: object) -> None:
        """As RQ does, unless Redis forgot the job while it ran (flushed, or restarted
        without persistence): its work is done and recorded in the database, so there is
        nothing left to record. RQ would log an ERROR and list it among the failed jobs,
        misleading whoever reads them."""
        try:
            super().handle_job_success(job=job, queue=queue, **kwargs)
        except (InvalidJobOperation, NoSuchJobError):
            # What a flush leaves: at most the fields written since, never the status.
            if self.connection.hexists(job.key, "status"):
                raise
            log.warning("job %s finished after Redis forgot it: nothing to record", job.id)

    def execute_job(self, job: Job, queue: Queue) -> None:
        with self.flask_app.app_context():
            try:
                super().execute_job(job, queue)
            finally:
                db.session.remove()


def flush_periodically(app: Flask, interval: int, stop: threading.Event) -> None:
    """Re-enqueue what the outbox still owes, sweep the mailings and publish the lists whose
    publication job was lost every `interval` seconds, and run the daily maintenance once a
    day, until `stop`."""
    last_day = None
    while not stop.wait(interval):
        with app.app_context():
            try:
                now = utcnow()
                count = flush_outbox(now)
                if count:
                    log.info("outbox flush: %d message(s) enqueued", count)
                swept = sweep_mailings(now)
                if any(swept.values()):
                    log.info("mailings sweep: %s", swept)
                published = publish_stale_lists(now)
                if published:
                    log.info("publication sweep: %d list(s) published", published)
                if now.date() != last_day and claim_daily_run(now):
                    run_daily_tasks(now)
                last_day = now.date()
            except Exception:
                log.exception("periodic work failed")
            finally:
                db.session.remove()


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker for Tribune's jobs (needs REDIS_URL)."""
    app = current_app._get_current_object()
    if not app.config["REDIS_URL"]:
        raise click.ClickException("REDIS_URL is not set: jobs already run in-process.")
    flushed = flush_outbox(utcnow())
    swept = sweep_mailings(utcnow())
    db.session.remove()
    click.echo(f"outbox flush at start: {flushed} message(s) enqueued; mailings: {swept}")
    stop = threading.Event()
    if not burst:
        interval = app.config["OUTBOX_FLUSH_INTERVAL"]
        threading.Thread(target=flush_periodically, args=(app, interval, stop), daemon=True).start()
    AppWorker.flask_app = app
    rq_worker = AppWorker([job_queue()], connection=redis_connection())
    try:
        rq_worker.work(burst=burst, with_scheduler=True)
    finally:
        stop.set()
