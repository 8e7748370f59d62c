"""Reading the CSV files organisers import (signature lists, the officials directory): decoding,
delimiter, header names and their aliases, line numbers, and the checks every text cell gets.

A reader reports every problem as a LineError ("line N, field F: reason"), the header being
line 1, so that a spreadsheet user finds the cell to correct.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from campaign.text_rules import (
    FORMULA_CHARACTERS,
    contains_link,
    contains_web_address,
    has_control_characters,
)

NAME_MAX, TEXT_MAX = 100, 200


@dataclass(frozen=True)
class LineError:
    """Why a line of the file cannot be imported; `field` is a column, or "" for the line."""

    line: int
    field: str
    reason: LazyString | str

    def __str__(self) -> str:
        where = f"line {self.line}, field {self.field}" if self.field else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class CsvTable:
    """The rows of a file, each as its line number and {column: stripped text}, and the errors
    found while reading it. `unreadable` when the file itself is wrong (not UTF-8, empty, bad
    header, an open quotation mark): then `rows` is empty."""

    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    unreadable: bool = False
    # Each column's name as the file's header writes it ("Courriel" for email).
    labels: dict[str, str] = field(default_factory=dict)

    def label(self, column: str) -> str:
        """The column's name in the file, for error messages."""
        return self.labels.get(column, column)


def decode_csv(content: bytes) -> tuple[str, LineError | None]:
    """The text of the file (UTF-8, with or without BOM), or the line where it is not UTF-8."""
    try:
        return content.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        line = content[: error.start].count(b"\n") + 1
        reason = _l("This line is not UTF-8 text: save the file as “CSV UTF-8”.")
        return "", LineError(line, "", reason)


def csv_delimiter(text: str) -> str:
    """Semicolon (French spreadsheets) or comma, whichever the header line uses more."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def header_key(name: str) -> str:
    """A column name as looked up: "Prénom" and "e-mail" become "prenom" and "e_mail"."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lower())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return re.sub(r"[\s\-]+", "_", bare)


def departement_code(value: str) -> str:
    """The code as DEPARTEMENTS spells it: spreadsheets drop the leading zero of "01"."""
    value = value.upper()
    return value.zfill(2) if value.isdigit() and len(value) == 1 else value


def starts_like_formula(value: str) -> bool:
    """Whether a spreadsheet would read the cell as a formula ("CSV injection")."""
    return value[:1] in FORMULA_CHARACTERS


def _name_problem(value: str, limit: int) -> LazyString | None:
    """What every name must be: given, not too long, one line of visible text."""
    if not value:
        return _l("Required.")
    if len(value) > limit:
        return _l("At most %(max)d characters.", max=limit)
    if has_control_characters(value):
        return _l("This field contains characters that are not allowed.")
    return None


def check_name(value: str, limit: int = NAME_MAX) -> LazyString | None:
    """Why a required person's name cannot be taken, or None."""
    problem = _name_problem(value, limit)
    if problem is None and contains_web_address(value):
        return _l("A name cannot contain a web address.")
    return problem


def check_organisation_name(value: str, limit: int = NAME_MAX) -> LazyString | None:
    """Why an organisation's name cannot be taken, or None: as it names itself, a bare
    domain included (example.org), but no link (a scheme, or a domain with a path)."""
    problem = _name_problem(value, limit)
    if problem is None and contains_link(value):
        return _l("A name cannot contain a link (https://… or a path after a domain).")
    return problem


def check_text(value: str, limit: int = TEXT_MAX) -> LazyString | None:
    """Why an optional line of text cannot be taken, or None."""
    if len(value) > limit:
        return _l("At most %(max)d characters.", max=limit)
    if has_control_characters(value):
        return _l("This field contains characters that are not allowed.")
    return None


def _columns_of(
    header: list[str], columns: Iterable[str], required: Iterable[str], aliases: Mapping[str, str]
) -> tuple[list[str], dict[str, str], list[LineError]]:
    """The canonical column of each header cell ("" to ignore), the name each column has in
    the file, and the header's errors."""
    known = {header_key(column): column for column in columns}
    known.update((header_key(alias), column) for alias, column in aliases.items())
    names, labels, errors = [], {}, []
    for cell in header:
        written = cell.strip()
        column = known.get(header_key(written), "") if written else ""
        if written and not column:
            errors.append(LineError(1, written, _l("Unknown column.")))
        elif column in labels:
            errors.append(LineError(1, written, _l("This column appears twice.")))
            column = ""
        elif column:
            labels[column] = written
        names.append(column)
    errors += [
        LineError(1, column, _l("Missing column.")) for column in required if column not in labels
    ]
    return names, labels, errors


def read_csv_table(
    content: bytes,
    columns: Iterable[str],
    *,
    required: Iterable[str] = (),
    aliases: Mapping[str, str] | None = None,
    max_rows: int | None = None,
) -> CsvTable:
    """Decode and parse a CSV file with a header row (comma or semicolon), mapping header names
    (case, accents and `aliases` aside) to `columns`. Blank rows are skipped; absent optional
    columns read as "". Line numbers are the file's, the header being line 1."""
    columns = tuple(columns)
    text, error = decode_csv(content)
    if error is not None:
        return CsvTable(errors=[error], unreadable=True)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=csv_delimiter(text))
    header = next(reader, None)
    if header is None or not any(name.strip() for name in header):
        return CsvTable(errors=[LineError(1, "", _l("The file is empty."))], unreadable=True)
    names, labels, header_errors = _columns_of(header, columns, required, aliases or {})
    if header_errors:
        return CsvTable(errors=header_errors, unreadable=True)
    table = CsvTable(labels=labels)
    number = reader.line_num + 1
    try:
        for row in reader:
            cells = [cell.strip() for cell in row]
            if any(cells[len(names) :]):
                reason = _l(
                    "%(found)d values for %(columns)d columns.",
                    found=len(cells),
                    columns=len(names),
                )
                table.errors.append(LineError(number, "", reason))
            elif any(cells):
                values = dict.fromkeys(columns, "")
                values.update(
                    (name, cell) for name, cell in zip(names, cells, strict=False) if name
                )
                table.rows.append((number, values))
                if max_rows is not None and len(table.rows) > max_rows:
                    reason = _l("At most %(max)d lines per file.", max=max_rows)
                    return CsvTable(errors=[LineError(number, "", reason)], unreadable=True)
            number = reader.line_num + 1
    except csv.Error:
        # A quotation mark left open swallows the rest of the file into one field.
        reason = _l("This line cannot be read: check its quotation marks.")
        return CsvTable(errors=[LineError(number, "", reason)], unreadable=True)
    return table
