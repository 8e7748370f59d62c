"""Official registers: RPPS numbers and their Luhn check, comparing names, importing the
public RPPS extract as a new generation switched to atomically, looking a number up, and
matching a member of parliament to the officials directory."""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from campaign.errors import InvalidRegistryNumber
from campaign.extensions import db
from campaign.levels import checked_rpps
from campaign.verification.models import (
    ImportStatus,
    RegistryImport,
    RegistryName,
    RppsRecord,
)

# "Type d'identifiant PP": 8 for an RPPS number; 0 (ADELI) lines are not RPPS numbers.
RPPS_IDENTIFIER_TYPE = "8"
TYPE_COLUMN = "Type d'identifiant PP"
NUMBER_COLUMN = "Identifiant PP"
LAST_NAME_COLUMN = "Nom d'exercice"
FIRST_NAME_COLUMN = "Prénom d'exercice"
PROFESSION_CODE_COLUMN = "Code profession"
PROFESSION_LABEL_COLUMN = "Libellé profession"
REQUIRED_COLUMNS = (
    NUMBER_COLUMN,
    LAST_NAME_COLUMN,
    FIRST_NAME_COLUMN,
    PROFESSION_CODE_COLUMN,
    PROFESSION_LABEL_COLUMN,
)
BATCH_SIZE = 5000
# Past this many errors a strict import stops reading: the file is not the expected one.
MAX_REPORTED_ERRORS = 100
NAME_MAX = 100
LABEL_MAX = 200
# Letters that Unicode does not decompose but that spell two letters.
LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l"})


# --- Numbers and names ---------------------------------------------------------------------


def name_key(name: str) -> str:
    """A name with accents, case, hyphens, spaces and apostrophes ignored:
    'Jean-François' and 'JEAN FRANCOIS' give the same key."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().translate(LIGATURES))
    return "".join(char for char in decomposed if char.isalnum())


def names_agree(first_name: str, last_name: str, other_first: str, other_last: str) -> bool:
    """Same first and last names, ignoring accents, case and hyphens; never on empty keys."""
    last, first = name_key(last_name), name_key(first_name)
    return bool(last and first) and (last, first) == (name_key(other_last), name_key(other_first))


# --- Importing the RPPS extract ------------------------------------------------------------


@dataclass(frozen=True)
class RegisterLineError:
    """One problem in the file: its line, the column concerned (if any), and why."""

    line: int
    field: str | None
    reason: str

    def __str__(self) -> str:
        if self.field:
            return f"line {self.line}, field {self.field!r}: {self.reason}"
        return f"line {self.line}: {self.reason}"


@dataclass
class RegisterImportReport:
    """What an import read, stored or refused."""

    lines: int = 0
    records: int = 0
    people: int = 0
    skipped: int = 0
    invalid: int = 0
    errors: list[RegisterLineError] = field(default_factory=list)
    imported: bool = False
    import_id: int | None = None

    def error(self, line: int, field_name: str | None, reason: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RegisterLineError(line, field_name, reason))


def _columns(header: list[str], report: RegisterImportReport) -> dict[str, int] | None:
    names = [name.strip().lstrip("\ufeff") for name in header]
    positions = {name: index for index, name in enumerate(names) if name}
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    for name in missing:
        report.error(1, name, "missing column in the header row")
    return None if missing else positions


def _record_of(
    row: list[str], line: int, columns: dict[str, int], report: RegisterImportReport
) -> dict[str, str] | None:
    """The stored fields of one line, or None (skipped or invalid, noted in the report)."""
    type_index = columns.get(TYPE_COLUMN)
    if type_index is not None and row[type_index].strip() not in ("", RPPS_IDENTIFIER_TYPE):
        report.skipped += 1
        return None
    number = row[columns[NUMBER_COLUMN]].strip()
    try:
        checked_rpps(number)
    except InvalidRegistryNumber as error:
        report.error(line, NUMBER_COLUMN, f"{error} ({number!r})")
        return None
    values = {
        "rpps": number,
        "last_name": row[columns[LAST_NAME_COLUMN]].strip(),
        "first_name": row[columns[FIRST_NAME_COLUMN]].strip(),
        "profession_code": row[columns[PROFESSION_CODE_COLUMN]].strip()[:10],
        "profession_label": row[columns[PROFESSION_LABEL_COLUMN]].strip(),
    }
    if not values["last_name"]:
        report.error(line, LAST_NAME_COLUMN, "empty")
        return None
    for column, key, limit in (
        (LAST_NAME_COLUMN, "last_name", NAME_MAX),
        (FIRST_NAME_COLUMN, "first_name", NAME_MAX),
        (PROFESSION_LABEL_COLUMN, "profession_label", LABEL_MAX),
    ):
        if len(values[key]) > limit:
            report.error(line, column, f"longer than {limit} characters")
            return None
    return values


def _insert_records(rows: list[dict[str, Any]]) -> None:
    """Insert register rows: COPY on PostgreSQL (the extract has millions of lines)."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        db.session.execute(insert(RppsRecord), rows)
        return
    names = ("import_id", "rpps", "last_name", "first_name", "profession_code",
             "profession_label")  # fmt: skip
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY rpps_records ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])


def _drop_generations(registry: RegistryName, statuses: Iterable[ImportStatus]) -> None:
    """Delete the generations of a register in these states, and their records."""
    ids = list(
        db.session.scalars(
            select(RegistryImport.id).where(
                RegistryImport.register == registry, RegistryImport.status.in_(list(statuses))
            )
        )
    )
    if ids:
        db.session.execute(delete(RppsRecord).where(RppsRecord.import_id.in_(ids)))
        db.session.execute(delete(RegistryImport).where(RegistryImport.id.in_(ids)))
    db.session.commit()


def _read_into(
    generation_id: int,
    lines: Iterable[str],
    report: RegisterImportReport,
    skip_invalid: bool,
) -> None:
    """Stream the file into the generation, a batch at a time."""
    reader = csv.reader(lines, delimiter="|", quoting=csv.QUOTE_NONE)
    try:
        header = next(reader, None)
        if header is None:
            report.error(1, None, "the file is empty")
            return
        columns = _columns(header, report)
        if columns is None:
            return
        width = len(header)
        batch: list[dict[str, Any]] = []
        previous: tuple[str, str] | None = None
        for row in reader:
            line = reader.line_num
            if not row or row == [""]:
                continue
            report.lines += 1
            if len(row) != width:
                found = f'{len(row)} fields separated by "|", the header row {width}'
                report.error(line, None, found)
            else:
                values = _record_of(row, line, columns, report)
                # Lines of one professional's several activities follow one another.
                if values is not None and previous != (values["rpps"], values["profession_code"]):
                    previous = (values["rpps"], values["profession_code"])
                    batch.append({"import_id": generation_id, **values})
            if report.invalid >= MAX_REPORTED_ERRORS and not skip_invalid:
                report.error(line, None, "too many errors: stopped reading")
                return
            if len(batch) >= BATCH_SIZE:
                _insert_records(batch)
                report.records += len(batch)
                batch.clear()
                db.session.commit()
        _insert_records(batch)
        report.records += len(batch)
        db.session.commit()
    except (csv.Error, UnicodeDecodeError) as error:
        db.session.rollback()
        reason = "not UTF-8 text" if isinstance(error, UnicodeDecodeError) else str(error)
        report.error(reader.line_num + 1, None, reason)


def import_rpps_register(
    lines: Iterable[str], source: str, now: datetime, *, skip_invalid: bool = False
) -> RegisterImportReport:
    """Import the RPPS extract ("PS_LibreAcces_Personne_activite": UTF-8, "|"-separated,
    a header row) from an iterable of lines, streamed. The lines are written as a new
    generation that look-ups cannot see; then, if no line was invalid (or `skip_invalid`),
    one transaction makes it the active register and the previous one is deleted. Otherwise
    nothing changes and the report lists each error by line and column."""
    report = RegisterImportReport()
    # A generation left half-written by an interrupted import is of no use.
    _drop_generations(RegistryName.RPPS, [ImportStatus.LOADING])
    generation = RegistryImport(
        register=RegistryName.RPPS, status=ImportStatus.LOADING, source=source[:255], started_at=now
    )
    db.session.add(generation)
    db.session.commit()
    generation_id = generation.id
    try:
        _read_into(generation_id, lines, report, skip_invalid)
    except BaseException:
        db.session.rollback()
        _drop_generations(RegistryName.RPPS, [ImportStatus.LOADING])
        raise
    if report.records == 0 and not report.errors:
        report.error(max(report.lines, 1) + 1, None, "no RPPS number in the file")
    if (report.errors and not skip_invalid) or report.records == 0:
        _drop_generations(RegistryName.RPPS, [ImportStatus.LOADING])
        return report
    report.people = db.session.scalar(
        select(func.count(func.distinct(RppsRecord.rpps))).where(
            RppsRecord.import_id == generation_id
        )
    )
    # The switch: one transaction, so a look-up sees the old register or the new one.
    db.session.execute(
        update(RegistryImport)
        .where(
            RegistryImport.register == RegistryName.RPPS,
            RegistryImport.status == ImportStatus.ACTIVE,
        )
        .values(status=ImportStatus.SUPERSEDED)
    )
    db.session.execute(
        update(RegistryImport)
        .where(RegistryImport.id == generation_id)
        .values(
            status=ImportStatus.ACTIVE,
            activated_at=now,
            line_count=report.lines,
            record_count=report.records,
        )
    )
    db.session.commit()
    _drop_generations(RegistryName.RPPS, [ImportStatus.SUPERSEDED])
    report.imported = True
    report.import_id = generation_id
    return report


def active_register(registry: RegistryName = RegistryName.RPPS) -> RegistryImport | None:
    """The generation look-ups read, if a register was imported."""
    return db.session.scalar(
        select(RegistryImport).where(
            RegistryImport.register == registry, RegistryImport.status == ImportStatus.ACTIVE
        )
    )


# --- Looking up -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterAnswer:
    """What the active register says about a number and the names given with it."""

    found: bool
    matched: bool
    profession: str | None = None
    # The names under which the register knows the number (public register data).
    register_names: tuple[str, ...] = ()


def look_up_rpps(number: str, first_name: str, last_name: str) -> RegisterAnswer:
    """Whether the number is in the active RPPS register under these names; the verified
    profession is the label of its matching line(s)."""
    rows = db.session.execute(
        select(RppsRecord.first_name, RppsRecord.last_name, RppsRecord.profession_label)
        .join(RegistryImport, RegistryImport.id == RppsRecord.import_id)
        .where(
            RegistryImport.register == RegistryName.RPPS,
            RegistryImport.status == ImportStatus.ACTIVE,
            RppsRecord.rpps == number,
        )
        .order_by(RppsRecord.profession_code, RppsRecord.id)
    ).all()
    if not rows:
        return RegisterAnswer(found=False, matched=False)
    names = tuple(dict.fromkeys(f"{row.last_name} {row.first_name}".strip() for row in rows))
    labels = [
        row.profession_label
        for row in rows
        if names_agree(first_name, last_name, row.first_name, row.last_name)
    ]
    if not labels:
        return RegisterAnswer(found=True, matched=False, register_names=names)
    profession = ", ".join(dict.fromkeys(label for label in labels if label)) or None
    return RegisterAnswer(found=True, matched=True, profession=profession, register_names=names)


# --- The officials directory ---------------------------------------------------------------


def roster_official_id(addresses: Iterable[str], first_name: str, last_name: str) -> int | None:
    """The id of the active member of parliament (député, sénateur, député européen) whose
    official address is one of `addresses` and whose names agree, if any."""
    from campaign.officials.models import Official, OfficialRole

    wanted = sorted({address.strip().lower() for address in addresses if address})
    if not wanted:
        return None
    parliament = [OfficialRole.DEPUTE, OfficialRole.SENATEUR, OfficialRole.DEPUTE_EUROPEEN]
    officials = db.session.execute(
        select(Official.id, Official.first_name, Official.last_name).where(
            func.lower(Official.email).in_(wanted),
            Official.active.is_(True),
            Official.role.in_(parliament),
        )
    ).all()
    for official in officials:
        if names_agree(first_name, last_name, official.first_name, official.last_name):
            return official.id
    return None
