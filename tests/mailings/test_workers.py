"""A mailing sent by real RQ worker processes through real Redis to a real SMTP server,
while workers are killed and Redis forgets its queue: each official gets at most one
letter, and every letter whose fate is known got exactly one."""

import asyncio
import random
import time
from collections import Counter

import pytest
import redis
from aiosmtpd.controller import Controller
from sqlalchemy import func, insert, select, text

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import job_queue
from campaign.mailings.models import Delivery, DeliveryStatus, Mailing, MailingKind
from campaign.mailings.services import MailingFields, create_mailing, start_mailing
from campaign.officials.models import Official
from campaign.petitions.services import ensure_default_categories
from tests.conftest import Mailbox, WorkerProcess, free_port
from tests.factories import make_petition, make_user
from tests.support import wait_until

pytestmark = pytest.mark.redis


class SlowMailbox(Mailbox):
    """Accepts everything, a few milliseconds per message, and counts per recipient."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)

    def per_recipient(self) -> Counter:
        with self._lock:
            return Counter(rcpt.lower() for rcpts, _ in self._messages for rcpt in rcpts)


@pytest.fixture
def sink():
    box = SlowMailbox(delay=0.01)
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture
def campaign_app(make_app, redis_url, queue_name, sink):
    _box, port = sink
    app = make_app(
        REDIS_URL=redis_url,
        RQ_QUEUE=queue_name,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_SUPPRESS_SEND=False,
    )
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


def worker_settings(worker_env: dict, port: int, **extra: str) -> dict:
    env = dict(worker_env, MAIL_PORT=str(port), MAILING_STALE_AFTER="2", MAILING_STALL_AFTER="1")
    env.update(extra)
    return env


def start_letter(count: int) -> int:
    """A started letter to `count` officials; its jobs wait in Redis."""
    db.session.execute(
        insert(Official),
        [
            {
                "email": f"depute{n}@example.org",
                "first_name": f"Prénom{n}",
                "last_name": f"Nom{n}",
                "role": "depute",
                "chamber": "Assemblée nationale",
                "departement": "75",
                "constituency": "",
                "party": "",
                "source": "test",
                "active": True,
                "created_at": utcnow(),
                "updated_at": utcnow(),
            }
            for n in range(count)
        ],
    )
    db.session.commit()
    petition = make_petition()
    organiser = make_user()
    fields = MailingFields(
        name="Lettre",
        subject_template="Pour {{ official.name }}",
        body_template="Bonjour {{ official.name }}.",
        roles=["depute"],
    )
    mailing = create_mailing(petition, MailingKind.LETTER, fields, organiser, utcnow())
    assert start_mailing(mailing.id, organiser, utcnow())
    return mailing.id


def statuses(mailing_id: int) -> Counter:
    db.session.expire_all()
    rows = db.session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.mailing_id == mailing_id)
        .group_by(Delivery.status)
    )
    return Counter(dict(rows.all()))


def wait_for_settled(
    mailing_id: int, timeout: float, worker: WorkerProcess | None = None
) -> Counter:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = statuses(mailing_id)
        if not counts[DeliveryStatus.QUEUED] and not counts[DeliveryStatus.SENDING]:
            return counts
        time.sleep(0.2)
    log = worker.output()[-4000:] if worker else ""
    raise AssertionError(f"mailing not settled: {statuses(mailing_id)}\n{log}")


def wait_for_messages(box: SlowMailbox, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(box.messages) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def assert_each_recipient_once(mailing_id: int, box: SlowMailbox) -> Counter:
    received = box.per_recipient()
    assert max(received.values()) == 1, "an official received two copies"
    rows = db.session.execute(
        select(Official.email, Delivery.status)
        .join(Official, Official.id == Delivery.official_id)
        .where(Delivery.mailing_id == mailing_id)
    ).all()
    for email, status in rows:
        if status == DeliveryStatus.SENT:
            assert received[email] == 1, f"{email} is marked sent but received nothing"
        elif status == DeliveryStatus.UNKNOWN:
            assert received[email] <= 1
        else:
            raise AssertionError(f"{email} left in {status}")
    return received


def test_killing_the_worker_five_times_mid_mailing_sends_no_letter_twice(
    campaign_app, worker_env, sink, tmp_path
):
    box, port = sink
    env = worker_settings(worker_env, port)
    mailing_id = start_letter(500)

    for round_number in range(5):
        worker = WorkerProcess(env, tmp_path / f"worker-{round_number}.log").start()
        wait_for_messages(box, len(box.messages) + random.randint(20, 60))
        worker.kill()  # SIGKILL: no cleanup, a claim may be left in "sending"
        assert len(box.messages) < 500, "the mailing finished before the last kill"

    last = WorkerProcess(env, tmp_path / "worker-last.log").start()
    try:
        counts = wait_for_settled(mailing_id, timeout=120)
    finally:
        last.stop()

    received = assert_each_recipient_once(mailing_id, box)
    # A kill lands inside at most one SMTP exchange: at most one unknown per kill.
    assert counts[DeliveryStatus.UNKNOWN] <= 5
    assert counts[DeliveryStatus.SENT] + counts[DeliveryStatus.UNKNOWN] == 500
    assert sum(received.values()) >= counts[DeliveryStatus.SENT]
    db.session.expire_all()
    assert db.session.get(Mailing, mailing_id).status == "done"


def test_redis_forgetting_its_queue_mid_mailing_loses_nothing_and_doubles_nothing(
    campaign_app, worker_env, sink, tmp_path, redis_url
):
    box, port = sink
    # Short jobs: each hands over to a fresh job in Redis every half second.
    env = worker_settings(worker_env, port, MAILING_JOB_BUDGET="0.5")
    client = redis.Redis.from_url(redis_url)
    mailing_id = start_letter(200)

    for round_number in range(2):
        worker = WorkerProcess(env, tmp_path / f"worker-{round_number}.log").start()
        wait_for_messages(box, len(box.messages) + 40)
        worker.stop()  # a warm shutdown: the running job hands over to a job in Redis
        client.flushdb()  # ...which Redis then forgets, with the worker registry
        assert len(box.messages) < 200
    client.flushdb()

    worker = WorkerProcess(env, tmp_path / "worker-last.log").start()
    try:
        wait_for_messages(box, len(box.messages) + 20)
        # And once more while a job runs.
        wait_until(lambda: job_queue().started_job_registry.count > 0, 30, "a job running")
        client.flushdb()
        counts = wait_for_settled(mailing_id, timeout=120)
    finally:
        worker.stop()

    assert_each_recipient_once(mailing_id, box)
    assert counts == Counter({DeliveryStatus.SENT: 200})
    assert len(box.messages) == 200
    # The job that ran through the last flush did its work: it is no failure.
    assert "exception raised while executing" not in worker.output()
    assert job_queue().failed_job_registry.count == 0


def test_a_long_unpaced_mailing_hands_over_from_job_to_job_without_the_sweeper(
    campaign_app, sink, worker_env, tmp_path
):
    """With pacing off every letter is due at once: each lane's job sends for its budget,
    then hands over to the next, run after run, with no help from the sweeper."""
    box, port = sink
    mailing_id = start_letter(150)
    # A budget of a fraction of a second: each lane runs its job many times. The sweeper
    # would wake a lane that stopped only after an hour.
    env = worker_settings(worker_env, port, MAILING_JOB_BUDGET="0.3", MAILING_STALL_AFTER="3600")
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        counts = wait_for_settled(mailing_id, timeout=120, worker=worker)
    finally:
        worker.stop()
    assert counts == Counter({DeliveryStatus.SENT: 150})
    assert_each_recipient_once(mailing_id, box)
    runs = worker.output().count("send_mailing_deliveries(")
    assert runs >= 3, f"{runs} job runs: the hand-over was not exercised"


def terminate_other_connections() -> int:
    """What a failover or an administrator does: end every other session on the database
    (the worker's, its sweeper's, and this test's pooled ones)."""
    db.session.close()  # this test's connection goes back to the pool, checked at checkout
    with db.engine.connect() as connection:
        ended = connection.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar_one()
        connection.commit()
    return ended


def test_losing_the_database_connection_mid_mailing_leaves_no_letter_unknown_or_doubled(
    campaign_app, sink, worker_env, tmp_path
):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("ending another session's connection is PostgreSQL's pg_terminate_backend")
    box, port = sink
    mailing_id = start_letter(200)
    # The sweeper marks a delivery left in sending for 2 s unknown, and wakes a lane idle
    # for 1 s: a job that lost an outcome, or died, would show.
    worker = WorkerProcess(worker_settings(worker_env, port), tmp_path / "worker.log").start()
    try:
        # Every ten letters, so that some cut lands inside a job's transaction whatever the
        # machine's pace (a cut while the worker's connection rests in the pool is healed by
        # the pool's pre-ping, and proves nothing).
        for received in range(20, 181, 10):
            box.wait_for(received, timeout=60)
            assert terminate_other_connections() >= 1
        counts = wait_for_settled(mailing_id, timeout=120, worker=worker)
    finally:
        worker.stop()
    assert "AdminShutdown" in worker.output(), "a connection was cut mid-job"
    assert counts == Counter({DeliveryStatus.SENT: 200}), worker.output()[-3000:]
    assert_each_recipient_once(mailing_id, box)
