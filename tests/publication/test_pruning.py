"""Superseded files are pruned (issue 16.4): the daily maintenance deletes the stored xlsx
and pdf bytes of publications superseded more than a day ago, and digests taken under an
earlier rendering version; the latest publication keeps its files, every publication keeps
what verifies it, and the stable addresses of old files still answer (rendered anew)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import select

from campaign.extensions import db
from campaign.maintenance import run_daily_tasks
from campaign.publication.models import PublicationFile
from campaign.publication.services import prepare_publication_files, publish_snapshot
from campaign.publication.verification import publication_problems
from tests.factories import make_petition, make_signature

NOON = datetime(2026, 12, 7, 12, 0)


def stored(publication) -> set[str]:
    db.session.expire_all()
    return set(
        db.session.scalars(
            select(PublicationFile.name).where(PublicationFile.publication_id == publication.id)
        )
    )


def test_the_daily_maintenance_prunes_the_bytes_of_superseded_publications(app, client):
    petition = make_petition(slug="elagage")
    make_signature(petition, last_name="Ancien", now=NOON - timedelta(days=3))
    first = publish_snapshot(petition, NOON - timedelta(days=2))
    make_signature(petition, last_name="Suivant", now=NOON - timedelta(days=2))
    second = publish_snapshot(petition, NOON - timedelta(days=2) + timedelta(hours=1))
    make_signature(petition, last_name="Dernier", now=NOON - timedelta(hours=1))
    latest = publish_snapshot(petition, NOON)
    for publication in (first, second, latest):
        prepare_publication_files(publication.id, NOON)
    # A digest taken before a release changed the txt's bytes.
    db.session.add(PublicationFile(publication_id=latest.id, name="signatories.txt;r3",
                                   sha256="0" * 64, size=1, created_at=NOON))  # fmt: skip
    db.session.commit()
    everything = stored(latest) - {"signatories.txt;r3"}
    assert {"signatories.xlsx", "signatories.pdf"} <= everything
    first_json = client.get("/p/elagage/publications/1/signatories.json").get_data()

    results = run_daily_tasks(NOON + timedelta(hours=1))
    assert results["stored files of superseded publications pruned"] == 3

    # The first was superseded two days ago: its xlsx and pdf bytes are gone, its digests of
    # the files rendered again at each download stay. The second was superseded an hour ago,
    # the latest is the live one: untouched.
    assert stored(first) == everything - {"signatories.xlsx", "signatories.pdf"}
    assert stored(second) == everything
    assert stored(latest) == everything

    # What verifies the first publication is all there, and its stable addresses answer.
    again = client.get("/p/elagage/publications/1/signatories.json")
    assert again.get_data() == first_json and publication_problems(again.get_json()) == []
    workbook = client.get("/p/elagage/publications/1/signatories.xlsx")
    assert workbook.status_code == 200 and workbook.get_data().startswith(b"PK")
    assert workbook.headers["ETag"].strip('"') == hashlib.sha256(workbook.get_data()).hexdigest()
    assert "signatories.xlsx" in stored(first)
    # Nothing left to prune the next day but what was rendered again since.
    assert (
        run_daily_tasks(NOON + timedelta(hours=2))["stored files of superseded publications pruned"]
        == 1
    )
