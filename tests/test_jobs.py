"""The production path: RQ on real Redis, a real `flask worker` process, a real SMTP server."""

from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, update

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import job_queue, job_started
from campaign.mail.outbox import DRAIN_JOB, OutboxMessage
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature
from tests.factories import make_petition
from tests.support import sign

pytestmark = pytest.mark.redis

SIGNER_IP = "203.0.113.77"
PERSONAL = ["alice", "martin", "example.fr", "m\\xc3\\xa9decin", "médecin", SIGNER_IP]


def supporter(app):
    """A test client coming from a recognisable address, to look for it in Redis."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = SIGNER_IP
    return client


@pytest.fixture
def rq_app(make_app, redis_url, queue_name, smtp_config):
    app = make_app(REDIS_URL=redis_url, RQ_QUEUE=queue_name, **smtp_config)
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


def outbox_statuses() -> list[str]:
    db.session.expire_all()
    return [str(status) for status in db.session.scalars(select(OutboxMessage.status))]


def redis_dump(url: str) -> list[bytes]:
    """Every key and every value in the test Redis database, as bytes."""
    client = redis.Redis.from_url(url)
    dump = []
    for key in client.scan_iter():
        dump.append(key)
        kind = client.type(key)
        if kind == b"string":
            dump.append(client.get(key) or b"")
        elif kind == b"hash":
            dump.extend(b"%s=%s" % pair for pair in client.hgetall(key).items())
        elif kind == b"list":
            dump.extend(client.lrange(key, 0, -1))
        elif kind == b"set":
            dump.extend(client.smembers(key))
        elif kind == b"zset":
            dump.extend(client.zrange(key, 0, -1))
    return dump


def test_confirmation_mail_is_a_job_with_ids_only_sent_by_the_worker(
    rq_app, worker, mailbox, redis_url, caplog
):
    caplog.set_level("DEBUG")
    petition = make_petition()
    response = sign(supporter(rq_app), petition)
    assert response.status_code == 303
    [job] = job_queue().get_jobs()
    assert job.func_name == "campaign.mail.outbox.drain_outbox"
    assert job.args == () and not job.kwargs
    assert mailbox.messages == [], "nothing is sent before a worker runs"

    worker.run_burst()
    [message] = mailbox.wait_for(1)
    assert message["To"] == "alice@example.fr"
    assert outbox_statuses() == ["sent"]
    dump = b"\n".join(redis_dump(redis_url)).lower()
    logs = (caplog.text + worker.output()).lower()
    assert "drain_outbox" in worker.output(), "the worker log was read"
    for secret in PERSONAL:
        assert secret.encode() not in dump, secret
        assert secret not in logs, secret


def test_signers_share_one_drain_job_until_it_starts(rq_app, worker, mailbox):
    petition = make_petition()
    for email in ("alice@example.fr", "bruno@example.org"):
        assert sign(supporter(rq_app), petition, email=email).status_code == 303
    assert len(job_queue().get_jobs()) == 1, "the second signer found a drain waiting"
    # What a drain does first: from then on, the next signer enqueues another one, which
    # will see that signer's row even if the running drain has already looked.
    job_started(DRAIN_JOB)
    assert sign(supporter(rq_app), petition, email="chloe@example.net").status_code == 303
    assert len(job_queue().get_jobs()) == 2

    worker.run_burst()
    messages = mailbox.wait_for(3)
    assert sorted(m["To"] for m in messages) == [
        "alice@example.fr",
        "bruno@example.org",
        "chloe@example.net",
    ]
    assert mailbox.connections == 1, "the first drain took all three over one connection"
    assert outbox_statuses() == ["sent"] * 3
    assert job_queue().get_jobs() == []


def test_signature_is_accepted_when_redis_is_down_and_mailed_after_the_flush(
    make_app, queue_name, smtp_config, worker, mailbox
):
    down = make_app(
        REDIS_URL="redis://127.0.0.1:9/0",
        RQ_QUEUE=queue_name,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:9/0",
        **smtp_config,
    )
    with down.app_context():
        ensure_default_categories()
        petition = make_petition()
        response = sign(supporter(down), petition)
        assert response.status_code == 303
        assert db.session.scalar(select(Signature.id)) is not None
        assert outbox_statuses() == ["queued"]
        # Later: the worker starts against a live Redis and flushes what is owed.
        db.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()
    worker.run_burst()
    [message] = mailbox.wait_for(1)
    assert message["To"] == "alice@example.fr"
    with down.app_context():
        assert outbox_statuses() == ["sent"]


def test_periodic_flush_of_a_running_worker_sends_what_redis_lost(
    rq_app, worker, mailbox, redis_url
):
    petition = make_petition()
    sign(supporter(rq_app), petition)
    # Redis loses the job (flushed, restarted without persistence, evicted...).
    redis.Redis.from_url(redis_url).flushdb()
    db.session.execute(update(OutboxMessage).values(created_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    worker.start()  # OUTBOX_FLUSH_INTERVAL is 1 s in the tests
    [message] = mailbox.wait_for(1, timeout=30)
    assert message["To"] == "alice@example.fr"
    worker.stop()
    assert len(mailbox.messages) == 1
    assert outbox_statuses() == ["sent"]


def test_failed_jobs_in_redis_hold_no_personal_data(
    make_app, redis_url, queue_name, worker_env, tmp_path
):
    from tests.conftest import WorkerProcess, free_port

    closed_port = free_port()
    app = make_app(REDIS_URL=redis_url, RQ_QUEUE=queue_name, MAIL_SERVER="127.0.0.1",
                   MAIL_PORT=closed_port, MAIL_SUPPRESS_SEND=False)  # fmt: skip
    with app.app_context():
        ensure_default_categories()
        petition = make_petition()
        sign(supporter(app), petition)
    env = {**worker_env, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(closed_port)}
    WorkerProcess(env, tmp_path / "worker.log").run_burst()
    with app.app_context():
        assert outbox_statuses() == ["queued"], "a temporary failure keeps the message owed"
        assert db.session.scalar(select(OutboxMessage.retry_at)) is not None
        assert job_queue().get_jobs() == [], "the retry schedule is in the database"
    dump = b"\n".join(redis_dump(redis_url)).lower()
    for secret in PERSONAL:
        assert secret.encode() not in dump, secret
