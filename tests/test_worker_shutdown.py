"""`flask worker` stops on SIGTERM within seconds, idle or mid-job, and loses nothing.

What systemd, a deploy or `kill` does: SIGTERM to the worker's process group (the worker and
RQ's scheduler). A warm shutdown lets the running job finish; what was still queued stays in
the queue for the next worker.
"""

import asyncio
import os
import signal
import threading

import pytest
import redis
from rq import Worker
from sqlalchemy import select

from campaign.extensions import db
from campaign.jobs import job_queue
from campaign.mail.outbox import OutboxMessage
from campaign.petitions.services import ensure_default_categories
from campaign.worker import AppWorker
from tests.conftest import Mailbox, WorkerProcess
from tests.factories import make_petition
from tests.support import sign, wait_until

pytestmark = pytest.mark.redis

# Ceilings, not expectations: each wait ends as soon as its event happens.
STARTUP_CEILING = 60
EXIT_CEILING = 15


class HeldMailbox(Mailbox):
    """An SMTP server that holds the reply to DATA until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.arrived.set()
        # Wait in a thread: the server's event loop must keep serving.
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
        return await super().handle_DATA(server, session, envelope)


def listening(redis_url: str, queue_name: str) -> bool:
    """The worker is subscribed to its command channel and waits for jobs: RQ sets "idle"
    after it has installed its signal handlers (before, SIGTERM kills it outright)."""
    connection = redis.Redis.from_url(redis_url)
    workers = [w for w in Worker.all(connection=connection) if queue_name in w.queue_names()]
    if not workers or workers[0].get_state() != "idle":
        return False
    [(_channel, subscribers)] = connection.pubsub_numsub(workers[0].pubsub_channel_name)
    return subscribers == 1


def terminate(worker: WorkerProcess) -> int:
    """SIGTERM to the worker's group, as systemd sends it; the exit code."""
    os.killpg(worker.process.pid, signal.SIGTERM)
    return worker.process.wait(EXIT_CEILING)


def outbox_statuses() -> list[str]:
    db.session.expire_all()
    return sorted(str(s) for s in db.session.scalars(select(OutboxMessage.status)))


def test_command_listener_stops_within_seconds_when_it_saw_its_unsubscribe_first(
    redis_url, queue_name
):
    """The race behind the 60 s shutdowns with redis-py 8: the listener thread reads the
    UNSUBSCRIBE reply and loops back to wait for a subscription before stop() is called."""
    connection = redis.Redis.from_url(redis_url)
    worker = AppWorker([queue_name], connection=connection)
    worker.subscribe()
    wait_until(lambda: worker.pubsub.subscribed, STARTUP_CEILING, "listener subscribed")
    worker.pubsub.unsubscribe()  # what rq's Worker.unsubscribe() sends first
    wait_until(lambda: not worker.pubsub.subscribed, STARTUP_CEILING, "reply read by the thread")

    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopping.start()
    stopping.join(EXIT_CEILING)
    assert not stopping.is_alive(), "Worker.unsubscribe() still waits for the listener"
    assert not worker.pubsub_thread.is_alive()


def test_idle_worker_exits_within_seconds_of_sigterm(migrated, worker, redis_url, queue_name):
    worker.start()
    wait_until(lambda: listening(redis_url, queue_name), STARTUP_CEILING, "worker listening")

    assert terminate(worker) == 0, worker.output()
    assert "warm shut down requested" in worker.output().lower()
    connection = redis.Redis.from_url(redis_url)
    registered = [w for w in Worker.all(connection=connection) if queue_name in w.queue_names()]
    assert registered == [], "the worker unregistered"


def test_worker_finishes_its_job_on_sigterm_and_leaves_the_queue_for_the_next(
    make_app, smtp_with, redis_url, queue_name, worker_env, tmp_path
):
    box = HeldMailbox()
    port = smtp_with(box)
    app = make_app(REDIS_URL=redis_url, RQ_QUEUE=queue_name, MAIL_SERVER="127.0.0.1",
                   MAIL_PORT=port, MAIL_SUPPRESS_SEND=False)  # fmt: skip
    env = {**worker_env, "MAIL_PORT": str(port)}
    first = WorkerProcess(env, tmp_path / "first.log")
    try:
        with app.app_context():
            ensure_default_categories()
            petition = make_petition()
            assert sign(app.test_client(), petition, email="alice@example.fr").status_code == 303
            first.start()
            assert box.arrived.wait(STARTUP_CEILING), first.output()
            # Mid-job: the drain is waiting for the server's reply to Alice's message. Bruno
            # signs meanwhile: his message waits in a new drain job.
            assert sign(app.test_client(), petition, email="bruno@example.org").status_code == 303
            os.killpg(first.process.pid, signal.SIGTERM)
            box.release.set()
            assert first.process.wait(EXIT_CEILING) == 0, first.output()

            assert "alice@example.fr" in [m["To"] for m in box.messages], "the job finished"
            if outbox_statuses() != ["sent", "sent"]:
                # The drain left Bruno's message to the job queued for it.
                assert outbox_statuses() == ["queued", "sent"]
                assert len(job_queue().get_jobs()) == 1, "Bruno's drain is still queued"

            WorkerProcess(env, tmp_path / "second.log").run_burst()
            assert sorted(m["To"] for m in box.wait_for(2)) == [  # once each
                "alice@example.fr",
                "bruno@example.org",
            ]
            assert outbox_statuses() == ["sent", "sent"]
            db.session.remove()
    finally:
        box.release.set()
        first.stop()
