"""Fixtures: a real database (SQLite file, or PostgreSQL with TEST_DATABASE_URL) migrated by
Alembic once per session and emptied after each test; a real SMTP server (aiosmtpd on
loopback); real Redis; a real `flask worker` process."""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet
from flask.testing import FlaskClient

from campaign import create_app
from campaign.extensions import db
from campaign.jobs import cancel_pending_timers

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key",
    "EMAIL_DIGEST_KEY": "test-digest-key",
    "EMAIL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    "IP_HASH_KEY": "test-ip-key",
}


# How long a test process's claim on a Redis database outlives it if it dies without
# releasing it (a pass of the suite takes minutes).
REDIS_CLAIM_SECONDS = 3600


def _redis_test_url() -> str:
    """A Redis database of this test process's own: the first of 15, 14... 1 (from
    TEST_REDIS_URL's number down) that no other test process holds, of this run or of
    another one on the machine (claims are keys in database 0). Each process empties its
    own between tests, so two runs side by side never flush each other's jobs."""
    import redis

    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    base, _, number = url.rpartition("/")
    try:
        claims = redis.Redis.from_url(f"{base}/0", socket_connect_timeout=2)
        for database in range(int(number or 0), 0, -1):
            key = f"tribune-test:redis-database:{database}"
            if claims.set(key, os.getpid(), nx=True, ex=REDIS_CLAIM_SECONDS):
                atexit.register(claims.delete, key)
                return f"{base}/{database}"
    except redis.RedisError:
        return url  # the redis_url fixture says Redis is unreachable
    raise pytest.UsageError(f"every Redis database of {base} is held by another test process")


REDIS_TEST_URL = _redis_test_url()


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where every real component must be there."""
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite in a temporary folder, or, with TEST_DATABASE_URL, a PostgreSQL database of
    this session's own (created next to the one named, dropped at the end), so that
    concurrent test runs on one server do not disturb each other."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'tribune-test.db'}"
        return
    server = sa.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{server.database}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        unavailable(f"PostgreSQL unreachable at {url}: {error.orig}")
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def base_config(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {
        **TEST_SECRETS,
        "TESTING": True,
        # argon2's cheapest parameters (campaign/accounts/services.py:password_hasher).
        "FAST_PASSWORD_HASHING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": None,
        "MAIL_SERVER": None,
        "OUTBOX_DIR": str(tmp_path_factory.mktemp("outbox")),
        "PUBLIC_URL": "http://tribune.test",
        "RATELIMIT_ENABLED": False,
        # The proof of work has its own tests (tests/security/test_proof_of_work.py).
        "ALTCHA_ENABLED": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Fresh publications (a timer per change) have their own tests
        # (tests/publication/test_fresh.py); elsewhere they would publish mid-test.
        "PUBLICATION_MAX_DELAY": 0,
    }


@pytest.fixture(scope="session")
def migrated(base_config: dict) -> None:
    """Apply the Alembic migrations once: tests run on the schema they create."""
    from flask_migrate import upgrade

    app = create_app(base_config)
    with app.app_context():
        upgrade()
        db.engine.dispose()


class IsolatedClient(FlaskClient):
    """Runs each request outside the test's own app context, as in production: otherwise
    Flask reuses that context, and `g`, the locale and the DB session leak between requests."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def _empty_tables(app) -> None:
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        db.engine.dispose()


@pytest.fixture
def make_app(base_config: dict, migrated: None):
    """Build an app with extra configuration; tables are emptied after the test."""
    apps = []

    def build(**overrides):
        app = create_app({**base_config, **overrides})
        app.test_client_class = IsolatedClient
        apps.append(app)
        return app

    yield build
    # Delayed in-process jobs (paced mailings) must not outlive their test's data.
    for app in apps:
        cancel_pending_timers(app)
    if apps:
        _empty_tables(apps[0])


@pytest.fixture
def app(make_app):
    app = make_app()
    with app.app_context():
        from campaign.petitions.services import ensure_default_categories

        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def site(make_app, smtp_config):
    """The app with mail going to the test SMTP server, its context pushed."""
    from campaign.petitions.services import ensure_default_categories

    app = make_app(**smtp_config)
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


@pytest.fixture
def browser(site):
    """A client of `site`."""
    return site.test_client()


# --- SMTP ---------------------------------------------------------------------------------


class Mailbox:
    """What the SMTP server received, parsed; thread-safe."""

    def __init__(self) -> None:
        self._messages: list[tuple[list[str], EmailMessage]] = []
        self._peers: list[tuple[str, int]] = []
        self._lock = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self._lock:
            self._messages.append((list(envelope.rcpt_tos), message))
            self._peers.append(session.peer)
            self._lock.notify_all()
        return "250 OK"

    @property
    def connections(self) -> int:
        """How many SMTP connections delivered the messages (by client address and port)."""
        with self._lock:
            return len(set(self._peers))

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [message for _, message in self._messages]

    def to(self, address: str) -> list[EmailMessage]:
        """Messages whose envelope names this recipient."""
        with self._lock:
            return [m for rcpts, m in self._messages if address.lower() in map(str.lower, rcpts)]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[EmailMessage]:
        """Block until at least `count` messages arrived (or fail)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} message(s), got {len(self._messages)}")
                self._lock.wait(remaining)
            return [message for _, message in self._messages]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._peers.clear()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Iterator[Mailbox]:
    _controller, box = smtp_server
    box.clear()
    yield box
    box.clear()


@pytest.fixture
def smtp_with():
    """Start SMTP servers with the given handler (and controller class) on free ports."""
    controllers = []

    def start(handler, controller_class=Controller):
        controller = controller_class(handler, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append(controller)
        return controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_config(smtp_server) -> dict:
    controller, _box = smtp_server
    # Flask-Mail suppresses sending under TESTING unless told otherwise.
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": controller.port,
        "MAIL_TIMEOUT": 30,
        "MAIL_SUPPRESS_SEND": False,
    }


# --- Redis and the worker -------------------------------------------------------------------


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable(f"Redis unreachable at {REDIS_TEST_URL}: {error}")
    client.flushdb()
    yield REDIS_TEST_URL
    client.flushdb()
    client.close()


@pytest.fixture
def queue_name() -> str:
    return f"tribune-test-{uuid.uuid4().hex[:8]}"


class WorkerProcess:
    """A real `flask worker` process with the test's configuration."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, *args: str) -> WorkerProcess:
        self.log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", str(ROOT / "app.py"), "worker", *args],
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            # Its own process group: RQ's scheduler runs in a child process, which must end
            # with the worker.
            start_new_session=True,
        )
        return self

    def run_burst(self, timeout: float = 60) -> None:
        """Run until the queue is empty, then return."""
        self.start("--burst")
        assert self.process.wait(timeout) == 0, self.output()

    def kill(self) -> None:
        """SIGKILL the worker and its children at once, as a crashed machine would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            # Whatever is left of the group (the scheduler child).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def worker_env(base_config, redis_url, queue_name, smtp_config) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "MAIL_", "TRIBUNE_"))
    }
    env.update(TEST_SECRETS)
    env.update(
        {
            "DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": redis_url,
            "RQ_QUEUE": queue_name,
            "MAIL_SERVER": smtp_config["MAIL_SERVER"],
            "MAIL_PORT": str(smtp_config["MAIL_PORT"]),
            "MAIL_TIMEOUT": "30",
            "PUBLIC_URL": base_config["PUBLIC_URL"],
            "OUTBOX_FLUSH_INTERVAL": "1",
            "PUBLICATION_MAX_DELAY": str(base_config["PUBLICATION_MAX_DELAY"]),
        }
    )
    return env


@pytest.fixture
def worker(worker_env, tmp_path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(worker_env, tmp_path / "worker.log")
    yield process
    process.stop()
