"""Import of signatures collected elsewhere: read a CSV list, check every line with the sign
form's rules, leave out the signatures the petition already has, insert the rest in bulk.

Duplicates are found by the keyed digest of the canonical email, as online, and, for lines
without an email, by the sort keys of the names and of the organisation, compared with the
petition's signatures that have no email (only imports create those). That takes one query
and no schema change; a stored "import key" with a unique constraint would also catch two
imports of the same list racing each other, but it would be one more digest of personal
data for withdrawal to erase, for a race that one organiser importing a list does not run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from campaign.accounts.models import User
from campaign.audit import record
from campaign.csv_import import (
    LineError,
    check_name,
    check_organisation_name,
    check_text,
    departement_code,
    read_csv_table,
)
from campaign.departements import DEPARTEMENTS
from campaign.errors import DomainError
from campaign.extensions import db
from campaign.levels import VerificationLevel, VerificationMethod
from campaign.mail.outbox import EmailKind, deliver_soon, write
from campaign.personal_data import email_digest, email_domain_digest, encrypt_email
from campaign.petitions.models import Petition, PetitionStatus
from campaign.signatures.counts import count_new_signatures
from campaign.signatures.models import SignatoryKind, Signature, SignatureStatus
from campaign.signatures.services import signatory_line, sort_key
from campaign.text_rules import is_email_address

COLUMNS = (
    "last_name",
    "first_name",
    "title",
    "organisation",
    "category",
    "email",
    "departement",
    "show_name",
)
# Optional: "person" or "organisation". Without it, a line of category organisation with
# no first name is an organisation's.
OPTIONAL_COLUMNS = ("kind",)
ORGANISATION_CATEGORY = "organisation"
EMAIL_MAX, SOURCE_MAX = 254, 100
INSERT_CHUNK = 1000
ACTION = "signatures imported"


class ImportMode(StrEnum):
    # The signers agreed elsewhere to be published: counted at once.
    CONFIRMED = "confirmed"
    # Each signer gets the confirmation email; counted once they confirm.
    SEND_CONFIRMATION = "send-confirmation"


class ImportNotAllowed(DomainError):
    """The petition takes no more signatures from lists (it is archived)."""


@dataclass(frozen=True)
class ImportLine:
    """A valid line of the file: one signature to be."""

    line: int
    last_name: str
    first_name: str
    title: str
    organisation: str
    category_key: str
    email: str
    departement: str | None
    show_name: bool
    kind: SignatoryKind = SignatoryKind.PERSON

    def public_line(self) -> str | None:
        """The line as the public list would print it; None when it is not published."""
        if not self.show_name:
            return None
        return signatory_line(
            Signature(
                last_name=self.last_name,
                first_name=self.first_name,
                title=self.title,
                organisation=self.organisation,
                show_title=True,
                show_organisation=True,
            )
        )


@dataclass
class ImportReport:
    """What a file holds: its valid lines, and every error found in the others. `unreadable`
    when the file itself is wrong (not UTF-8, empty, bad header): then nothing can be read."""

    lines: list[ImportLine] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    unreadable: bool = False

    @property
    def invalid(self) -> int:
        """How many lines have at least one error."""
        return len({error.line for error in self.errors}) if not self.unreadable else 0


@dataclass
class ImportPlan:
    """What importing a checked file would do now: the new signatures, and what is left out."""

    report: ImportReport
    new: list[ImportLine]
    duplicates: int

    @property
    def errors(self) -> list[LineError]:
        return self.report.errors

    @property
    def invalid(self) -> int:
        return self.report.invalid

    def ready(self, skip_invalid: bool) -> bool:
        """Whether the import would insert something: new lines, and no invalid line unless
        they are to be skipped."""
        if self.report.unreadable or (self.errors and not skip_invalid):
            return False
        return bool(self.new)


@dataclass(frozen=True)
class ImportOutcome:
    """The plan the import followed, and how many signatures it inserted (0: none)."""

    plan: ImportPlan
    imported: int


# --- Reading and checking the file -----------------------------------------------------------


def _check_line(
    number: int, values: dict[str, str], offered: set[str], mode: ImportMode
) -> tuple[ImportLine | None, list[LineError]]:
    """One line against the sign form's rules: the signature, or the errors, one per field."""
    problems: dict[str, LazyString | str] = {}
    category = values["category"].lower()
    kind = _kind_of(values, category, problems)
    organisation = kind is SignatoryKind.ORGANISATION
    # Checked against None: a lazy string's truth would translate it, here, too early.
    for name, check in (
        ("last_name", check_organisation_name if organisation else check_name),
        ("first_name", _no_first_name if organisation else check_name),
        ("title", check_text),
        ("organisation", check_text),
    ):
        reason = check(values[name])
        if reason is not None:
            problems.setdefault(name, reason)
    if not category:
        problems["category"] = _l("Required.")
    elif category not in offered:
        problems["category"] = _l(
            "“%(value)s” is not a category of this petition (%(offered)s).",
            value=values["category"][:40],
            offered=", ".join(sorted(offered)),
        )
    email = values["email"]
    if email and len(email) > EMAIL_MAX:
        problems["email"] = _l("At most %(max)d characters.", max=EMAIL_MAX)
    elif email and not is_email_address(email):
        problems["email"] = _l("Not a valid email address.")
    elif not email and mode is ImportMode.SEND_CONFIRMATION:
        problems["email"] = _l("An email address is needed to send the confirmation email.")
    departement = departement_code(values["departement"])
    if departement and departement not in DEPARTEMENTS:
        problems["departement"] = _l("Not a département code (such as 01, 2A, 75 or 971).")
    if values["show_name"] not in {"0", "1"}:
        problems["show_name"] = _l("Must be 0 (count only) or 1 (publish).")
    if problems:
        return None, [LineError(number, name, reason) for name, reason in problems.items()]
    line = ImportLine(
        line=number,
        last_name=values["last_name"],
        first_name=values["first_name"],
        title=values["title"],
        organisation=values["organisation"],
        category_key=category,
        email=email,
        departement=departement or None,
        show_name=values["show_name"] == "1",
        kind=kind,
    )
    return line, []


def _no_first_name(value: str) -> LazyString | None:
    if value:
        return _l("An organisation has no first name: leave it empty.")
    return None


def _kind_of(
    values: dict[str, str], category: str, problems: dict[str, LazyString | str]
) -> SignatoryKind:
    """A person's or an organisation's line: the kind column, or else an organisation's
    category with no first name."""
    kind = values["kind"].lower()
    if not kind:
        if category == ORGANISATION_CATEGORY and not values["first_name"]:
            return SignatoryKind.ORGANISATION
        return SignatoryKind.PERSON
    if kind not in set(SignatoryKind):
        problems["kind"] = _l("Must be person or organisation.")
        return SignatoryKind.PERSON
    return SignatoryKind(kind)


def read_signature_list(content: bytes, petition: Petition, mode: ImportMode) -> ImportReport:
    """Decode and parse a CSV list (header row; comma or semicolon) and check every line.
    Line numbers are the file's, the header being line 1."""
    table = read_csv_table(content, COLUMNS + OPTIONAL_COLUMNS, required=COLUMNS)
    if table.unreadable:
        return ImportReport(errors=table.errors, unreadable=True)
    offered = {category.key for category in petition.categories}
    report = ImportReport(errors=table.errors)
    for number, values in table.rows:
        line, errors = _check_line(number, values, offered, mode)
        if line is not None:
            report.lines.append(line)
        report.errors.extend(errors)
    # Reading errors (too many values) and checking errors, in the file's order.
    report.errors.sort(key=lambda error: error.line)
    return report


# --- Duplicates, and the import itself -----------------------------------------------------


def _name_key(last_name: str, first_name: str, organisation: str) -> tuple[str, str, str]:
    """How a signature without email is recognised: names and organisation, accent- and
    case-blind."""
    return sort_key(last_name), sort_key(first_name), sort_key(organisation)


def plan_import(petition: Petition, report: ImportReport) -> ImportPlan:
    """Split the valid lines into new signatures and duplicates, of a signature the petition
    has (online or imported, whatever its state) or of an earlier line of the file."""
    known_digests = set(
        db.session.scalars(
            select(Signature.email_digest).where(
                Signature.petition_id == petition.id, Signature.email_digest.is_not(None)
            )
        )
    )
    known_names = {
        (last, first, sort_key(organisation))
        for last, first, organisation in db.session.execute(
            select(Signature.sort_last, Signature.sort_first, Signature.organisation).where(
                Signature.petition_id == petition.id,
                Signature.email_digest.is_(None),
                Signature.status != SignatureStatus.WITHDRAWN,
            )
        )
    }
    new, duplicates = [], 0
    for line in report.lines:
        if line.email:
            key, known = email_digest(line.email), known_digests
        else:
            key, known = _name_key(line.last_name, line.first_name, line.organisation), known_names
        if key in known:
            duplicates += 1
        else:
            known.add(key)
            new.append(line)
    return ImportPlan(report=report, new=new, duplicates=duplicates)


def _row(
    petition: Petition,
    line: ImportLine,
    mode: ImportMode,
    source: str,
    now: datetime,
    by_id: int | None,
    first_signatories: bool = False,
) -> dict[str, object]:
    """The columns of the signature a line becomes; first signatories are attested by the
    importer (the organisers vouch for the names they collected)."""
    confirmed = mode is ImportMode.CONFIRMED
    attested = {
        "first_signatory": first_signatories,
        "attested_by_id": by_id if first_signatories else None,
        "attested_at": now if first_signatories else None,
        "verification_level": VerificationLevel.ATTESTED
        if first_signatories
        else VerificationLevel.NONE,
        "verification_method": VerificationMethod.ORGANISERS if first_signatories else None,
    }
    return {
        **attested,
        "petition_id": petition.id,
        "status": SignatureStatus.CONFIRMED if confirmed else SignatureStatus.PENDING,
        "kind": line.kind,
        "first_name": line.first_name,
        "last_name": line.last_name,
        "title": line.title,
        "organisation": line.organisation,
        "category_key": line.category_key,
        "departement": line.departement,
        "language": petition.language,
        "text_version": petition.current_version,
        "show_name": line.show_name,
        # The list's consent covers the whole line: name, title and organisation.
        "show_title": line.show_name,
        "show_organisation": line.show_name,
        "contact_ok": False,
        "consent_version": f"import:{source}"[:20],
        "consented_at": now,
        "email_digest": email_digest(line.email) if line.email else None,
        "email_domain_digest": email_domain_digest(line.email) if line.email else None,
        "email_ciphertext": encrypt_email(line.email) if line.email else None,
        "ip_digest": None,
        "source": source,
        "imported_at": now,
        "imported_by_id": by_id,
        "sort_last": sort_key(line.last_name),
        "sort_first": sort_key(line.first_name),
        "confirmation_sends": 0 if confirmed else 1,
        "last_confirmation_at": None if confirmed else now,
        "created_at": now,
        "confirmed_at": now if confirmed else None,
        "status_changed_at": now,
    }


def _insert(rows: list[dict[str, object]], returning_ids: bool) -> list[int]:
    """Insert in chunks within the current transaction; the new ids when asked for."""
    # render_nulls: rows with and without an email (or a département) keep one column set,
    # so each chunk goes as a few multi-row INSERTs instead of one per change of shape.
    statement = insert(Signature).execution_options(render_nulls=True)
    if returning_ids:
        statement = statement.returning(Signature.id, sort_by_parameter_order=True)
    ids: list[int] = []
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        if returning_ids:
            ids += db.session.scalars(statement, chunk).all()
        else:
            db.session.execute(statement, chunk)
    return ids


def _refuse_archived(petition: Petition) -> None:
    if petition.status == PetitionStatus.ARCHIVED:
        raise ImportNotAllowed(petition.slug)


def preview_import(petition: Petition, content: bytes, mode: ImportMode) -> ImportPlan:
    """What importing this file would do now; changes nothing."""
    _refuse_archived(petition)
    return plan_import(petition, read_signature_list(content, petition, mode))


def _insert_planned(
    petition: Petition,
    report: ImportReport,
    *,
    mode: ImportMode,
    source: str,
    now: datetime,
    skip_invalid: bool,
    actor: User | None,
    via: str,
    first_signatories: bool,
) -> tuple[ImportOutcome, list[int]]:
    """Plan against the signatures there now, insert the new ones with their outbox rows and
    the audit entry, commit; the outcome and the outbox rows to enqueue."""
    plan = plan_import(petition, report)
    if not plan.ready(skip_invalid):
        return ImportOutcome(plan=plan, imported=0), []
    by_id = getattr(actor, "id", None)
    rows = [_row(petition, line, mode, source, now, by_id, first_signatories) for line in plan.new]
    signature_ids = _insert(rows, returning_ids=mode is ImportMode.SEND_CONFIRMATION)
    count_new_signatures(db.session, rows)
    message_ids = write(EmailKind.SIGNATURE_CONFIRMATION, now, signature_id=signature_ids)
    record(
        ACTION,
        now,
        actor=actor,
        actor_label=None if actor is not None else via,
        petition_id=petition.id,
        detail=(
            f"source: {source}; mode: {mode}; via: {via}; "
            f"{'first signatories, attested; ' if first_signatories else ''}"
            f"{plan.duplicates} duplicate(s) and {plan.invalid} invalid line(s) left out"
        ),
        count=len(rows),
    )
    db.session.commit()
    return ImportOutcome(plan=plan, imported=len(rows)), message_ids


def import_signatures(
    petition: Petition,
    content: bytes,
    *,
    mode: ImportMode,
    source: str,
    now: datetime,
    skip_invalid: bool = False,
    actor: User | None = None,
    via: str = "workspace",
    first_signatories: bool = False,
) -> ImportOutcome:
    """Import a CSV list into the petition, in one transaction: nothing when a line is
    invalid (unless skip_invalid) or when every line is already there. Records the source,
    date and importer on each signature and one audit entry; `first_signatories` marks
    every line a first signatory, attested by the importer; in send-confirmation mode,
    writes an outbox row per signature, commits, then enqueues the emails."""
    _refuse_archived(petition)
    source = source.strip()[:SOURCE_MAX] or "import"
    report = read_signature_list(content, petition, mode)
    arguments = dict(
        mode=mode,
        source=source,
        now=now,
        skip_invalid=skip_invalid,
        actor=actor,
        via=via,
        first_signatories=first_signatories,
    )
    try:
        outcome, message_ids = _insert_planned(petition, report, **arguments)
    except IntegrityError:
        # A signature with one of these addresses arrived meanwhile: plan again, once.
        db.session.rollback()
        outcome, message_ids = _insert_planned(petition, report, **arguments)
    deliver_soon(*message_ids)
    return outcome
