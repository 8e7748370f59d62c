"""The published list as files: txt, csv, json (streamed, the same bytes at every rendering)
and xlsx, pdf (rendered once). Each takes a Snapshot (what a publication fixed) and the
entries in public order; nothing here reads the database or the clock."""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, BinaryIO, NamedTuple
from zoneinfo import ZoneInfo

from campaign.publication.merkle import canonical_json, leaf_hash
from campaign.text_rules import FORMULA_CHARACTERS

# WeasyPrint logs every layout step at INFO: one line per page of a long list.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

FORMAT_VERSION = "tribune-publication/1"
# The txt, csv and json files are rendered again at each download and must come out byte for
# byte as when their digest was taken: bump this whenever a change here alters those bytes.
RENDERING_VERSION = "r4"
CHUNK_SIZE = 64 * 1024
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
CSV_COLUMNS = (
    "last_name",
    "first_name",
    "title",
    "organisation",
    "category",
    "category_label",
    "confirmed_on",
    "verification",
    "verified_profession",
    "first_signatory",
)
XLSX_ALL_SHEET = "All"
# The files a journalist opens in a spreadsheet (xlsx, and the csv for French Excel) speak
# the petition's language: fixed here, with the words of the pages, since these files are
# rendered outside any request (jobs, commands) and the csv's bytes must never change.
PRESS_COLUMNS = {
    "fr": ("Nom", "Prénom", "Fonction", "Organisation", "Catégorie", "Confirmée le",
           "Vérification", "Profession vérifiée", "Premier signataire"),
    "en": ("Last name", "First name", "Title", "Organisation", "Category", "Confirmed on",
           "Verification", "Verified profession", "First signatory"),
}  # fmt: skip
PRESS_ALL_SHEET = {"fr": "Tous les signataires", "en": "All signatories"}
PRESS_FIRST_SHEET = {"fr": "Premiers signataires", "en": "First signatories"}
PRESS_DATE_FORMATS = {"fr": ("DD/MM/YYYY", "%d/%m/%Y"), "en": ("YYYY-MM-DD", "%Y-%m-%d")}
LEVEL_LABELS = {
    "fr": {
        "none": "adresse non confirmée",
        "email": "adresse électronique confirmée",
        "domain": "adresse officielle",
        "registry": "nom et numéro au répertoire RPPS",
        "roster": "nom et adresse officielle dans l’annuaire des parlementaires",
        "moderator": "contrôle de la modération",
        "attested": "attesté par les organisateurs",
    },
    "en": {
        "none": "address not confirmed",
        "email": "email address confirmed",
        "domain": "official address",
        "registry": "name and number in the RPPS register",
        "roster": "name and official address in the officials directory",
        "moderator": "moderator check",
        "attested": "attested by the organisers",
    },
}
# Column widths of the xlsx, in characters.
PRESS_COLUMN_WIDTHS = (24, 20, 36, 30, 26, 14, 30, 22, 12)
# The headings of the txt files when the list has first signatories, in the petition's
# language: fixed here, not translated, since the bytes of a txt file must never change.
SECTION_HEADINGS = {
    "fr": ("Premiers signataires", "Autres signataires"),
    "en": ("First signatories", "Other signatories"),
}
# The moment a file reflects, said in its content (the txt's first line, the Excel csv's
# title row, the xlsx's "About" sheet): in Paris time whatever the server's settings, and
# with words fixed here rather than Babel's (whose data changes between releases), since the
# bytes of the txt and csv files must never change.
AS_OF_ZONE = ZoneInfo("Europe/Paris")
MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
PRESS_ABOUT_SHEET = {"fr": "À propos", "en": "About"}
PRESS_ABOUT_LINES = {
    "fr": (
        "Publication n\u00b0\u00a0{sequence}",
        "Empreinte (SHA-256) de la publication\u00a0: {hash}",
    ),
    "en": ("Publication no. {sequence}", "Publication hash (SHA-256): {hash}"),
}
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8; header=present",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


class Entry(NamedTuple):
    """One signatory as published: only the fields they agreed to publish. A tuple, in the
    order of the database rows the files are rendered from (see PublicEntry)."""

    last_name: str
    first_name: str
    title: str | None
    organisation: str | None
    category: str
    confirmed_on: str
    salt: str
    # The verification level (campaign/verification), and the profession a register names;
    # None in entries published before levels existed.
    verification: str | None = None
    verified_profession: str | None = None
    # A first signatory's rank among them ("1", "2"...), in the organisers' order; None for
    # the others, and in entries published before first signatories existed.
    first_signatory: str | None = None

    def fields(self) -> dict[str, str]:
        """The entry's JSON object; title and organisation only when published, the level
        when known, the verified profession when a register gave one, the rank of a first
        signatory (so that the digest signs who is one, and in which order)."""
        fields = {
            "category": self.category,
            "confirmed_on": self.confirmed_on,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "salt": self.salt,
        }
        if self.title:
            fields["title"] = self.title
        if self.organisation:
            fields["organisation"] = self.organisation
        if self.verification:
            fields["verification"] = self.verification
        if self.verified_profession:
            fields["verified_profession"] = self.verified_profession
        if self.first_signatory:
            fields["first_signatory"] = self.first_signatory
        return fields

    def canonical(self) -> bytes:
        """The bytes hashed into the leaf (docs/publication.md): canonical_json of fields(),
        written out here because it runs once per signatory (all values are strings)."""
        fields = {key: _nfc(value) for key, value in self.fields().items()}
        text = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return text.encode()

    def leaf(self) -> bytes:
        """RFC 6962 leaf hash of the entry."""
        return leaf_hash(self.canonical())

    def line(self) -> str:
        """'Surname Firstname, Title, Organisation', as newspapers print it."""
        return signatory_line(self)


@dataclass(frozen=True, slots=True)
class ErasedEntry:
    """An entry whose signer left the list after it was published: only its leaf remains."""

    leaf_hex: str

    def canonical(self) -> bytes:
        """The stand-in object of the JSON file."""
        return canonical_json({"erased": self.leaf_hex})

    def leaf(self) -> bytes:
        """The leaf hash, kept so that the publication's root still verifies."""
        return bytes.fromhex(self.leaf_hex)


AnyEntry = Entry | ErasedEntry


@dataclass(frozen=True)
class Snapshot:
    """What a publication fixed: header, texts and categories as they were then."""

    slug: str
    language: str
    sequence: int
    published_at: datetime
    header_json: str
    hash: str
    texts_json: str
    categories: list[dict[str, str]]
    header: dict[str, Any] = field(init=False)
    texts: dict[str, dict[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "header", json.loads(self.header_json))
        object.__setattr__(self, "texts", json.loads(self.texts_json))

    @property
    def text(self) -> dict[str, str]:
        """The texts in the petition's own language."""
        return self.texts.get(self.language) or next(iter(self.texts.values()))

    def label(self, key: str | None) -> str:
        """A category's label in the petition's language."""
        for category in self.categories:
            if category["key"] == key:
                return category["label_en" if self.language == "en" else "label_fr"]
        return key or ""


# What the txt, csv, xlsx and pdf files print: an Entry, or a database row of the same
# ten columns in the same order. The renderers unpack them as tuples: reading a
# SQLAlchemy row by attribute costs about a microsecond a field, a million times over.
PublicEntry = Sequence[Any]


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def one_line(text: str) -> str:
    """Control characters and line breaks as single spaces."""
    return " ".join(CONTROL_CHARACTERS.sub(" ", text).split())


def signatory_line(entry: PublicEntry) -> str:
    """'Surname Firstname, Title, Organisation': fields joined by ", ", empty ones left out,
    on one line whatever the fields contain; an organisation (no first name): 'Name,
    Description'."""
    last_name, first_name, title, organisation, *_ = entry
    line = last_name + " " + first_name if first_name else last_name
    if title:
        line += ", " + title
    if organisation:
        line += ", " + organisation
    return CONTROL_CHARACTERS.sub(" ", line) if CONTROL_CHARACTERS.search(line) else line


def neutralise_cell(value: str) -> str:
    """A cell no spreadsheet evaluates: a leading formula character gets a ' before it."""
    return "'" + value if value[:1] in FORMULA_CHARACTERS else value


def _chunks(pieces: Iterable[str]) -> Iterator[bytes]:
    """Join strings into UTF-8 chunks of about CHUNK_SIZE bytes (or more for one long
    piece): a response of many small writes would be slow to send."""
    buffer: list[str] = []
    size = 0
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= CHUNK_SIZE:
            yield "".join(buffer).encode()
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer).encode()


def _batched_lines(lines: Iterable[str], size: int = 500) -> Iterator[str]:
    """Lines joined by the hundred, so that _chunks() handles few pieces."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) == size:
            yield "".join(batch)
            batch.clear()
    if batch:
        yield "".join(batch)


def as_of_line(published_at: datetime, signatures: int, language: str) -> str:
    """What a file says of the moment it reflects, in the petition's language: « Liste
    arrêtée le 7 décembre 2026 à 23 h 40 (heure de Paris) — 1 234 signataires ». Paris time,
    French typography (no-break spaces in the time, a narrow one between thousands)."""
    moment = published_at.replace(tzinfo=UTC).astimezone(AS_OF_ZONE)
    if press_language(language) == "fr":
        day = "1er" if moment.day == 1 else str(moment.day)
        count = f"{signatures:,}".replace(",", "\u202f")
        noun = "signataire" if signatures < 2 else "signataires"
        return (
            f"Liste arrêtée le {day} {MONTHS['fr'][moment.month - 1]} {moment.year} "
            f"à {moment.hour}\u00a0h\u00a0{moment.minute:02d} (heure de Paris) — {count} {noun}"
        )
    noun = "signatory" if signatures == 1 else "signatories"
    return (
        f"List as of {moment.day} {MONTHS['en'][moment.month - 1]} {moment.year}, "
        f"{moment.hour:02d}:{moment.minute:02d} (Paris time) — {signatures:,} {noun}"
    )


def snapshot_as_of(snapshot: Snapshot) -> str:
    """as_of_line() of a publication: its time and the count its header states."""
    return as_of_line(
        snapshot.published_at, int(snapshot.header.get("signatures", 0)), snapshot.language
    )


# --- txt ------------------------------------------------------------------------------------


def section_headings(language: str) -> tuple[str, str]:
    """The txt files' headings of the first signatories and of the others."""
    return SECTION_HEADINGS.get(language, SECTION_HEADINGS["en"])


def _txt_lines(
    entries: Iterable[PublicEntry], headings: tuple[str, str] | None = None
) -> Iterator[str]:
    """The lines; with `headings`, the first signatories (ranked rows, which come first)
    under the first heading, then a blank line and the others under the second."""
    controls = CONTROL_CHARACTERS
    section = None
    for last_name, first_name, title, organisation, _category, _day, _salt, _v, _p, rank in entries:
        if headings is not None and (rank is not None) != (section == 0):
            if rank is not None:
                section = 0
                yield headings[0] + "\n\n"
            elif section == 0:
                section = 1
                yield "\n" + headings[1] + "\n\n"
        # signatory_line(), inlined: this loop runs once per signatory.
        line = last_name + " " + first_name if first_name else last_name
        if title:
            line += ", " + title
        if organisation:
            line += ", " + organisation
        if controls.search(line):
            line = controls.sub(" ", line)
        yield line + "\n"


def _with_as_of(as_of: str | None, pieces: Iterable[str]) -> Iterator[str]:
    """The pieces of a txt file after its first line, `as_of` and a blank line, if given."""
    if as_of is not None:
        yield CONTROL_CHARACTERS.sub(" ", as_of) + "\n\n"
    yield from pieces


def render_txt(
    entries: Iterable[PublicEntry],
    headings: tuple[str, str] | None = None,
    as_of: str | None = None,
) -> Iterator[bytes]:
    """One line per signatory in press order: the first signatories in their rank's order,
    then the others in public order. When there are first signatories, each part comes
    under its heading (section_headings()), with a blank line between them. With `as_of`
    (snapshot_as_of()), the file begins with that line and a blank line: the list is the
    same bytes after it."""
    return _chunks(_with_as_of(as_of, _batched_lines(_txt_lines(entries, headings))))


def render_txt_by_category(
    snapshot: Snapshot,
    entries_in: Callable[[str], Iterable[PublicEntry]],
    first_rows: Iterable[PublicEntry] = (),
) -> Iterator[bytes]:
    """One section per category that has signatories, in the petition's order: the label,
    a blank line, the lines, and a blank line between sections; the first signatories, if
    any, before them in a section of their own (`entries_in` then leaves them out). The
    file begins with snapshot_as_of() and a blank line."""

    def pieces() -> Iterator[str]:
        started = False
        lines = _batched_lines(_txt_lines(first_rows))
        head = next(lines, None)
        if head is not None:
            yield section_headings(snapshot.language)[0] + "\n\n" + head
            yield from lines
            started = True
        for category in snapshot.categories:
            lines = _batched_lines(_txt_lines(entries_in(category["key"])))
            first = next(lines, None)
            if first is None:
                continue
            yield ("\n" if started else "") + snapshot.label(category["key"]) + "\n\n" + first
            yield from lines
            started = True

    return _chunks(_with_as_of(snapshot_as_of(snapshot), pieces()))


# --- csv ------------------------------------------------------------------------------------


def _csv_field(value: str) -> str:
    """One CSV field: neutralised, quoted, its quotes doubled (RFC 4180)."""
    return '"' + neutralise_cell(value).replace('"', '""') + '"'


def csv_header() -> str:
    """The first line of the canonical csv: a byte-order mark and the column names."""
    return "\ufeff" + ",".join(_csv_field(column) for column in CSV_COLUMNS) + "\r\n"


def csv_category_tail(snapshot: Snapshot, key: str) -> str:
    """The category's two fields, and the quote that opens the next one."""
    return ",".join(_csv_field(v) for v in (key, snapshot.label(key))) + ',"'


def _csv_lines(snapshot: Snapshot, entries: Iterable[PublicEntry]) -> Iterator[str]:
    yield csv_header()
    tails = {c["key"]: csv_category_tail(snapshot, c["key"]) for c in snapshot.categories}
    formula = FORMULA_CHARACTERS
    for last, first, title, organisation, category, day, _salt, level, profession, rank in entries:
        # _csv_field() inlined for the fields signers typed: this runs per signatory.
        title, organisation, profession = title or "", organisation or "", profession or ""
        if last[:1] in formula:
            last = "'" + last
        if first[:1] in formula:
            first = "'" + first
        if title[:1] in formula:
            title = "'" + title
        if organisation[:1] in formula:
            organisation = "'" + organisation
        if profession[:1] in formula:
            profession = "'" + profession
        tail = tails.get(category)
        if tail is None:
            tail = _csv_field(category) + ',"","'
        yield (
            '"' + last.replace('"', '""') + '","' + first.replace('"', '""') + '","'
            + title.replace('"', '""') + '","' + organisation.replace('"', '""') + '",'
            + tail + day + '","' + (level or "") + '","'
            + profession.replace('"', '""') + '","' + (str(rank) if rank else "") + '"\r\n'
        )  # fmt: skip


def render_csv(snapshot: Snapshot, entries: Iterable[PublicEntry]) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (so that Excel reads the accents), a header row, every
    field quoted with its quotes doubled, CRLF line ends (RFC 4180; what Python's csv module
    writes with QUOTE_ALL), formula characters neutralised in every cell."""
    return _chunks(_batched_lines(_csv_lines(snapshot, entries)))


# What PostgreSQL's COPY ... TO STDOUT (FORMAT text) writes for the characters it escapes.
COPY_TEXT_ESCAPES = {
    b"\\": b"\\",
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}
COPY_TEXT_ESCAPE = re.compile(rb"\\(.)", re.S)


def copy_text_to_csv(messages: Iterable[bytes]) -> Iterator[bytes]:
    """The canonical csv from the rows of `COPY (SELECT line ...) TO STDOUT`, one line of
    the file per row (see services._csv_line_sql): the header, then the rows joined about
    CHUNK_SIZE bytes at a time, their newlines made CRLF (a row's own newlines, and other
    controls, come escaped, so the only raw newline ends a row) and the escapes undone."""
    yield csv_header().encode()
    buffer: list[bytes] = []
    size = 0
    for message in messages:
        buffer.append(message)
        size += len(message)
        if size >= CHUNK_SIZE:
            yield _copy_chunk(buffer)
            buffer, size = [], 0
    if buffer:
        yield _copy_chunk(buffer)


def _copy_chunk(rows: list[bytes]) -> bytes:
    chunk = b"".join(rows).replace(b"\n", b"\r\n")
    if b"\\" in chunk:
        chunk = COPY_TEXT_ESCAPE.sub(lambda m: COPY_TEXT_ESCAPES[m.group(1)], chunk)
    return chunk


def press_language(language: str) -> str:
    """The language of the spreadsheet files: the petition's, English for any other."""
    return language if language in PRESS_COLUMNS else "en"


def _press_values(
    row: PublicEntry, labels: dict[str, str], levels: dict[str, str]
) -> tuple[list[str], str, int | None]:
    """The text cells of a row in the spreadsheet files' columns (without the date and the
    rank), its confirmation day (YYYY-MM-DD) and its rank."""
    last, first, title, organisation, category, day, _salt, level, profession, rank = row
    texts = [
        last,
        first,
        title or "",
        organisation or "",
        labels.get(category, category),
        # A first signatory's level speaks for itself; other levels in words.
        levels.get(level or "", level or ""),
        profession or "",
    ]
    return texts, day, int(rank) if rank else None


def _excel_field(value: str) -> str:
    return '"' + neutralise_cell(value).replace('"', '""') + '"'


def _excel_csv_lines(snapshot: Snapshot, entries: Iterable[PublicEntry]) -> Iterator[str]:
    language = press_language(snapshot.language)
    labels = {c["key"]: snapshot.label(c["key"]) for c in snapshot.categories}
    levels = LEVEL_LABELS[language]
    day_format = PRESS_DATE_FORMATS[language][1]
    # A title row, as spreadsheets exported for people have: the moment the list reflects.
    yield "\ufeff" + _excel_field(snapshot_as_of(snapshot)) + "\r\n"
    yield ";".join(_excel_field(column) for column in PRESS_COLUMNS[language]) + "\r\n"
    for row in entries:
        texts, day, rank = _press_values(row, labels, levels)
        shown_day = date.fromisoformat(day).strftime(day_format) if day else ""
        cells = [*texts[:5], shown_day, *texts[5:], str(rank) if rank else ""]
        yield ";".join(_excel_field(cell) for cell in cells) + "\r\n"


def render_csv_for_excel(snapshot: Snapshot, entries: Iterable[PublicEntry]) -> Iterator[bytes]:
    """The list for a spreadsheet set up in French (Excel in France reads ; as the
    separator): UTF-8 with a byte-order mark, every field quoted, CRLF line ends, a title
    row saying the moment the list reflects (snapshot_as_of()), then the column headers,
    category and verification level in words and the day as DD/MM/YYYY, in
    the petition's language; formula characters neutralised. The canonical file stays
    render_csv()."""
    return _chunks(_batched_lines(_excel_csv_lines(snapshot, entries)))


# --- json -----------------------------------------------------------------------------------


def petition_object(snapshot: Snapshot) -> dict[str, Any]:
    """The petition part of the JSON file."""
    return {
        "categories": snapshot.categories,
        "language": snapshot.language,
        "slug": snapshot.slug,
        "texts": snapshot.texts,
    }


def render_json(snapshot: Snapshot, chain: list[str], entries: Iterable[str]) -> Iterator[bytes]:
    """The publication as one JSON object (docs/publication.md): the earlier headers, the
    entries (their canonical JSON, as hashed) one per line, the hash, the petition and the
    header. Keys in sorted order."""

    def pieces() -> Iterator[str]:
        yield '{"chain":[' + ",".join(chain) + '],\n"entries":['
        count = 0
        for batch in _batched_lines(",\n" + entry for entry in entries):
            yield ("\n" + batch[2:]) if count == 0 else batch
            count += 1
        yield ("\n]" if count else "]") + ',\n"hash":"' + snapshot.hash + '",\n'
        yield '"petition":' + canonical_json(petition_object(snapshot)).decode() + ",\n"
        yield '"publication":' + snapshot.header_json + "}\n"

    return _chunks(pieces())


# --- xlsx -----------------------------------------------------------------------------------


def sheet_title(label: str, taken: set[str]) -> str:
    """A valid, unique worksheet name: no []:*?/\\, at most 31 characters."""
    base = SHEET_NAME_FORBIDDEN.sub(" ", one_line(label)).strip("' ")[:31] or "-"
    title, number = base, 2
    while title.casefold() in taken:
        suffix = f" ({number})"
        title, number = base[: 31 - len(suffix)] + suffix, number + 1
    taken.add(title.casefold())
    return title


def write_xlsx(snapshot: Snapshot, entries: Iterable[PublicEntry], target: BinaryIO) -> None:
    """A workbook (openpyxl, write-only) for a journalist: a sheet of every signatory (the
    first signatories first), one of the first signatories when there are any, and one per
    category, named in the petition's language; column headers in that language, bold, the
    row frozen and an autofilter on it; widths set; the confirmation day a date cell. Text
    cells stay text, so a value like =1+1 is shown, never computed. The moment the list
    reflects is the document's subject, and a line of the last sheet ("À propos" / "About",
    with the title, the publication's number and hash)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    language = press_language(snapshot.language)
    columns = PRESS_COLUMNS[language]
    levels = LEVEL_LABELS[language]
    date_format = PRESS_DATE_FORMATS[language][0]
    bold = Font(bold=True)
    workbook = Workbook(write_only=True)
    workbook.properties.creator = "Tribune"
    workbook.properties.title = snapshot.text.get("title", "")
    workbook.properties.language = language
    workbook.properties.created = workbook.properties.modified = snapshot.published_at
    # The moment the list reflects, in words: a document property, and the "About" sheet.
    as_of = snapshot_as_of(snapshot)
    workbook.properties.subject = as_of
    taken: set[str] = set()
    rows_written: dict[str, int] = {}

    def new_sheet(label: str):
        sheet = workbook.create_sheet(sheet_title(label, taken))
        sheet.freeze_panes = "A2"
        for number, width in enumerate(PRESS_COLUMN_WIDTHS, start=1):
            sheet.column_dimensions[get_column_letter(number)].width = width
        header = []
        for column in columns:
            cell = WriteOnlyCell(sheet, value=column)
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        rows_written[sheet.title] = 1
        return sheet

    everyone = new_sheet(PRESS_ALL_SHEET[language])
    first_sheet = None
    labels = {category["key"]: snapshot.label(category["key"]) for category in snapshot.categories}
    sheets = {}

    def cells(sheet, texts: list[str], day: str, rank: int | None) -> list[object]:
        row: list[object] = []
        for value in texts:
            if value[:1] in FORMULA_CHARACTERS:
                # openpyxl would store "=..." as a formula: force a text cell, and mark it
                # quote-prefixed so that editing it in Excel keeps it text.
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"
                cell.quotePrefix = True
                row.append(cell)
            else:
                row.append(value or None)
        confirmed = None
        if day:
            confirmed = WriteOnlyCell(sheet, value=date.fromisoformat(day))
            confirmed.number_format = date_format
        return [*row[:5], confirmed, *row[5:], rank]

    def add(sheet, values: list[object]) -> None:
        sheet.append(values)
        rows_written[sheet.title] += 1

    def category_sheets() -> None:
        for category in snapshot.categories:
            sheets[category["key"]] = new_sheet(labels[category["key"]])

    started = False
    for row in entries:
        texts, day, rank = _press_values(row, labels, levels)
        if not started:
            # Ranked rows come first: the first row tells whether there are first
            # signatories, whose sheet then comes before the categories'.
            if rank is not None:
                first_sheet = new_sheet(PRESS_FIRST_SHEET[language])
            category_sheets()
            started = True
        add(everyone, cells(everyone, texts, day, rank))
        if rank is not None and first_sheet is not None:
            add(first_sheet, cells(first_sheet, texts, day, rank))
        sheet = sheets.get(row[4])
        if sheet is not None:
            add(sheet, cells(sheet, texts, day, rank))
    if not started:
        category_sheets()
    last_column = get_column_letter(len(columns))
    for sheet in workbook.worksheets:
        sheet.auto_filter.ref = f"A1:{last_column}{rows_written[sheet.title]}"
    # Last, so that the list is what a spreadsheet opens on.
    about = workbook.create_sheet(sheet_title(PRESS_ABOUT_SHEET[language], taken))
    about.column_dimensions["A"].width = 100
    title = WriteOnlyCell(about, value=neutralise_cell(one_line(snapshot.text.get("title", ""))))
    title.font = bold
    number, digest = PRESS_ABOUT_LINES[language]
    for value in (
        title,
        as_of,
        number.format(sequence=snapshot.sequence),
        digest.format(hash=snapshot.hash),
    ):
        if isinstance(value, str):
            value = WriteOnlyCell(about, value=value)
            value.data_type = "s"
        about.append([value])
    workbook.save(target)


# --- pdf ------------------------------------------------------------------------------------


def refusing_url_fetcher():
    """A WeasyPrint URL fetcher that fetches nothing and records what was asked: a PDF of
    the list never makes a request, whatever a name contains. Only a data: URL of a JPEG
    is read, from the document itself: the petition's image, which Tribune put there
    (names are escaped, so no signer can write one)."""
    from weasyprint.urls import URLFetcher

    class RefusingURLFetcher(URLFetcher):
        def __init__(self) -> None:
            super().__init__(allowed_protocols=("data",))
            self.refused: list[str] = []

        def fetch(self, url, headers=None):
            if url.startswith(IMAGE_DATA_URL_PREFIX):
                return super().fetch(url, headers)
            self.refused.append(url)
            raise ValueError("Tribune fetches no resource while rendering a PDF")

    return RefusingURLFetcher()


IMAGE_DATA_URL_PREFIX = "data:image/jpeg;base64,"


def image_data_url(content: bytes) -> str:
    """A JPEG as a data: URL, the one kind of resource a PDF reads (from itself)."""
    import base64

    return IMAGE_DATA_URL_PREFIX + base64.b64encode(content).decode()


def write_pdf(html: str, target: BinaryIO, url_fetcher=None) -> int:
    """Render HTML as PDF with WeasyPrint, local fonts only; returns the number of pages."""
    from weasyprint import HTML

    fetcher = url_fetcher or refusing_url_fetcher()
    document = HTML(string=html, base_url=None, url_fetcher=fetcher).render()
    document.write_pdf(target)
    return len(document.pages)


def merge_pdfs(parts: list[BinaryIO], target: BinaryIO, title: str) -> None:
    """Concatenate PDF files (pypdf): a long list is laid out in parts, so that WeasyPrint
    never holds a thousand pages in memory at once."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        part.seek(0)
        writer.append(part)
    writer.add_metadata({"/Title": title, "/Creator": "Tribune"})
    writer.write(target)


def css_string(text: str) -> str:
    """A CSS string literal of any text, safe inside a <style> element."""
    escaped = "".join(
        char if char.isalnum() or char in " .,;:!?'()-_&«»’" else f"\\{ord(char):x} "
        for char in one_line(text)
    )
    return f'"{escaped}"'
