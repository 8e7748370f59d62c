"""The embedded default's outbox folder (one .eml per email: the address in clear and live
links) is purged with the rest of the personal data: the daily retention purge deletes the
files older than CONFIRMATION_TOKEN_MAX_AGE, and a dry run deletes nothing."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign.audit import AuditEntry
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.maintenance import run_daily_tasks
from campaign.petitions.services import ensure_default_categories
from tests.factories import make_petition
from tests.support import sign


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
