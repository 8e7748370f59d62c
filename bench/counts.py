"""Benchmark of the petition page's count reads: COUNT queries against the stored counts.

    .venv/bin/python bench/counts.py [--rows 100000] [--other-rows 100000] [--repeat 21]
                                     [--confirmations 300] [--keep-db]

Creates a scratch PostgreSQL database (tribune_bench_counts, dropped first and at the end),
migrates it, fills `signatures` by COPY (bench/signature_table.py's rows, with départements)
for the petition under test and another one, builds the stored counts with
`recount_petition`, then VACUUM ANALYZE. In the same run it times:

- the petition page's count reads as they were (the COUNT ... GROUP BY queries that
  `signature_count`, `level_counts` and `public_counts_by_departement` ran, written out here
  as the baseline) and as they are (the same functions, reading `petition_counts`), checks
  that both give the same answers, and prints the ratio;
- what keeping the counts costs a confirmation: `move_signature` pending -> confirmed (the
  move, its counts and the petition's lock) against the bare guarded UPDATE
  (SIGNATURE_TRANSITIONS.move), one transaction each.

Figures are medians of warm runs. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.signature_table import COLUMNS, Dataset, generate_rows  # noqa: E402

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DB_NAME = "tribune_bench_counts"
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
DEPARTEMENTS = ["75", "13", "69", "33", "59", "31", "44", "67", "2A", "971", None]


def timed(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median milliseconds of `repeat` runs after one warm-up, and the last result."""
    result = call()
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.median(durations), result


def with_departements(rows, rng: random.Random):
    """bench/signature_table.py's rows, with a département for most signers."""
    where = COLUMNS.index("departement")
    for row in rows:
        row = list(row)
        row[where] = rng.choice(DEPARTEMENTS) if row[2] else None
        yield row


def fill(app, rows: int, other_rows: int, seed: int) -> tuple[int, int]:
    """Two open petitions, their signatures by COPY, their stored counts rebuilt."""
    from campaign.extensions import db
    from campaign.petitions.models import Petition, PetitionCategory, PetitionText
    from campaign.petitions.services import DEFAULT_CATEGORIES, ensure_default_categories
    from campaign.signatures.counts import recount_petition

    with app.app_context():
        ensure_default_categories()
        ids = []
        for slug in ("bench-counts", "bench-other"):
            petition = Petition(slug=slug, status="open", goal=1_000_000)
            petition.texts = [PetitionText(language="fr", title=slug, body="Texte.")]
            petition.offered_categories = [
                PetitionCategory(category_key=key, position=position)
                for key, _fr, _en, position in DEFAULT_CATEGORIES
            ]
            db.session.add(petition)
            db.session.flush()
            ids.append(petition.id)
        db.session.commit()
        rng = random.Random(seed)
        data = Dataset(rng)
    started = time.monotonic()
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DB_NAME}") as conn:
        with conn.cursor().copy(f"COPY signatures ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for petition_id, count, salt in ((ids[0], rows, "a"), (ids[1], other_rows, "b")):
                for row in with_departements(generate_rows(data, petition_id, count, salt), rng):
                    copy.write_row(row)
        conn.commit()
        print(f"  COPY of {rows + other_rows:,} rows: {time.monotonic() - started:.1f} s")
    with app.app_context():
        started = time.monotonic()
        for petition_id in ids:
            recount_petition(db.session, petition_id)
        db.session.commit()
        print(f"  recount_petition of both: {time.monotonic() - started:.2f} s")
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DB_NAME}") as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return ids[0], ids[1]


def page_reads_by_count(petition_id: int) -> tuple:
    """The page's count reads as they were: COUNT queries over the signatures."""
    from sqlalchemy import func, select

    from campaign.departements import DEPARTEMENTS as ORDER
    from campaign.extensions import db
    from campaign.signatures.models import Signature
    from campaign.signatures.services import DEPARTEMENT_COUNT_THRESHOLD

    total = db.session.scalar(
        select(func.count(Signature.id)).where(
            Signature.petition_id == petition_id, Signature.counted
        )
    )
    levels: dict[str, dict[str, int]] = {}
    for category, level, n in db.session.execute(
        select(Signature.category_key, Signature.verification_level, func.count(Signature.id))
        .where(Signature.petition_id == petition_id, Signature.counted)
        .group_by(Signature.category_key, Signature.verification_level)
    ):
        levels.setdefault(category, {})[str(level)] = n
    by_departement = dict(
        db.session.execute(
            select(Signature.departement, func.count(Signature.id))
            .where(
                Signature.petition_id == petition_id,
                Signature.counted,
                Signature.departement.is_not(None),
                Signature.departement != "",
            )
            .group_by(Signature.departement)
        ).all()
    )
    public = {
        code: by_departement[code]
        for code in ORDER
        if by_departement.get(code, 0) >= DEPARTEMENT_COUNT_THRESHOLD
    }
    return total, {c: dict(sorted(v.items())) for c, v in levels.items()}, public


def page_reads_stored(petition_id: int) -> tuple:
    """The page's count reads as they are: the same service functions, stored counts."""
    from campaign.signatures.services import public_counts_by_departement, signature_count
    from campaign.verification.services import level_counts

    levels = level_counts(petition_id)
    return (
        signature_count(petition_id),
        {c: dict(sorted(v.items())) for c, v in levels.items()},
        public_counts_by_departement(petition_id),
    )


def time_confirmations(app, petition_id: int, count: int) -> None:
    """move_signature (with counts) against the bare guarded UPDATE, one commit each."""
    from sqlalchemy import select

    from campaign.clock import utcnow
    from campaign.extensions import db
    from campaign.signatures.counts import move_signature
    from campaign.signatures.models import SIGNATURE_TRANSITIONS, Signature, SignatureStatus

    pending = list(
        db.session.scalars(
            select(Signature.id)
            .where(Signature.petition_id == petition_id, Signature.status == "pending")
            .order_by(Signature.id)
            .limit(2 * count)
        )
    )
    if len(pending) < 2 * count:
        print(f"  only {len(pending)} pending signatures: use more --rows")
        return
    sources = frozenset({SignatureStatus.PENDING})
    to = SignatureStatus.CONFIRMED

    def bare(signature_id: int) -> None:
        SIGNATURE_TRANSITIONS.move(
            db.session, Signature, sources, to, Signature.id == signature_id,
            status_changed_at=utcnow(),
        )  # fmt: skip

    def counted(signature_id: int) -> None:
        move_signature(db.session, signature_id, sources, to, utcnow())

    figures = {}
    # Interleaved halves, so that both meet the same cache and load.
    for label, move, ids in (("bare UPDATE", bare, pending[0::2]), ("with counts", counted,
                                                                     pending[1::2])):  # fmt: skip
        durations = []
        for signature_id in ids[:count]:
            started = time.perf_counter()
            move(signature_id)
            db.session.commit()
            durations.append((time.perf_counter() - started) * 1000)
        figures[label] = statistics.median(durations)
        print(f"  {label:12} median {figures[label]:.3f} ms per confirmation ({count} runs)")
    print(f"  cost of the counts: x{figures['with counts'] / figures['bare UPDATE']:.2f}")
    # The bare UPDATEs went around the counts on purpose: exactly their number is missing.
    from campaign.signatures.services import signature_count

    missing = page_reads_by_count(petition_id)[0] - signature_count(petition_id)
    print(f"  stored total short by {missing} (the {count} bare UPDATEs, as expected)")


def run(args: argparse.Namespace) -> None:
    from flask_migrate import upgrade

    from campaign import create_app
    from campaign.extensions import db
    from campaign.signatures.counts import count_drift

    logging.getLogger("campaign").setLevel(logging.ERROR)  # the embedded-default warnings
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": DB_URL,
            "SECRET_KEY": secrets.token_urlsafe(16),
            "EMAIL_DIGEST_KEY": "bench-digest-key",
            "EMAIL_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "IP_HASH_KEY": "bench-ip-key",
            "REDIS_URL": None,
        }
    )
    with app.app_context():
        upgrade(revision="heads")
    print(f"database {DB_NAME}: migrated; filling")
    pid, _other = fill(app, args.rows, args.other_rows, args.seed)
    with app.app_context():
        print(
            f"\nthe petition page's count reads, {args.rows:,} signatures in the petition and "
            f"{args.other_rows:,} in another; median of {args.repeat} warm runs; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        before, old = timed(lambda: page_reads_by_count(pid), args.repeat)
        after, new = timed(lambda: page_reads_stored(pid), args.repeat)
        if old != new:
            raise SystemExit(f"the answers differ:\n  COUNT:  {old}\n  stored: {new}")
        print(f"  COUNT queries (before): {before:8.3f} ms")
        print(f"  stored counts (after):  {after:8.3f} ms")
        print(f"  ratio before/after: {before / after:.0f}x  (count {new[0]:,}, same answers)")
        drift = count_drift()
        print(f"  stored counts against COUNT, all petitions: {len(drift)} difference(s)")
        print("\na confirmation's write:")
        time_confirmations(app, pid, args.confirmations)
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
        db.session.remove()
        db.engine.dispose()
        if drift:
            raise SystemExit(1)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--other-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--confirmations", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep-db", action="store_true", help=f"leave {DB_NAME} for a look")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DB_NAME}")
    code = 1
    try:
        run(args)
        code = 0
    except KeyboardInterrupt:
        print("\ninterrupted")
        code = 130
    finally:
        if not args.keep_db:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    return code


if __name__ == "__main__":
    sys.exit(main())
