"""Benchmark of the moderators' signature table on PostgreSQL with a million signatures.

    .venv/bin/python bench/signature_table.py [--rows 1000000] [--other-rows 100000]
                                              [--repeat 7] [--explain-all] [--keep-db]

Creates a scratch database (tribune_bench_table, dropped first and at the end), migrates it
with the project's migrations (`upgrade heads`), fills `signatures` by COPY with --rows rows
for the petition under test and --other-rows for a second petition (statuses, categories,
imported lists, clusters of one origin and one email domain, ties on created_at), then
VACUUM ANALYZE. It times, through the service functions the views call, the first page and
a page deep in the list (at 90 %), without and with each filter; the counts at a glance; the
bulk previews; and one bulk invalidation. Baselines of
the same run: the deep page through OFFSET, and the first and deep pages with the keyset index
dropped. Prints EXPLAIN (ANALYZE, BUFFERS) of the keyset query (first and deep page; every
case with --explain-all). Figures are medians of --repeat warm runs. See docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
DB_NAME = "tribune_bench_table" + os.environ.get("BENCH_SUFFIX", "")
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
KEYSET_INDEX = "ix_signatures_petition_created"
START = datetime(2026, 9, 1)
PERIOD = timedelta(days=60)
CLUSTER_ROWS = 2_000  # signatures from one origin and one throw-away email domain
SPAM_DOMAIN = "spam-cluster.example"

STATUSES = [("confirmed", 86), ("pending", 8), ("hidden", 1), ("invalidated", 1), ("withdrawn", 4)]
CATEGORIES = [("citizen", 55), ("clinician", 15), ("researcher", 12), ("engineer", 10),
              ("organisation", 6), ("mp", 2)]  # fmt: skip
SOURCES = [("online", 97), ("ordre-des-medecins-2026", 2), ("syndicat-ingenieurs", 1)]
DOMAINS = [("gmail.com", 30), ("orange.fr", 12), ("free.fr", 8), ("aphp.fr", 5),
           ("inserm.fr", 3), ("laposte.net", 6), ("yahoo.fr", 6), ("hotmail.fr", 10),
           ("outlook.fr", 8), ("univ-paris.fr", 12)]  # fmt: skip
COLUMNS = (
    "petition_id", "status", "first_name", "last_name", "title", "organisation",
    "category_key", "departement", "language", "text_version", "show_name", "show_title",
    "show_organisation", "contact_ok", "consent_version", "consented_at", "email_digest",
    "email_ciphertext", "ip_digest", "email_domain_digest", "source", "imported_at",
    "sort_last", "sort_first", "confirmation_sends", "created_at", "confirmed_at",
    "withdrawn_at", "status_changed_at", "link_key",
)  # fmt: skip


def weighted(pairs: list[tuple[str, int]], rng: random.Random, n: int) -> list[str]:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=n)


class Dataset:
    """Names, organisations, digests: generated once, reused for every row."""

    def __init__(self, rng: random.Random) -> None:
        from faker import Faker

        from campaign.personal_data import email_domain_digest, ip_digest
        from campaign.signatures.services import sort_key

        fake = Faker("fr_FR")
        fake.seed_instance(7)
        self.first_names = [
            (name, sort_key(name)) for name in {fake.first_name() for _ in range(600)}
        ]
        self.last_names = [
            (name, sort_key(name)) for name in {fake.last_name() for _ in range(1500)}
        ]
        self.organisations = [fake.company() for _ in range(300)]
        self.titles = ["Médecin", "Infirmière", "Ingénieur", "Chercheuse", "Députée", ""]
        self.domains = {domain: email_domain_digest(f"x@{domain}") for domain, _ in DOMAINS}
        self.spam_domain = email_domain_digest(f"x@{SPAM_DOMAIN}")
        self.origins = [ip_digest(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
                        for n in range(300_000)]  # fmt: skip
        self.cluster_origin = ip_digest("203.0.113.66")
        self.ciphertext = Fernet(Fernet.generate_key()).encrypt(b"prenom.nom@example.org")
        self.rng = rng


def generate_rows(data: Dataset, petition_id: int, count: int, salt: str):
    """Rows in arrival order (ids grow with created_at), 5 % sharing the previous timestamp."""
    rng = data.rng
    statuses = weighted(STATUSES, rng, count)
    categories = weighted(CATEGORIES, rng, count)
    sources = weighted(SOURCES, rng, count)
    domains = weighted(DOMAINS, rng, count)
    cluster = set(rng.sample(range(count), min(CLUSTER_ROWS, count)))
    step = PERIOD / count
    created = START
    for n in range(count):
        if rng.random() > 0.05:
            created = (START + step * n + timedelta(seconds=rng.random())).replace(microsecond=0)
        status, source = statuses[n], sources[n]
        imported = source != "online"
        if n in cluster:
            status, source, imported = "confirmed", "online", False
        confirmed_at = created + timedelta(minutes=rng.randint(1, 600))
        first, sort_first = rng.choice(data.first_names)
        last, sort_last = rng.choice(data.last_names)
        withdrawn = status == "withdrawn"
        yield (
            petition_id, status,
            "" if withdrawn else first, "" if withdrawn else last,
            "" if withdrawn else rng.choice(data.titles),
            "" if withdrawn or rng.random() < 0.5 else rng.choice(data.organisations),
            categories[n], None, "fr", 1, not withdrawn, not withdrawn, not withdrawn, False,
            "1", created,
            None if withdrawn else f"{salt}{n:058x}",
            None if withdrawn else data.ciphertext,
            None if withdrawn or imported
            else data.cluster_origin if n in cluster else rng.choice(data.origins),
            None if withdrawn
            else data.spam_domain if n in cluster else data.domains[domains[n]],
            source, created if imported else None,
            "" if withdrawn else sort_last, "" if withdrawn else sort_first,
            0 if imported else 1, created,
            None if status == "pending" or imported else confirmed_at,
            confirmed_at if withdrawn else None,
            confirmed_at if status != "pending" else created,
            secrets.token_hex(16),
        )  # fmt: skip


def fill(app, rows: int, other_rows: int, seed: int) -> tuple[int, int]:
    """Two open petitions; COPY their signatures in; VACUUM ANALYZE. Returns their ids."""
    from campaign.extensions import db
    from campaign.petitions.models import Petition, PetitionCategory, PetitionText
    from campaign.petitions.services import DEFAULT_CATEGORIES, ensure_default_categories

    with app.app_context():
        ensure_default_categories()
        ids = []
        for slug in ("bench-table", "bench-other"):
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
        data = Dataset(random.Random(seed))
    started = time.monotonic()
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DB_NAME}") as conn:
        with conn.cursor().copy(f"COPY signatures ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            # Interleaved like real traffic: the other petition's rows between ours.
            ours = generate_rows(data, ids[0], rows, "a")
            others = generate_rows(data, ids[1], other_rows, "b")
            ratio = max(1, rows // max(1, other_rows))
            for n, row in enumerate(ours):
                copy.write_row(row)
                if n % ratio == 0:
                    with contextlib.suppress(StopIteration):
                        copy.write_row(next(others))
            for row in others:
                copy.write_row(row)
        conn.commit()
        print(f"  COPY of {rows + other_rows:,} rows: {time.monotonic() - started:.1f} s")
    # The stored counts follow the rows copied in (bulk invalidation changes them).
    from campaign.signatures.counts import recount_petition

    with app.app_context():
        for petition_id in ids:
            recount_petition(db.session, petition_id)
        db.session.commit()
    with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={DB_NAME}") as conn:
        conn.autocommit = True
        started = time.monotonic()
        conn.execute("VACUUM ANALYZE signatures")
        print(f"  VACUUM ANALYZE: {time.monotonic() - started:.1f} s")
        size = conn.execute("SELECT pg_size_pretty(pg_total_relation_size('signatures'))")
        print(f"  signatures table with its indexes: {size.fetchone()[0]}")
    return ids[0], ids[1]


def timed(call: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median milliseconds of `repeat` runs after one warm-up, and the last result."""
    result = call()
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.median(durations), result


def explain(statement, analyze: bool = True) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of a SQLAlchemy statement, on the app's connection."""
    from campaign.extensions import db

    connection = db.session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    options = "ANALYZE, BUFFERS" if analyze else "COSTS"
    result = connection.exec_driver_sql(f"EXPLAIN ({options}) {compiled}", compiled.params)
    return [line for (line,) in result]


def plan_summary(plan: list[str]) -> str:
    """'Index Scan Backward using ix_…' and the like: the plan's nodes, on one line."""
    nodes = []
    for line in plan:
        text = line.strip().removeprefix("->").strip()
        if text and not text.startswith(
            (
                "Index Cond",
                "Filter",
                "Buffers",
                "Rows Removed",
                "Planning",
                "Execution",
                "Recheck",
                "Sort Key",
                "Sort Method",
                "Heap Blocks",
                "Worker",
                "Workers",
            )
        ):
            nodes.append(text.split("  (")[0])
    return " > ".join(nodes)


def cursor_at(petition_id: int, filters, fraction: float):
    """The cursor of the row at `fraction` of the filtered list (setup only, not timed)."""
    from sqlalchemy import func, select

    from campaign.extensions import db
    from campaign.signatures.models import Signature
    from campaign.signatures.moderation import Cursor, _filtered

    total = db.session.scalar(_filtered(select(func.count(Signature.id)), petition_id, filters))
    if total < 2:
        return None, total
    query = _filtered(select(Signature.created_at, Signature.id), petition_id, filters)
    row = db.session.execute(
        query.order_by(Signature.created_at.desc(), Signature.id.desc())
        .offset(int(total * fraction))
        .limit(1)
    ).one()
    return Cursor(row.created_at, row.id), total


def table_cases(petition_id: int, cluster_member: int):
    """(label, filters) of the timed cases."""
    from campaign.signatures.models import SignatureStatus
    from campaign.signatures.moderation import IMPORTED, SignatureFilters

    day = START + timedelta(days=30)
    return [
        ("no filter", SignatureFilters()),
        ("status = confirmed (86 %)", SignatureFilters(status=SignatureStatus.CONFIRMED)),
        ("status = hidden (1 %)", SignatureFilters(status=SignatureStatus.HIDDEN)),
        ("category = mp (2 %)", SignatureFilters(category="mp")),
        ("source = imported (3 %)", SignatureFilters(source=IMPORTED)),
        ("imported list by name (1 %)", SignatureFilters(imported_list=SOURCES[2][0])),
        ("signed on one day", SignatureFilters(signed_from=day, signed_before=day + timedelta(1))),
        ("name contains 'mar'", SignatureFilters(name="mar")),
        ("name: one full name", None),  # filled in below with a real name
        ("organisation contains 'sa'", SignatureFilters(organisation="sa")),
        ("same origin (cluster of 2,000)", SignatureFilters(same_origin_as=cluster_member)),
        ("confirmed + clinician + one week",
         SignatureFilters(status=SignatureStatus.CONFIRMED, category="clinician",
                          signed_from=day, signed_before=day + timedelta(7))),
    ]  # fmt: skip


def largest_origin_cluster_member(petition_id: int) -> int:
    """A signature of the petition's biggest same-origin cluster."""
    from sqlalchemy import func, select

    from campaign.extensions import db
    from campaign.signatures.models import Signature

    origin = (
        select(Signature.ip_digest)
        .where(Signature.petition_id == petition_id, Signature.ip_digest.is_not(None))
        .group_by(Signature.ip_digest)
        .order_by(func.count().desc())
        .limit(1)
        .scalar_subquery()
    )
    query = select(Signature.id).where(
        Signature.petition_id == petition_id, Signature.ip_digest == origin
    )
    return db.session.scalar(query.limit(1))


def someone_in(petition_id: int, position: int) -> str:
    """'First Last' of a signature with a name, for the selective search."""
    from sqlalchemy import select

    from campaign.extensions import db
    from campaign.signatures.models import Signature

    row = db.session.execute(
        select(Signature.first_name, Signature.last_name)
        .where(Signature.petition_id == petition_id, Signature.first_name != "")
        .order_by(Signature.id)
        .offset(position)
        .limit(1)
    ).one()
    return f"{row.first_name} {row.last_name}"


def time_table(petition_id: int, cases, repeat: int) -> dict[str, tuple[list[str], list[str]]]:
    """Time the first page and the page at 90 % of each case; return their plans."""
    from campaign.signatures.moderation import signature_table_page, signature_table_query

    print(f"  {'case':36} {'matching':>9} {'first page':>11} {'page at 90 %':>13}  plan")
    plans = {}
    for label, filters in cases:
        first_ms, _ = timed(lambda f=filters: signature_table_page(petition_id, f), repeat)
        cursor, total = cursor_at(petition_id, filters, 0.9)
        deep_ms = float("nan")
        if cursor is not None:
            deep_ms, _ = timed(
                lambda f=filters, c=cursor: signature_table_page(petition_id, f, c), repeat
            )
        first_plan = explain(signature_table_query(petition_id, filters, None, 51))
        deep_plan = explain(signature_table_query(petition_id, filters, cursor, 51))
        plans[label] = (first_plan, deep_plan)
        print(
            f"  {label:36} {total:>9,} {first_ms:>8.2f} ms {deep_ms:>10.2f} ms  "
            f"{plan_summary(deep_plan)}"
        )
    return plans


def time_baselines(petition_id: int, repeat: int) -> None:
    """The same deep page through OFFSET, and both pages without the keyset index."""
    from sqlalchemy import select, text

    from campaign.extensions import db
    from campaign.signatures.models import Signature
    from campaign.signatures.moderation import (
        SignatureFilters,
        signature_table_page,
        signature_table_query,
    )

    everything = SignatureFilters()
    cursor, total = cursor_at(petition_id, everything, 0.9)
    offset = int(total * 0.9)
    offset_query = (
        select(Signature)
        .where(Signature.petition_id == petition_id)
        .order_by(Signature.created_at.desc(), Signature.id.desc())
        .offset(offset)
        .limit(51)
    )
    offset_ms, _ = timed(lambda: list(db.session.scalars(offset_query)), repeat)
    keyset_ms, _ = timed(lambda: signature_table_page(petition_id, everything, cursor), repeat)
    print(
        f"  page at 90 % (row {offset:,}) through OFFSET: {offset_ms:.1f} ms; keyset: "
        f"{keyset_ms:.2f} ms; ratio {offset_ms / keyset_ms:,.0f}x"
    )
    db.session.execute(text(f"DROP INDEX {KEYSET_INDEX}"))
    db.session.commit()
    runs = max(3, repeat // 2)
    first_ms, _ = timed(lambda: signature_table_page(petition_id, everything), runs)
    deep_ms, _ = timed(lambda: signature_table_page(petition_id, everything, cursor), runs)
    plan = plan_summary(explain(signature_table_query(petition_id, everything, cursor, 51)))
    db.session.rollback()
    db.session.execute(
        text(f"CREATE INDEX {KEYSET_INDEX} ON signatures (petition_id, created_at, id)")
    )
    db.session.commit()
    print(
        f"  without {KEYSET_INDEX}: first page {first_ms:.1f} ms, page at 90 % "
        f"{deep_ms:.1f} ms  ({plan})"
    )


def time_counts_and_bulk(petition, cluster_member: int, repeat: int) -> None:
    """The counts at a glance, the bulk previews, one bulk invalidation."""
    from campaign.accounts.models import Role, User
    from campaign.extensions import db
    from campaign.signatures.moderation import (
        BulkCriterion,
        BulkSelection,
        bulk_invalidation_count,
        invalidate_in_bulk,
        moderation_counts,
    )

    now = START + PERIOD
    for days in (30, 60):
        ms, counts = timed(lambda d=days: moderation_counts(petition, now, d), repeat)
        print(
            f"  moderation_counts, {days} days: {ms:.1f} ms  (confirmed "
            f"{counts.by_status['confirmed']:,}, busiest day {counts.busiest[1]:,})"
        )
    window = START + timedelta(days=30)
    selections = [
        BulkSelection(BulkCriterion.EMAIL_DOMAIN, email_domain=SPAM_DOMAIN),
        BulkSelection(BulkCriterion.EMAIL_DOMAIN, email_domain="gmail.com"),
        BulkSelection(BulkCriterion.ORIGIN, origin_of=cluster_member),
        BulkSelection(BulkCriterion.TIME_WINDOW, signed_from=window,
                      signed_before=window + timedelta(hours=1)),
    ]  # fmt: skip
    for selection in selections:
        ms, count = timed(lambda s=selection: bulk_invalidation_count(petition, s), repeat)
        label = selection.email_domain or selection.describe()
        print(f"  bulk preview, {label}: {count:,} signatures in {ms:.1f} ms")

    moderator = User(email="bench@example.org", password_hash="-", role=Role.ADMIN)
    db.session.add(moderator)
    db.session.commit()
    count = bulk_invalidation_count(petition, selections[0])
    started = time.perf_counter()
    moved = invalidate_in_bulk(petition, selections[0], count, "bench", moderator, now)
    elapsed = time.perf_counter() - started
    print(
        f"  invalidate_in_bulk: {moved:,} signatures in {elapsed * 1000:.0f} ms "
        f"({moved / elapsed:,.0f} per second, one move_signature each)"
    )


def run(args: argparse.Namespace) -> None:
    from flask_migrate import upgrade

    from campaign import create_app
    from campaign.extensions import db
    from campaign.petitions.models import Petition
    from campaign.signatures.moderation import SignatureFilters

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
        petition = db.session.get(Petition, pid)
        cluster_member = largest_origin_cluster_member(pid)
        someone = SignatureFilters(name=someone_in(pid, args.rows // 3))
        cases = [
            (label, someone if filters is None else filters)
            for label, filters in table_cases(pid, cluster_member)
        ]
        print(
            f"\nthe table: {args.rows:,} signatures in the petition, {args.other_rows:,} in "
            f"another; page of 50 through signature_table_page; median of {args.repeat} warm "
            f"runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        plans = time_table(pid, cases, args.repeat)
        print("\nbaselines, same run:")
        time_baselines(pid, args.repeat)
        print("\nthe counts at a glance (first page only), bulk invalidation:")
        time_counts_and_bulk(petition, cluster_member, args.repeat)

        first_plan, deep_plan = plans["no filter"]
        print("\nEXPLAIN (ANALYZE, BUFFERS) of the keyset query, first page:")
        print("\n".join(f"  {line}" for line in first_plan))
        print("\nEXPLAIN (ANALYZE, BUFFERS) of the keyset query, page at 90 %:")
        print("\n".join(f"  {line}" for line in deep_plan))
        if args.explain_all:
            for label, (_first_plan, case_plan) in plans.items():
                print(f"\n{label}, page at 90 %:")
                print("\n".join(f"  {line}" for line in case_plan))
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
        db.session.remove()
        db.engine.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--other-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--explain-all", action="store_true")
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
