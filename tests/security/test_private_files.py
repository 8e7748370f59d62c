"""The embedded default's files that hold personal data are readable by Tribune's user only:
the SQLite database and the outbox folder's emails (addresses and live links)."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from campaign import create_app
from campaign.extensions import db
from campaign.mail.transport import MailMessage, OutboxFolder


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_sqlite_database_and_its_journal_are_private(base_config, tmp_path):
    database = tmp_path / "instance" / "tribune.db"
    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        wal = database.with_name("tribune.db-wal")
        assert mode(database) == 0o600
        assert wal.exists() and mode(wal) == 0o600
        db.engine.dispose()


def test_a_database_made_with_the_default_umask_is_tightened_at_start(base_config, tmp_path):
    database = tmp_path / "tribune.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    create_app({**base_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    assert mode(database) == 0o600


def test_the_outbox_folder_and_its_emails_are_private(app, tmp_path):
    folder = tmp_path / "outbox"
    message = MailMessage(subject="Lien", recipients=["alice@example.fr"], body="secret")
    with OutboxFolder(str(folder)) as outbox:
        outbox.send(message)
    [written] = folder.glob("*.eml")
    assert mode(folder) == 0o700
    assert mode(written) == 0o600
    assert b"alice@example.fr" in written.read_bytes()


def test_making_the_file_private_keeps_the_locks_of_open_connections(base_config, tmp_path):
    """Opening and closing an existing database file would drop the POSIX locks that this
    process's SQLite connections hold on it: another process could then write under a
    reader, or reset the WAL under it (the test suite saw "disk I/O error")."""
    import sqlite3
    import subprocess
    import sys

    database = tmp_path / "tribune.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("PRAGMA journal_mode=DELETE")  # its locks are on the database file
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")  # this process holds the write lock
    create_app({**base_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=0);"
            "c.execute('BEGIN IMMEDIATE'); print('got the lock')",
            str(database),
        ],
        capture_output=True,
        text=True,
    )
    holder.execute("ROLLBACK")
    holder.close()
    assert "got the lock" not in other.stdout
    assert "database is locked" in other.stderr
