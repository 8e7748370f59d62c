"""Publications: hash-chained snapshots of a petition's public list, their entries, and the
files rendered from them.

An entry row is shared by every publication that contains it: it belongs to publications
`since_sequence` to `until_sequence` (NULL while it is in the latest one), so a daily
publication of a long list stores only what changed. See docs/publication.md.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    and_,
    or_,
)
from sqlalchemy.orm import Mapped, mapped_column

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.signatures.models import SortKey

# The tie-break after the two name keys: the leaf hash, or for an erased entry its
# predecessor's tie-break and a suffix; compared byte by byte like the name keys.
TieBreak = Text().with_variant(Text(collation="C"), "postgresql")


class ExportFormat(StrEnum):
    TXT = "txt"
    CSV = "csv"
    JSON = "json"
    XLSX = "xlsx"
    PDF = "pdf"


# Rendered once and kept: their bytes depend on library versions and the clock (zip, PDF).
STORED_FORMATS = frozenset({ExportFormat.XLSX, ExportFormat.PDF})
# Rendered again at each download, byte for byte the same as when their digest was taken.
STREAMED_FORMATS = frozenset({ExportFormat.TXT, ExportFormat.CSV, ExportFormat.JSON})


class Publication(db.Model):
    """One published snapshot of a petition's public list. Never modified once written,
    except that entries of signers who later left the list are erased (their leaf stays)."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("petition_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    sequence: Mapped[int]
    published_at: Mapped[datetime]
    # The canonical JSON of the header (see docs/publication.md); `hash` is its SHA-256.
    header: Mapped[str] = mapped_column(Text)
    hash: Mapped[str] = mapped_column(String(64), index=True)
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    root: Mapped[str] = mapped_column(String(64))
    # Names in the list. In a log publication (format 2) the tree also keeps the leaves of
    # entries that left the list: leaf_count leaves, removed_total of them removed.
    entry_count: Mapped[int]
    leaf_count: Mapped[int] = mapped_column(default=0, server_default="0")
    removed_total: Mapped[int] = mapped_column(default=0, server_default="0")
    # Format 2: the roots of the tree's perfect subtrees, left to right (hex, JSON), from
    # which the next publication extends the tree without reading its leaves.
    frontier: Mapped[str | None] = mapped_column(Text)
    signature_count: Mapped[int]
    added_count: Mapped[int] = mapped_column(default=0)
    removed_count: Mapped[int] = mapped_column(default=0)
    # The canonical JSON of the texts of the version published, hashed into the header,
    # and the categories (key and labels) as they were, so files render the same later.
    texts: Mapped[str] = mapped_column(Text)
    categories: Mapped[str] = mapped_column(Text)

    @property
    def header_fields(self) -> dict[str, Any]:
        """The header as a dict."""
        return json.loads(self.header)

    @property
    def is_log(self) -> bool:
        """Format 2: the tree holds the leaves in the order they were published (the log)
        rather than in public order, so that a publication only appends."""
        return self.frontier is not None

    @property
    def category_list(self) -> list[dict[str, str]]:
        """The categories, in the petition's order: key, label_fr, label_en."""
        return json.loads(self.categories)


class PublicationEntry(db.Model):
    """One line of the public list, as published: only fields the signer chose to publish.
    Erased (content and signature link removed, leaf kept) when the signer leaves the list."""

    __tablename__ = "publication_entries"
    __table_args__ = (
        Index(
            "ix_publication_entries_public_order",
            "petition_id",
            "sort_last",
            "sort_first",
            "sort_tiebreak",
        ),
        Index("ix_publication_entries_open", "petition_id", "until_sequence", "signature_id"),
        Index("ix_publication_entries_added", "petition_id", "since_sequence"),
        Index("ix_publication_entries_log", "petition_id", "position"),
        Index("ix_publication_entries_ranked", "petition_id", "first_rank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    petition_id: Mapped[int] = mapped_column(ForeignKey("petitions.id", ondelete="CASCADE"))
    since_sequence: Mapped[int]
    until_sequence: Mapped[int | None]
    # The leaf's index in the petition's log (format 2 publications), from 0; NULL for
    # entries that left the list before the petition's first format 2 publication.
    position: Mapped[int | None]
    # Internal link for receipts and updates; never exported, cleared on erasure.
    signature_id: Mapped[int | None] = mapped_column(
        ForeignKey("signatures.id", ondelete="SET NULL"), index=True
    )
    leaf: Mapped[str] = mapped_column(String(64), index=True)
    last_name: Mapped[str | None] = mapped_column(String(100))
    first_name: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    category_key: Mapped[str | None] = mapped_column(String(40))
    confirmed_on: Mapped[date | None]
    salt: Mapped[str | None] = mapped_column(String(32))
    # The verification level and verified profession (NULL in entries published before
    # levels existed, and once erased).
    verification: Mapped[str | None] = mapped_column(String(20))
    verified_profession: Mapped[str | None] = mapped_column(String(200))
    # A first signatory's place among them, from 1 (NULL for the others): in the canonical
    # JSON as "first_signatory", and the order of the first section of every press file.
    first_rank: Mapped[int | None]
    # The entry's canonical JSON, exactly the bytes its leaf hashes.
    canonical: Mapped[str | None] = mapped_column(Text)
    sort_last: Mapped[str] = mapped_column(SortKey, default="")
    sort_first: Mapped[str] = mapped_column(SortKey, default="")
    sort_tiebreak: Mapped[str] = mapped_column(TieBreak, default="")
    erased_at: Mapped[datetime | None]

    @classmethod
    def member_of(cls, petition_id: int, sequence: int):
        """SQL condition: an entry is part of publication `sequence` of this petition."""
        return and_(
            cls.petition_id == petition_id,
            cls.since_sequence <= sequence,
            or_(cls.until_sequence.is_(None), cls.until_sequence >= sequence),
        )

    @classmethod
    def in_log_of(cls, petition_id: int, sequence: int):
        """SQL condition: an entry is a leaf of (format 2) publication `sequence`: published
        in it or before, since the log began, still in the list or not."""
        return and_(
            cls.petition_id == petition_id,
            cls.since_sequence <= sequence,
            cls.position.is_not(None),
        )

    @classmethod
    def public_order(cls) -> tuple:
        """The order of the list: surname, first name (French keys), then the tie-break."""
        return (cls.sort_last, cls.sort_first, cls.sort_tiebreak)


class PublicationFile(db.Model):
    """The SHA-256 and size of one file of a publication, and its bytes for the formats that
    are rendered once (xlsx, pdf). Deleted when an erasure changes the publication's files."""

    __tablename__ = "publication_files"

    publication_id: Mapped[int] = mapped_column(
        ForeignKey("publications.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
