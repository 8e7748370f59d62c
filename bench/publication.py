"""Benchmark of incremental publications on PostgreSQL, on loopback only (issue 16.4).

    .venv/bin/python bench/publication.py [--rows 1000000] [--added 1000]

Creates the database tribune_bench_publication (dropped first, dropped again at the end) and
migrates it; inserts ROWS confirmed, published signatures of one petition (the generator of
bench/export.py, stamped two days ago), then times, in the same run and in this process:

- the first publication of the list (every entry inserted and hashed);
- ADDED new signatures then a **full** publication (publish_snapshot(full=True): every
  published signature compared with its entry), the baseline;
- ADDED more signatures and ten withdrawals, then an **incremental** publication (only the
  signatures changed since the last one; the tree extended from its frontier), and prints
  the ratio full / incremental;
- recomputing the incremental publication's root from all its leaves, which must match.

The rendering job that publishing enqueues is not run (bench/export.py times the files).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import export  # noqa: E402  (bench/export.py: the generator of names)

DB_NAME = "tribune_bench_publication" + os.environ.get("BENCH_SUFFIX", "")
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
PG_DSN = f"host=127.0.0.1 port=5432 user=postgres dbname={DB_NAME}"
SLUG = export.SLUG
# bench/export.py's helpers read these: they make and drop this benchmark's own database.
export.DB_NAME, export.DB_URL, export.PG_DSN = DB_NAME, DB_URL, PG_DSN


def insert_signatures(petition_id: int, start: int, rows: int, at: datetime) -> float:
    """`rows` confirmed, published signatures numbered from `start`, stamped `at`."""
    from campaign.signatures.services import sort_key

    lasts = [name.replace("_", " ") for name in export.LAST_NAMES]
    firsts = export.FIRST_NAMES
    started = time.perf_counter()
    with psycopg.connect(PG_DSN, autocommit=True) as connection:
        connection.execute(
            """
            INSERT INTO signatures (
                petition_id, status, first_name, last_name, title, organisation, category_key,
                language, text_version, show_name, show_title, show_organisation, contact_ok,
                consent_version, consented_at, email_digest, sort_last, sort_first,
                confirmation_sends, created_at, confirmed_at, status_changed_at, source, link_key)
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
                   0, %(at)s, %(at)s, %(at)s, 'online', substr(md5(random()::text), 1, 32)
            FROM generate_series(%(start)s, %(start)s + %(rows)s - 1) AS g
            """,
            {
                "petition": petition_id,
                "firsts": firsts,
                "lasts": lasts,
                "titles": export.TITLES,
                "orgs": export.ORGANISATIONS,
                "cats": export.CATEGORIES,
                "nf": len(firsts),
                "nl": len(lasts),
                "nt": len(export.TITLES),
                "no": len(export.ORGANISATIONS),
                "last_keys": [sort_key(name) for name in lasts],
                "first_keys": [sort_key(name) for name in firsts],
                "at": at,
                "start": start,
                "rows": rows,
            },
        )
        export.store_counts(connection, petition_id)
        connection.execute("ANALYZE signatures")
    return time.perf_counter() - started


def timed(action):
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--added", type=int, default=1_000)
    options = parser.parse_args()

    from campaign import create_app
    from campaign.extensions import db
    from campaign.petitions.models import Petition
    from campaign.publication import services
    from campaign.publication.merkle import merkle_root
    from campaign.signatures.models import Signature
    from campaign.signatures.services import withdraw_signature

    env = export.environment()
    export.create_database()
    try:
        ids = export.migrate_and_create_petitions(env)
        petition_id = ids[SLUG]
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        seconds = insert_signatures(petition_id, 0, options.rows, now - timedelta(days=2))
        print(f"{options.rows:,} signatures inserted in {seconds:.1f} s")

        names = ("SECRET_KEY", "EMAIL_DIGEST_KEY", "EMAIL_ENCRYPTION_KEY", "IP_HASH_KEY")
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": DB_URL, "REDIS_URL": None, "PUBLICATION_MAX_DELAY": 0}
            | {name: env[name] for name in names}
        )
        # The files are rendered by a job, timed by bench/export.py: not here.
        services.enqueue = lambda job, *ids, **options: None
        with app.app_context():
            petition = db.session.get(Petition, petition_id)
            first_at = now - timedelta(days=1)
            first_s, first = timed(lambda: services.publish_snapshot(petition, first_at))
            print(f"first publication, {first.entry_count:,} names: {first_s:.1f} s")

            insert_signatures(petition_id, options.rows, options.added, now - timedelta(hours=3))
            full_s, full = timed(
                lambda: services.publish_snapshot(petition, now - timedelta(hours=2), full=True)
            )
            print(
                f"full publication, +{full.added_count:,} of {full.entry_count:,} names: "
                f"{full_s:.2f} s"
            )

            insert_signatures(petition_id, options.rows + options.added, options.added, now)
            leaving = db.session.scalars(
                db.select(Signature.id).where(Signature.petition_id == petition_id).limit(10)
            ).all()
            for signature_id in leaving:
                withdraw_signature(signature_id, now)
            later = now + timedelta(minutes=5)
            incremental_s, incremental = timed(lambda: services.publish_snapshot(petition, later))
            print(
                f"incremental publication, +{incremental.added_count:,} "
                f"-{incremental.removed_count} of {incremental.entry_count:,} names: "
                f"{incremental_s:.2f} s"
            )
            print(f"full / incremental: {full_s / incremental_s:.1f}x")
            root_s, root = timed(
                lambda: merkle_root(services.log_leaves(petition_id, incremental.sequence))
            )
            matches = "matches" if root.hex() == incremental.root else "DIFFERS FROM"
            print(
                f"root recomputed from all {incremental.leaf_count:,} leaves in {root_s:.1f} s: "
                f"{matches} the incremental root"
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        export.drop_database()


if __name__ == "__main__":
    main()
