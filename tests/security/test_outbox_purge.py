"""The embedded default's outbox folder (one .eml per email: the address in clear and live
links) is purged with the rest of the personal data: the daily retention purge deletes the
files older than CONFIRMATION_TOKEN_MAX_AGE, and a dry run deletes nothing; erasing one
signer (withdrawal by link or from the rights page, erasure, the purge of their row)
deletes the files of their emails at once."""

from __future__ import annotations

import os
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import select, update

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.maintenance import run_daily_tasks
from campaign.petitions.models import Petition
from campaign.petitions.services import ensure_default_categories
from campaign.signatures.models import Signature
from tests.factories import make_petition
from tests.support import csrf_token, links_in, path_of, settle_detached_jobs, sign, text_part


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "outbox"


@pytest.fixture
def site(make_app, folder):
    """The embedded default: mail written to `folder`."""
    app = make_app(OUTBOX_DIR=str(folder), MAIL_SERVER=None)
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


def age(path, days: float) -> None:
    moment = (utcnow() - timedelta(days=days)).timestamp()
    os.utime(path, (moment, moment))


def test_the_daily_purge_deletes_old_outbox_files_and_keeps_recent_ones(site, folder):
    petition = make_petition()
    client = site.test_client()
    assert sign(client, petition, email="old@example.fr").status_code == 303
    (old,) = folder.glob("*.eml")
    assert b"old@example.fr" in old.read_bytes()
    age(old, 8)
    assert sign(client, petition, email="new@example.fr").status_code == 303
    (recent,) = set(folder.glob("*.eml")) - {old}
    age(recent, 6)
    run_daily_tasks(utcnow())
    assert not old.exists() and recent.exists()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "outbox files deleted"))
    assert entry is not None and entry.count == 1


def test_the_purge_command_deletes_them_and_its_dry_run_does_not(site, folder):
    folder.mkdir(mode=0o700)
    old = folder / "20260101T000000000000-deadbeef.eml"
    old.write_bytes(b"To: someone@example.fr\r\n\r\nhttp://tribune.test/s/token\r\n")
    age(old, 30)
    runner = site.test_cli_runner()
    assert runner.invoke(args=["privacy", "purge", "--dry-run"]).exit_code == 0
    assert old.exists()
    assert runner.invoke(args=["privacy", "purge"]).exit_code == 0
    assert not old.exists()


# --- Erasing one signer takes the files of their emails ---------------------------------------


def files_for(folder, address: str) -> list:
    return [path for path in folder.glob("*.eml") if address.encode() in path.read_bytes()]


def body_of(path) -> str:
    return text_part(BytesParser(policy=policy.default).parsebytes(path.read_bytes()))


def link_in(path, fragment: str) -> str:
    return next(path_of(link) for link in links_in(body_of(path)) if fragment in link)


def two_signers(site, folder):
    """Alice and Bruno signed the same petition; each has the confirmation email's file."""
    petition = make_petition()
    client = site.test_client()
    sign(client, petition, email="alice@example.fr")
    sign(client, petition, email="bruno@example.fr", first_name="Bruno")
    assert len(files_for(folder, "alice@example.fr")) == 1
    assert len(files_for(folder, "bruno@example.fr")) == 1
    return petition, client


def test_withdrawing_by_the_emailed_link_deletes_the_signers_outbox_files(site, folder):
    _petition, client = two_signers(site, folder)
    (confirmation,) = files_for(folder, "alice@example.fr")
    path = link_in(confirmation, "/withdraw")
    response = client.post(path, data={"csrf_token": csrf_token(client, path)})
    assert response.status_code == 303
    assert files_for(folder, "alice@example.fr") == []
    assert len(files_for(folder, "bruno@example.fr")) == 1


@pytest.mark.parametrize("action", ["withdraw", "erase"])
def test_withdrawing_or_erasing_from_the_rights_page_deletes_the_signers_outbox_files(
    site, folder, action
):
    petition, client = two_signers(site, folder)
    path = f"/p/{petition.slug}/my-signature"
    client.post(path, data={"csrf_token": csrf_token(client, path), "email": "alice@example.fr"})
    settle_detached_jobs(site)
    files = files_for(folder, "alice@example.fr")
    assert len(files) == 2, "the confirmation and the link to the data"
    page = next(link_in(p, "/my-data") for p in files if "/my-data" in body_of(p))
    response = client.post(f"{page}/{action}", data={"csrf_token": csrf_token(client, page)})
    assert response.status_code == 303
    assert files_for(folder, "alice@example.fr") == []
    assert len(files_for(folder, "bruno@example.fr")) == 1


def test_the_purge_of_a_stale_pending_signature_deletes_its_outbox_files(site, folder):
    _petition, _client = two_signers(site, folder)
    long_ago = utcnow() - timedelta(seconds=site.config["CONFIRMATION_TOKEN_MAX_AGE"] + 60)
    db.session.execute(
        update(Signature)
        .where(Signature.first_name == "Alice")
        .values(created_at=long_ago, last_confirmation_at=long_ago)
    )
    db.session.commit()
    run_daily_tasks(utcnow())
    assert db.session.scalar(select(Signature.id).where(Signature.first_name == "Alice")) is None
    assert files_for(folder, "alice@example.fr") == []
    assert len(files_for(folder, "bruno@example.fr")) == 1


def test_the_purge_after_retention_deletes_the_outbox_files_of_the_petitions_signers(site, folder):
    ended, client = two_signers(site, folder)
    other = make_petition()
    sign(client, other, email="chloe@example.fr", first_name="Chloé")
    days = site.config["PRIVACY_RETENTION_DAYS"] + 1
    db.session.execute(
        update(Petition)
        .where(Petition.id == ended.id)
        .values(closes_at=utcnow() - timedelta(days=days))
    )
    db.session.commit()
    run_daily_tasks(utcnow())
    assert files_for(folder, "alice@example.fr") == []
    assert files_for(folder, "bruno@example.fr") == []
    assert len(files_for(folder, "chloe@example.fr")) == 1
