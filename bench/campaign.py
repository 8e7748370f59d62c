"""Benchmark of a mailing to officials on the production stack, on loopback only.

    .venv/bin/python bench/campaign.py [--recipients 20000] [--rq-workers 2]

Sets up PostgreSQL (database tribune_bench_campaign, dropped and created), Redis (db 12,
flushed), an SMTP sink that accepts everything (aiosmtpd, in this process) and K `flask
worker` processes. Then, in the same run:

1. the baseline: a raw smtplib loop, in a process of its own, sending as many messages of
   the same size over one persistent connection to the same sink;
2. Tribune: a letter to N officials (pacing off, no domain cap), started through the
   service the workspace calls, sent by the RQ workers.

Prints messages per second for both and the ratio (the aim: at least 50 % of the raw rate),
then checks that the sink received exactly one message per official and that every delivery
row is sent; exits 1 otherwise. Everything it started is stopped on the way out. See
docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import secrets
import smtplib
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path

import psycopg
import redis
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sign import Sink, free_port, tree_version  # noqa: E402

HOST = "127.0.0.1"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DB_NAME = "tribune_bench_campaign" + os.environ.get("BENCH_SUFFIX", "")
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", f"redis://{HOST}:6379/12")
BIN = Path(sys.executable).parent
SUBJECT = "Protection des données de santé : {{ official.name }}"
BODY = (
    "Madame, Monsieur {{ official.role }} {{ official.name }},\n\n"
    "{{ petition.confirmed }} personnes ont signé « {{ petition.title }} ».\n"
    "Nous vous demandons de soutenir l'hébergement des données de santé en France.\n\n"
    "Le texte et la liste des signataires : {{ petition.url }}\n"
)


def raw_client(port: int, count: int) -> None:
    """The baseline: `count` messages over one connection, as fast as smtplib goes."""
    body = BODY.replace("{{ official.name }}", "Prénom Nom").replace("{{ ", "").replace(" }}", "")
    started = time.perf_counter()
    with smtplib.SMTP(HOST, port, timeout=30) as smtp:
        for number in range(count):
            message = EmailMessage()
            message["From"] = "Tribune <tribune@bench.example>"
            message["To"] = f"raw{number}@example.org"
            message["Subject"] = f"Protection des données de santé : Prénom{number} Nom"
            message["Message-ID"] = f"<raw-{number}@bench.example>"
            message.set_content(body)
            message.add_alternative(f"<p>{body}</p>", subtype="html")
            smtp.send_message(message)
    print(f"{count / (time.perf_counter() - started):.1f}")


def setup_data(count: int) -> int:
    """N officials, a petition and a draft letter; returns the mailing id."""
    from sqlalchemy import insert

    from campaign.accounts.services import create_user
    from campaign.clock import utcnow
    from campaign.extensions import db
    from campaign.mailings.models import MailingKind
    from campaign.mailings.services import MailingFields, create_mailing
    from campaign.officials.models import Official
    from campaign.petitions.models import Petition, PetitionStatus, PetitionText
    from campaign.petitions.services import ensure_default_categories

    now = utcnow()
    ensure_default_categories()
    petition = Petition(slug="bench", status=PetitionStatus.OPEN, goal=1000)
    petition.texts = [PetitionText(language="fr", title="Nos données de santé", body="Texte.")]
    db.session.add(petition)
    db.session.commit()
    db.session.execute(
        insert(Official),
        [
            {
                "email": f"depute{n}@example.org",
                "first_name": f"Prénom{n}",
                "last_name": "Nom",
                "role": "depute",
                "chamber": "Assemblée nationale",
                "departement": "75",
                "constituency": "",
                "party": "",
                "source": "bench",
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ],
    )
    organiser = create_user("organisatrice@bench.example", "organiser", secrets.token_hex(8), now)
    db.session.commit()
    fields = MailingFields(name="Bench", subject_template=SUBJECT, body_template=BODY,
                           roles=["depute"])  # fmt: skip
    return create_mailing(petition, MailingKind.LETTER, fields, organiser, now).id


def sent_count(mailing_id: int) -> dict[str, int]:
    from sqlalchemy import func, select

    from campaign.extensions import db
    from campaign.mailings.models import Delivery

    rows = db.session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.mailing_id == mailing_id)
        .group_by(Delivery.status)
    ).all()
    db.session.commit()
    return dict(rows)


def run(args: argparse.Namespace) -> int:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    # The sink logs every SMTP command at INFO once the app configures logging.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    sink = Sink()
    controller = Controller(sink, hostname=HOST, port=free_port())
    controller.start()
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"tribune-bench-campaign-{os.getpid()}"
    logs.mkdir(parents=True, exist_ok=True)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "MAIL_"))
    }
    env.update(
        {
            "FLASK_APP": "app.py",
            "DATABASE_URL": DB_URL,
            "REDIS_URL": REDIS_URL,
            "RQ_QUEUE": f"tribune-bench-{secrets.token_hex(4)}",
            "MAIL_SERVER": HOST,
            "MAIL_PORT": str(controller.port),
            "MAIL_DEFAULT_SENDER": "Tribune <tribune@bench.example>",
            "PUBLIC_URL": "https://tribune.example",
            "MAILING_LANES": str(args.lanes or args.rq_workers),
            "SECRET_KEY": secrets.token_urlsafe(32),
            "EMAIL_DIGEST_KEY": secrets.token_urlsafe(32),
            "EMAIL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "IP_HASH_KEY": secrets.token_urlsafe(32),
        }
    )
    workers: list[subprocess.Popen] = []
    try:
        subprocess.run([str(BIN / "flask"), "db", "upgrade"], env=env, cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        os.environ.update(env)
        from campaign import create_app
        from campaign.clock import utcnow
        from campaign.extensions import db
        from campaign.mailings.services import start_mailing

        app = create_app()
        with app.app_context():
            mailing_id = setup_data(args.recipients)

        print(f"tree: {tree_version()}; {args.recipients} recipients, "
              f"{args.rq_workers} RQ workers, {os.cpu_count()} cores")  # fmt: skip
        raw = subprocess.run(
            [sys.executable, __file__, "--raw-client", str(controller.port), str(args.recipients)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        raw_rate = float(raw.stdout.strip())
        sink.per_recipient.clear()
        sink.messages = 0

        for number in range(args.rq_workers):
            log = (logs / f"worker-{number}.log").open("ab")
            workers.append(subprocess.Popen([str(BIN / "flask"), "worker"], env=env, cwd=ROOT,
                                            stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
        from rq import Worker

        while Worker.count(connection=client) < args.rq_workers:
            time.sleep(0.2)

        with app.app_context():
            from campaign.accounts.models import User

            organiser = db.session.query(User).one()
            started = time.perf_counter()
            start_mailing(mailing_id, organiser, utcnow())
            materialised = time.perf_counter() - started
            deadline = time.monotonic() + args.timeout
            counts = sent_count(mailing_id)
            while counts.get("sent", 0) + counts.get("failed", 0) < args.recipients:
                if time.monotonic() > deadline:
                    print(f"timed out: {counts}; logs in {logs}")
                    return 1
                time.sleep(0.2)
                counts = sent_count(mailing_id)
            elapsed = time.perf_counter() - started
        rate = args.recipients / elapsed
        messages, per_recipient = sink.snapshot()
        print(f"raw smtplib, one connection:   {raw_rate:8.1f} messages/s")
        print(f"Tribune mailing, {args.rq_workers} workers:  {rate:8.1f} messages/s "
              f"({elapsed:.1f} s; delivery rows written in {materialised:.2f} s)")  # fmt: skip
        print(f"ratio Tribune / raw:           {rate / raw_rate:8.2f}  (aim: >= 0.50)")
        doubles = sum(1 for value in per_recipient.values() if value > 1)
        print(f"check: {messages} messages received, {len(per_recipient)} recipients, "
              f"{doubles} received twice; rows {counts}")  # fmt: skip
        ok = messages == args.recipients and doubles == 0 and counts == {"sent": args.recipients}
        return 0 if ok else 1
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(10)
            if worker.poll() is None:
                worker.kill()
        controller.stop()
        client.flushdb()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--raw-client":
        raw_client(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--rq-workers", type=int, default=2)
    parser.add_argument("--lanes", type=int, default=0, help="sending jobs (default: workers)")
    parser.add_argument("--timeout", type=float, default=1800)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
