"""Benchmark of the press exports on PostgreSQL, on loopback only.

    .venv/bin/python bench/export.py [--rows 1000000] [--pdf-rows 100000] [--full-xlsx]
    .venv/bin/python bench/export.py --pdf-only --pdf-rows 20000    # the PDF alone

Creates the database tribune_bench_export (dropped first, dropped again at the end) and
migrates it; inserts ROWS confirmed, published signatures of one petition with a single
INSERT ... SELECT over generate_series (names from lists, their French sort keys computed
by sort_key() in Python); publishes the list with `flask publication publish`; then times,
in the same run:

- the csv download over HTTP from gunicorn (first download, which also takes the file's
  digest in a first pass, and a second, steady-state download), the CLI export, and
  `psql \\copy (SELECT <the same public columns> ... ORDER BY the public order) TO file` as
  the physical baseline, and prints the ratio download / COPY;
- the json and txt downloads, and the peak RSS of the gunicorn worker while it streams;
- the xlsx (openpyxl) and PDF (WeasyPrint) exports of a second petition of PDF_ROWS
  signatures (--full-xlsx: the xlsx of the first, ~2 minutes more), each with the peak RSS
  of the CLI process, and the download of the stored xlsx.

Publishing leaves its rendering job in a Redis queue of its own (db 14, flushed) that no
worker reads, so that each step is timed alone. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import redis
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
# BENCH_SUFFIX keeps two runs on one machine apart (another database, another Redis db).
DB_NAME = "tribune_bench_export" + os.environ.get("BENCH_SUFFIX", "")
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
PG_DSN = f"host=127.0.0.1 port=5432 user=postgres dbname={DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
BIN = Path(sys.executable).parent
SLUG, PDF_SLUG = "liste-longue", "liste-pdf"

LAST_NAMES_TEXT = """\
Martin Bernard Thomas Petit Robert Richard Durand Dubois Moreau Laurent Simon Michel Lefèvre
Leroy Roux David Bertrand Morel Fournier Girard Bonnet Dupont Lambert Fontaine Rousseau Vincent
Müller Lefebvre Faure André Mercier Blanc Guérin Boyer Garnier Chevalier François Legrand
Gauthier Garcia Perrin Robin Clément Morin Nicolas Henry Roussel Mathieu Gautier Masson
Marchand Duval Denis Dumont Marie Lemaire Noël Meyer Dufour Meunier Brun Blanchard Giraud Joly
Rivière Lucas Brunet Gaillard Barbier Arnaud Martinez Gérard Roche Renard Schmitt Roy Leroux
Colin Vidal Caron Picard Roger Fabre Aubert Lemoine Renaud Dumas Lacroix Olivier Philippe
Bourgeois Pierre Benoît Rey Leclerc Payet Rolland Leclercq Guillaume Lecomte Lopez Jean Dupuy
Guillot Hubert Berger Carpentier Sanchez Dupuis Moulin Louis Deschamps Huet Vasseur Perez
Boucher Fleury Royer Klein Jacquet Adam Paris Poirier Marty Aubry Guyot Carré Charles Renault
Charpentier Ménard Maillard Baron Bertin Bailly Hervé Schneider Fernandez Le_Gall Collet Léger
Bouvier Julien Prévost Millet Perrot Daniel Le_Roux Cousin Germain Breton Besson Langlois Rémy
Le_Goff Pelletier Lévêque Perrier Leblanc Barré Lebrun Marchal Weber Mallet Hamon Boulanger
Jacob Monnier Michaud Rodriguez Guichard Gillet Étienne Grondin Poulain Tessier Chevallier
Collin Aubin Tanguy Lemaître De_Maison_Rouge Desgrippes Le_Bouter Leblond Œuvray"""
FIRST_NAMES_TEXT = """\
Marie Jean Pierre Michel André Philippe Nathalie Isabelle Sylvie Catherine Françoise Alain
Nicolas Christophe Patrick Christine Monique Stéphane Sophie Valérie Daniel Éric Frédéric
Laurent Sandrine Céline Julien Hélène Camille Léa Chloé Inès Zoé Maël Théo Noé Anaïs Gaëlle
Joël Noémie Agnès Cécile Jérôme Loïc Hervé Amélie Bérénice Clémence Élodie Émile Aurélien
Benoît Gérard Josiane Raphaël Solène Thaïs Yannick Ophélie Margaux Mathéo Aïcha Fatoumata"""
TITLES = ["", "", "", "Médecin généraliste", "Infirmière", "Praticien hospitalier",
          "Chercheuse en santé publique", "Ingénieure logiciel", "Députée", "Maire",
          "Pharmacienne", "Sage-femme", "Maître de conférences", "Avocat"]  # fmt: skip
ORGANISATIONS = [
    "",
    "",
    "",
    "AP-HP",
    "Inserm",
    "CNRS",
    "CHU de Nantes",
    "Inria",
    "Assemblée nationale",
    "Hospices civils de Lyon",
    "Université de Bordeaux",
]
LAST_NAMES = LAST_NAMES_TEXT.split()
FIRST_NAMES = FIRST_NAMES_TEXT.split()
CATEGORIES = ["clinician", "researcher", "engineer", "mp", "organisation", "citizen"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def vm_rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class PeakRss:
    """Samples a process's RSS every 20 ms while in use; `peak` in MiB."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kib, self._stop = pid, 0, threading.Event()

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, vm_rss_kib(self.pid))
            time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float:
        return self.peak_kib / 1024


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.update(
        DATABASE_URL=DB_URL,
        REDIS_URL=REDIS_URL,
        RQ_QUEUE="tribune-bench-export",
        FLASK_APP=str(ROOT / "app.py"),
        PUBLIC_URL="http://127.0.0.1:5000",
        SECRET_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        EMAIL_DIGEST_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        EMAIL_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        IP_HASH_KEY=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        RATELIMIT_ENABLED="false",
    )
    return env


LAST_CPU = [0.0]  # CPU seconds (user + system) of the last run_cli process


def run_cli(env: dict[str, str], *args: str, stdout=subprocess.DEVNULL) -> tuple[float, float]:
    """Run `flask ...`; returns (seconds, peak RSS in MiB of that process); its CPU
    seconds go to LAST_CPU (on a shared machine, wall time follows the others' load)."""
    started = time.perf_counter()
    process = subprocess.Popen([str(BIN / "flask"), *args], env=env, cwd=ROOT, stdout=stdout,
                               stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    errors = process.stderr.read().decode()
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{errors}")
    return elapsed, usage.ru_maxrss / 1024


def create_database() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def migrate_and_create_petitions(env: dict[str, str]) -> dict[str, int]:
    """Schema by Alembic, the default categories and two open petitions; their ids."""
    from campaign import create_app
    from campaign.extensions import db
    from campaign.petitions.models import Petition, PetitionCategory, PetitionStatus, PetitionText
    from campaign.petitions.services import DEFAULT_CATEGORIES, ensure_default_categories

    names = ("SECRET_KEY", "EMAIL_DIGEST_KEY", "EMAIL_ENCRYPTION_KEY", "IP_HASH_KEY")
    app = create_app({"SQLALCHEMY_DATABASE_URI": DB_URL, **{n: env[n] for n in names}})
    ids = {}
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        ensure_default_categories()
        for slug in (SLUG, PDF_SLUG):
            petition = Petition(slug=slug, language="fr", status=PetitionStatus.OPEN, goal=10**6)
            petition.texts = [
                PetitionText(language="fr", title="Nos données de santé sous notre juridiction",
                             summary="Une tribune.", body="Le **secret médical** d'abord."),
            ]  # fmt: skip
            petition.offered_categories = [
                PetitionCategory(category_key=key, position=position)
                for key, _fr, _en, position in DEFAULT_CATEGORIES
            ]
            db.session.add(petition)
            db.session.commit()
            ids[slug] = petition.id
        db.engine.dispose()
    return ids


def insert_signatures(petition_id: int, rows: int) -> float:
    """`rows` confirmed, published signatures in one INSERT ... SELECT; returns seconds."""
    from campaign.signatures.services import sort_key

    lasts = [name.replace("_", " ") for name in LAST_NAMES]
    started = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    with psycopg.connect(PG_DSN, autocommit=True) as connection:
        connection.execute(
            """
            INSERT INTO signatures (
                petition_id, status, first_name, last_name, title, organisation, category_key,
                language, text_version, show_name, show_title, show_organisation, contact_ok,
                consent_version, consented_at, email_digest, sort_last, sort_first,
                confirmation_sends, created_at, confirmed_at, status_changed_at, source,
                link_key)
            SELECT %(petition)s, 'confirmed',
                   (%(firsts)s::text[])[1 + g %% %(nf)s],
                   (%(lasts)s::text[])[1 + (g / %(nf)s) %% %(nl)s],
                   (%(titles)s::text[])[1 + g %% %(nt)s],
                   (%(orgs)s::text[])[1 + g %% %(no)s],
                   (%(cats)s::text[])[1 + g %% 6],
                   'fr', 1, true, g %% 3 <> 0, g %% 2 = 0, false,
                   '1', %(at)s, md5(%(petition)s || ':' || g) || md5(g::text),
                   (%(last_keys)s::text[])[1 + (g / %(nf)s) %% %(nl)s],
                   (%(first_keys)s::text[])[1 + g %% %(nf)s],
                   0, %(at)s, %(at)s - make_interval(secs => g %% 864000), %(at)s, 'online',
                   substr(md5(random()::text), 1, 32)
            FROM generate_series(0, %(rows)s - 1) AS g
            """,
            {
                "petition": petition_id,
                "firsts": FIRST_NAMES,
                "lasts": lasts,
                "titles": TITLES,
                "orgs": ORGANISATIONS,
                "cats": CATEGORIES,
                "nf": len(FIRST_NAMES),
                "nl": len(lasts),
                "nt": len(TITLES),
                "no": len(ORGANISATIONS),
                "last_keys": [sort_key(name) for name in lasts],
                "first_keys": [sort_key(name) for name in FIRST_NAMES],
                "at": now,
                "rows": rows,
            },
        )
        store_counts(connection, petition_id)
        connection.execute("ANALYZE signatures")
    return time.perf_counter() - started


def store_counts(connection, petition_id: int) -> None:
    """The petition's stored counts rebuilt from its signatures (rows inserted behind the
    app's back), as `recount_petition` does: the press files' headers read them."""
    connection.execute("DELETE FROM petition_counts WHERE petition_id = %s", (petition_id,))
    connection.execute(
        "INSERT INTO petition_counts (petition_id, category_key, verification_level, count) "
        "SELECT petition_id, category_key, verification_level, count(*) FROM signatures "
        "WHERE petition_id = %s AND status = 'confirmed' "
        "GROUP BY petition_id, category_key, verification_level",
        (petition_id,),
    )


def copy_baseline(petition_id: int, target: Path) -> float:
    """psql \\copy of the same public columns, in the public order; returns seconds."""
    query = (
        "SELECT last_name, first_name, CASE WHEN show_title THEN title ELSE '' END, "
        "CASE WHEN show_organisation THEN organisation ELSE '' END, category_key, "
        "to_char(confirmed_at, 'YYYY-MM-DD') FROM signatures "
        f"WHERE petition_id = {petition_id} AND status = 'confirmed' AND show_name "
        "ORDER BY sort_last, sort_first, id"
    )
    command = f"\\copy ({query}) TO '{target}' WITH (FORMAT csv, HEADER, FORCE_QUOTE *)"
    started = time.perf_counter()
    subprocess.run(["psql", "-h", HOST, "-U", "postgres", "-d", DB_NAME, "-qc", command],
                   check=True)  # fmt: skip
    return time.perf_counter() - started


def download(port: int, path: str, target: Path | None = None) -> tuple[float, int]:
    """GET a file as a client would (into `target` if given); (seconds, bytes). Fails if
    the bytes do not hash to the ETag the server announced."""
    connection = http.client.HTTPConnection(HOST, port, timeout=600)
    started = time.perf_counter()
    connection.request("GET", path)
    response = connection.getresponse()
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {response.read()[:300]!r}")
    size, digest = 0, hashlib.sha256()
    with open(target or os.devnull, "wb") as output:
        while chunk := response.read(1024 * 1024):
            size += len(chunk)
            digest.update(chunk)
            output.write(chunk)
    elapsed = time.perf_counter() - started
    connection.close()
    etag = response.headers.get("ETag")
    if etag is not None and etag.strip('"') != digest.hexdigest():
        raise RuntimeError(f"GET {path}: the bytes do not match the ETag {etag}")
    return elapsed, size


def start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "1", "--threads", "2", "--worker-class", "gthread",
         "--timeout", "600", "--bind", f"{HOST}:{port}", "app:app"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return process
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def worker_pid(master: subprocess.Popen) -> int:
    """The gunicorn worker (the master's child)."""
    for _ in range(50):
        children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("no gunicorn worker")


def time_pdf(env: dict[str, str], folder: Path, rows: int, report) -> None:
    """`flask publication export --format pdf` of the second petition: seconds, pages and
    the peak RSS of the process (wait4)."""
    document = folder / "out.pdf"
    seconds, rss = run_cli(env, "publication", "export", "--petition", PDF_SLUG,
                           "--format", "pdf", "--output", str(document))  # fmt: skip
    pages = subprocess.run(["pdfinfo", str(document)], capture_output=True,
                           text=True, check=False).stdout  # fmt: skip
    pages = next(
        (line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:")), "?"
    )
    report(
        f"flask publication export --format pdf ({rows:,} rows)",
        f"{seconds:.1f} s ({LAST_CPU[0]:.1f} s of CPU), {pages} pages, peak RSS {rss:.0f} MiB",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pdf-rows", type=int, default=100_000)
    parser.add_argument(
        "--full-xlsx", action="store_true", help="the xlsx of --rows rather than --pdf-rows"
    )
    parser.add_argument(
        "--pdf-only", action="store_true", help="only the PDF of --pdf-rows (no list of --rows)"
    )
    args = parser.parse_args()
    env = environment()
    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    create_database()
    server = None

    def report(label: str, value: str) -> None:
        print(f"  {label:58} {value}", flush=True)

    try:
        ids = migrate_and_create_petitions(env)
        if args.pdf_only:
            print(f"export benchmark: the PDF of {args.pdf_rows:,} signatures ({DB_NAME})")
            seconds = insert_signatures(ids[PDF_SLUG], args.pdf_rows)
            report("insert signatures (INSERT ... SELECT)", f"{seconds:.1f} s")
            run_cli(env, "publication", "publish", "--petition", PDF_SLUG)
            with tempfile.TemporaryDirectory() as folder:
                time_pdf(env, Path(folder), args.pdf_rows, report)
            return
        print(f"export benchmark: {args.rows:,} signatures in PostgreSQL ({DB_NAME})")
        report(
            "insert signatures (INSERT ... SELECT)",
            f"{insert_signatures(ids[SLUG], args.rows):.1f} s",
        )
        seconds, rss = run_cli(env, "publication", "publish", "--petition", SLUG)
        report(
            "flask publication publish (entries, Merkle root)",
            f"{seconds:.1f} s, peak RSS {rss:.0f} MiB",
        )

        with tempfile.TemporaryDirectory() as folder:
            baseline = Path(folder) / "copy.csv"
            copy_seconds = copy_baseline(ids[SLUG], baseline)
            report(
                "psql \\copy baseline, same public columns",
                f"{copy_seconds:.2f} s, {baseline.stat().st_size / 1e6:.0f} MB",
            )

            port = free_port()
            server = start_gunicorn(env, port)
            worker = worker_pid(server)
            download(port, f"/p/{SLUG}/press")
            http_seconds = {}
            saved = {fmt: Path(folder) / f"signatories.{fmt}" for fmt in ("csv", "json", "txt")}
            for fmt in ("csv", "json", "txt"):
                with PeakRss(worker) as first_rss:
                    first, size = download(port, f"/p/{SLUG}/signatories.{fmt}")
                with PeakRss(worker) as rss:
                    again, size = download(port, f"/p/{SLUG}/signatories.{fmt}", saved[fmt])
                http_seconds[fmt] = again
                report(
                    f"GET signatories.{fmt}, first (digest pass + stream)",
                    f"{first:.2f} s, worker peak RSS {first_rss.peak:.0f} MiB",
                )
                report(
                    f"GET signatories.{fmt}, digest known",
                    f"{again:.2f} s, {size / 1e6:.0f} MB, worker peak RSS {rss.peak:.0f} MiB",
                )
            target = Path(folder) / "cli.csv"
            cli_seconds, cli_rss = run_cli(env, "publication", "export", "--petition", SLUG,
                                           "--format", "csv", "--output", str(target))  # fmt: skip
            startup, _ = run_cli(env, "publication", "--help")
            report(
                "flask publication export --format csv",
                f"{cli_seconds:.2f} s (of which {startup:.2f} s to start flask), "
                f"peak RSS {cli_rss:.0f} MiB",
            )
            started = time.perf_counter()
            checked = subprocess.run(
                [sys.executable, str(ROOT / "docs" / "verify_publication.py"), str(saved["json"])],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if checked.returncode:
                raise RuntimeError(f"verify_publication.py: {checked.stdout}{checked.stderr}")
            report(
                "docs/verify_publication.py on the downloaded json",
                f"{time.perf_counter() - started:.1f} s, {checked.stdout.split(',')[0]}",
            )
            report("ratio csv over HTTP / COPY", f"{http_seconds['csv'] / copy_seconds:.2f}x")
            report("ratio csv CLI export / COPY", f"{cli_seconds / copy_seconds:.2f}x")
            report(
                "gunicorn worker RSS after the downloads", f"{vm_rss_kib(worker) / 1024:.0f} MiB"
            )

            report(
                "insert the second petition's signatures",
                f"{insert_signatures(ids[PDF_SLUG], args.pdf_rows):.1f} s",
            )
            run_cli(env, "publication", "publish", "--petition", PDF_SLUG)
            xlsx_slug, xlsx_rows = (
                (SLUG, args.rows) if args.full_xlsx else (PDF_SLUG, args.pdf_rows)
            )
            workbook = Path(folder) / "out.xlsx"
            seconds, rss = run_cli(env, "publication", "export", "--petition", xlsx_slug,
                                   "--format", "xlsx", "--output", str(workbook))  # fmt: skip
            report(
                f"flask publication export --format xlsx ({xlsx_rows:,} rows)",
                f"{seconds:.1f} s, peak RSS {rss:.0f} MiB, {workbook.stat().st_size / 1e6:.0f} MB",
            )
            with PeakRss(worker) as rss_http:
                seconds, size = download(port, f"/p/{xlsx_slug}/signatories.xlsx")
            report(
                "GET signatories.xlsx (stored bytes)",
                f"{seconds:.2f} s, worker peak RSS {rss_http.peak:.0f} MiB",
            )
            time_pdf(env, Path(folder), args.pdf_rows, report)
    finally:
        if server is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
        queue.flushdb()
        drop_database()


if __name__ == "__main__":
    main()
