"""Moderation: the workspace table of a petition's signatures, hiding, invalidating and
restoring them one by one or in bulk, and the counts at a glance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum

from sqlalchemy import DateTime, Select, case, func, or_, select, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import load_only
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from campaign.audit import record
from campaign.errors import DomainError
from campaign.extensions import db
from campaign.personal_data import email_domain_digest
from campaign.petitions.models import Category, Petition
from campaign.signatures.counts import move_signature
from campaign.signatures.events import evidence_changed, public_list_changed
from campaign.signatures.models import (
    COUNTED,
    SIGNATURE_TRANSITIONS,
    Signature,
    SignatureStatus,
)
from campaign.signatures.services import first_signatory_order, sort_key

PER_PAGE = 50
# Characters of the IP digest shown as the "same origin" mark: enough to tell clusters apart
# at a glance, too few to serve as an identifier outside the workspace.
ORIGIN_MARK_LENGTH = 8
ONLINE = "online"
IMPORTED = "imported"
HIDEABLE = frozenset({SignatureStatus.CONFIRMED})
INVALIDATABLE = SIGNATURE_TRANSITIONS.sources_of(SignatureStatus.INVALIDATED)
# Back into the count: hidden or invalidated ones, and suspect ones held for review (release).
RESTORABLE = frozenset(
    {SignatureStatus.HIDDEN, SignatureStatus.INVALIDATED, SignatureStatus.SUSPECT}
)
CHART_PERIODS = (30, 60)
# At most this many signatures per bulk invalidation: each is one guarded move, and the whole
# must fit in one web request. Larger waves are invalidated window by window.
BULK_LIMIT = 5_000

# Only what the table shows: the email (digest and ciphertext) is never loaded here.
TABLE_COLUMNS = (
    Signature.id,
    Signature.petition_id,
    Signature.status,
    Signature.first_name,
    Signature.last_name,
    Signature.title,
    Signature.organisation,
    Signature.category_key,
    Signature.source,
    Signature.ip_digest,
    Signature.created_at,
    Signature.moderation_reason,
    Signature.first_signatory,
    Signature.first_position,
    Signature.verification_level,
)


class SignatureNotFound(DomainError):
    """No signature with this id in this petition."""


class NoOriginRecorded(DomainError):
    """The chosen signature has no recorded origin (imported, or withdrawn and erased)."""


class BulkTooLarge(DomainError):
    """More signatures match than one bulk invalidation may move (BULK_LIMIT)."""


class FirstOrderChanged(DomainError):
    """The order posted does not name the current first signatories (one was marked or
    unmarked in another tab since the page was shown)."""


class BulkCountChanged(DomainError):
    """The signatures matching a bulk invalidation changed since the preview."""

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"expected {expected}, now {current}")
        self.expected = expected
        self.current = current


# --- The table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page of the table ends: the last row's (created_at, id)."""

    created_at: datetime
    id: int

    def encode(self) -> str:
        """The cursor as a URL parameter."""
        return f"{self.created_at.isoformat()}_{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Parse `encode`'s output; raises ValueError for anything else."""
        at, _, number = text.partition("_")
        if not number.isdigit():
            raise ValueError(f"not a cursor: {text!r}")
        return cls(created_at=datetime.fromisoformat(at), id=int(number))


@dataclass(frozen=True)
class SignatureFilters:
    """What the moderator narrows the table to; times are naive UTC."""

    name: str = ""
    organisation: str = ""
    status: SignatureStatus | None = None
    category: str | None = None
    # ONLINE, or IMPORTED (any list); imported_list names one list (case ignored).
    source: str | None = None
    imported_list: str = ""
    verification: str | None = None
    signed_from: datetime | None = None
    signed_before: datetime | None = None
    # The id of a signature whose origin (IP digest) the rows must share.
    same_origin_as: int | None = None


@dataclass(frozen=True)
class SignatureTablePage:
    """One page of the table, and the cursor of the next page if there is one."""

    rows: list[Signature]
    next_cursor: Cursor | None


def origin_mark(signature: Signature) -> str:
    """The short prefix of the IP digest shown in the "same origin" column."""
    return (signature.ip_digest or "")[:ORIGIN_MARK_LENGTH]


def _name_matches(name: str) -> ColumnElement[bool] | None:
    """Accent- and case-blind substring search on the sort keys of the names."""
    needle = sort_key(name)
    if not needle:
        return None
    pattern = f"%{needle}%"
    return or_(
        Signature.sort_last.like(pattern),
        Signature.sort_first.like(pattern),
        (Signature.sort_last + " " + Signature.sort_first).like(pattern),
        (Signature.sort_first + " " + Signature.sort_last).like(pattern),
    )


def _source_matches(source: str) -> ColumnElement[bool]:
    return Signature.source == ONLINE if source == ONLINE else Signature.source != ONLINE


def _origin_of(petition_id: int, signature_id: int) -> str | None:
    return db.session.scalar(
        select(Signature.ip_digest).where(
            Signature.id == signature_id, Signature.petition_id == petition_id
        )
    )


def _filtered(query: Select, petition_id: int, filters: SignatureFilters) -> Select:
    conditions: list[ColumnElement[bool]] = [Signature.petition_id == petition_id]
    if (names := _name_matches(filters.name)) is not None:
        conditions.append(names)
    if filters.organisation.strip():
        needle = filters.organisation.strip().lower()
        conditions.append(func.lower(Signature.organisation).contains(needle, autoescape=True))
    if filters.status:
        conditions.append(Signature.status == filters.status)
    if filters.category:
        conditions.append(Signature.category_key == filters.category)
    if filters.source:
        conditions.append(_source_matches(filters.source))
    if filters.imported_list.strip():
        name = filters.imported_list.strip().lower()
        conditions.append(func.lower(Signature.source) == name)
    if filters.verification:
        conditions.append(Signature.verification_level == filters.verification)
    if filters.signed_from:
        conditions.append(Signature.created_at >= filters.signed_from)
    if filters.signed_before:
        conditions.append(Signature.created_at < filters.signed_before)
    if filters.same_origin_as is not None:
        # An unknown id or an erased origin matches nothing (= NULL is never true).
        conditions.append(Signature.ip_digest == _origin_of(petition_id, filters.same_origin_as))
    return query.where(*conditions)


def signature_table_query(
    petition_id: int, filters: SignatureFilters, after: Cursor | None = None, limit: int = PER_PAGE
) -> Select:
    """The keyset query of one page: newest first, seeking past `after` through the index on
    (petition_id, created_at, id) rather than counting rows with OFFSET."""
    query = _filtered(select(Signature).options(load_only(*TABLE_COLUMNS)), petition_id, filters)
    if after is not None:
        query = query.where(
            tuple_(Signature.created_at, Signature.id) < (after.created_at, after.id)
        )
    return query.order_by(Signature.created_at.desc(), Signature.id.desc()).limit(limit)


def signature_table_page(
    petition_id: int,
    filters: SignatureFilters,
    after: Cursor | None = None,
    per_page: int = PER_PAGE,
) -> SignatureTablePage:
    """One page of a petition's signatures for moderators, newest first (keyset paginated)."""
    rows = list(
        db.session.scalars(signature_table_query(petition_id, filters, after, per_page + 1))
    )
    if len(rows) <= per_page:
        return SignatureTablePage(rows=rows, next_cursor=None)
    last = rows[per_page - 1]
    return SignatureTablePage(rows=rows[:per_page], next_cursor=Cursor(last.created_at, last.id))


# --- One signature at a time -----------------------------------------------------------------


def _status_in_petition(petition: Petition, signature_id: int) -> SignatureStatus:
    status = db.session.scalar(
        select(Signature.status).where(
            Signature.id == signature_id, Signature.petition_id == petition.id
        )
    )
    if status is None:
        raise SignatureNotFound(signature_id)
    return SignatureStatus(status)


def signature_for_moderation(petition: Petition, signature_id: int) -> Signature:
    """A signature of this petition with the fields moderators see; raises SignatureNotFound."""
    signature = db.session.scalar(
        select(Signature)
        .options(load_only(*TABLE_COLUMNS))
        .where(Signature.id == signature_id, Signature.petition_id == petition.id)
    )
    if signature is None:
        raise SignatureNotFound(signature_id)
    return signature


def _moderate(
    petition: Petition,
    signature_id: int,
    sources: frozenset[SignatureStatus],
    to: SignatureStatus,
    action: str,
    actor,
    now: datetime,
    reason: str | None = None,
) -> bool:
    before = _status_in_petition(petition, signature_id)
    moved = move_signature(
        db.session,
        signature_id,
        sources,
        to,
        now,
        moderation_reason=reason,
        moderated_by_id=actor.id,
        moderated_at=now,
    )
    if not moved:
        db.session.rollback()
        return False
    # Hidden or invalidated, a register badge's holder lets it go; restored, it may take
    # it again if no one holds it meanwhile.
    evidence_changed.send(signature_id, now=now)
    detail = f"signature {signature_id}: {before} -> {to}"
    record(action, now, actor=actor, petition_id=petition.id, detail=detail, count=1)
    db.session.commit()
    public_list_changed.send(petition.id, now=now)
    return True


def hide_signature(petition: Petition, signature_id: int, actor, now: datetime) -> bool:
    """confirmed -> hidden: out of the public list and the count. False if it was not
    confirmed (any more); raises SignatureNotFound if it is not this petition's."""
    return _moderate(
        petition, signature_id, HIDEABLE, SignatureStatus.HIDDEN, "signature hidden", actor, now
    )


def invalidate_signature(
    petition: Petition, signature_id: int, reason: str, actor, now: datetime
) -> bool:
    """confirmed, hidden or suspect -> invalidated, with the moderator's reason. False if it
    was in none of these states; raises SignatureNotFound if it is not this petition's."""
    if not reason.strip():
        raise ValueError("a reason is required")
    return _moderate(
        petition,
        signature_id,
        INVALIDATABLE,
        SignatureStatus.INVALIDATED,
        "signature invalidated",
        actor,
        now,
        reason=reason.strip(),
    )


def restore_signature(petition: Petition, signature_id: int, actor, now: datetime) -> bool:
    """hidden, invalidated or suspect -> confirmed: counted (again). False if it was in none
    of these states; raises SignatureNotFound if it is not this petition's."""
    return _moderate(
        petition,
        signature_id,
        RESTORABLE,
        SignatureStatus.CONFIRMED,
        "signature restored",
        actor,
        now,
    )


# --- First signatories -----------------------------------------------------------------------

FIRST_POSITION_MAX = 10_000


def mark_first_signatory(
    petition: Petition,
    signature_id: int,
    actor,
    now: datetime,
    position: int | None = None,
) -> None:
    """Make a signature a first signatory, at `position` among them (None: by name), attested
    by `actor`: its level becomes "attested by the organisers" unless a stronger proof gave it
    one. Marking one again moves it and renews the attestation. Raises SignatureNotFound."""
    if position is not None and not 1 <= position <= FIRST_POSITION_MAX:
        raise ValueError("position out of range")
    signature = db.session.scalar(
        select(Signature).where(Signature.id == signature_id, Signature.petition_id == petition.id)
    )
    if signature is None or signature.status == SignatureStatus.WITHDRAWN:
        raise SignatureNotFound(signature_id)
    signature.first_signatory = True
    signature.first_position = position
    signature.attested_by_id = actor.id
    signature.attested_at = now
    # The public list changed: what last_change_at() (the API's updated_at) reads.
    signature.status_changed_at = now
    evidence_changed.send(signature_id, now=now)
    where = f"position {position}" if position is not None else "by name"
    record(
        "first signatory attested",
        now,
        actor=actor,
        petition_id=petition.id,
        detail=f"signature {signature_id}: {where}; level {signature.verification_level}",
        count=1,
    )
    db.session.commit()
    public_list_changed.send(petition.id, now=now)


def unmark_first_signatory(petition: Petition, signature_id: int, actor, now: datetime) -> bool:
    """Back among the other signatories, the attestation withdrawn and the level computed
    from the proofs alone. False if it was not a first signatory; raises SignatureNotFound."""
    signature = db.session.scalar(
        select(Signature).where(Signature.id == signature_id, Signature.petition_id == petition.id)
    )
    if signature is None:
        raise SignatureNotFound(signature_id)
    if not signature.first_signatory:
        return False
    signature.first_signatory = False
    signature.first_position = None
    signature.attested_by_id = None
    signature.attested_at = None
    signature.status_changed_at = now
    evidence_changed.send(signature_id, now=now)
    record(
        "first signatory withdrawn",
        now,
        actor=actor,
        petition_id=petition.id,
        detail=f"signature {signature_id}: level {signature.verification_level}",
        count=1,
    )
    db.session.commit()
    public_list_changed.send(petition.id, now=now)
    return True


def first_signatory_list(petition: Petition) -> list[Signature]:
    """The petition's first signatories in the organisers' order (hidden ones too: they
    keep their place if restored), for the workspace's ordering page."""
    query = select(Signature).where(
        Signature.petition_id == petition.id, Signature.first_signatory.is_(True)
    )
    return list(db.session.scalars(query.order_by(*first_signatory_order())))


def reorder_first_signatories(petition: Petition, order: list[int], actor, now: datetime) -> bool:
    """Put the first signatories in the order of `order` (their ids, every one of them once:
    a drag and drop, or a move up or down), as positions 1, 2, 3...; audited; the next
    publication signs the new ranks. False when the order was already this one; raises
    FirstOrderChanged when `order` does not name the current first signatories."""
    current = first_signatory_list(petition)
    if len(order) != len(set(order)) or set(order) != {s.id for s in current}:
        raise FirstOrderChanged(petition.id)
    by_id = {signature.id: signature for signature in current}
    moved = 0
    for position, signature_id in enumerate(order, 1):
        signature = by_id[signature_id]
        if signature.first_position != position:
            signature.first_position = position
            # The public list changed: the ranks are signed in each entry.
            signature.status_changed_at = now
            moved += 1
    if not moved:
        db.session.rollback()
        return False
    record(
        "first signatories reordered",
        now,
        actor=actor,
        petition_id=petition.id,
        detail="order: " + " ".join(str(signature_id) for signature_id in order),
        count=len(order),
    )
    db.session.commit()
    public_list_changed.send(petition.id, now=now)
    return True


def move_first_signatory(
    petition: Petition, signature_id: int, step: int, actor, now: datetime
) -> bool:
    """Move a first signatory one place up (`step` -1) or down (+1): the keyboard's and the
    no-JavaScript way of ordering. False at either end; raises SignatureNotFound when it is
    not one of the petition's first signatories."""
    order = [signature.id for signature in first_signatory_list(petition)]
    if signature_id not in order:
        raise SignatureNotFound(signature_id)
    index = order.index(signature_id)
    target = index + (1 if step > 0 else -1)
    if not 0 <= target < len(order):
        return False
    order[index], order[target] = order[target], order[index]
    return reorder_first_signatories(petition, order, actor, now)


# --- In bulk ---------------------------------------------------------------------------------


class BulkCriterion(StrEnum):
    EMAIL_DOMAIN = "email_domain"
    ORIGIN = "origin"
    TIME_WINDOW = "time_window"


@dataclass(frozen=True)
class BulkSelection:
    """Which signatures a bulk invalidation targets: those of an email domain, those sharing
    the origin (IP digest) of one signature, or those signed within a time window (UTC); a
    window (or one of its ends) may also narrow the first two."""

    criterion: BulkCriterion
    email_domain: str = ""
    origin_of: int | None = None
    signed_from: datetime | None = None
    signed_before: datetime | None = None

    def describe(self) -> str:
        """For the audit log: the criterion, without personal data."""
        parts = {
            BulkCriterion.EMAIL_DOMAIN: ["by email domain"],
            BulkCriterion.ORIGIN: [f"same origin as signature {self.origin_of}"],
            BulkCriterion.TIME_WINDOW: [],
        }[self.criterion]
        if self.signed_from:
            parts.append(f"signed from {self.signed_from:%Y-%m-%d %H:%M} UTC")
        if self.signed_before:
            parts.append(f"signed before {self.signed_before:%Y-%m-%d %H:%M} UTC")
        return ", ".join(parts)


def normalise_domain(domain: str) -> str:
    """'@Example.ORG ' -> 'example.org'."""
    return domain.strip().lstrip("@").strip().lower().rstrip(".")


def _bulk_matches(petition: Petition, selection: BulkSelection) -> list[ColumnElement[bool]]:
    conditions = [Signature.petition_id == petition.id, Signature.status.in_(INVALIDATABLE)]
    if selection.criterion == BulkCriterion.EMAIL_DOMAIN:
        domain = normalise_domain(selection.email_domain)
        conditions.append(Signature.email_domain_digest == email_domain_digest(f"x@{domain}"))
    elif selection.criterion == BulkCriterion.ORIGIN:
        origin = _origin_of(petition.id, selection.origin_of or 0)
        if origin is None:
            raise NoOriginRecorded(selection.origin_of)
        conditions.append(Signature.ip_digest == origin)
    elif not (selection.signed_from and selection.signed_before):
        raise ValueError("a time window needs both ends")
    if selection.signed_from:
        conditions.append(Signature.created_at >= selection.signed_from)
    if selection.signed_before:
        conditions.append(Signature.created_at < selection.signed_before)
    return conditions


def bulk_invalidation_count(petition: Petition, selection: BulkSelection) -> int:
    """How many signatures a bulk invalidation would move now (confirmed, hidden, suspect)."""
    return db.session.scalar(
        select(func.count(Signature.id)).where(*_bulk_matches(petition, selection))
    )


def invalidate_in_bulk(
    petition: Petition,
    selection: BulkSelection,
    expected: int,
    reason: str,
    actor,
    now: datetime,
) -> int:
    """Invalidate every signature of the selection, with the reason, if their number is still
    the `expected` one shown in the preview (else BulkCountChanged) and at most BULK_LIMIT
    (else BulkTooLarge). Returns how many moved."""
    if not reason.strip():
        raise ValueError("a reason is required")
    matches = _bulk_matches(petition, selection)
    query = select(Signature.id).where(*matches).order_by(Signature.id).limit(BULK_LIMIT + 1)
    ids = list(db.session.scalars(query))
    if len(ids) > BULK_LIMIT:
        db.session.rollback()
        raise BulkTooLarge(selection.describe())
    if len(ids) != expected:
        db.session.rollback()
        raise BulkCountChanged(expected, len(ids))
    moved = 0
    for signature_id in ids:
        moved += move_signature(
            db.session,
            signature_id,
            INVALIDATABLE,
            SignatureStatus.INVALIDATED,
            now,
            moderation_reason=reason.strip(),
            moderated_by_id=actor.id,
            moderated_at=now,
        )
    holders = select(Signature.id).where(
        Signature.id.in_(ids), Signature.register_badge.is_not(None)
    )
    for holder_id in db.session.scalars(holders).all():
        evidence_changed.send(holder_id, now=now)
    record(
        "signatures invalidated in bulk",
        now,
        actor=actor,
        petition_id=petition.id,
        detail=selection.describe(),
        count=moved,
    )
    db.session.commit()
    if moved:
        public_list_changed.send(petition.id, now=now)
    return moved


# --- Counts at a glance ----------------------------------------------------------------------


class _utc_hour(FunctionElement):
    """A naive UTC timestamp truncated to its hour, on SQLite and PostgreSQL."""

    type = DateTime()
    inherit_cache = True


@compiles(_utc_hour)
def _utc_hour_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m-%d %H:00:00', {compiler.process(element.clauses, **kw)})"


@compiles(_utc_hour, "postgresql")
def _utc_hour_postgresql(element, compiler, **kw):
    # date_trunc, not to_char: formatting every row costs twice as much.
    return f"date_trunc('hour', {compiler.process(element.clauses, **kw)})"


def _hour_start(value: datetime | str) -> datetime:
    """The hour's start as an aware UTC datetime, from either database's answer."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ModerationCounts:
    """A petition's signatures by status, confirmed ones by category and by day."""

    by_status: dict[SignatureStatus, int]
    by_category: list[tuple[Category, int]]
    per_day: list[tuple[date, int]]

    @property
    def busiest(self) -> tuple[date, int]:
        """The day of the period with the most confirmations (the latest of equals)."""
        return max(self.per_day, key=lambda day_count: (day_count[1], day_count[0]))

    @property
    def period_total(self) -> int:
        """Confirmed signatures of the period."""
        return sum(count for _day, count in self.per_day)


def moderation_counts(
    petition: Petition, now: datetime, days: int = 30, timezone: tzinfo = UTC
) -> ModerationCounts:
    """Counts at a glance, in one pass over the petition's signatures: every status; confirmed
    per category; confirmed per day of confirmation over the last `days` days, in `timezone`."""
    today = now.replace(tzinfo=UTC).astimezone(timezone).date()
    first_day = today - timedelta(days=days - 1)
    local_midnight = datetime.combine(first_day, datetime.min.time(), tzinfo=timezone)
    since = local_midnight.astimezone(UTC).replace(tzinfo=None)
    counted_at = func.coalesce(Signature.confirmed_at, Signature.created_at)
    # Grouped by UTC hour, then moved to local days here: exact for whole-hour UTC offsets.
    hour = case(
        (Signature.counted & (counted_at >= since), _utc_hour(counted_at)),
        else_=None,
    )
    rows = db.session.execute(
        select(Signature.status, Signature.category_key, hour, func.count(Signature.id))
        .where(Signature.petition_id == petition.id)
        .group_by(Signature.status, Signature.category_key, hour)
    )
    by_status = dict.fromkeys(SignatureStatus, 0)
    by_category: dict[str, int] = {}
    by_day = dict.fromkeys((first_day + timedelta(days=n) for n in range(days)), 0)
    for status, category_key, utc_hour, count in rows:
        by_status[SignatureStatus(status)] += count
        if status in COUNTED:
            by_category[category_key] = by_category.get(category_key, 0) + count
        if utc_hour:
            day = _hour_start(utc_hour).astimezone(timezone).date()
            if day in by_day:
                by_day[day] += count
    return ModerationCounts(
        by_status=by_status,
        by_category=[(c, by_category.get(c.key, 0)) for c in petition.categories],
        per_day=sorted(by_day.items()),
    )
