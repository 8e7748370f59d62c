"""The cost of the recipients' picker's live count (issue 17.6), against a same-run baseline.

A directory the size of France's (577 députés, 348 sénateurs, 81 MEPs, 100 authorities, a
few bouncing), one letter, an organiser logged in through the test client; then, many times
each: `recipients.json` for a selection of three régions and two roles (what the script asks
on each change), and `progress.json` of the same mailing (a small JSON page of the same
blueprint, the baseline). Prints the median time of each and their ratio.

    .venv/bin/python bench/recipient_count.py [--rounds 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

# bench/campaign.py would shadow the package: the repository's root comes first.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build_directory(db, departements: list[str]) -> None:
    from campaign.clock import utcnow
    from campaign.officials.models import Official, OfficialKind, OfficialRole

    rows = []
    for role, chamber, count in (
        (OfficialRole.DEPUTE, "Assemblée nationale", 577),
        (OfficialRole.SENATEUR, "Sénat", 348),
        (OfficialRole.DEPUTE_EUROPEEN, "Parlement européen", 81),
    ):
        for number in range(count):
            rows.append(
                Official(
                    email=f"{role}{number}@bench.example",
                    first_name=f"P{number}",
                    last_name=f"N{number}",
                    role=role,
                    kind=OfficialKind.PERSON,
                    chamber=chamber,
                    departement=departements[number % len(departements)],
                    bouncing_since=utcnow() if number % 97 == 0 else None,
                )
            )
    for number in range(100):
        rows.append(
            Official(
                email=f"authority{number}@bench.example",
                first_name="",
                last_name="",
                role=OfficialRole.AUTORITE,
                kind=OfficialKind.AUTHORITY,
                chamber=f"CPAM {number}",
                departement=departements[number % len(departements)],
            )
        )
    db.session.add_all(rows)
    db.session.commit()


def median_ms(client, url: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--database-url")
    arguments = parser.parse_args()

    from campaign import create_app
    from campaign.clock import utcnow
    from campaign.departements import DEPARTEMENTS, REGIONS
    from campaign.extensions import db
    from campaign.mailings.models import MailingKind
    from campaign.mailings.services import MailingFields, create_mailing
    from campaign.petitions.services import ensure_default_categories
    from tests.conftest import TEST_SECRETS
    from tests.factories import make_petition, make_user
    from tests.support import login

    folder = tempfile.mkdtemp(prefix="bench-recipients-")
    url = arguments.database_url or f"sqlite:///{folder}/bench.db"
    app = create_app(
        {
            **TEST_SECRETS,
            "SQLALCHEMY_DATABASE_URI": url,
            "TESTING": True,
            "FAST_PASSWORD_HASHING": True,
            "REDIS_URL": None,
            "MAIL_SERVER": None,
            "OUTBOX_DIR": folder,
            "RATELIMIT_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PUBLICATION_MAX_DELAY": 0,
        }
    )
    with app.app_context():
        db.create_all()
        ensure_default_categories()
        build_directory(db, list(DEPARTEMENTS))
        organiser = make_user("organiser")
        petition = make_petition(owner_id=organiser.id)
        mailing = create_mailing(
            petition,
            MailingKind.LETTER,
            MailingFields(name="Bench", subject_template="Objet", body_template="Texte"),
            organiser,
            utcnow(),
        )
        base = f"/admin/p/{petition.slug}/mailings/{mailing.id}"
        client = app.test_client()
        login(client, organiser)
        query = "&".join(
            [f"regions={region}" for region in ("Bretagne", "Île-de-France", "Occitanie")]
            + ["roles=depute", "roles=senateur"]
        )
        count = client.get(f"{base}/recipients.json?{query}").get_json()
        baseline = median_ms(client, f"{base}/progress.json", arguments.rounds)
        picker = median_ms(client, f"{base}/recipients.json?{query}", arguments.rounds)
    print(f"directory: 1106 officials; selection: {count['count']} recipients, "
          f"{len(count['skipped'])} skipped; {len(REGIONS)} régions")  # fmt: skip
    print(f"progress.json (baseline): {baseline:7.2f} ms median over {arguments.rounds}")
    print(f"recipients.json:          {picker:7.2f} ms median over {arguments.rounds}")
    print(f"ratio:                    {picker / baseline:7.2f}×")


if __name__ == "__main__":
    main()
