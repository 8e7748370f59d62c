"""Publishing the public list as hash-chained snapshots; the files of a publication, their
digests and bytes; receipts and inclusion proofs. Format and design: docs/publication.md."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from flask import current_app, render_template
from flask_babel import force_locale, format_date, format_time, gettext
from sqlalchemy import (
    String,
    case,
    cast,
    delete,
    desc,
    func,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from campaign.audit import record
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.jobs import enqueue
from campaign.mail.outbox import EmailKind, OutboxMessage, deliver_soon, write
from campaign.petitions.models import PUBLIC, Petition
from campaign.petitions.services import (
    OpEd,
    find_petition_image,
    op_ed_fields,
    render_markdown,
)
from campaign.publication.formats import (
    LEVEL_LABELS,
    MEDIA_TYPES,
    RENDERING_VERSION,
    AnyEntry,
    Entry,
    ErasedEntry,
    Snapshot,
    copy_text_to_csv,
    css_string,
    csv_category_tail,
    image_data_url,
    merge_pdfs,
    press_language,
    refusing_url_fetcher,
    render_csv,
    render_csv_for_excel,
    render_json,
    render_txt,
    render_txt_by_category,
    section_headings,
    snapshot_as_of,
    write_pdf,
    write_xlsx,
)
from campaign.publication.merkle import (
    MerkleRoot,
    canonical_json,
    inclusion_path,
    leaf_hash,
    sha256_hex,
)
from campaign.publication.models import (
    STORED_FORMATS,
    ExportFormat,
    Publication,
    PublicationEntry,
    PublicationFile,
)
from campaign.publication.pdf_list import ListLabels, draw_list
from campaign.publication.slots import slot_start
from campaign.signatures import queries
from campaign.signatures.models import COUNTED, Signature, SignatureStatus
from campaign.signatures.services import (
    counts_by_category,
    first_signatory_order,
    last_change_at,
    signature_count,
)
from campaign.text_rules import FORMULA_TRIGGERS
from campaign.verification.services import level_counts

log = logging.getLogger(__name__)

# "Daily", with room for a cron job that runs a little earlier than the day before.
PUBLICATION_INTERVAL = timedelta(hours=23)
BATCH_SIZE = 5000
STORED_CHUNK_SIZE = 1024 * 1024
# A PDF of a longer list would take many minutes to lay out; CSV and TXT remain.
PDF_MAX_ENTRIES = 100_000
# Above these sizes, a missing xlsx or pdf is rendered by a job, not inside the request.
INLINE_RENDER_ENTRIES = {ExportFormat.XLSX: 50_000, ExportFormat.PDF: 2_000}
# Statuses that take a signature out of the public list. show_name never changes while a
# signature stays confirmed (withdrawal clears it and moves the status), so the status says it.
DEPARTED = frozenset(set(SignatureStatus) - COUNTED - {SignatureStatus.PENDING})


@dataclass(frozen=True)
class ExportFile:
    """One downloadable file of a publication."""

    format: ExportFormat
    by_category: bool = False
    # The csv for a spreadsheet set up in French: ; separated, headers in words.
    for_excel: bool = False

    @property
    def name(self) -> str:
        """The file's name, in URLs and in the downloaded file's name."""
        variant = "-by-category" if self.by_category else "-excel" if self.for_excel else ""
        return f"signatories{variant}.{self.format}"

    @property
    def media_type(self) -> str:
        """Its Content-Type."""
        return MEDIA_TYPES[self.format]

    @property
    def record_name(self) -> str:
        """Its key in publication_files. For a file rendered again at each download, the
        key names the rendering version: a release that changes those bytes bumps
        RENDERING_VERSION, and the digests are taken anew instead of being wrong."""
        if self.format in STORED_FORMATS:
            return self.name
        return f"{self.name};{RENDERING_VERSION}"


EXPORT_FILES = (
    ExportFile(ExportFormat.TXT),
    ExportFile(ExportFormat.TXT, by_category=True),
    ExportFile(ExportFormat.CSV),
    ExportFile(ExportFormat.CSV, for_excel=True),
    ExportFile(ExportFormat.JSON),
    ExportFile(ExportFormat.XLSX),
    ExportFile(ExportFormat.PDF),
)


# --- Entries ---------------------------------------------------------------------------------


def _clean(text: str | None) -> str:
    return unicodedata.normalize("NFC", (text or "").strip())


def _stream(query) -> Iterator[Any]:
    """Rows of a long query, fetched BATCH_SIZE at a time (a server-side cursor on
    PostgreSQL), through Core rather than the ORM, which would cost a few µs a row."""
    connection = db.session.connection()
    return iter(connection.execute(query, execution_options={"yield_per": BATCH_SIZE}))


def _salt_key() -> bytes:
    key = current_app.extensions.get("tribune_publication_salt_key")
    if key is None:
        secret = current_app.config["SECRET_KEY"].encode()
        key = hmac.new(secret, b"publication-entry-salt", hashlib.sha256).digest()
        current_app.extensions["tribune_publication_salt_key"] = key
    return key


def entry_salt(signature_id: int, key: bytes | None = None) -> str:
    """A per-signature secret that makes a leaf unguessable from a name: once an entry is
    erased, its leaf cannot be matched against a guessed name, category and date. A keyed
    BLAKE2b (a MAC by design) under a key derived from SECRET_KEY."""
    message = str(signature_id).encode()
    return hashlib.blake2b(message, key=key or _salt_key(), digest_size=16).hexdigest()


def _content(
    last_name: str,
    first_name: str,
    title: str | None,
    organisation: str | None,
    show_title: bool,
    show_organisation: bool,
    category: str,
    confirmed_at: datetime | None,
    created_at: datetime,
    verification: str,
    verified_profession: str | None,
    first_rank: int | None = None,
) -> tuple:
    """What a published signature shows, as stored in an entry row: last name, first name,
    title and organisation (None unless the signer chose to publish them), category, day
    of confirmation, verification level, verified profession (None if none), and a first
    signatory's rank among them (None for the others)."""
    title = _clean(title) if show_title else ""
    organisation = _clean(organisation) if show_organisation else ""
    return (
        _clean(last_name),
        _clean(first_name),
        title or None,
        organisation or None,
        category,
        (confirmed_at or created_at).date(),
        str(verification),
        _clean(verified_profession) or None,
        first_rank,
    )


def _entry(signature_id: int, content: tuple, salt_key: bytes | None = None) -> Entry:
    last_name, first_name, title, organisation, category, confirmed_on, level, profession, rank = (
        content
    )
    return Entry(
        last_name=last_name,
        first_name=first_name,
        category=category,
        confirmed_on=confirmed_on.isoformat(),
        salt=entry_salt(signature_id, salt_key),
        title=title,
        organisation=organisation,
        verification=level,
        verified_profession=profession,
        first_signatory=str(rank) if rank else None,
    )


def first_ranks(petition_id: int) -> dict[int, int]:
    """Signature id -> rank (from 1) of each published first signatory, in the organisers'
    order: the order of the first section of every press file, signed in each entry."""
    query = queries.published_first_signatory_ids(petition_id, first_signatory_order())
    return {signature_id: rank for rank, signature_id in enumerate(db.session.scalars(query), 1)}


def public_entry(signature: Signature) -> Entry:
    """The entry of a published signature: name, and title and organisation only if the
    signer chose to publish them."""
    content = _content(
        signature.last_name,
        signature.first_name,
        signature.title,
        signature.organisation,
        signature.show_title,
        signature.show_organisation,
        signature.category_key,
        signature.confirmed_at,
        signature.created_at,
        signature.verification_level,
        signature.verified_profession,
        first_ranks(signature.petition_id).get(signature.id) if signature.first_signatory else None,
    )
    return _entry(signature.id, content)


def _stored_entry(row: Any) -> AnyEntry:
    if row.erased_at is not None:
        return ErasedEntry(row.leaf)
    return Entry(
        last_name=row.last_name,
        first_name=row.first_name,
        category=row.category_key,
        confirmed_on=row.confirmed_on.isoformat(),
        salt=row.salt,
        title=row.title,
        organisation=row.organisation,
        verification=row.verification,
        verified_profession=row.verified_profession,
        first_signatory=str(row.first_rank) if row.first_rank else None,
    )


def _published_signatures(petition_id: int):
    """Published signatures by id: id, sort keys, then _content()'s arguments in order."""
    return queries.published_columns(petition_id)


def published_count(petition_id: int) -> int:
    """Confirmed signatures whose name is published."""
    return queries.published_count(petition_id)


# --- Reading publications --------------------------------------------------------------------


def latest_publication(petition_id: int) -> Publication | None:
    """The petition's most recent publication."""
    return db.session.scalar(
        select(Publication)
        .where(Publication.petition_id == petition_id)
        .order_by(Publication.sequence.desc())
        .limit(1)
    )


def find_publication(petition_id: int, sequence: int) -> Publication | None:
    """A publication by its number in the petition's chain."""
    return db.session.scalar(
        select(Publication).where(
            Publication.petition_id == petition_id, Publication.sequence == sequence
        )
    )


def publication_chain(petition_id: int, limit: int | None = None) -> list[Publication]:
    """The petition's publications, newest first (the `limit` latest ones)."""
    query = select(Publication).where(Publication.petition_id == petition_id)
    return list(db.session.scalars(query.order_by(Publication.sequence.desc()).limit(limit)))


@dataclass(frozen=True)
class PublicationPage:
    """One page of a petition's publications, newest first."""

    publications: list[Publication]
    page: int
    pages: int
    total: int


PUBLICATIONS_PER_PAGE = 50


def publication_page(
    petition_id: int, page: int = 1, per_page: int = PUBLICATIONS_PER_PAGE
) -> PublicationPage:
    """Page `page` of the petition's publications, newest first; a page out of range gives
    the nearest one. With a publication every few minutes, the chain grows by hundreds."""
    total = db.session.scalar(
        select(func.count(Publication.id)).where(Publication.petition_id == petition_id)
    )
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    query = (
        select(Publication)
        .where(Publication.petition_id == petition_id)
        .order_by(Publication.sequence.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return PublicationPage(list(db.session.scalars(query)), page, pages, total)


def earlier_headers(publication: Publication) -> list[str]:
    """The canonical headers of the publications before this one, oldest first."""
    query = select(Publication.header).where(
        Publication.petition_id == publication.petition_id,
        Publication.sequence < publication.sequence,
    )
    return list(db.session.scalars(query.order_by(Publication.sequence)))


def snapshot_of(publication: Publication) -> Snapshot:
    """What the publication fixed, for the renderers."""
    header = publication.header_fields
    return Snapshot(
        slug=header["petition"],
        language=header["language"],
        sequence=publication.sequence,
        published_at=publication.published_at,
        header_json=publication.header,
        hash=publication.hash,
        texts_json=publication.texts,
        categories=publication.category_list,
    )


def entries_of(publication: Publication, category: str | None = None) -> Iterator[AnyEntry]:
    """The publication's entries in public order, streamed (erased ones as their leaf)."""
    query = select(
        PublicationEntry.leaf,
        PublicationEntry.last_name,
        PublicationEntry.first_name,
        PublicationEntry.title,
        PublicationEntry.organisation,
        PublicationEntry.category_key,
        PublicationEntry.confirmed_on,
        PublicationEntry.salt,
        PublicationEntry.verification,
        PublicationEntry.verified_profession,
        PublicationEntry.first_rank,
        PublicationEntry.erased_at,
    ).where(PublicationEntry.member_of(publication.petition_id, publication.sequence))
    if category is not None:
        query = query.where(PublicationEntry.category_key == category)
    for row in _stream(query.order_by(*PublicationEntry.public_order())):
        yield _stored_entry(row)


def json_entries(publication: Publication) -> Iterator[str]:
    """The canonical JSON of the publication's entries in the order of its tree, streamed;
    an erased entry as {"erased": its leaf}."""
    query = select(PublicationEntry.canonical, PublicationEntry.leaf).where(
        PublicationEntry.member_of(publication.petition_id, publication.sequence)
    )
    if publication.is_log:
        yield from _log_json_entries(publication)
        return
    for canonical, leaf in _stream(query.order_by(*PublicationEntry.public_order())):
        yield canonical if canonical is not None else ErasedEntry(leaf).canonical().decode()


def _log_json_entries(publication: Publication) -> Iterator[str]:
    """A log publication's leaves in log order: an entry that left the list before it as
    {"removed": leaf}, one erased since as {"erased": leaf}, the others as published."""
    query = (
        select(PublicationEntry.canonical, PublicationEntry.leaf, PublicationEntry.until_sequence)
        .where(PublicationEntry.in_log_of(publication.petition_id, publication.sequence))
        .order_by(PublicationEntry.position)
    )
    sequence = publication.sequence
    for canonical, leaf, until in _stream(query):
        if until is not None and until < sequence:
            yield '{"removed":"' + leaf + '"}'
        elif canonical is None:
            yield ErasedEntry(leaf).canonical().decode()
        else:
            yield canonical


def public_rows(
    publication: Publication, category: str | None = None, first: bool | None = None
) -> Iterator[Any]:
    """The publication's named entries in public order, streamed as rows of the columns of
    an Entry in its order (formats.PublicEntry), for the txt, csv, xlsx and pdf files. With
    `first`, only the first signatories, in their rank's order; with first=False, only the
    others."""
    return _stream(_public_query(publication, category, first))


def _public_query(publication: Publication, category: str | None = None, first: bool | None = None):
    query = select(
        PublicationEntry.last_name,
        PublicationEntry.first_name,
        PublicationEntry.title,
        PublicationEntry.organisation,
        PublicationEntry.category_key.label("category"),
        cast(PublicationEntry.confirmed_on, String).label("confirmed_on"),
        PublicationEntry.salt,
        PublicationEntry.verification,
        PublicationEntry.verified_profession,
        PublicationEntry.first_rank,
    ).where(
        PublicationEntry.member_of(publication.petition_id, publication.sequence),
        PublicationEntry.erased_at.is_(None),
    )
    if category is not None:
        query = query.where(PublicationEntry.category_key == category)
    if first:
        query = query.where(PublicationEntry.first_rank.is_not(None))
        return query.order_by(PublicationEntry.first_rank, PublicationEntry.id)
    if first is not None:
        query = query.where(PublicationEntry.first_rank.is_(None))
    return query.order_by(*PublicationEntry.public_order())


def _csv_line_sql(snapshot: Snapshot):
    """SQL for one line of the canonical csv (formats.render_csv), without its CRLF: the
    same fields, neutralised, quoted and doubled as _csv_lines() does in Python."""
    entry = PublicationEntry

    def field(column):
        value = func.coalesce(column, "")
        neutral = case(
            (func.left(value, 1).in_(FORMULA_TRIGGERS), literal("'") + value), else_=value
        )
        return func.replace(neutral, '"', '""')

    tail = case(
        *[
            (entry.category_key == c["key"], csv_category_tail(snapshot, c["key"]))
            for c in snapshot.categories
        ],
        else_=literal('"') + field(entry.category_key) + '","","',
    )
    rank = func.coalesce(cast(func.nullif(entry.first_rank, 0), String), "")
    return (
        literal('"') + field(entry.last_name) + '","' + field(entry.first_name) + '","'
        + field(entry.title) + '","' + field(entry.organisation) + '",'
        + tail + func.coalesce(cast(entry.confirmed_on, String), "") + '","'
        + func.coalesce(entry.verification, "") + '","'
        + field(entry.verified_profession) + '","' + rank + '"'
    )  # fmt: skip


def _copied_csv(publication: Publication) -> Iterator[bytes]:
    """The canonical csv written by PostgreSQL: each line built in SQL (_csv_line_sql) and
    sent by COPY, so that no row goes through Python (1,000,000 names: about the time of
    `psql \\copy`, against twice that through a cursor). The same bytes as render_csv()."""
    snapshot = snapshot_of(publication)
    line = _csv_line_sql(snapshot).label("line")
    driver = db.session.connection().connection.driver_connection
    dialect = db.session.get_bind().dialect

    def messages() -> Iterator[bytes]:
        for first in (True, False):
            query = _public_query(publication, first=first).with_only_columns(line)
            sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            with driver.cursor().copy(f"COPY ({sql}) TO STDOUT") as copy:
                for message in copy:
                    yield bytes(message)

    return copy_text_to_csv(messages())


def press_rows(publication: Publication, category: str | None = None) -> Iterator[Any]:
    """public_rows() in the order of the press files: the first signatories in their rank's
    order, then the others in public order."""
    yield from public_rows(publication, category, first=True)
    yield from public_rows(publication, category, first=False)


def log_leaves(petition_id: int, sequence: int) -> Iterator[bytes]:
    """The leaves of (log) publication `sequence` in the order of its tree, streamed."""
    query = (
        select(PublicationEntry.leaf)
        .where(PublicationEntry.in_log_of(petition_id, sequence))
        .order_by(PublicationEntry.position)
    )
    for (leaf,) in _stream(query):
        yield bytes.fromhex(leaf)


def tree_leaves(publication: Publication) -> Iterator[bytes]:
    """The leaves of a publication in the order of its tree (log or public order)."""
    if publication.is_log:
        return log_leaves(publication.petition_id, publication.sequence)
    return _leaves_of(publication.petition_id, publication.sequence)


def _leaves_of(petition_id: int, sequence: int) -> Iterator[bytes]:
    query = (
        select(PublicationEntry.leaf)
        .where(PublicationEntry.member_of(petition_id, sequence))
        .order_by(*PublicationEntry.public_order())
    )
    for (leaf,) in _stream(query):
        yield bytes.fromhex(leaf)


@dataclass(frozen=True)
class EntryPage:
    """One page of the entries a publication added."""

    entries: list[Entry]
    page: int
    pages: int
    total: int


def added_entries(publication: Publication, page: int = 1, per_page: int = 100) -> EntryPage:
    """The entries this publication added that are still named, in public order."""
    query = select(PublicationEntry).where(
        PublicationEntry.petition_id == publication.petition_id,
        PublicationEntry.since_sequence == publication.sequence,
        PublicationEntry.erased_at.is_(None),
    )
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    rows = db.session.scalars(
        query.order_by(*PublicationEntry.public_order())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return EntryPage([_stored_entry(row) for row in rows], page, pages, total)


def erased_count(publication: Publication) -> int:
    """PublicationEntry of this publication erased since, because their signer left the list."""
    return db.session.scalar(
        select(func.count(PublicationEntry.id)).where(
            PublicationEntry.member_of(publication.petition_id, publication.sequence),
            PublicationEntry.erased_at.is_not(None),
        )
    )


# --- Publishing -------------------------------------------------------------------------------


def _lock(petition: Petition) -> None:
    """Serialise publications of one petition (PostgreSQL; SQLite writers are serial)."""
    db.session.execute(select(Petition.id).where(Petition.id == petition.id).with_for_update())


def has_departures(petition_id: int) -> bool:
    """Whether someone named in the latest publication has since left the public list
    (withdrawn, hidden, invalidated, or their signature deleted)."""
    named = select(PublicationEntry.id).where(
        PublicationEntry.petition_id == petition_id,
        PublicationEntry.until_sequence.is_(None),
        PublicationEntry.signature_id == Signature.id,
    )
    departed = select(Signature.id).where(
        Signature.petition_id == petition_id,
        Signature.status.in_(DEPARTED),
        named.exists(),
    )
    deleted = select(PublicationEntry.id).where(
        PublicationEntry.petition_id == petition_id,
        PublicationEntry.until_sequence.is_(None),
        PublicationEntry.signature_id.is_(None),
        PublicationEntry.erased_at.is_(None),
    )
    return (
        db.session.scalar(departed.limit(1)) is not None
        or db.session.scalar(deleted.limit(1)) is not None
    )


@dataclass
class _CarryOver:
    added: int = 0
    closed: list[int] | None = None
    departed: set[int] | None = None
    # The log position of the next new entry, when positions are given as entries are
    # inserted (a petition's first publication, its signatures read in public order).
    next_position: int | None = None


# What an open entry says of its signature, in the order publishing compares it.
_ENTRY_LINE = (
    PublicationEntry.last_name,
    PublicationEntry.first_name,
    PublicationEntry.title,
    PublicationEntry.organisation,
    PublicationEntry.category_key,
    PublicationEntry.confirmed_on,
    PublicationEntry.verification,
    PublicationEntry.verified_profession,
    PublicationEntry.first_rank,
)


def _merge(
    result: _CarryOver,
    petition_id: int,
    sequence: int,
    ranks: dict[int, int],
    only: list[int] | None,
) -> None:
    """Compare the published signatures (all, or those of `only`) with their open entries,
    by signature: keep unchanged entries, close the others, insert new ones."""
    entries = select(PublicationEntry.id, PublicationEntry.signature_id, *_ENTRY_LINE).where(
        PublicationEntry.petition_id == petition_id,
        PublicationEntry.until_sequence.is_(None),
        # Rows inserted below have since_sequence == sequence: never read back here.
        PublicationEntry.since_sequence < sequence,
        PublicationEntry.signature_id.is_not(None),
    )
    signatures = _published_signatures(petition_id)
    if result.next_position is not None:
        # Nothing published yet, so nothing to match by signature: read in public order,
        # and the log of a first publication reads alphabetically (namesakes by id).
        signatures = signatures.order_by(None).order_by(
            Signature.sort_last, Signature.sort_first, Signature.id
        )
    if only is not None:
        entries = entries.where(PublicationEntry.signature_id.in_(only))
        signatures = signatures.where(Signature.id.in_(only))
    open_rows = _stream(entries.order_by(PublicationEntry.signature_id, PublicationEntry.id))
    # (entry id, signature id, content) of each open entry; rows are unpacked as tuples
    # throughout, since reading a row's attribute costs a microsecond, a million times.
    open_entries = ((row[0], row[1], tuple(row[2:])) for row in open_rows)
    end = (None, None, None)
    salt_key = _salt_key()
    new_rows: list[dict[str, Any]] = []

    def insert_new() -> None:
        _insert_entries(new_rows)
        result.added += len(new_rows)
        new_rows.clear()

    pending_id, pending_signature, pending_content = next(open_entries, end)
    for signature_id, sort_last, sort_first, *fields in _stream(signatures):
        while pending_id is not None and pending_signature < signature_id:
            result.closed.append(pending_id)
            result.departed.add(pending_signature)
            pending_id, pending_signature, pending_content = next(open_entries, end)
        content = _content(*fields, ranks.get(signature_id))
        kept = False
        while pending_id is not None and pending_signature == signature_id:
            if not kept and pending_content == content:
                kept = True
            else:
                result.closed.append(pending_id)
            pending_id, pending_signature, pending_content = next(open_entries, end)
        if not kept:
            entry = _entry(signature_id, content, salt_key)
            canonical = entry.canonical()
            leaf = leaf_hash(canonical).hex()
            new_rows.append(
                {
                    "petition_id": petition_id,
                    "since_sequence": sequence,
                    "signature_id": signature_id,
                    "leaf": leaf,
                    "last_name": entry.last_name,
                    "first_name": entry.first_name,
                    "title": entry.title,
                    "organisation": entry.organisation,
                    "category_key": entry.category,
                    "confirmed_on": content[5],
                    "salt": entry.salt,
                    "verification": entry.verification,
                    "verified_profession": entry.verified_profession,
                    "first_rank": content[8],
                    "canonical": canonical.decode(),
                    "sort_last": sort_last,
                    "sort_first": sort_first,
                    "sort_tiebreak": leaf,
                    "position": result.next_position,
                }
            )
            if result.next_position is not None:
                result.next_position += 1
            if len(new_rows) >= BATCH_SIZE:
                insert_new()
    while pending_id is not None:
        result.closed.append(pending_id)
        result.departed.add(pending_signature)
        pending_id, pending_signature, pending_content = next(open_entries, end)
    insert_new()


# How far back, before the latest publication, an incremental one looks for changed
# signatures: a change is stamped with its transaction's clock, which may commit after a
# publication read the table (status_changed_at, the "public list changed" mark).
CHANGE_MARGIN = timedelta(hours=1)
CHUNK = 1000


def changed_signatures(petition_id: int, since: datetime) -> list[int]:
    """The signatures whose entry may differ from the one published: those whose public
    state changed since `since` (status_changed_at), and every first signatory, published
    or now, since one change of rank moves the others."""
    changed = select(Signature.id).where(
        Signature.petition_id == petition_id, Signature.status_changed_at >= since
    )
    first = select(Signature.id).where(
        Signature.petition_id == petition_id, Signature.first_signatory.is_(True)
    )
    ranked = select(PublicationEntry.signature_id).where(
        PublicationEntry.petition_id == petition_id,
        PublicationEntry.until_sequence.is_(None),
        PublicationEntry.first_rank.is_not(None),
        PublicationEntry.signature_id.is_not(None),
    )
    ids: set[int] = set()
    for query in (changed, first, ranked):
        ids.update(db.session.scalars(query))
    return sorted(ids)


def _carry_over(
    petition_id: int, sequence: int, only: list[int] | None = None, first: bool = False
) -> _CarryOver:
    """Compare the public list with the entries of the latest publication: every published
    signature (a full publication), or only those of `only` (an incremental one). The
    `first` publication of a petition gives positions as it inserts."""
    result = _CarryOver(closed=[], departed=set(), next_position=0 if first else None)
    ranks = first_ranks(petition_id)
    if only is None:
        _merge(result, petition_id, sequence, ranks, None)
    else:
        for start in range(0, len(only), CHUNK):
            _merge(result, petition_id, sequence, ranks, only[start : start + CHUNK])
    if result.added > 10_000 and db.session.connection().dialect.name == "postgresql":
        # Fresh statistics, or the first download sorts a million rows on disk.
        db.session.execute(text("ANALYZE publication_entries"))
    # PublicationEntry whose signature row no longer exists (a purge) leave the list too.
    orphans = db.session.scalars(
        select(PublicationEntry.id).where(
            PublicationEntry.petition_id == petition_id,
            PublicationEntry.until_sequence.is_(None),
            PublicationEntry.since_sequence < sequence,
            PublicationEntry.signature_id.is_(None),
            PublicationEntry.erased_at.is_(None),
        )
    ).all()
    result.closed.extend(orphans)
    for start in range(0, len(result.closed), CHUNK):
        db.session.execute(
            update(PublicationEntry)
            .where(PublicationEntry.id.in_(result.closed[start : start + CHUNK]))
            .values(until_sequence=sequence - 1)
            .execution_options(synchronize_session=False)
        )
    return result


def _give_positions(petition_id: int, sequence: int, first: int, *, begin_log: bool) -> None:
    """Give log positions, from `first` on, to the entries this publication adds, and when
    the log begins after format 1 publications, before them, to the entries it carries
    over. In public order within each. One statement."""
    entries = PublicationEntry.__table__
    added = (
        entries.c.since_sequence <= sequence if begin_log else entries.c.since_sequence == sequence
    )
    ranked = (
        select(
            entries.c.id,
            func.row_number()
            .over(order_by=(entries.c.since_sequence, *PublicationEntry.public_order()))
            .label("number"),
        )
        .where(
            entries.c.petition_id == petition_id,
            entries.c.until_sequence.is_(None),
            entries.c.position.is_(None),
            added,
        )
        .subquery()
    )
    db.session.execute(
        update(entries)
        .where(entries.c.id == ranked.c.id)
        .values(position=ranked.c.number + (first - 1))
    )


ENTRY_COLUMNS = (
    "petition_id",
    "since_sequence",
    "signature_id",
    "leaf",
    "last_name",
    "first_name",
    "title",
    "organisation",
    "category_key",
    "confirmed_on",
    "salt",
    "verification",
    "verified_profession",
    "first_rank",
    "canonical",
    "sort_last",
    "sort_first",
    "sort_tiebreak",
    "position",
)


def _insert_entries(rows: list[dict[str, Any]]) -> None:
    """Insert entry rows: COPY on PostgreSQL (a first publication may hold a million)."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        db.session.execute(PublicationEntry.__table__.insert(), rows)
        return
    columns = ", ".join(ENTRY_COLUMNS)
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY publication_entries ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[column] for column in ENTRY_COLUMNS])


def _entries_to_erase(petition_id: int, departed: set[int]) -> list[int]:
    ids: list[int] = []
    signature_ids = sorted(departed)
    for start in range(0, len(signature_ids), 1000):
        ids += db.session.scalars(
            select(PublicationEntry.id).where(
                PublicationEntry.petition_id == petition_id,
                PublicationEntry.signature_id.in_(signature_ids[start : start + 1000]),
                PublicationEntry.erased_at.is_(None),
            )
        ).all()
    ids += db.session.scalars(
        select(PublicationEntry.id).where(
            PublicationEntry.petition_id == petition_id,
            PublicationEntry.signature_id.is_(None),
            PublicationEntry.until_sequence.is_not(None),
            PublicationEntry.erased_at.is_(None),
        )
    ).all()
    return ids


def erase_entries(petition_id: int, entry_ids: list[int], now: datetime) -> int:
    """Erase closed entries: their names and link to the signature go, their leaf stays so
    that every earlier root still verifies, and so does their place in the public order:
    each takes the sort keys of the entry just before it, plus a suffix. The files of the
    publications that named them are dropped, to be rendered again without them."""
    if not entry_ids:
        return 0
    order = PublicationEntry.public_order()
    targets = []
    for start in range(0, len(entry_ids), 1000):
        targets += db.session.execute(
            select(
                PublicationEntry.id,
                *order,
                PublicationEntry.since_sequence,
                PublicationEntry.until_sequence,
            ).where(PublicationEntry.id.in_(entry_ids[start : start + 1000]))
        ).all()
    targets.sort(key=lambda row: (row.sort_last, row.sort_first, row.sort_tiebreak))
    anchors: dict[int, tuple[tuple[str, str, str], int]] = {}
    for target in targets:
        key = (target.sort_last, target.sort_first, target.sort_tiebreak)
        predecessor = db.session.execute(
            select(PublicationEntry.id, *order)
            .where(PublicationEntry.petition_id == petition_id, tuple_(*order) < tuple_(*key))
            .order_by(*(desc(column) for column in order))
            .limit(1)
        ).first()
        if predecessor is not None and predecessor.id in anchors:
            anchor, number = anchors[predecessor.id]
            number += 1
        elif predecessor is not None:
            anchor, number = tuple(predecessor)[1:], 1
        else:
            anchor, number = ("", "", ""), 1
        anchors[target.id] = (anchor, number)
        db.session.execute(
            update(PublicationEntry)
            .where(PublicationEntry.id == target.id)
            .values(
                sort_last=anchor[0],
                sort_first=anchor[1],
                sort_tiebreak=f"{anchor[2]}+{number:08d}",
                signature_id=None,
                last_name=None,
                first_name=None,
                title=None,
                organisation=None,
                category_key=None,
                confirmed_on=None,
                salt=None,
                verification=None,
                verified_profession=None,
                first_rank=None,
                canonical=None,
                erased_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        until = target.until_sequence if target.until_sequence is not None else 10**9
        db.session.execute(
            delete(PublicationFile).where(
                PublicationFile.publication_id.in_(
                    select(Publication.id).where(
                        Publication.petition_id == petition_id,
                        Publication.sequence.between(target.since_sequence, until),
                    )
                )
            )
        )
    return len(targets)


def _texts_json(petition: Petition) -> str:
    texts = {
        text.language: {"body": text.body, "summary": text.summary, "title": text.title}
        for text in petition.current_texts()
    }
    return canonical_json(texts).decode()


def _categories_json(petition: Petition) -> str:
    categories = [
        {"key": category.key, "label_en": category.label_en, "label_fr": category.label_fr}
        for category in petition.categories
    ]
    return canonical_json(categories).decode()


def timestamp(moment: datetime) -> str:
    """A naive UTC datetime as 2026-11-26T09:30:00Z."""
    return moment.replace(microsecond=0).isoformat() + "Z"


def _queue_receipts(petition_id: int, sequence: int, now: datetime) -> list[int]:
    """Add, in one statement, the receipt email of every signer whose entry publication
    `sequence` adds, who still has an address and was never sent one; their outbox ids.
    Publications of a petition are serialised (_lock, and the unique sequence on SQLite),
    so two of them cannot both find a signer without a receipt."""
    already_sent = select(OutboxMessage.id).where(
        OutboxMessage.signature_id == PublicationEntry.signature_id,
        OutboxMessage.kind == EmailKind.PUBLICATION_RECEIPT,
    )
    newcomers = (
        select(PublicationEntry.signature_id)
        .join(Signature, Signature.id == PublicationEntry.signature_id)
        .where(
            PublicationEntry.petition_id == petition_id,
            PublicationEntry.since_sequence == sequence,
            Signature.email_ciphertext.is_not(None),
            ~already_sent.exists(),
        )
        .order_by(PublicationEntry.signature_id)
    )
    return write(
        EmailKind.PUBLICATION_RECEIPT,
        now,
        signature_id=newcomers,
        petition_id=petition_id,
        detail=f"publication {sequence}",
    )


# The format of log publications: the tree holds every leaf in the order it was
# published, so a publication appends. Format 1 (formats.FORMAT_VERSION) sorted the tree.
LOG_FORMAT = "tribune-publication/2"


def _log_tree(petition_id: int, sequence: int, latest: Publication | None) -> MerkleRoot:
    """The tree of publication `sequence`: the latest one's frontier extended by the leaves
    this one added, or, when the log begins, every leaf of the log read once."""
    if latest is None or not latest.is_log:
        tree = MerkleRoot()
        for leaf in log_leaves(petition_id, sequence):
            tree.add(leaf)
        return tree
    frontier = [bytes.fromhex(node) for node in json.loads(latest.frontier)]
    tree = MerkleRoot.from_frontier(latest.leaf_count, frontier)
    query = (
        select(PublicationEntry.leaf)
        .where(
            PublicationEntry.petition_id == petition_id,
            PublicationEntry.since_sequence == sequence,
        )
        .order_by(PublicationEntry.position)
    )
    for (leaf,) in _stream(query):
        tree.add(bytes.fromhex(leaf))
    return tree


def _removed_from_log(closed: list[int]) -> int:
    """How many of these closed entries were leaves of the log."""
    removed = 0
    for start in range(0, len(closed), CHUNK):
        removed += db.session.scalar(
            select(func.count(PublicationEntry.id)).where(
                PublicationEntry.id.in_(closed[start : start + CHUNK]),
                PublicationEntry.position.is_not(None),
            )
        )
    return removed


def publish_snapshot(petition: Petition, now: datetime, *, full: bool = False) -> Publication:
    """Publish the current public list as the next link of the petition's chain, erase
    from every publication the entries of signers who left, then have the files rendered
    and each newly published signer sent their receipt.

    Incremental after a log publication: only the signatures changed since (see
    changed_signatures) are compared with their entries, and the tree is extended from
    the latest frontier by the new leaves; a departure is a count, its leaf stays. `full`
    compares every published signature (the daily publication, the organisers' button):
    the same result, for changes that did not mark status_changed_at."""
    _lock(petition)
    latest = latest_publication(petition.id)
    sequence = latest.sequence + 1 if latest else 1
    incremental = latest is not None and latest.is_log and not full
    only = (
        changed_signatures(petition.id, latest.published_at - CHANGE_MARGIN)
        if incremental
        else None
    )
    carried = _carry_over(petition.id, sequence, only, first=latest is None)
    if latest is not None:
        begin_log = not latest.is_log
        _give_positions(
            petition.id, sequence, 0 if begin_log else latest.leaf_count, begin_log=begin_log
        )
    erase_entries(petition.id, _entries_to_erase(petition.id, carried.departed), now)
    tree = _log_tree(petition.id, sequence, latest)
    if latest is not None and latest.is_log:
        removed = latest.removed_total + _removed_from_log(carried.closed)
    else:
        removed = 0
    names = (latest.entry_count if latest else 0) + carried.added - len(carried.closed)
    texts = _texts_json(petition)
    header = {
        "counts": {category.key: count for category, count in counts_by_category(petition)},
        "entries": tree.size,
        "format": LOG_FORMAT,
        "language": petition.language,
        "petition": petition.slug,
        "previous": latest.hash if latest else None,
        "published_at": timestamp(now),
        "removed": removed,
        "root": tree.root().hex(),
        "sequence": sequence,
        "signatures": signature_count(petition.id),
        "text_sha256": sha256_hex(texts.encode()),
        "text_version": petition.current_version,
        "verification": level_counts(petition.id),
    }
    # The op-ed's publication details (issue 16.3), only when it has some: the header of a
    # petition without them is byte for byte what it was, and older ones still verify.
    op_ed = op_ed_fields(petition)
    if op_ed:
        header["op_ed"] = op_ed
    header_bytes = canonical_json(header)
    publication = Publication(
        petition_id=petition.id,
        sequence=sequence,
        published_at=now.replace(microsecond=0),
        header=header_bytes.decode(),
        hash=sha256_hex(header_bytes),
        previous_hash=header["previous"],
        root=header["root"],
        entry_count=names,
        leaf_count=tree.size,
        removed_total=removed,
        frontier=json.dumps([node.hex() for node in tree.frontier()]),
        signature_count=header["signatures"],
        added_count=carried.added,
        removed_count=len(carried.closed),
        texts=texts,
        categories=_categories_json(petition),
    )
    db.session.add(publication)
    receipts = _queue_receipts(petition.id, sequence, now)
    db.session.commit()
    log.info(
        "published %s #%d: %d names, %d added, %d removed, %d receipt(s)",
        petition.slug,
        sequence,
        names,
        carried.added,
        len(carried.closed),
        len(receipts),
    )
    enqueue(render_publication_files, publication.id)
    deliver_soon(*receipts)
    return publication


def current_publication(petition: Petition, now: datetime) -> Publication:
    """The publication the live downloads serve: the latest one, after publishing first if
    there is none yet or if someone it names has left the list since (a withdrawn name must
    not stay in the press files until the next daily publication)."""
    latest = latest_publication(petition.id)
    if latest is not None and not has_departures(petition.id):
        return latest
    _lock(petition)
    latest = latest_publication(petition.id)
    if latest is not None and not has_departures(petition.id):
        db.session.rollback()
        return latest
    try:
        return publish_snapshot(petition, now)
    except IntegrityError:
        # Another process published the same sequence first (SQLite has no row lock).
        db.session.rollback()
        return latest_publication(petition.id)


def _published_ranks(petition_id: int) -> dict[int, int]:
    """Signature id -> rank of the first signatories the latest publication names."""
    rows = db.session.execute(
        select(PublicationEntry.signature_id, PublicationEntry.first_rank).where(
            PublicationEntry.petition_id == petition_id,
            PublicationEntry.until_sequence.is_(None),
            PublicationEntry.first_rank.is_not(None),
            PublicationEntry.signature_id.is_not(None),
        )
    )
    return {signature_id: rank for signature_id, rank in rows}


def publication_due(petition: Petition, now: datetime) -> bool:
    """Publish now? When there is none yet, when someone named has left the list, or when
    the counts (or the counts per verification level, the first signatories and their
    order, the op-ed's details, or a line: entries_changed) changed and the latest
    publication is a day old."""
    latest = latest_publication(petition.id)
    if latest is None:
        return True
    if has_departures(petition.id):
        return True
    if latest.published_at > now - PUBLICATION_INTERVAL:
        return False
    return (
        signature_count(petition.id) != latest.signature_count
        or published_count(petition.id) != latest.entry_count
        or latest.header_fields.get("verification") != level_counts(petition.id)
        or _published_ranks(petition.id) != first_ranks(petition.id)
        or latest.header_fields.get("op_ed", {}) != op_ed_fields(petition)
        or entries_changed(petition.id, latest.published_at - CHANGE_MARGIN)
    )


def entries_changed(petition_id: int, since: datetime) -> bool:
    """Whether a signature changed since `since` (changed_signatures) now reads otherwise
    than its entry in the latest publication: a line edited, a name shown or hidden, a
    level or a rank changed, with the counts the same. Compares what publishing would."""
    ids = changed_signatures(petition_id, since)
    ranks = first_ranks(petition_id)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        published = {
            signature_id: _content(*fields, ranks.get(signature_id))
            for signature_id, _last, _first, *fields in db.session.execute(
                _published_signatures(petition_id).where(Signature.id.in_(chunk))
            )
        }
        entries = select(PublicationEntry.signature_id, *_ENTRY_LINE).where(
            PublicationEntry.petition_id == petition_id,
            PublicationEntry.until_sequence.is_(None),
            PublicationEntry.signature_id.in_(chunk),
        )
        named = {row[0]: tuple(row[1:]) for row in db.session.execute(entries)}
        if named != published:
            return True
    return False


def list_changed(petition: Petition, latest: Publication) -> bool:
    """Whether the public list differs from the latest publication: someone named left it,
    the counts, the counts per verification level or the first signatories changed, or a
    recently changed signature reads otherwise than its entry (entries_changed), or the
    op-ed's publication details changed."""
    return (
        has_departures(petition.id)
        or signature_count(petition.id) != latest.signature_count
        or published_count(petition.id) != latest.entry_count
        or latest.header_fields.get("verification") != level_counts(petition.id)
        or _published_ranks(petition.id) != first_ranks(petition.id)
        or latest.header_fields.get("op_ed", {}) != op_ed_fields(petition)
        or entries_changed(petition.id, latest.published_at - CHANGE_MARGIN)
    )


def publish_if_changed(petition_id: int, now: datetime, delay: timedelta) -> Publication | None:
    """The fresh publication of a slot: publish the list if it changed and the petition was
    not published yet in the slot of `delay` that `now` falls in (two workers running the
    same slot's job publish once: the petition's row lock, and on SQLite the unique
    sequence). None when there was nothing to publish."""

    petition = db.session.get(Petition, petition_id)
    if petition is None or petition.status not in PUBLIC:
        return None
    _lock(petition)
    latest = latest_publication(petition_id)
    if latest is not None and (
        latest.published_at >= slot_start(now, delay) or not list_changed(petition, latest)
    ):
        db.session.rollback()
        return None
    try:
        return publish_snapshot(petition, now)
    except IntegrityError:
        db.session.rollback()
        return None


def publish_stale_petitions(now: datetime, delay: timedelta) -> list[Publication]:
    """Publish every public list changed before the current slot and not published since:
    the safety net for a publication job that Redis lost."""

    current = slot_start(now, delay)
    published = []
    for petition in db.session.scalars(select(Petition).where(Petition.status.in_(PUBLIC))).all():
        latest = latest_publication(petition.id)
        if latest is None:
            continue
        changed_at = last_change_at(petition)
        if latest.published_at < changed_at < current:
            publication = publish_if_changed(petition.id, now, delay)
            if publication is not None:
                published.append(publication)
    return published


def publish_changed_petitions(now: datetime) -> list[Publication]:
    """The scheduled publication: every public petition that is due (see publication_due)."""
    petitions = db.session.scalars(select(Petition).where(Petition.status.in_(PUBLIC))).all()
    return [
        publish_snapshot(petition, now, full=True)
        for petition in petitions
        if publication_due(petition, now)
    ]


# --- Files --------------------------------------------------------------------------------


def pdf_offered(publication: Publication) -> bool:
    """Whether the list is short enough to be laid out as a PDF."""
    limit = current_app.config.get("PUBLICATION_PDF_MAX_ENTRIES", PDF_MAX_ENTRIES)
    return publication.entry_count <= limit


def offered_files(publication: Publication) -> list[ExportFile]:
    """The files a publication can be downloaded as."""
    return [
        export
        for export in EXPORT_FILES
        if export.format != ExportFormat.PDF or pdf_offered(publication)
    ]


def pdf_html(publication: Publication, page_total: int | None = None) -> str:
    """The HTML of the PDF's cover: title, text, counts and fingerprints; its pages
    numbered "n / page_total" when the total is given."""
    snapshot = snapshot_of(publication)
    with force_locale(snapshot.language):
        as_of = _pdf_as_of(snapshot)
        op_ed = OpEd.from_fields(snapshot.header.get("op_ed"))
        image = (
            find_petition_image(publication.petition_id, op_ed.image_sha256)
            if op_ed.image_sha256
            else None
        )
        return render_template(
            "publication/signatories_pdf.html",
            snapshot=snapshot,
            op_ed=op_ed,
            image_url=image_data_url(image.content) if image else None,
            text=snapshot.text,
            body=render_markdown(snapshot.text.get("body", "")),
            header=snapshot.header,
            erased=erased_count(publication),
            as_of=as_of,
            css_title=css_string(snapshot.text.get("title", "")),
            css_as_of=css_string(as_of),
            page_total=page_total,
        )


def _pdf_as_of(snapshot: Snapshot) -> str:
    """The line at the foot of every page (in the current locale)."""
    published_at = snapshot.published_at
    return gettext(
        "List of signatories as of %(date)s at %(time)s, publication no. %(number)s",
        date=format_date(published_at, "long"),
        time=format_time(published_at, "HH:mm zzzz"),
        number=snapshot.sequence,
    )


def _pdf_sections(publication: Publication) -> Iterator[tuple[str, Iterator[Any]]]:
    """The list's sections, rows streamed: the first signatories, then the others by
    category."""
    snapshot = snapshot_of(publication)
    with force_locale(snapshot.language):
        first_label = gettext("First signatories (attested by the organisers)")
    yield first_label, public_rows(publication, first=True)
    for category in snapshot.categories:
        key = category["key"]
        yield snapshot.label(key), public_rows(publication, key, first=False)


def _pdf_list_labels(snapshot: Snapshot) -> ListLabels:
    """The words of the list pages in the petition's language."""
    with force_locale(snapshot.language):
        levels = {
            level: LEVEL_LABELS[press_language(snapshot.language)][level]
            for level in ("none", "domain", "registry", "roster", "moderator")
        }
        continued = gettext("%(category)s (continued)", category="\x00")
        return ListLabels(
            title=snapshot.text.get("title", ""),
            as_of=_pdf_as_of(snapshot),
            levels=levels,
            continued=lambda label: continued.replace("\x00", label),
        )


def write_publication_pdf(publication: Publication, target: BinaryIO, url_fetcher=None) -> None:
    """The print-ready PDF: the cover laid out by WeasyPrint, the list pages drawn by
    pdf_list (WeasyPrint took 2.5 ms a name; 100,000 names took four minutes and 300 MB
    even in parts), joined by pypdf, the pages numbered "n / total" throughout. The list
    is streamed from the database; only the drawn pages are held."""
    fetcher = url_fetcher or refusing_url_fetcher()
    snapshot = snapshot_of(publication)
    with tempfile.TemporaryFile() as cover, tempfile.TemporaryFile() as names:
        cover_pages = write_pdf(pdf_html(publication), cover, fetcher)
        list_pages = draw_list(
            _pdf_sections(publication),
            _pdf_list_labels(snapshot),
            names,
            first_page=cover_pages + 1,
            page_total=lambda pages: cover_pages + pages,
        )
        if list_pages == 0:
            cover.seek(0)
            shutil.copyfileobj(cover, target)
            return
        # The cover again, now that the total is known (a page or two: well under a second).
        cover.seek(0)
        cover.truncate()
        write_pdf(pdf_html(publication, cover_pages + list_pages), cover, fetcher)
        merge_pdfs([cover, names], target, snapshot.text.get("title", ""))


def render_streamed(publication: Publication, export: ExportFile) -> Iterator[bytes]:
    """The bytes of a txt, csv or json file, rendered from the stored entries."""
    snapshot = snapshot_of(publication)
    if export.format == ExportFormat.TXT and export.by_category:
        return render_txt_by_category(
            snapshot,
            lambda key: public_rows(publication, key, first=False),
            public_rows(publication, first=True),
        )
    if export.format == ExportFormat.TXT:
        return render_txt(
            press_rows(publication), section_headings(snapshot.language), snapshot_as_of(snapshot)
        )
    if export.format == ExportFormat.CSV and export.for_excel:
        return render_csv_for_excel(snapshot, press_rows(publication))
    if export.format == ExportFormat.CSV:
        if db.session.connection().dialect.name == "postgresql":
            return _copied_csv(publication)
        return render_csv(snapshot, press_rows(publication))
    if export.format == ExportFormat.JSON:
        return render_json(snapshot, earlier_headers(publication), json_entries(publication))
    raise ValueError(f"{export.name} is rendered once and stored")


def render_stored(publication: Publication, export: ExportFile, url_fetcher=None) -> bytes:
    """The bytes of an xlsx or pdf file, rendered now."""
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as target:
        if export.format == ExportFormat.XLSX:
            write_xlsx(snapshot_of(publication), press_rows(publication), target)
        elif export.format == ExportFormat.PDF:
            write_publication_pdf(publication, target, url_fetcher)
        else:
            raise ValueError(f"{export.name} is streamed")
        target.seek(0)
        return target.read()


def _record(publication: Publication, export: ExportFile) -> PublicationFile | None:
    return db.session.get(PublicationFile, (publication.id, export.record_name))


def file_records(publication: Publication) -> dict[str, PublicationFile]:
    """The files of a publication rendered so far, by file name (without their bytes)."""
    query = select(PublicationFile).where(PublicationFile.publication_id == publication.id)
    records = {record.name: record for record in db.session.scalars(query)}
    return {
        export.name: records[export.record_name]
        for export in EXPORT_FILES
        if export.record_name in records
    }


def _save_record(record: PublicationFile) -> PublicationFile:
    db.session.add(record)
    try:
        db.session.commit()
    except IntegrityError:
        # Rendered at the same time by another request or job: keep theirs, same bytes.
        db.session.rollback()
        return db.session.get(PublicationFile, (record.publication_id, record.name))
    return record


def prepare_file(publication: Publication, export: ExportFile, now: datetime) -> PublicationFile:
    """The file's digest and size (and bytes for xlsx and pdf), rendering it if needed."""
    record = _record(publication, export)
    if record is not None:
        return record
    if export.format in STORED_FORMATS:
        content = render_stored(publication, export)
        digest, size = sha256_hex(content), len(content)
    else:
        content = None
        hasher, size = hashlib.sha256(), 0
        for chunk in render_streamed(publication, export):
            hasher.update(chunk)
            size += len(chunk)
        digest = hasher.hexdigest()
    record = PublicationFile(
        publication_id=publication.id,
        name=export.record_name,
        sha256=digest,
        size=size,
        content=content,
        created_at=now,
    )
    return _save_record(record)


def file_for_download(
    publication: Publication, export: ExportFile, now: datetime
) -> PublicationFile | None:
    """The file's record, or None while a job renders a large xlsx or pdf."""
    record = _record(publication, export)
    if record is not None:
        return record
    limit = INLINE_RENDER_ENTRIES.get(export.format)
    if limit is not None and publication.entry_count > limit:
        enqueue(render_publication_files, publication.id)
        # Without Redis the job ran just now, in this process.
        return _record(publication, export)
    return prepare_file(publication, export, now)


def file_chunks(publication: Publication, export: ExportFile, record: PublicationFile):
    """The bytes of a file, streamed: rendered again for txt, csv and json, read from the
    database a megabyte at a time for xlsx and pdf."""
    if export.format not in STORED_FORMATS:
        yield from render_streamed(publication, export)
        return
    for offset in range(0, record.size, STORED_CHUNK_SIZE):
        chunk = db.session.scalar(
            select(func.substr(PublicationFile.content, offset + 1, STORED_CHUNK_SIZE)).where(
                PublicationFile.publication_id == publication.id,
                PublicationFile.name == export.record_name,
            )
        )
        if chunk is None:
            raise RuntimeError(f"{export.name} of publication {publication.id} vanished")
        yield bytes(chunk)


def render_publication_files(publication_id: int) -> None:
    """Job: render the files of a publication that are not rendered yet (xlsx and pdf bytes,
    digests of the others), so that downloads and the press page find them ready. Takes an
    id; harmless when run twice. Skipped once a later publication exists: with one every
    few minutes, a queue that fell behind renders the latest only (a download of an older
    one renders what it needs)."""
    publication = db.session.get(Publication, publication_id)
    if publication is None:
        return
    latest = latest_publication(publication.petition_id)
    if latest is not None and latest.sequence > publication.sequence:
        log.info("publication %d superseded before its files were rendered", publication_id)
        return
    prepare_publication_files(publication_id, utcnow())


def prepare_publication_files(publication_id: int, now: datetime) -> int:
    """Render every file of a publication that is not rendered yet; returns how many."""
    publication = db.session.get(Publication, publication_id)
    if publication is None:
        return 0
    prepared = 0
    for export in offered_files(publication):
        if _record(publication, export) is None:
            prepare_file(publication, export, now)
            prepared += 1
    return prepared


# How long the rendered bytes of a superseded publication's xlsx and pdf stay stored after
# the next publication: a journalist who just saw them listed with their digest on the
# press page can still download those very bytes; later, a download renders them anew.
SUPERSEDED_FILES_KEPT = timedelta(days=1)


def prune_superseded_files(now: datetime, kept: timedelta = SUPERSEDED_FILES_KEPT) -> int:
    """Delete what no stable address or verification needs any more (the daily maintenance):
    the stored xlsx and pdf bytes of every publication superseded more than `kept` ago, and
    the digests taken under an earlier RENDERING_VERSION. Never the latest publication's
    files, and never a publication itself: its header, hash, root, frontier and entries are
    what verifies it; its files are rendered from them again when downloaded (the same
    cells and text; an xlsx or pdf gets new bytes, so a new digest). Returns how many rows
    were deleted."""
    newer = aliased(Publication)
    superseded = select(Publication.id).where(
        select(newer.id)
        .where(
            newer.petition_id == Publication.petition_id,
            newer.sequence > Publication.sequence,
            newer.published_at < now - kept,
        )
        .exists()
    )
    stored = [export.record_name for export in EXPORT_FILES if export.format in STORED_FORMATS]
    current = [export.record_name for export in EXPORT_FILES]
    pruned = db.session.execute(
        delete(PublicationFile)
        .where(
            PublicationFile.name.in_(stored),
            PublicationFile.publication_id.in_(superseded),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    pruned += db.session.execute(
        delete(PublicationFile)
        .where(PublicationFile.name.not_in(current))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if pruned:
        log.info("pruned %d stored file(s) of superseded publications or renderings", pruned)
    return pruned


# --- Receipts and proofs ---------------------------------------------------------------------


def receipt_for(signature: Signature) -> str | None:
    """The signer's receipt: the leaf hash of their entry in the latest publication that
    includes it, else of their current public entry; None when their name is not public."""
    if not signature.published:
        return None
    leaf = db.session.scalar(
        select(PublicationEntry.leaf)
        .where(
            PublicationEntry.signature_id == signature.id, PublicationEntry.until_sequence.is_(None)
        )
        .order_by(PublicationEntry.since_sequence.desc())
        .limit(1)
    )
    return leaf or public_entry(signature).leaf().hex()


def normalise_receipt(text: str | None) -> str | None:
    """A pasted receipt as 64 lowercase hex digits, or None if it is not one."""
    cleaned = "".join((text or "").split()).lower()
    if len(cleaned) == 64 and all(char in "0123456789abcdef" for char in cleaned):
        return cleaned
    return None


@dataclass(frozen=True)
class InclusionProof:
    """An RFC 6962 audit path of one leaf in a publication's tree."""

    publication: Publication
    leaf: str
    index: int
    size: int
    path: list[str]

    def as_json(self) -> dict[str, Any]:
        """The proof as published at /p/<slug>/proof.json (docs/publication.md)."""
        return {
            "format": "tribune-inclusion-proof/1",
            "hash": self.publication.hash,
            "index": self.index,
            "leaf": self.leaf,
            "path": self.path,
            "publication": self.publication.header_fields,
            "root": self.publication.root,
            "size": self.size,
        }


def inclusion_proof(petition_id: int, receipt: str) -> InclusionProof | None:
    """The proof that a receipt is a leaf of the latest publication, or None if it is not."""
    publication = latest_publication(petition_id)
    if publication is None:
        return None
    membership = PublicationEntry.member_of(petition_id, publication.sequence)
    order = PublicationEntry.public_order()
    found = db.session.execute(
        select(*order, PublicationEntry.position)
        .where(membership, PublicationEntry.leaf == receipt)
        .limit(1)
    ).first()
    if found is None:
        return None
    if publication.is_log:
        index = found.position
    else:
        index = db.session.scalar(
            select(func.count(PublicationEntry.id)).where(
                membership, tuple_(*order) < tuple_(*tuple(found)[:3])
            )
        )
    path = inclusion_path(index, publication.leaf_count, tree_leaves(publication))
    return InclusionProof(
        publication=publication,
        leaf=receipt,
        index=index,
        size=publication.leaf_count,
        path=[node.hex() for node in path],
    )


def publish_by(petition: Petition, actor, now: datetime) -> Publication:
    """Publish from the workspace, and record who did it in the audit log."""
    publication = publish_snapshot(petition, now, full=True)
    record(
        "list published",
        now,
        actor=actor,
        petition_id=petition.id,
        detail=f"publication {publication.sequence}, root {publication.root[:16]}",
        count=publication.entry_count,
    )
    db.session.commit()
    return publication
