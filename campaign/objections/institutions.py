"""The directory of institutions supporters write to: its import from a CSV file (as the
officials' directory: all or nothing, keyed by `key`, every error named by line and field),
and the institutions that serve a département."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from campaign.audit import record
from campaign.csv_import import (
    CsvTable,
    LineError,
    check_organisation_name,
    check_text,
    departement_code,
    header_key,
    read_csv_table,
    starts_like_formula,
)
from campaign.departements import DEPARTEMENTS
from campaign.extensions import db
from campaign.objections.models import Channel, Institution, InstitutionKind
from campaign.text_rules import has_control_characters, is_email_address

COLUMNS = (
    "key",
    "name",
    "kind",
    "channel",
    "email",
    "portal_url",
    "postal_address",
    "answer_days",
    "departements",
    "portal_steps",
    "complaint_steps",
    "source",
)
REQUIRED = ("key", "name", "kind", "channel", "postal_address")
ALIASES = {
    "clé": "key",
    "identifiant": "key",
    "nom": "name",
    "type": "kind",
    "canal": "channel",
    "courriel": "email",
    "e-mail": "email",
    "portail": "portal_url",
    "adresse postale": "postal_address",
    "adresse": "postal_address",
    "address": "postal_address",
    "délai": "answer_days",
    "délai de réponse": "answer_days",
    "answer period": "answer_days",
    "départements": "departements",
    "departments": "departements",
    "étapes": "portal_steps",
    "steps": "portal_steps",
    "étapes de la plainte": "complaint_steps",
    "complaint steps": "complaint_steps",
    "origine": "source",
}
KIND_NAMES = {
    **{header_key(name): InstitutionKind.HOLDER for name in ("holder", "caisse", "organisme")},
    **{header_key(name): InstitutionKind.AUTHORITY for name in ("authority", "autorité")},
}
CHANNEL_NAMES = {
    **{header_key(name): Channel.EMAIL for name in ("email", "courriel", "e-mail")},
    **{header_key(name): Channel.PORTAL for name in ("portal", "portail", "messagerie")},
    **{header_key(name): Channel.POST for name in ("post", "courrier", "poste")},
}
KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")
SEPARATORS = re.compile(r"[\s,;/]+")
MAX_BYTES = 1024 * 1024
MAX_ROWS = 2_000
ADDRESS_MAX, STEPS_MAX, URL_MAX = 500, 4_000, 500
MAX_ANSWER_DAYS = 365
ACTION = "institutions imported"


@dataclass(frozen=True)
class InstitutionLine:
    """A valid line of the file: one institution, as it would be stored."""

    line: int
    key: str
    name: str
    kind: InstitutionKind
    channel: Channel
    email: str
    portal_url: str
    postal_address: str
    answer_days: int
    departements: str
    portal_steps: str
    complaint_steps: str
    source: str

    def record(self) -> dict[str, object]:
        """The Institution columns this line sets."""
        return {name: getattr(self, name) for name in COLUMNS}


@dataclass
class InstitutionsPlan:
    """What importing a file would do: its errors, or the institutions created and updated."""

    errors: list[LineError] = field(default_factory=list)
    lines: list[InstitutionLine] = field(default_factory=list)
    new: list[InstitutionLine] = field(default_factory=list)
    changed: list[tuple[Institution, InstitutionLine]] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> str:
        """The counts, in English, for the command line and the audit log."""
        if self.errors:
            return f"{len({error.line for error in self.errors})} invalid line(s)"
        return f"{len(self.new)} created, {len(self.changed)} updated, {self.unchanged} unchanged"


def _check_key(value: str) -> LazyString | None:
    if not value:
        return _l("Required.")
    if not KEY.fullmatch(value.lower()):
        return _l("Lower-case letters, digits, - and _ only, at most 60 characters.")
    return None


def _check_kind(value: str) -> LazyString | None:
    if header_key(value) not in KIND_NAMES:
        return _l("Write caisse (an institution holding data) or autorité.")
    return None


def _check_channel(value: str) -> LazyString | None:
    if header_key(value) not in CHANNEL_NAMES:
        return _l("Write courriel, portail or courrier.")
    return None


def _check_email(value: str) -> LazyString | None:
    if value and (len(value) > 254 or not is_email_address(value)):
        return _l("Not a valid email address.")
    return None


def _check_url(value: str) -> LazyString | None:
    if value and (
        len(value) > URL_MAX or not value.startswith("https://") or has_control_characters(value)
    ):
        return _l("Write the portal's address, beginning with https://.")
    return None


def _check_multiline(value: str, limit: int) -> LazyString | None:
    if len(value) > limit:
        return _l("At most %(max)d characters.", max=limit)
    if has_control_characters(value.replace("\n", " ").replace("\r", " ")):
        return _l("This field contains characters that are not allowed.")
    return None


def _check_days(value: str) -> LazyString | None:
    if value and not (value.isdigit() and 1 <= int(value) <= MAX_ANSWER_DAYS):
        return _l("A number of days, from 1 to %(max)d.", max=MAX_ANSWER_DAYS)
    return None


def _codes(value: str) -> list[str]:
    return [departement_code(code) for code in SEPARATORS.split(value) if code]


def _check_departements(value: str) -> LazyString | None:
    unknown = [code for code in _codes(value) if code not in DEPARTEMENTS]
    if unknown:
        return _l("“%(code)s” is not a département code.", code=unknown[0][:10])
    return None


CHECKS = {
    "key": _check_key,
    "name": check_organisation_name,
    "kind": _check_kind,
    "channel": _check_channel,
    "email": _check_email,
    "portal_url": _check_url,
    "postal_address": lambda value: (
        _l("Required.") if not value else _check_multiline(value, ADDRESS_MAX)
    ),
    "answer_days": _check_days,
    "departements": _check_departements,
    "portal_steps": partial(_check_multiline, limit=STEPS_MAX),
    "complaint_steps": partial(_check_multiline, limit=STEPS_MAX),
    "source": partial(check_text, limit=100),
}


def _check_line(
    number: int, values: dict[str, str], source: str, table: CsvTable
) -> tuple[InstitutionLine | None, list[LineError]]:
    problems: dict[str, LazyString] = {}
    for name, check in CHECKS.items():
        reason = check(values[name])
        if reason is None and starts_like_formula(values[name]):
            reason = _l("A value cannot begin with =, +, - or @: spreadsheets run it as a formula.")
        if reason is not None:
            problems[name] = reason
    channel = CHANNEL_NAMES.get(header_key(values["channel"]))
    if channel == Channel.EMAIL and not values["email"] and "email" not in problems:
        problems["email"] = _l("Required when the channel is courriel.")
    if channel == Channel.PORTAL and not values["portal_url"] and "portal_url" not in problems:
        problems["portal_url"] = _l("Required when the channel is portail.")
    if problems:
        return None, [LineError(number, table.label(name), why) for name, why in problems.items()]
    line = InstitutionLine(
        line=number,
        key=values["key"].lower(),
        name=values["name"],
        kind=KIND_NAMES[header_key(values["kind"])],
        channel=channel,
        email=values["email"],
        portal_url=values["portal_url"],
        postal_address=values["postal_address"].replace("\r\n", "\n"),
        answer_days=int(values["answer_days"] or 30),
        departements=" ".join(_codes(values["departements"])),
        portal_steps=values["portal_steps"].replace("\r\n", "\n"),
        complaint_steps=values["complaint_steps"].replace("\r\n", "\n"),
        source=values["source"] or source,
    )
    return line, []


def plan_institutions_import(content: bytes, source: str) -> InstitutionsPlan:
    """Check every line of a CSV file of institutions and compare it with the directory;
    changes nothing."""
    if len(content) > MAX_BYTES:
        reason = _l("The file is larger than %(size)d MB.", size=MAX_BYTES // (1024 * 1024))
        return InstitutionsPlan(errors=[LineError(1, "", reason)])
    table = read_csv_table(content, COLUMNS, required=REQUIRED, aliases=ALIASES, max_rows=MAX_ROWS)
    plan = InstitutionsPlan(errors=list(table.errors))
    if table.unreadable:
        return plan
    seen: dict[str, int] = {}
    for number, values in table.rows:
        line, errors = _check_line(number, values, source, table)
        if line is not None:
            first = seen.setdefault(line.key, number)
            if first != number:
                reason = _l("This key is already on line %(line)d.", line=first)
                errors, line = [LineError(number, table.label("key"), reason)], None
        plan.errors.extend(errors)
        if line is not None:
            plan.lines.append(line)
    plan.errors.sort(key=lambda error: error.line)
    if plan.errors:
        return plan
    known = {row.key: row for row in db.session.scalars(select(Institution))}
    for line in plan.lines:
        institution = known.get(line.key)
        if institution is None:
            plan.new.append(line)
        elif any(getattr(institution, name) != value for name, value in line.record().items()):
            plan.changed.append((institution, line))
        else:
            plan.unchanged += 1
    return plan


def import_institutions(
    content: bytes, *, source: str, now: datetime, via: str = "cli", actor=None
) -> InstitutionsPlan:
    """Import a CSV file of institutions: all lines or none; audited (under `actor`, the
    workspace account, when there is one) when it writes."""
    plan = plan_institutions_import(content, source)
    if plan.errors or not (plan.new or plan.changed):
        return plan
    for line in plan.new:
        db.session.add(Institution(**line.record(), created_at=now, updated_at=now))
    for institution, line in plan.changed:
        for name, value in line.record().items():
            setattr(institution, name, value)
        institution.updated_at = now
    record(
        ACTION,
        now,
        actor=actor,
        detail=f"{via}: {plan.summary()}",
        count=len(plan.new) + len(plan.changed),
    )
    db.session.commit()
    return plan


def institutions_for(departement: str) -> list[Institution]:
    """The institutions a supporter of this département writes to: the data holders that
    serve it, then the authorities."""
    rows = db.session.scalars(
        select(Institution).order_by(Institution.kind.desc(), Institution.name)
    )
    return [row for row in rows if row.serves(departement)]
