"""Benchmark of `flask signatures import` on SQLite and on PostgreSQL.

    .venv/bin/python bench/import.py [--lines 10000] [--backends sqlite,postgresql]
                                     [--without-email 5] [--keep-files]

Generates a CSV list of N signers with Faker fr_FR (seeded; semicolons and a BOM, as French
spreadsheets write them; a share of the lines without email), then, on each backend (SQLite
in a temporary folder; PostgreSQL in a scratch database tribune_bench_import, created and
dropped), migrates, loads the demo petition without signatories, and times, each as its own
process as a tester would run them: `flask signatures import --dry-run`, the import
(--confirmed), and the same import again (every line a duplicate). Checks that the import
added exactly N confirmed signatures and the re-import none. Prints lines/s, and the ratio
to a same-run baseline: N equivalent rows inserted with SQLAlchemy Core in one transaction,
with no checking, no digest and no encryption, plus the time `flask` takes to start. Exits 1
if a check fails or if an import takes 30 s or more. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa
from cryptography.fernet import Fernet
from faker import Faker

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).parent / "flask"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_DB = "tribune_bench_import" + os.environ.get("BENCH_SUFFIX", "")
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DB}"
SLUG = "donnees-de-sante-souveraines"
TARGET_SECONDS = 30
COLUMNS = "last_name;first_name;title;organisation;category;email;departement;show_name"
CATEGORIES = {"citizen": 45, "clinician": 20, "researcher": 12, "engineer": 12,
              "organisation": 6, "mp": 5}  # fmt: skip
DEPARTEMENTS = ["01", "13", "2A", "31", "33", "35", "44", "59", "67", "69", "75", "92", "971"]


class BenchError(RuntimeError):
    """A step of the bench failed."""


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c in ".-"))


def write_list(path: Path, lines: int, without_email: float, seed: int = 2026) -> None:
    """A CSV list of `lines` distinct signers, as a French spreadsheet exports it."""
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    chance = random.Random(seed)
    keys, weights = list(CATEGORIES), list(CATEGORIES.values())
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS.split(";"))
    for number in range(lines):
        last, first = fake.last_name(), fake.first_name()
        category = chance.choices(keys, weights)[0]
        title = "" if category == "citizen" else fake.job()[:200]
        organisation = "" if category == "citizen" else fake.company()
        email = ""
        if chance.random() * 100 >= without_email:
            email = f"{_ascii(first)}.{_ascii(last)}.{number}@{fake.free_email_domain()}"
        else:
            organisation = f"Comité local n° {number}"  # without email, name + organisation
        departement = chance.choice(DEPARTEMENTS) if chance.random() < 0.7 else ""
        show_name = "1" if chance.random() < 0.8 else "0"
        writer.writerow([last, first, title, organisation, category, email, departement,
                         show_name])  # fmt: skip
    path.write_bytes(b"\xef\xbb\xbf" + out.getvalue().encode())


@dataclass
class Backend:
    name: str
    url: str
    env: dict[str, str]


def environment(url: str, folder: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "MAIL_", "TRIBUNE_"))
    }
    env.update(
        {
            "FLASK_APP": str(ROOT / "app.py"),
            "DATABASE_URL": url,
            "OUTBOX_DIR": str(folder / "outbox"),
            "SECRET_KEY": secrets.token_hex(16),
            "EMAIL_DIGEST_KEY": secrets.token_hex(16),
            "EMAIL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "IP_HASH_KEY": secrets.token_hex(16),
        }
    )
    return env


def flask(backend: Backend, *args: str, check: bool = True) -> tuple[float, int, str]:
    """Run `flask ARGS` as its own process; (seconds, exit code, output)."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(FLASK), *args], env=backend.env, cwd=ROOT, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        raise BenchError(f"flask {' '.join(args)}: exit {done.returncode}\n{done.stderr[-2000:]}")
    return seconds, done.returncode, done.stdout + done.stderr


@contextlib.contextmanager
def scratch_postgres() -> Iterator[None]:
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {PG_DB}")
        connection.execute(f"CREATE DATABASE {PG_DB}")
    try:
        yield
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")


def counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT status, count(*) FROM signatures GROUP BY status")
            )
            return {status: number for status, number in rows}
    finally:
        engine.dispose()


def baseline_insert(url: str, lines: int) -> float:
    """Seconds to insert `lines` rows like the import's, precomputed, with Core in one
    transaction: the floor that checking, digests and encryption add to."""
    engine = sa.create_engine(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        with engine.begin() as connection:
            petition_id = connection.execute(
                sa.text("SELECT id FROM petitions WHERE slug = :slug"), {"slug": SLUG}
            ).scalar_one()
        table = sa.Table("signatures", sa.MetaData(), autoload_with=engine)
        rows = [
            {
                "petition_id": petition_id, "status": "confirmed", "first_name": "Camille",
                "last_name": f"Base-{n}", "title": "", "organisation": "",
                "category_key": "citizen", "language": "fr", "text_version": 1,
                "show_name": True, "show_title": True, "show_organisation": True,
                "contact_ok": False, "consent_version": "import:baseline", "consented_at": now,
                "email_digest": secrets.token_hex(32), "email_ciphertext": b"x" * 140,
                "source": "baseline", "imported_at": now, "sort_last": f"base {n}",
                "sort_first": "camille", "confirmation_sends": 0, "created_at": now,
                "confirmed_at": now, "status_changed_at": now,
                # NOT NULL since 40a033485774 (the ORM fills it; a Core insert must).
                "link_key": secrets.token_hex(16),
            }
            for n in range(lines)
        ]  # fmt: skip
        started = time.perf_counter()
        with engine.begin() as connection:
            for start in range(0, lines, 1000):
                connection.execute(sa.insert(table), rows[start : start + 1000])
        return time.perf_counter() - started
    finally:
        engine.dispose()


@dataclass
class Result:
    backend: str
    dry_run: float
    first: float
    again: float
    startup: float
    baseline: float
    ok: bool
    notes: list[str]


def _minus(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """The rows per status added since `before`."""
    added = {status: count - before.get(status, 0) for status, count in after.items()}
    return {status: count for status, count in added.items() if count}


def bench(backend: Backend, csv_path: Path, lines: int, expected: int) -> Result:
    print(f"[{backend.name}] migrating and loading the demo petition ...", flush=True)
    flask(backend, "db", "upgrade")
    flask(backend, "demo", "load", "--signatories", "0")
    # The demo's first signatories (signed before the import) are not the import's.
    before = counts(backend.url)
    startup = min(flask(backend, "signatures", "import", "--help")[0] for _ in range(3))
    common = ["signatures", "import", str(csv_path), "--petition", SLUG, "--confirmed"]
    print(f"[{backend.name}] dry run, import, import again ...", flush=True)
    dry_run, code, dry_output = flask(backend, *common, "--dry-run", check=False)
    first, _, first_output = flask(backend, *common)
    after_first = _minus(counts(backend.url), before)
    again, _, again_output = flask(backend, *common)
    after_again = _minus(counts(backend.url), before)
    notes = []
    ok = True
    if code != 0 or "0 invalid" not in dry_output:
        ok = False
        notes.append(f"dry run: exit {code}: {dry_output.strip()[:500]}")
    if after_first.get("confirmed", 0) != expected or sum(after_first.values()) != expected:
        ok = False
        notes.append(f"after the import: {after_first} (expected {expected} confirmed)")
    if after_again != after_first or f"0 new, {expected} already there" not in again_output:
        ok = False
        notes.append(f"the re-import changed something: {after_again}; {again_output.strip()}")
    said = [line for line in first_output.splitlines() if line.startswith("imported")]
    notes.append(f"import said: {said[0] if said else first_output.strip()[-300:]}")
    base = baseline_insert(backend.url, lines)
    return Result(backend.name, dry_run, first, again, startup, base, ok, notes)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=10_000, help="signers in the list (10000)")
    parser.add_argument(
        "--without-email", type=float, default=5, help="%% of lines without email (5)"
    )
    parser.add_argument("--backends", default="sqlite,postgresql", help="(sqlite,postgresql)")
    parser.add_argument("--keep-files", action="store_true", help="keep the CSV and SQLite file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="tribune-bench-import-"))
    csv_path = folder / "signataires.csv"
    results: list[Result] = []
    try:
        write_list(csv_path, args.lines, args.without_email)
        size = csv_path.stat().st_size
        print(f"list: {args.lines} lines, {size / 1e6:.2f} MB, in {csv_path}")
        for name in args.backends.split(","):
            if name == "sqlite":
                url = f"sqlite:///{folder / 'bench.db'}"
                results.append(bench(Backend(name, url, environment(url, folder)), csv_path,
                                     args.lines, args.lines))  # fmt: skip
            elif name == "postgresql":
                with scratch_postgres():
                    backend = Backend(name, PG_URL, environment(PG_URL, folder))
                    results.append(bench(backend, csv_path, args.lines, args.lines))
            else:
                raise BenchError(f"unknown backend {name!r}")
    except (BenchError, psycopg.Error, sa.exc.SQLAlchemyError) as error:
        print(f"bench failed: {error}")
        return 2
    finally:
        if not args.keep_files:
            shutil.rmtree(folder, ignore_errors=True)

    print("\n=== Tribune import benchmark ===")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before the "
          f"bench, {os.getloadavg()[0]:.1f} after; {args.lines} lines, "
          f"{args.without_email:g} % without email")  # fmt: skip
    print("seconds per command (each its own process, `flask` start-up included):")
    met = True
    for result in results:
        rate = args.lines / result.first
        app_only = result.first - result.startup
        met = met and result.first < TARGET_SECONDS
        print(f"  {result.backend}:")
        print(f"    flask start-up (`signatures import --help`): {result.startup:6.2f}")
        print(f"    --dry-run:                                 {result.dry_run:6.2f}")
        print(
            f"    import --confirmed:                        {result.first:6.2f}"
            f"  -> {rate:,.0f} lines/s ({args.lines / app_only:,.0f} without start-up)"
        )
        print(f"    same import again (all duplicates):        {result.again:6.2f}")
        print(
            f"    baseline, Core insert of {args.lines} rows:       {result.baseline:6.2f}"
            f"  -> import/baseline {app_only / result.baseline:.1f}x (start-up excluded)"
        )
        print(f"    checks: {'OK' if result.ok else 'FAIL'}")
        for note in result.notes:
            print(f"      {note}")
    print(f"target: {args.lines} lines in < {TARGET_SECONDS} s: {'met' if met else 'NOT met'}")
    return 0 if met and all(result.ok for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
