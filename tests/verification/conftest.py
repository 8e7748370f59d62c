"""Helpers of the verification tests: RPPS extracts written in the real format."""

from __future__ import annotations

from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from campaign.demo import RPPS_HEADER
from campaign.extensions import db

# Column positions in the header of the public extract.
WIDTH = RPPS_HEADER.count("|")
COLUMNS = RPPS_HEADER.rstrip("|").split("|")


def extract_line(
    number: str,
    last_name: str,
    first_name: str,
    code: str = "10",
    label: str = "Médecin",
    kind: str = "8",
    site: str = "",
) -> str:
    """One line of the extract: 52 fields and the trailing "|"."""
    fields = [""] * WIDTH
    fields[COLUMNS.index("Type d'identifiant PP")] = kind
    fields[COLUMNS.index("Identifiant PP")] = number
    fields[COLUMNS.index("Identification nationale PP")] = kind + number
    fields[COLUMNS.index("Nom d'exercice")] = last_name
    fields[COLUMNS.index("Prénom d'exercice")] = first_name
    fields[COLUMNS.index("Code profession")] = code
    fields[COLUMNS.index("Libellé profession")] = label
    fields[COLUMNS.index("Raison sociale site")] = site
    return "|".join(fields) + "|"


def extract_text(lines: list[str], header: str = RPPS_HEADER) -> str:
    return "".join(line + "\n" for line in [header, *lines])


@pytest.fixture
def write_extract(tmp_path) -> Callable[..., Path]:
    """Write an extract file and return its path."""
    count = 0

    def write(lines: list[str], header: str = RPPS_HEADER, name: str | None = None) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / (name or f"PS_LibreAcces_Personne_activite_{count}.txt")
        path.write_text(extract_text(lines, header), encoding="utf-8")
        return path

    return write


class FolderMailbox:
    """The emails of the embedded default (one .eml file each in OUTBOX_DIR), read like the
    SMTP test server's mailbox."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def messages(self) -> list[EmailMessage]:
        if not self.folder.exists():
            return []
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(path.read_bytes()) for path in sorted(self.folder.iterdir())]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"].lower() == address.lower()]

    def wait_for(self, count: int) -> list[EmailMessage]:
        """Jobs run in-process: the messages are there once the request returned."""
        messages = self.messages
        assert len(messages) >= count, f"expected {count} message(s), got {len(messages)}"
        return messages


@pytest.fixture
def site(make_app, tmp_path):
    """The embedded default: mail written to a folder of this test's own."""
    from campaign.petitions.services import ensure_default_categories

    app = make_app(OUTBOX_DIR=str(tmp_path / "outbox"))
    with app.app_context():
        ensure_default_categories()
        db.session.commit()
        yield app
        db.session.remove()


@pytest.fixture
def mailbox(site) -> FolderMailbox:
    return FolderMailbox(Path(site.config["OUTBOX_DIR"]))
