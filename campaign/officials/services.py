"""The directory of officials: its import from a CSV file, and its filtered, paginated list.

An import is keyed by the email address (compared without regard to case) and is all or
nothing: one invalid line, and nothing is written; otherwise new officials are created, those
whose record differs are updated, and the others left untouched, in one transaction, so that
importing the same file twice changes nothing the second time. Officials missing from a file
are kept (a partial file must not empty the directory); with `deactivate_missing`, those
recorded from the same source(s) as the file's lines are retired (`active` false), and a later
import that lists them again brings them back. Listing an official whose address bounced
clears the mark in the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from campaign.accounts.models import User
from campaign.audit import record
from campaign.csv_import import (
    CsvTable,
    LineError,
    check_name,
    check_text,
    departement_code,
    header_key,
    read_csv_table,
    starts_like_formula,
)
from campaign.departements import DEPARTEMENTS
from campaign.extensions import db
from campaign.officials.models import (
    Civility,
    Official,
    OfficialKind,
    OfficialRole,
    kind_of_role,
)
from campaign.text_rules import is_email_address

COLUMNS = (
    "email",
    "civility",
    "first_name",
    "last_name",
    "role",
    "chamber",
    "departement",
    "constituency",
    "party",
    "recorded_on",
    "source",
)
REQUIRED = ("email", "first_name", "last_name", "role")
# Other names a header may give the columns; case, accents, spaces and hyphens aside.
ALIASES = {
    "civilité": "civility",
    "civ": "civility",
    "courtesy title": "civility",
    "e-mail": "email",
    "mail": "email",
    "courriel": "email",
    "adresse électronique": "email",
    "prénom": "first_name",
    "firstname": "first_name",
    "given name": "first_name",
    "nom": "last_name",
    "nom de famille": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family name": "last_name",
    "rôle": "role",
    "fonction": "role",
    "mandat": "role",
    "chambre": "chamber",
    "assemblée": "chamber",
    "institution": "chamber",
    "département": "departement",
    "department": "departement",
    "dept": "departement",
    "circonscription": "constituency",
    "parti": "party",
    "date": "recorded_on",
    "record date": "recorded_on",
    "date de relevé": "recorded_on",
    "origine": "source",
}
# The role column takes the enum values, the French words (any gender) and English ones.
ROLE_NAMES = {
    **{role.value: role for role in OfficialRole},
    **{
        header_key(name): OfficialRole.DEPUTE
        for name in ("député", "députée", "MP", "member of parliament")
    },
    **{header_key(name): OfficialRole.SENATEUR for name in ("sénateur", "sénatrice", "senator")},
    **{
        header_key(name): OfficialRole.DEPUTE_EUROPEEN
        for name in (
            "député européen",
            "députée européenne",
            "MEP",
            "member of the european parliament",
        )
    },
    **{header_key(name): OfficialRole.MINISTRE for name in ("ministre", "minister")},
    **{
        header_key(name): OfficialRole.AUTORITE
        for name in ("autorité", "authority", "régulateur", "regulator", "institution")
    },
    **{header_key(name): OfficialRole.AUTRE for name in ("autre", "other")},
}
# An authority is an institution: the names of its head are optional, its name (the chamber
# column, also headed "institution") is required.
AUTHORITY_ROLE_NAMES = frozenset(
    name for name, role in ROLE_NAMES.items() if role == OfficialRole.AUTORITE
)
HEAD_NAMES = ("first_name", "last_name")
# Madame or Monsieur, as directories and spreadsheets write them.
CIVILITY_NAMES = {
    **{
        header_key(name): Civility.MADAME
        for name in ("mme", "mme.", "madame", "mrs", "mrs.", "ms", "ms.", "f")
    },
    **{header_key(name): Civility.MONSIEUR for name in ("m", "m.", "monsieur", "mr", "mr.", "h")},
}
# A role written in the feminine tells the civility of a line that gives none.
FEMININE_ROLE_NAMES = frozenset(
    header_key(name) for name in ("députée", "sénatrice", "députée européenne")
)
# The chamber of a line that names none.
DEFAULT_CHAMBERS = {
    OfficialRole.DEPUTE: "Assemblée nationale",
    OfficialRole.SENATEUR: "Sénat",
    OfficialRole.DEPUTE_EUROPEEN: "Parlement européen",
    OfficialRole.MINISTRE: "Gouvernement",
}
EMAIL_MAX, TEXT_MAX, SOURCE_MAX = 254, 100, 100
MAX_BYTES = 4 * 1024 * 1024
MAX_ROWS = 10_000
PER_PAGE = 50
ACTION = "officials imported"
FRENCH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@dataclass(frozen=True)
class OfficialLine:
    """A valid line of the file: one official's record, as it would be stored."""

    line: int
    email: str
    civility: Civility | None
    first_name: str
    last_name: str
    role: OfficialRole
    chamber: str
    departement: str | None
    constituency: str
    party: str
    recorded_on: date | None
    source: str

    @property
    def kind(self) -> OfficialKind:
        """A person, or an authority (an institution)."""
        return kind_of_role(self.role)

    def record(self) -> dict[str, object]:
        """The Official columns this line sets."""
        return {name: getattr(self, name) for name in (*COLUMNS, "kind")}


@dataclass
class OfficialsReport:
    """What a file holds: its valid lines, and every error in the others."""

    lines: list[OfficialLine] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    unreadable: bool = False

    @property
    def invalid(self) -> int:
        """How many lines have at least one error."""
        return len({error.line for error in self.errors}) if not self.unreadable else 0


@dataclass(frozen=True)
class OfficialChange:
    """An official already in the directory whose record the line changes."""

    official: Official
    line: OfficialLine
    changed: tuple[str, ...]


@dataclass
class OfficialsPlan:
    """What importing a checked file would do now."""

    report: OfficialsReport
    new: list[OfficialLine] = field(default_factory=list)
    changes: list[OfficialChange] = field(default_factory=list)
    unchanged: int = 0
    retired: list[Official] = field(default_factory=list)

    @property
    def errors(self) -> list[LineError]:
        return self.report.errors

    @property
    def ready(self) -> bool:
        """Whether the import would write something: no error, and something to change."""
        if self.report.unreadable or self.errors:
            return False
        return bool(self.new or self.changes or self.retired)

    def summary(self) -> str:
        """The counts, in English, for the command line and the audit log."""
        if self.report.unreadable:
            return "the file cannot be read"
        if self.errors:
            return f"{self.report.invalid} invalid line(s), {len(self.report.lines)} valid"
        return (
            f"{len(self.new)} created, {len(self.changes)} updated, {self.unchanged} unchanged, "
            f"{len(self.retired)} deactivated"
        )


@dataclass(frozen=True)
class OfficialsImport:
    """The plan an import followed, and whether it wrote it."""

    plan: OfficialsPlan
    written: bool


@dataclass(frozen=True)
class OfficialPage:
    """One page of the directory."""

    items: list[Official]
    page: int
    pages: int
    total: int


# --- Reading and checking the file -----------------------------------------------------------


def normalise_official_email(value: str) -> str:
    """The address as stored: trimmed, its domain in lower case."""
    local, _at, domain = value.strip().rpartition("@")
    return f"{local}@{domain.lower()}"


def _date(value: str) -> date | None:
    """An ISO date (2026-01-31), or the French spreadsheet form (31/01/2026); None if neither."""
    try:
        if match := FRENCH_DATE.fullmatch(value):
            day, month, year = map(int, match.groups())
            return date(year, month, day)
        return date.fromisoformat(value)
    except ValueError:
        return None


def _check_email(value: str) -> LazyString | None:
    if not value:
        return _l("Required.")
    if len(value) > EMAIL_MAX:
        return _l("At most %(max)d characters.", max=EMAIL_MAX)
    if not is_email_address(value):
        return _l("Not a valid email address.")
    return None


def _check_role(value: str) -> LazyString | None:
    if not value:
        return _l("Required.")
    if header_key(value) not in ROLE_NAMES:
        return _l(
            "“%(value)s” is not a role: write député, sénateur, député européen, ministre, "
            "autorité or autre.",
            value=value[:40],
        )
    return None


def _check_civility(value: str) -> LazyString | None:
    if value and header_key(value) not in CIVILITY_NAMES:
        return _l(
            "“%(value)s” is not a civility: write Mme or M., or leave it empty.",
            value=value[:20],
        )
    return None


def _civility(values: dict[str, str]) -> Civility | None:
    """The civility written, else the one a role in the feminine tells."""
    if values["civility"]:
        return CIVILITY_NAMES[header_key(values["civility"])]
    if header_key(values["role"]) in FEMININE_ROLE_NAMES:
        return Civility.MADAME
    return None


def _check_departement(value: str) -> LazyString | None:
    if value and departement_code(value) not in DEPARTEMENTS:
        return _l("Not a département code (such as 01, 2A, 75 or 971).")
    return None


def _check_date(value: str) -> LazyString | None:
    if value and _date(value) is None:
        return _l("Not a date: write it as YYYY-MM-DD, such as 2026-01-31.")
    return None


CHECKS = {
    "email": _check_email,
    "civility": _check_civility,
    "first_name": check_name,
    "last_name": check_name,
    "role": _check_role,
    "chamber": partial(check_text, limit=TEXT_MAX),
    "departement": _check_departement,
    "constituency": partial(check_text, limit=TEXT_MAX),
    "party": partial(check_text, limit=TEXT_MAX),
    "recorded_on": _check_date,
    "source": partial(check_text, limit=SOURCE_MAX),
}


def _check_line(
    number: int, values: dict[str, str], source: str, table: CsvTable
) -> tuple[OfficialLine | None, list[LineError]]:
    """One line: the official's record, or its errors, one per field."""
    problems: dict[str, LazyString] = {}
    authority = header_key(values["role"]) in AUTHORITY_ROLE_NAMES
    for name, check in CHECKS.items():
        if authority and name in HEAD_NAMES and not values[name]:
            # An institution needs no person's name: its head's is optional.
            continue
        # Checked against None: a lazy string's truth would translate it, here, too early.
        reason = check(values[name])
        if reason is None and starts_like_formula(values[name]):
            reason = _l("A value cannot begin with =, +, - or @: spreadsheets run it as a formula.")
        if reason is not None:
            problems[name] = reason
    if authority and not values["chamber"] and "chamber" not in problems:
        problems["chamber"] = _l(
            "An authority needs its name here (CNIL, CPAM de Paris, Ministère de la Santé…)."
        )
    if problems:
        return None, [
            LineError(number, table.label(name), reason) for name, reason in problems.items()
        ]
    role = ROLE_NAMES[header_key(values["role"])]
    line = OfficialLine(
        line=number,
        email=normalise_official_email(values["email"]),
        civility=_civility(values),
        first_name=values["first_name"],
        last_name=values["last_name"],
        role=role,
        chamber=values["chamber"] or DEFAULT_CHAMBERS.get(role, ""),
        departement=departement_code(values["departement"]) or None,
        constituency=values["constituency"],
        party=values["party"],
        recorded_on=_date(values["recorded_on"]),
        source=values["source"] or source,
    )
    return line, []


def default_source(source: str | None) -> str:
    """The name recorded on lines without their own source: trimmed, at most 100 characters."""
    return (source or "").strip()[:SOURCE_MAX] or "import"


def read_officials(content: bytes, source: str) -> OfficialsReport:
    """Decode and parse a CSV file of officials and check every line, including that no
    address appears twice. Line numbers are the file's, the header being line 1."""
    if len(content) > MAX_BYTES:
        reason = _l("The file is larger than %(size)d MB.", size=MAX_BYTES // (1024 * 1024))
        return OfficialsReport(errors=[LineError(1, "", reason)], unreadable=True)
    table = read_csv_table(content, COLUMNS, required=REQUIRED, aliases=ALIASES, max_rows=MAX_ROWS)
    if table.unreadable:
        return OfficialsReport(errors=table.errors, unreadable=True)
    source = default_source(source)
    report = OfficialsReport(errors=table.errors)
    seen: dict[str, int] = {}
    for number, values in table.rows:
        line, errors = _check_line(number, values, source, table)
        if not any(error.field == table.label("email") for error in errors):
            first = seen.setdefault(normalise_official_email(values["email"]).lower(), number)
            if first != number:
                reason = _l("This address is already on line %(line)d.", line=first)
                errors.insert(0, LineError(number, table.label("email"), reason))
                line = None
        report.errors.extend(errors)
        if line is not None:
            report.lines.append(line)
    report.errors.sort(key=lambda error: error.line)
    return report


# --- Planning and writing ----------------------------------------------------------------------


def plan_officials_import(report: OfficialsReport, deactivate_missing: bool) -> OfficialsPlan:
    """Compare the file's lines with the directory: new, changed, unchanged, and (when asked)
    the active officials of the same source(s) that the file no longer lists."""
    plan = OfficialsPlan(report=report)
    if report.unreadable:
        return plan
    known: dict[str, Official] = {}
    for official in db.session.scalars(select(Official).order_by(Official.id)):
        known.setdefault(official.email.lower(), official)
    for line in report.lines:
        official = known.get(line.email.lower())
        if official is None:
            plan.new.append(line)
            continue
        changed = tuple(
            name for name, value in line.record().items() if getattr(official, name) != value
        )
        if not official.active:
            changed += ("active",)
        if official.bouncing_since is not None:
            # The source lists the address again: it gets another chance.
            changed += ("bouncing",)
        if changed:
            plan.changes.append(OfficialChange(official=official, line=line, changed=changed))
        else:
            plan.unchanged += 1
    if deactivate_missing and not report.errors:
        sources = {line.source for line in report.lines}
        listed = {line.email.lower() for line in report.lines}
        plan.retired = [
            official
            for email, official in known.items()
            if official.active and official.source in sources and email not in listed
        ]
    return plan


def preview_officials_import(
    content: bytes, *, source: str, deactivate_missing: bool = False
) -> OfficialsPlan:
    """What importing this file would do now; changes nothing."""
    return plan_officials_import(read_officials(content, source), deactivate_missing)


def _write(plan: OfficialsPlan, now: datetime) -> None:
    """Apply the plan to the session (not committed)."""
    for line in plan.new:
        db.session.add(Official(**line.record(), active=True, created_at=now, updated_at=now))
    for change in plan.changes:
        for name, value in change.line.record().items():
            setattr(change.official, name, value)
        change.official.active = True
        change.official.bouncing_since = None
        change.official.bounce_reason = ""
        change.official.updated_at = now
    for official in plan.retired:
        official.active = False
        official.updated_at = now


def _import_planned(
    report: OfficialsReport,
    *,
    source: str,
    now: datetime,
    deactivate_missing: bool,
    actor: User | None,
    via: str,
) -> OfficialsPlan:
    """Plan against the directory as it is now, write the plan and its audit entry, commit."""
    plan = plan_officials_import(report, deactivate_missing)
    if not plan.ready:
        return plan
    _write(plan, now)
    record(
        ACTION,
        now,
        actor=actor,
        actor_label=None if actor is not None else via,
        detail=f"source: {source}; via: {via}; {plan.summary()}",
        count=len(plan.new) + len(plan.changes) + len(plan.retired),
    )
    db.session.commit()
    return plan


def import_officials(
    content: bytes,
    *,
    source: str,
    now: datetime,
    deactivate_missing: bool = False,
    actor: User | None = None,
    via: str = "workspace",
) -> OfficialsImport:
    """Import a CSV file into the directory, upserting by email in one transaction: nothing
    is written when a line is invalid or when every record is already there, unchanged."""
    source = default_source(source)
    report = read_officials(content, source)
    arguments = dict(
        source=source, now=now, deactivate_missing=deactivate_missing, actor=actor, via=via
    )
    try:
        plan = _import_planned(report, **arguments)
    except IntegrityError:
        # Another import created one of these addresses meanwhile: plan again, once.
        db.session.rollback()
        plan = _import_planned(report, **arguments)
    return OfficialsImport(plan=plan, written=plan.ready)


# --- The directory -----------------------------------------------------------------------------


def _sort_name():
    """The name the directory sorts by: the last name, or an unheaded authority's own."""
    return func.coalesce(func.nullif(Official.last_name, ""), Official.chamber)


def official_directory(
    *,
    kind: str | None = None,
    role: str | None = None,
    chamber: str | None = None,
    departement: str | None = None,
    include_retired: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> OfficialPage:
    """The officials by last and first name (an authority without a named head by its own
    name), filtered by kind, role, chamber and département, and paginated; active ones only
    unless `include_retired`."""
    query = select(Official)
    if not include_retired:
        query = query.where(Official.active.is_(True))
    if kind:
        query = query.where(Official.kind == kind)
    if role:
        query = query.where(Official.role == role)
    if chamber:
        query = query.where(Official.chamber == chamber)
    if departement:
        query = query.where(Official.departement == departement)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    items = db.session.scalars(
        query.order_by(_sort_name(), Official.first_name, Official.id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return OfficialPage(items=list(items), page=page, pages=pages, total=total)


def official_chambers() -> list[str]:
    """The chambers the directory names, for the list's filter."""
    query = select(Official.chamber).where(Official.chamber != "").distinct()
    return sorted(db.session.scalars(query))


def mark_official_bouncing(official_id: int, now: datetime, reason: str) -> None:
    """Record that a server refused the official's address for good (in the caller's
    transaction); the first refusal's date is kept."""
    db.session.execute(
        update(Official)
        .where(Official.id == official_id, Official.bouncing_since.is_(None))
        .values(bouncing_since=now, bounce_reason=reason[:300])
        .execution_options(synchronize_session=False)
    )
