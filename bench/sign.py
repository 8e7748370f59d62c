"""Benchmark of the sign path on the production stack, on loopback only.

    .venv/bin/python bench/sign.py [--clients 50] [--duration 20] [--web-workers 3]
                                   [--threads 4] [--rq-workers 2] [--profile FILE]

Sets up PostgreSQL (database tribune_bench, dropped and created), Redis (db 13, flushed),
an SMTP sink (aiosmtpd, in this process), gunicorn serving app:app and K `flask worker`
processes; drives C concurrent clients (each with its own cookie session: GET the petition
page for the CSRF token, solve the proof-of-work challenge where the tree has one, then POST
the sign form) for D seconds; prints accepted signatures per second, POST latency
percentiles, errors and the CPU each component used per signature; measures, in the same
run, raw inserts of
equivalent rows into `signatures` through SQLAlchemy Core (one transaction per row, and
batched) and prints the ratio app/baseline. Then checks that the database holds one row per
accepted signature and that the sink received one confirmation email per accepted
signature, to the right address; exits 1 if either check fails. Everything it started is
stopped on the way out, even on error or Ctrl-C. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import html
import itertools
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DB_NAME = "tribune_bench" + os.environ.get("BENCH_SUFFIX", "")
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
SLUG = "donnees-de-sante-souveraines"
CSRF_RE = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
# The proof-of-work widget (ALTCHA), when the tree has it and it is enabled.
ALTCHA_RE = re.compile(rb'<altcha-widget challengeurl="([^"]+)"')
HASHES = {"SHA-1": hashlib.sha1, "SHA-256": hashlib.sha256, "SHA-512": hashlib.sha512}
CLK_TCK = os.sysconf("SC_CLK_TCK")
BIN = Path(sys.executable).parent


class BenchError(RuntimeError):
    """The stack could not be set up."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


# --- CPU accounting from /proc ----------------------------------------------------------------


def _proc_stat(pid: str) -> tuple[str, int, float] | None:
    """(comm, process group, CPU seconds) of a process, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[2]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _system_times() -> dict[str, float]:
    """Machine-wide CPU seconds from /proc/stat, by kind."""
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    line = Path("/proc/stat").read_text().split("\n", 1)[0]
    values = dict(zip(names, (int(v) / CLK_TCK for v in line.split()[1:9]), strict=True))
    return {
        "busy": values["user"] + values["nice"] + values["system"] + values["irq"]
        + values["softirq"],
        "irq+softirq": values["irq"] + values["softirq"],
        "steal": values["steal"],
        "idle": values["idle"] + values["iowait"],
    }  # fmt: skip


def _group_of(pid: int, comm: str, pgid: int, ours: dict[int, str]) -> str:
    if pgid in ours:
        return ours[pgid]
    if pid == os.getpid():
        return "bench process"
    if comm == "postgres":
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return "postgres (server, other databases)"
        if f" {DB_NAME} ".encode() in cmdline:
            return f"postgres ({DB_NAME} backends)"
        return "postgres (server, other databases)"
    if comm.startswith("redis-server"):
        return "redis"
    return "other processes (not this bench)"


def cpu_snapshot(ours: dict[int, str], counters: dict[str, int]) -> dict:
    """CPU seconds so far of every process, by group; `ours` maps the process groups this
    run started to a name. Call it from the event loop's thread: its CPU is the client's."""
    per_pid: dict[str, dict[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _proc_stat(entry)
        if stat is None:
            continue
        comm, pgid, seconds = stat
        group = _group_of(int(entry), comm, pgid, ours)
        per_pid.setdefault(group, {})[int(entry)] = seconds
    return {
        "pids": per_pid,
        "system": _system_times(),
        "client": time.thread_time(),
        "wall": time.monotonic(),
        "counters": dict(counters),
    }


@dataclass
class CpuReport:
    wall: float
    cores: dict[str, float]  # per group, in cores
    system: dict[str, float]  # machine-wide, in cores
    counters: dict[str, int]  # what happened in the window


def cpu_report(before: dict, after: dict) -> CpuReport:
    """Cores used per group between two snapshots (new processes count from zero)."""
    wall = after["wall"] - before["wall"]
    cores = {}
    for group, pids in after["pids"].items():
        earlier = before["pids"].get(group, {})
        cores[group] = sum(s - earlier.get(pid, 0.0) for pid, s in pids.items()) / wall
    client = (after["client"] - before["client"]) / wall
    cores["bench: HTTP client (event-loop thread)"] = client
    cores["bench: SMTP sink and the rest"] = cores.pop("bench process", 0.0) - client
    system = {k: (after["system"][k] - before["system"][k]) / wall for k in after["system"]}
    system["unattributed (busy minus processes)"] = system["busy"] - sum(cores.values())
    counters = {k: after["counters"][k] - before["counters"].get(k, 0) for k in after["counters"]}
    return CpuReport(wall, cores, system, counters)


def background_load(seconds: float = 1.0) -> float:
    """Cores busy on the machine before the bench starts anything."""
    before = _system_times()
    time.sleep(seconds)
    return (_system_times()["busy"] - before["busy"]) / seconds


def wait_for_quiet(limit: float, threshold: float = 0.25) -> float:
    """Wait up to `limit` seconds for the machine to be idle; returns the last load seen."""
    deadline = time.monotonic() + limit
    busy = background_load()
    while busy > threshold and time.monotonic() < deadline:
        busy = background_load()
    return busy


def tree_version() -> str:
    """The commit of the tree under test, and whether it has local changes."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + (" with local changes" if dirty else "")


# --- SMTP sink -------------------------------------------------------------------------------


class Sink:
    """aiosmtpd handler: counts messages per envelope recipient."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.per_recipient: Counter[str] = Counter()
        self.messages = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages += 1
            for recipient in envelope.rcpt_tos:
                self.per_recipient[recipient.lower()] += 1
        return "250 OK"

    def snapshot(self) -> tuple[int, Counter[str]]:
        with self.lock:
            return self.messages, Counter(self.per_recipient)


# --- HTTP/1.1 client on asyncio streams ---------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class StaleConnection(Exception):
    """A kept-alive connection closed before sending a single byte of response."""


class HttpConnection:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reused = False

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, cookies: dict[str, str], body: bytes = b""
    ) -> Response:
        try:
            return await self._request(method, path, cookies, body)
        except StaleConnection:
            # The server closed an idle kept-alive connection: nothing was processed.
            await self.close()
            return await self._request(method, path, cookies, body)

    async def _request(
        self, method: str, path: str, cookies: dict[str, str], body: bytes
    ) -> Response:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
            self.reused = False
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {HOST}:{self.port}",
            "User-Agent: tribune-bench",
            "Accept: text/html",
        ]
        if cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
        if method == "POST":
            # What a browser sends with a form POST, script or not: the sign form's
            # protection on the shared page (campaign/web/same_origin.py).
            head.append(f"Origin: http://{HOST}:{self.port}")
            head.append("Sec-Fetch-Site: same-origin")
            head.append("Content-Type: application/x-www-form-urlencoded")
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        reused, self.reused = self.reused, True
        try:
            raw_head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError) as error:
            partial = getattr(error, "partial", b"")
            if reused and not partial:
                raise StaleConnection from error
            raise
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = []
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers.append((name.strip().lower(), value.strip()))
        values = dict(headers)
        if "content-length" in values:
            payload = await self.reader.readexactly(int(values["content-length"]))
        elif values.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunks.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            payload = b"".join(chunk[:-2] for chunk in chunks)
        else:
            payload = await self.reader.read()
            values["connection"] = "close"
        if values.get("connection", "").lower() == "close":
            await self.close()
        for name, value in headers:
            if name == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, cookie = pair.partition("=")
                if "max-age=0" in value.lower() or not cookie:
                    cookies.pop(key.strip(), None)
                else:
                    cookies[key.strip()] = cookie.strip()
        return Response(status, headers, payload)


def solve_altcha(challenge: dict) -> str:
    """What the browser widget computes: the number whose hash with the salt is the
    challenge, sent back as base64 JSON. The bench runs the server with a small
    ALTCHA_MAX_NUMBER so that this costs the client well under a millisecond."""
    salt = challenge["salt"]
    prefix = (salt if salt.endswith("&") else salt + "&").encode()
    algorithm = HASHES[challenge["algorithm"]]
    for number in range(int(challenge["maxnumber"]) + 1):
        if algorithm(prefix + str(number).encode()).hexdigest() == challenge["challenge"]:
            break
    else:
        raise ValueError("unsolvable challenge")
    solution = {
        "algorithm": challenge["algorithm"],
        "challenge": challenge["challenge"],
        "number": number,
        "salt": salt,
        "signature": challenge["signature"],
    }
    return base64.b64encode(json.dumps(solution).encode()).decode()


@dataclass
class LoadState:
    port: int
    deadline: float = 0.0
    measure_from: float = 0.0
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    accepted: list[str] = field(default_factory=list)  # every 303, warm-up included
    uncertain: list[str] = field(default_factory=list)  # POSTs with no answer
    measured_accepted: int = 0
    post_latencies: list[float] = field(default_factory=list)
    get_latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    last_done: float = 0.0
    loop_lags: list[float] = field(default_factory=list)


async def watch_loop(state: LoadState, period: float = 0.01) -> None:
    """How late the client's event loop wakes up: when the load generator is short of CPU,
    its latencies include its own waiting, not only the server's."""
    while time.monotonic() < state.deadline:
        asked = time.monotonic()
        await asyncio.sleep(period)
        if asked >= state.measure_from:
            state.loop_lags.append(time.monotonic() - asked - period)


async def client_loop(state: LoadState, reuse_token: bool, timeout: float) -> None:
    """One signer after another on one cookie session: GET the page, POST the form."""
    conn = HttpConnection(state.port)
    cookies: dict[str, str] = {}
    token: str | None = None
    challenge_url: str | None = None
    page, action = f"/p/{SLUG}", f"/p/{SLUG}/sign"
    try:
        while time.monotonic() < state.deadline:
            if token is None or not reuse_token:
                started = time.monotonic()
                try:
                    response = await asyncio.wait_for(conn.request("GET", page, cookies), timeout)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                    state.errors[f"GET {type(error).__name__}"] += 1
                    await conn.close()
                    await asyncio.sleep(0.1)
                    continue
                done = time.monotonic()
                if started >= state.measure_from:
                    state.get_latencies.append(done - started)
                match = CSRF_RE.search(response.body)
                if response.status != 200:
                    state.errors[f"GET {response.status}"] += 1
                    await asyncio.sleep(0.1)
                    continue
                # The shared page holds no token since issue 19: the POST's Origin and
                # Sec-Fetch-Site stand for it, as for a browser without JavaScript.
                token = match.group(1).decode() if match else ""
                widget = ALTCHA_RE.search(response.body)
                challenge_url = html.unescape(widget.group(1).decode()) if widget else None
            proof = None
            if challenge_url:
                try:
                    response = await asyncio.wait_for(
                        conn.request("GET", challenge_url, cookies), timeout
                    )
                    proof = solve_altcha(json.loads(response.body))
                except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
                    state.errors[f"challenge {type(error).__name__}"] += 1
                    await conn.close()
                    token = None
                    continue
            number = next(state.counter)
            email = f"bench-{number}@example.org"
            form = {
                "csrf_token": token,
                "first_name": "Camille",
                "last_name": f"Banc-{number}",
                "email": email,
                "category": "citizen",
                "title": "",
                "organisation": "",
                "departement": "",
                "show_name": "yes",
                "consent": "y",
            }
            if proof is not None:
                form["altcha"] = proof
            body = urllib.parse.urlencode(form).encode()
            started = time.monotonic()
            try:
                response = await asyncio.wait_for(
                    conn.request("POST", action, cookies, body), timeout
                )
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                state.errors[f"POST {type(error).__name__}"] += 1
                state.uncertain.append(email)
                await conn.close()
                token = None
                continue
            done = time.monotonic()
            measured = started >= state.measure_from
            if measured:
                state.post_latencies.append(done - started)
                state.last_done = max(state.last_done, done)
            if response.status == 303:
                state.accepted.append(email)
                if measured:
                    state.measured_accepted += 1
            else:
                state.errors[f"POST {response.status}"] += 1
                token = None
    finally:
        await conn.close()


async def drive(
    state: LoadState, args: argparse.Namespace, stack: Stack, on_measure
) -> tuple[float, CpuReport]:
    """Warm up, then measure; returns the measured wall time and the CPU report of the
    window where every client is busy."""
    start = time.monotonic()
    state.measure_from = start + args.warmup
    state.deadline = state.measure_from + args.duration
    tasks = [
        asyncio.create_task(client_loop(state, args.reuse_token, args.request_timeout))
        for _ in range(args.clients)
    ]
    tasks.append(asyncio.create_task(watch_loop(state)))
    await asyncio.sleep(max(0.0, state.measure_from - time.monotonic()))
    on_measure()

    def counters() -> dict[str, int]:
        return {"accepted": len(state.accepted), "emails": stack.sink.snapshot()[0]}

    before = cpu_snapshot(stack.process_groups(), counters())
    await asyncio.sleep(max(0.0, state.deadline - time.monotonic()))
    after = cpu_snapshot(stack.process_groups(), counters())
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            state.errors[f"client crashed: {type(result).__name__}: {result}"] += 1
    wall = max(state.last_done, state.deadline) - state.measure_from
    return wall, cpu_report(before, after)


# --- The stack -------------------------------------------------------------------------------


class Stack:
    """The processes, database, Redis db and sink this run created; stop() undoes them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.logs = Path(tempfile.mkdtemp(prefix="tribune-bench-"))
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.database_created = False
        self.redis: redis.Redis | None = None
        self.controller: Controller | None = None
        self.sink = Sink()
        self.web_port = free_port()
        self.queue = f"tribune-bench-{secrets.token_hex(4)}"
        self.redis_url = os.environ.get("BENCH_REDIS_URL", f"redis://{HOST}:6379/{args.redis_db}")
        self.secrets = {
            "SECRET_KEY": secrets.token_urlsafe(32),
            "EMAIL_DIGEST_KEY": secrets.token_urlsafe(32),
            "EMAIL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "IP_HASH_KEY": secrets.token_urlsafe(32),
        }
        self.env: dict[str, str] = {}

    # Processes

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        """Start a process in its own session, so that stop() can end it and its children."""
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        self.processes.append((name, process))
        return process

    def flask(self, *args: str) -> None:
        """Run a `flask` command to completion."""
        with (self.logs / "setup.log").open("ab") as log:
            done = subprocess.run(
                [str(BIN / "flask"), *args], env=self.env, cwd=ROOT, stdout=log,
                stderr=subprocess.STDOUT, timeout=120, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise BenchError(f"flask {' '.join(args)} failed: see {self.logs / 'setup.log'}")

    def stop_process(self, name: str, process: subprocess.Popen, grace: float = 10) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                print(f"  {name} (pid {process.pid}) did not stop in {grace}s: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Children left in the group (e.g. a gunicorn worker whose master died first).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)

    def stop_services(self, prefix: str = "") -> None:
        for name, process in reversed(self.processes):
            if name.startswith(prefix):
                self.stop_process(name, process)

    def process_groups(self) -> dict[int, str]:
        """Process group id -> group name, for the CPU accounting."""
        names = {"web": "web (gunicorn)", "rq": "rq workers", "profiler": "py-spy profiler"}
        return {p.pid: names[name.split("-")[0]] for name, p in self.processes}

    # Setup

    def setup(self) -> None:
        args = self.args
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            admin.execute(f"CREATE DATABASE {DB_NAME}")
        self.database_created = True

        self.redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
        self.redis.flushdb()

        self.controller = Controller(self.sink, hostname=HOST, port=free_port())
        self.controller.start()

        inherited = (
            "DATABASE_", "REDIS_", "MAIL_", "TRIBUNE_", "RATELIMIT_", "RQ_", "FLASK_", "ALTCHA_",
        )  # fmt: skip
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(inherited) and key not in self.secrets
        }
        self.env.update(self.secrets)
        self.env.update(
            {
                "FLASK_APP": "app.py",
                "DATABASE_URL": DB_URL,
                "REDIS_URL": self.redis_url,
                "RQ_QUEUE": self.queue,
                "MAIL_SERVER": HOST,
                "MAIL_PORT": str(self.controller.port),
                "MAIL_TIMEOUT": "10",
                "PUBLIC_URL": f"http://{HOST}:{self.web_port}",
                "RATELIMIT_ENABLED": "0",
                # The proof of work stays on (its server side is part of the sign path) but
                # cheap to solve: in production the browser pays for it, not the server.
                "ALTCHA_ENABLED": "0" if args.no_altcha else "1",
                "ALTCHA_MAX_NUMBER": str(args.altcha_max_number),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.flask("db", "upgrade")
        self.flask("demo", "load", "--signatories", str(args.demo_signatories))

        gunicorn = self.spawn("web-gunicorn", self.gunicorn_argv("app:app", self.web_port))
        self.wait_for_web(gunicorn, self.web_port)
        if not args.defer_workers:
            self.start_workers()

    def gunicorn_argv(self, app: str, port: int, *options: str) -> list[str]:
        """gunicorn serving `app` on `port` in the layout the options ask for."""
        args = self.args
        return [
            str(BIN / "gunicorn"), app, *options,
            "--bind", f"{HOST}:{port}",
            "--workers", str(args.web_workers),
            "--worker-class", args.worker_class,
            "--threads", str(args.threads),
            "--timeout", "60", "--graceful-timeout", "5",
            "--log-level", "warning", "--error-logfile", "-",
        ]  # fmt: skip

    def start_workers(self) -> None:
        nice = ["nice", "-n", str(self.args.rq_nice)] if self.args.rq_nice else []
        for number in range(self.args.rq_workers):
            worker = self.spawn(f"rq-worker-{number}", [*nice, str(BIN / "flask"), "worker"])
            if self.args.rq_nice:
                # Each process runs in a session of its own, hence (with the kernel's
                # autogroups, like systemd units with their cgroups) in a scheduling group
                # of its own, where `nice` alone changes nothing: lower the group's weight.
                with contextlib.suppress(OSError):
                    Path(f"/proc/{worker.pid}/autogroup").write_text(str(self.args.rq_nice))
        from rq import Worker

        deadline = time.monotonic() + 30
        while Worker.count(connection=self.redis) < self.args.rq_workers:
            for name, process in self.processes:
                if process.poll() is not None:
                    raise BenchError(f"{name} exited: see {self.logs / (name + '.log')}")
            if time.monotonic() > deadline:
                raise BenchError(f"rq workers not ready after 30 s: see {self.logs}")
            time.sleep(0.2)

    def wait_for_web(self, process: subprocess.Popen, port: int) -> None:
        import http.client

        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise BenchError(f"gunicorn exited: see the web logs in {self.logs}")
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=5)
                conn.request("GET", f"/p/{SLUG}")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn not answering after 30 s: see {self.logs}")
            time.sleep(0.2)

    def web_worker_pids(self) -> list[int]:
        master = next(p.pid for name, p in self.processes if name == "web-gunicorn")
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                stat = _proc_stat(entry)
                if stat and stat[1] == master and int(entry) != master:
                    pids.append(int(entry))
        return pids

    # Teardown

    def teardown(self, keep_db: bool, keep_logs: bool) -> None:
        self.stop_services()
        if self.controller is not None:
            with contextlib.suppress(Exception):
                self.controller.stop()
        if self.redis is not None:
            with contextlib.suppress(redis.RedisError):
                self.redis.flushdb()
                self.redis.close()
        if self.database_created and not keep_db:
            try:
                with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                    admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            except psycopg.Error as error:
                print(f"could not drop {DB_NAME}: {error}")
        if keep_logs:
            print(f"logs kept in {self.logs}")
        else:
            shutil.rmtree(self.logs, ignore_errors=True)


# --- Checks ----------------------------------------------------------------------------------


def petition_id(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM petitions WHERE slug = :s"), {"s": SLUG}).one()[
            0
        ]


def signature_rows(engine: sa.Engine, pid: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.text("SELECT count(*) FROM signatures WHERE petition_id = :p"), {"p": pid}
        ).scalar_one()


def outbox_statuses(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT status, count(*) FROM outbox_messages GROUP BY 1"))
        return {status: count for status, count in rows}


def wait_for_mail(sink: Sink, accepted: list[str], timeout: float) -> dict:
    """Wait (bounded) until every accepted address got its confirmation email."""
    wanted = Counter(address.lower() for address in accepted)
    started = time.monotonic()
    last_print = started
    while True:
        messages, received = sink.snapshot()
        missing = [a for a in wanted if received[a] < 1]
        elapsed = time.monotonic() - started
        if not missing or elapsed > timeout:
            break
        if time.monotonic() - last_print > 5:
            print(f"  waiting for mail: {len(wanted) - len(missing)}/{len(wanted)} arrived")
            last_print = time.monotonic()
        time.sleep(0.25)
    return {
        "expected": len(wanted),
        "messages": messages,
        "missing": missing,
        "duplicates": [a for a in wanted if received[a] > 1],
        "unexpected": [a for a in received if a not in wanted],
        "waited": elapsed,
    }


# --- Baseline: raw inserts through SQLAlchemy Core ---------------------------------------------


def baseline(seconds: float, threads: int, batch: int) -> dict[str, float]:
    """Rows/s of equivalent signature rows: one transaction per row (1 and `threads`
    connections) and batched, into the same table, under a petition of their own."""
    from campaign.petitions.models import Petition
    from campaign.signatures.models import Signature

    engine = sa.create_engine(DB_URL, pool_size=threads + 1)
    table = Signature.__table__
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        pid = conn.execute(
            Petition.__table__.insert()
            .values(slug=f"bench-baseline-{secrets.token_hex(3)}", language="fr",
                    status="draft", goal=1000, consent_version="1", created_at=now,
                    updated_at=now)
            .returning(Petition.__table__.c.id)
        ).scalar_one()  # fmt: skip
    # Same columns and sizes as the app's rows; values computed up front (raw inserts).
    ciphertext = Fernet(Fernet.generate_key()).encrypt(b"bench-000000@example.org")
    counter = itertools.count()
    lock = threading.Lock()

    def row() -> dict:
        with lock:
            n = next(counter)
        return {
            "petition_id": pid, "status": "pending", "first_name": "Camille",
            "last_name": f"Banc-{n}", "title": "", "organisation": "",
            "category_key": "citizen", "departement": None, "language": "fr",
            "show_name": True, "show_title": False, "show_organisation": False,
            "contact_ok": False, "consent_version": "1", "consented_at": now,
            "email_digest": hashlib.sha256(b"%d" % n).hexdigest(),
            "email_ciphertext": ciphertext, "ip_digest": "0" * 32,
            "sort_last": f"banc {n}", "sort_first": "camille", "confirmation_sends": 1,
            "last_confirmation_at": now, "created_at": now, "status_changed_at": now,
        }  # fmt: skip

    def per_row(stop_at: float, done: list[int]) -> None:
        count = 0
        with engine.connect() as conn:
            while time.monotonic() < stop_at:
                conn.execute(table.insert(), row())
                conn.commit()
                count += 1
        done.append(count)

    results = {}
    for label, n_threads in (
        ("per-row, 1 connection", 1),
        (f"per-row, {threads} threads", threads),
    ):
        done: list[int] = []
        started = time.monotonic()
        workers = [
            threading.Thread(target=per_row, args=(started + seconds, done))
            for _ in range(n_threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        results[label] = sum(done) / (time.monotonic() - started)

    rows = 0
    started = time.monotonic()
    with engine.connect() as conn:
        while time.monotonic() < started + seconds:
            conn.execute(table.insert(), [row() for _ in range(batch)])
            conn.commit()
            rows += batch
    results[f"batched, {batch} rows per transaction"] = rows / (time.monotonic() - started)
    engine.dispose()
    return results


# --- The floor: a bare Flask sign handler -----------------------------------------------------


@dataclass
class Floor:
    accepted_rate: float
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]
    cpu: CpuReport
    rows_ok: bool


def bare_floor(args: argparse.Namespace, stack: Stack) -> Floor | None:
    """bench/bare_sign.py served by the same gunicorn layout, driven by the same clients
    against the same PostgreSQL: what any Flask sign path could do at most here."""
    if args.floor_seconds <= 0:
        return None
    from bare_sign import TABLE_DDL

    with psycopg.connect(f"host={HOST} port=5432 user=postgres dbname={DB_NAME}") as conn:
        conn.execute(TABLE_DDL)
    port = free_port()
    argv = stack.gunicorn_argv("bare_sign:app", port, "--pythonpath", str(ROOT / "bench"))
    process = stack.spawn("web-bare", argv)
    stack.wait_for_web(process, port)
    state = LoadState(port=port)
    floor_args = argparse.Namespace(**{**vars(args), "duration": args.floor_seconds})
    wall, cpu = asyncio.run(drive(state, floor_args, stack, lambda: None))
    stack.stop_process("web-bare", process)
    with psycopg.connect(f"host={HOST} port=5432 user=postgres dbname={DB_NAME}") as conn:
        rows = conn.execute("SELECT count(*) FROM bare_signatures").fetchone()[0]
    posts = sorted(state.post_latencies)
    return Floor(
        accepted_rate=state.measured_accepted / wall,
        p50_ms=1000 * percentile(posts, 50),
        p99_ms=1000 * percentile(posts, 99),
        errors=dict(state.errors),
        cpu=cpu,
        rows_ok=rows == len(state.accepted),
    )


def print_floor(floor: Floor, accepted_rate: float, web_ms: float) -> None:
    accepted = floor.cpu.counters["accepted"] or 1
    per_signature = {
        group: value * floor.cpu.wall * 1000 / accepted for group, value in floor.cpu.cores.items()
    }
    floor_web_ms = per_signature.get("web (gunicorn)", 0.0)
    print(
        "floor, bench/bare_sign.py (validate 2 fields, encrypt 1, INSERT 1 row; no session, "
        "CSRF, proof of work, checks or email), same gunicorn, client and PostgreSQL:"
    )
    print(
        f"  accepted signatures/s: {floor.accepted_rate:8.1f}  POST p50 {floor.p50_ms:.1f} ms"
        f"  p99 {floor.p99_ms:.1f} ms  errors: {floor.errors or 'none'}"
        f"  rows: {'OK' if floor.rows_ok else 'FAIL'}"
    )
    print(
        "  ms of CPU per signature: "
        + ", ".join(
            f"{group} {ms:.1f}"
            for group, ms in sorted(per_signature.items(), key=lambda item: -item[1])
            if ms >= 0.05
        )
    )
    print(
        f"HEADLINE app/floor: {accepted_rate:.0f} / {floor.accepted_rate:.0f} = "
        f"{accepted_rate / floor.accepted_rate:.2f} of a bare Flask sign handler's rate; "
        f"web CPU per signature {web_ms:.1f} / {floor_web_ms:.1f} ms = "
        f"{web_ms / floor_web_ms if floor_web_ms else float('nan'):.1f}x"
    )


# --- Profile ---------------------------------------------------------------------------------

# (label, frame substrings): a sample goes to the first label one of whose substrings
# appears in its stack, so the specific costs come before the ones that contain them.
PROFILE_BUCKETS = [
    ("Fernet encryption (encrypt_email)", ["encrypt_email (campaign/"]),
    ("HMAC digests (email_digest, ip_digest)", ["email_digest (campaign/", "ip_digest (campaign/"]),
    ("CSRF token (make for the page, check on POST)", ["csrf_protect (flask_wtf/",
                                                        "validate_csrf (flask_wtf/",
                                                        "generate_csrf (flask_wtf/"]),
    ("proof of work: verify + spent-challenge lookup", ["proof_is_valid (campaign/"]),
    ("proof of work: new challenge (GET /altcha/challenge)", ["new_challenge (campaign/"]),
    ("anti-abuse: blocked domain", ["domain_is_blocked (campaign/"]),
    ("pool pre-ping (empty statement per checkout)", ["_do_ping_w_event", "do_ping ("]),
    ("RQ enqueue (Redis)", ["enqueue (campaign/jobs.py"]),
    ("signing state: petition, daily cap, IP/domain rates", ["_signing_state (campaign/"]),
    ("commit (the pending INSERTs + COMMIT)", ["commit (sqlalchemy/orm/session.py"]),
    ("flush (INSERT signature)", ["flush (sqlalchemy/orm/session.py"]),
    ("reload of outbox.id expired by the commit", ["_load_scalar_attributes ("]),
    ("sign_petition: rest (ORM objects, sort keys)", ["sign_petition (campaign/"]),
    ("petition lookup (SELECT + 2 selectin)", ["find_public_petition (campaign/"]),
    ("form validation (WTForms, email-validator)", ["validate_on_submit ("]),
    ("form construction and choices", ["offer_choices (campaign/", "FormMeta.__call__ (wtforms/"]),
    ("page: 3 count queries", ["signature_count (campaign/", "counts_by_category (campaign/",
                               "latest_signatories (campaign/"]),
    ("page: Markdown rendering", ["render_markdown (campaign/"]),
    ("page: Jinja + WTForms widgets", ["render_template (flask/"]),
    ("session cookie (itsdangerous)", ["open_session (flask/sessions.py",
                                       "save_session (flask/sessions.py"]),
    ("session teardown / connection return", ["do_teardown_appcontext ("]),
    ("flask-limiter (disabled) hooks", ["flask_limiter/"]),
    ("gunicorn: HTTP parsing, socket I/O", ["gunicorn/"]),
]  # fmt: skip


def _short_frame(frame: str) -> str:
    """'func (…/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py)'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", f"{ROOT}/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def _read_stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            parts = [_short_frame(f) for f in frames.split(";") if not f.startswith("process ")]
            if parts:
                stacks.append((parts, int(count)))
    return stacks


def _bucket(joined: str) -> str:
    for label, needles in PROFILE_BUCKETS:
        if any(needle in joined for needle in needles):
            return label
    return "other (Flask/Werkzeug dispatch, Babel, ...)"


# Frames every request goes through: left out of the "top functions" list.
PLUMBING = ("threading.py", "concurrent/", "gunicorn/workers/", "flask/app.py", "flask_limiter/")


def summarise_profile(path: Path, top: int = 12) -> None:
    """Where the web workers' CPU went: per request kind, per cost bucket (all requests, and
    the sign view alone), per function."""
    stacks = _read_stacks(path)
    total = sum(count for _, count in stacks)
    if not total:
        print("profile: no samples")
        return
    kinds: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    sign_buckets: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        joined = "\n".join(frames)
        bucket = _bucket(joined)
        buckets[bucket] += count
        if "sign (campaign/site/petition.py)" in joined:
            kinds["POST /p/<slug>/sign (view)"] += count
            sign_buckets[bucket] += count
        elif "show (campaign/site/petition.py)" in joined:
            kinds["GET /p/<slug> (view)"] += count
        elif "proof_of_work_challenge (campaign/" in joined:
            kinds["GET /altcha/challenge (view)"] += count
        else:
            kinds["outside the views (gunicorn, Flask dispatch, hooks)"] += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    print(f"\nprofile of the gunicorn workers ({total} samples, {path}):")
    for label, count in kinds.most_common():
        print(f"  {100 * count / total:5.1f}%  {label}")
    print("  all requests, by cost (first match, most specific first):")
    for label, count in buckets.most_common():
        print(f"  {100 * count / total:5.1f}%  {label}")
    in_sign = sum(sign_buckets.values())
    if in_sign:
        print("  the sign view alone (POST /p/<slug>/sign, = 100%):")
        for label, count in sign_buckets.most_common():
            print(f"  {100 * count / in_sign:5.1f}%  {label}")
    print(f"  top {top} functions, inclusive (request plumbing left out):")
    shown = [
        (frame, count)
        for frame, count in inclusive.most_common()
        if not frame.partition(" (")[2].startswith(PLUMBING)
    ]
    for frame, count in shown[:top]:
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print(f"  top {top} functions, self:")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame}")


# --- Main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds (20)")
    parser.add_argument("--warmup", type=float, default=3, help="unmeasured seconds first (3)")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers (3)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (4)")
    parser.add_argument(
        "--worker-class", default="gthread", choices=["gthread", "sync"], help="(gthread)"
    )
    parser.add_argument("--rq-workers", type=int, default=2, help="`flask worker`s (2)")
    parser.add_argument(
        "--rq-nice",
        type=int,
        default=0,
        help="run the rq workers under `nice -n N` (and their autogroup): web gets the CPU first",
    )
    parser.add_argument(
        "--defer-workers",
        action="store_true",
        help="start the rq workers only after the load (the web tier gets the CPU alone)",
    )
    parser.add_argument(
        "--reuse-token",
        action="store_true",
        help="GET the page once per client session, then only POST (default: GET + POST "
        "per signature, like a visitor)",
    )
    parser.add_argument("--request-timeout", type=float, default=30)
    parser.add_argument(
        "--altcha-max-number",
        type=int,
        default=1000,
        help="difficulty of the proof of work, where the tree has one (1000: trivial)",
    )
    parser.add_argument(
        "--no-altcha", action="store_true", help="turn the proof of work off (ALTCHA_ENABLED=0)"
    )
    parser.add_argument("--mail-timeout", type=float, default=60, help="wait for mail (60 s)")
    parser.add_argument("--demo-signatories", type=int, default=0)
    parser.add_argument("--redis-db", type=int, default=13)
    parser.add_argument("--baseline-seconds", type=float, default=5)
    parser.add_argument("--baseline-threads", type=int, default=8)
    parser.add_argument("--baseline-batch", type=int, default=1000)
    parser.add_argument(
        "--profile", type=Path, help="py-spy the gunicorn workers (GIL holder) into FILE"
    )
    parser.add_argument(
        "--profile-threads",
        action="store_true",
        help="with --profile: sample every running thread, not only the GIL holder",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=30,
        help="wait up to this many seconds for other processes to leave the CPU (30)",
    )
    parser.add_argument(
        "--floor-seconds",
        type=float,
        default=10,
        help="measured seconds of the bare Flask floor, bench/bare_sign.py (10; 0: skip it)",
    )
    parser.add_argument("--keep-db", action="store_true", help=f"leave {DB_NAME} behind")
    parser.add_argument("--keep-logs", action="store_true", help="keep the process logs")
    return parser.parse_args(argv)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def print_cpu(report: CpuReport, cores: int, drain: CpuReport) -> float:
    """The CPU table; returns the stack's capacity estimate in signatures/s. The rq workers'
    cost per email comes from the drain after the load when no email went out during it."""
    accepted = report.counters["accepted"]
    emails = report.counters["emails"]
    print(
        f"CPU in the measured window ({report.wall:.1f} s, {accepted} signatures accepted, "
        f"{emails} emails delivered), in cores of {cores}, and ms of CPU per unit:"
    )
    stack_ms = 0.0
    for group, value in sorted(report.cores.items(), key=lambda item: -item[1]):
        spent_ms = value * report.wall * 1000
        if group == "rq workers":
            unit = f"{spent_ms / emails:6.1f} ms/email" if emails else ""
            stack_ms += spent_ms / emails if emails else 0.0
        else:
            unit = f"{spent_ms / accepted:6.1f} ms/signature" if accepted else ""
            if group.startswith(("web", "postgres (tribune", "redis")) and accepted:
                stack_ms += spent_ms / accepted
        print(f"  {group:42s} {value:5.2f}  {unit}")
    drained = drain.counters["emails"]
    if drained:
        rq_ms = drain.cores.get("rq workers", 0.0) * drain.wall * 1000 / drained
        print(
            f"  after the load: {drained} emails drained in {drain.wall:.1f} s, "
            f"{rq_ms:.1f} ms of rq-worker CPU per email"
        )
        if not emails:
            stack_ms += rq_ms
    system = report.system
    print(
        f"  machine: busy {system['busy']:.2f} (irq+softirq {system['irq+softirq']:.2f}, "
        f"unattributed {system['unattributed (busy minus processes)']:.2f}), "
        f"steal {system['steal']:.2f}, idle {system['idle']:.2f}"
    )
    capacity = cores * 1000 / stack_ms if stack_ms else float("nan")
    print(
        f"  server-side CPU per signature (web + rq + postgres + redis): {stack_ms:.1f} ms "
        f"-> at most ~{capacity:.0f} signatures/s if the stack had the {cores} cores alone"
    )
    return capacity


def run(args: argparse.Namespace, stack: Stack) -> int:
    busy = wait_for_quiet(args.wait_idle)
    print(f"tree: {tree_version()}; background load before start: {busy:.2f} cores busy")
    if busy > 0.25:
        print("  WARNING: something else is using the CPU; the figures will be lower")
    print(f"setting up (logs in {stack.logs}) ...")
    stack.setup()
    engine = sa.create_engine(DB_URL)
    pid = petition_id(engine)
    rows_before = signature_rows(engine, pid)
    web = f"{args.worker_class} {args.web_workers} workers"
    if args.worker_class == "gthread":
        web += f" x {args.threads} threads"
    print(
        f"gunicorn {web} on :{stack.web_port}; {args.rq_workers} rq worker(s)"
        f"{f' (nice {args.rq_nice})' if args.rq_nice else ''}"
        f"{' (started after the load)' if args.defer_workers else ''}; "
        f"SMTP sink on :{stack.controller.port}; Redis db {args.redis_db}"
    )
    profiler: list[subprocess.Popen] = []

    def start_profiler() -> None:
        if args.profile is None:
            return
        spy = BIN / "py-spy"
        if not spy.exists():
            print("  --profile: py-spy is not installed in the venv; no profile")
            return
        # --gil: only the thread holding the GIL, i.e. Python actually running. Without it
        # py-spy also counts threads that are runnable but waiting for a core, which on a
        # saturated machine piles up on the socket calls (see docs/performance.md).
        gil = [] if args.profile_threads else ["--gil"]
        argv = [
            str(spy), "record", "--subprocesses", "--nonblocking", *gil, "--rate", "100",
            "--format", "raw", "--duration", str(int(args.duration)),
            "--output", str(args.profile.resolve()),
            "--pid", str(next(p.pid for n, p in stack.processes if n == "web-gunicorn")),
        ]  # fmt: skip
        profiler.append(stack.spawn("profiler-py-spy", argv))

    state = LoadState(port=stack.web_port)
    mode = "GET + POST per signature" if not args.reuse_token else "one GET, then POSTs"
    print(f"load: {args.clients} clients, {args.warmup:g} s warm-up + {args.duration:g} s, {mode}")
    wall, cpu = asyncio.run(drive(state, args, stack, start_profiler))
    accepted_rate = state.measured_accepted / wall
    posts = sorted(state.post_latencies)
    gets = sorted(state.get_latencies)

    rows = signature_rows(engine, pid) - rows_before
    print(f"checking ... ({len(state.accepted)} accepted in all, warm-up included)")
    drain_before = cpu_snapshot(stack.process_groups(), {"emails": stack.sink.snapshot()[0]})
    if args.defer_workers:
        stack.start_workers()
    mail = wait_for_mail(stack.sink, state.accepted, args.mail_timeout)
    drain = cpu_report(
        drain_before,
        cpu_snapshot(stack.process_groups(), {"emails": stack.sink.snapshot()[0]}),
    )
    outbox = outbox_statuses(engine)
    engine.dispose()
    if profiler:
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler[0].wait(30)
    stack.stop_services()  # the floor and the baseline get the machine to themselves
    if args.floor_seconds > 0:
        print(
            f"floor: bench/bare_sign.py, {args.warmup:g} s warm-up + {args.floor_seconds:g} s ..."
        )
    floor = bare_floor(args, stack)

    print(f"baseline: {args.baseline_seconds:g} s per variant ...")
    base = baseline(args.baseline_seconds, args.baseline_threads, args.baseline_batch)

    rows_ok = rows == len(state.accepted)
    mail_ok = not (mail["missing"] or mail["duplicates"] or mail["unexpected"])
    per_row_best = max(v for k, v in base.items() if k.startswith("per-row"))
    batched = next(v for k, v in base.items() if k.startswith("batched"))
    p99 = 1000 * percentile(posts, 99)

    print("\n=== Tribune sign benchmark ===")
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else "python"
    print(f"command: {shlex.join([python, *sys.argv])}")
    print(
        f"machine: {os.cpu_count()} cores, background load {busy:.2f} cores before start; "
        f"gunicorn {web}; {args.rq_workers} rq worker(s)"
        f"{f' (nice {args.rq_nice})' if args.rq_nice else ''}"
        f"{' (started after the load)' if args.defer_workers else ''}"
    )
    print(f"load: {args.clients} clients, {wall:.1f} s measured, {mode}")
    print(f"  accepted signatures/s: {accepted_rate:8.1f}  ({state.measured_accepted} x 303)")
    print(
        f"  POST latency ms: p50 {1000 * percentile(posts, 50):.1f}  "
        f"p95 {1000 * percentile(posts, 95):.1f}  p99 {p99:.1f}  "
        f"max {1000 * (posts[-1] if posts else float('nan')):.1f}  ({len(posts)} POSTs)"
    )
    if gets:
        print(
            f"  GET  latency ms: p50 {1000 * percentile(gets, 50):.1f}  "
            f"p95 {1000 * percentile(gets, 95):.1f}  p99 {1000 * percentile(gets, 99):.1f}"
            f"  ({len(gets)} GETs)"
        )
    print(f"  errors: {dict(state.errors) or 'none'}")
    lags = sorted(state.loop_lags)
    print(
        f"  client event-loop lag ms: p50 {1000 * percentile(lags, 50):.1f}  "
        f"p99 {1000 * percentile(lags, 99):.1f}  max {1000 * (lags[-1] if lags else 0):.1f}"
        "  (time the load generator itself waited for a core)"
    )
    capacity = print_cpu(cpu, os.cpu_count() or 1, drain)
    print("baseline, SQLAlchemy Core inserts into signatures (rows/s):")
    for label, value in base.items():
        print(f"  {label:34s} {value:8.1f}")
    print(
        f"HEADLINE app/baseline: {accepted_rate:.0f} / {per_row_best:.0f} = "
        f"{accepted_rate / per_row_best:.3f} of per-row inserts "
        f"({accepted_rate / batched:.4f} of batched)"
    )
    if floor is not None:
        web_ms = cpu.cores.get("web (gunicorn)", 0.0) * cpu.wall * 1000
        print_floor(floor, accepted_rate, web_ms / max(cpu.counters["accepted"], 1))
    print(
        f"targets: >= 500 accepted/s: {'met' if accepted_rate >= 500 else 'NOT met'} "
        f"(capacity estimate ~{capacity:.0f}/s); "
        f"p99 < 100 ms: {'met' if p99 < 100 else 'NOT met'}"
    )
    print("checks:")
    print(
        f"  rows: {rows} signature rows added for {len(state.accepted)} accepted "
        f"-> {'OK' if rows_ok else 'FAIL'}"
        + (f" ({len(state.uncertain)} POSTs got no answer)" if state.uncertain else "")
    )
    print(
        f"  mail: {mail['expected'] - len(mail['missing'])}/{mail['expected']} confirmation "
        f"emails to the right address in {mail['waited']:.1f} s after the load; "
        f"missing {len(mail['missing'])}, duplicates {len(mail['duplicates'])}, unexpected "
        f"{len(mail['unexpected'])} -> {'OK' if mail_ok else 'FAIL'}"
    )
    print(f"  outbox rows by status: {outbox}")
    if args.profile and args.profile.exists():
        summarise_profile(args.profile)
    floor_ok = floor is None or floor.rows_ok
    return 0 if rows_ok and mail_ok and floor_ok else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Ctrl-C must tear down even when the shell started us with SIGINT ignored (`cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    stack = Stack(args)
    code = 1
    try:
        code = run(args, stack)
    except KeyboardInterrupt:
        print("\ninterrupted: tearing down")
        code = 130
    except (BenchError, psycopg.Error, redis.RedisError, sa.exc.SQLAlchemyError) as error:
        print(f"\nbench failed: {error}")
        code = 2
    finally:
        stack.teardown(keep_db=args.keep_db, keep_logs=args.keep_logs or code not in (0, 130))
    return code


if __name__ == "__main__":
    sys.exit(main())
