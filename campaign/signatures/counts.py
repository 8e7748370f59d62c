"""The petition's counts, stored: counted signatures per category and level, and per
département, changed in the transaction of every change that alters them.

As e-petitions keeps `signature_count` on the petition, the pages read a few rows here
instead of counting signatures. Every change goes through this module:

- a status move of one signature (`move_signature`);
- a change of a counted field of one signature: category, level, département
  (`change_counted_fields`);
- new signatures written in bulk (`count_new_signatures`: one grouped statement per import);
- a bulk change of a petition's signatures (`recount_petition`, in the same transaction).

Increments are one atomic upsert (`count = count + n`), never a read then a write in Python,
so two confirmations at once never lose one. A change's delta is exact: an UPDATE changes
either the status or counted fields, its WHERE names their old values, and its RETURNING
gives the others. `flask petitions recount --check` compares with COUNTs.

Lock order: a transaction takes its petition's row (FOR NO KEY UPDATE, which signing's
foreign-key checks do not wait for) before it changes a signature's counted state, so the
count-changing transactions of one petition run one after the other and never deadlock on
the count rows or on the signatures (e-petitions serialises on its one counter row too).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, String, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from campaign.extensions import db
from campaign.petitions.models import Petition
from campaign.signatures.models import (
    COUNTED,
    SIGNATURE_TRANSITIONS,
    Signature,
    SignatureStatus,
)


class PetitionCount(db.Model):
    """Counted signatures of a petition in one category at one verification level."""

    __tablename__ = "petition_counts"

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    category_key: Mapped[str] = mapped_column(String(40), primary_key=True)
    verification_level: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(default=0, server_default="0")


class PetitionDepartementCount(db.Model):
    """Counted signatures of a petition whose signers gave this département."""

    __tablename__ = "petition_departement_counts"

    petition_id: Mapped[int] = mapped_column(
        ForeignKey("petitions.id", ondelete="CASCADE"), primary_key=True
    )
    departement: Mapped[str] = mapped_column(String(3), primary_key=True)
    count: Mapped[int] = mapped_column(default=0, server_default="0")


# The fields a count depends on, besides the status.
COUNTED_FIELDS = ("category_key", "verification_level", "departement")
_KEY_COLUMNS = (
    Signature.petition_id,
    Signature.status,
    Signature.category_key,
    Signature.verification_level,
    Signature.departement,
)


@dataclass
class Deltas:
    """Changes to apply to the stored counts, summed per key."""

    levels: Counter[tuple[int, str, str]]
    departements: Counter[tuple[int, str]]

    @classmethod
    def empty(cls) -> Deltas:
        return cls(Counter(), Counter())

    def add(
        self, petition_id: int, category: str, level: str, departement: str | None, n: int
    ) -> None:
        """Count `n` (negative: uncount) signatures with these fields."""
        self.levels[(petition_id, category, str(level))] += n
        if departement:
            self.departements[(petition_id, departement)] += n


def _upsert(session: Session, table, keys: tuple[str, ...], deltas: Counter) -> None:
    rows = [
        {**dict(zip(keys, key, strict=True)), "count": n}
        for key, n in sorted(deltas.items())  # one lock order: two writers never deadlock
        if n
    ]
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[key] for key in keys],
        set_={"count": table.c.count + statement.excluded.count},
    )
    session.execute(statement, rows)


def apply_deltas(session: Session, deltas: Deltas) -> None:
    """Add the deltas to the stored counts, in the caller's transaction."""
    _upsert(
        session,
        PetitionCount.__table__,
        ("petition_id", "category_key", "verification_level"),
        deltas.levels,
    )
    _upsert(
        session,
        PetitionDepartementCount.__table__,
        ("petition_id", "departement"),
        deltas.departements,
    )


def lock_petitions(session: Session, petition_ids: Iterable[int]) -> None:
    """Take these petitions' rows for this transaction, in id order (no-op on SQLite,
    whose writers already run one at a time)."""
    ids = sorted(set(petition_ids))
    if ids:
        session.execute(
            select(Petition.id)
            .where(Petition.id.in_(ids))
            .order_by(Petition.id)
            .with_for_update(key_share=True)
        ).all()


def _lock_petition_of(session: Session, signature_id: int) -> None:
    petition_id = select(Signature.petition_id).where(Signature.id == signature_id)
    session.execute(
        select(Petition.id)
        .where(Petition.id == petition_id.scalar_subquery())
        .with_for_update(key_share=True)
    ).all()


# --- Changes of one signature -----------------------------------------------------------------


def move_signature(
    session: Session,
    signature_id: int,
    sources: frozenset[SignatureStatus],
    to: SignatureStatus,
    now: datetime,
    **values: object,
) -> bool:
    """Move a signature from one of `sources` to `to` (SIGNATURE_TRANSITIONS), with its
    counts, atomically; False when it is in none of `sources`.

    The guarded UPDATE runs once per kind of source (counted, not counted), so that its
    WHERE tells the old status's kind; counted fields among `values` are changed after
    the move, by change_counted_fields."""
    fields = {name: values.pop(name) for name in COUNTED_FIELDS if name in values}
    groups = [group for group in (sources & COUNTED, sources - COUNTED) if group]
    _lock_petition_of(session, signature_id)
    # A row that changes kind between the two statements (a concurrent confirmation) is
    # looked for again: a few tries always suffice, as it can only move forward.
    for _attempt in range(3):
        for group in groups:
            statement = SIGNATURE_TRANSITIONS.update(
                Signature, group, to, Signature.id == signature_id, status_changed_at=now, **values
            ).returning(*_KEY_COLUMNS)
            row = session.execute(statement).one_or_none()
            if row is None:
                continue
            petition_id, _status, category, level, departement = row
            deltas = Deltas.empty()
            if group <= COUNTED:
                deltas.add(petition_id, category, level, departement, -1)
            if to in COUNTED:
                deltas.add(petition_id, category, level, departement, 1)
            apply_deltas(session, deltas)
            if fields:
                _change_counted_fields(session, signature_id, values=fields)
            return True
        status = session.scalar(select(Signature.status).where(Signature.id == signature_id))
        if status is None or status not in sources:
            return False
    return False


def change_counted_fields(session: Session, signature_id: int, **values: object) -> bool:
    """Change a signature's category, level or département (and other columns given with
    them), with its counts; False for an unknown signature.

    The UPDATE's WHERE names the old values it read, so a concurrent change makes it match
    nothing and it reads again, instead of counting from a stale value."""
    _lock_petition_of(session, signature_id)
    return _change_counted_fields(session, signature_id, values=values)


def _change_counted_fields(session: Session, signature_id: int, values: dict) -> bool:
    changed = [name for name in COUNTED_FIELDS if name in values]
    if not changed:
        raise ValueError("no counted field given")
    for _attempt in range(5):
        old = session.execute(
            select(*(getattr(Signature, name) for name in changed)).where(
                Signature.id == signature_id
            )
        ).one_or_none()
        if old is None:
            return False
        guard = [
            getattr(Signature, name).is_(None)
            if value is None
            else getattr(Signature, name) == value
            for name, value in zip(changed, old, strict=True)
        ]
        statement = (
            update(Signature)
            .where(Signature.id == signature_id, *guard)
            .values(**values)
            .returning(*_KEY_COLUMNS)
            .execution_options(synchronize_session=False)
        )
        row = session.execute(statement).one_or_none()
        if row is None:
            continue
        petition_id, status, *new = row
        if status in COUNTED:
            before = dict(zip(COUNTED_FIELDS, new, strict=True)) | dict(
                zip(changed, old, strict=True)
            )
            deltas = Deltas.empty()
            deltas.add(petition_id, *new, 1)
            deltas.add(petition_id, *(before[name] for name in COUNTED_FIELDS), -1)
            apply_deltas(session, deltas)
        return True
    raise RuntimeError(f"signature {signature_id} kept changing")


# --- Bulk changes -----------------------------------------------------------------------------


def _fields_of(signature: Signature) -> dict[str, object]:
    return {name: getattr(signature, name) for name in ("petition_id", "status", *COUNTED_FIELDS)}


def count_new_signatures(
    session: Session, rows: Iterable[Mapping[str, object] | Signature]
) -> None:
    """Count signatures just inserted, from their column values or flushed objects: one
    grouped statement for a whole import, in its transaction."""
    deltas = Deltas.empty()
    for row in rows:
        values = row if isinstance(row, Mapping) else _fields_of(row)
        if values["status"] in COUNTED:
            deltas.add(
                values["petition_id"],
                values["category_key"],
                values.get("verification_level") or "none",
                values.get("departement"),
                1,
            )
    lock_petitions(session, (petition_id for petition_id, _, _ in deltas.levels))
    apply_deltas(session, deltas)


def counted_from_signatures(petition_id: int | None = None) -> Deltas:
    """The counts as COUNT queries give them now (of one petition, or of all)."""
    where = [Signature.counted]
    if petition_id is not None:
        where.append(Signature.petition_id == petition_id)
    fresh = Deltas.empty()
    levels = db.session.execute(
        select(
            Signature.petition_id,
            Signature.category_key,
            Signature.verification_level,
            func.count(Signature.id),
        )
        .where(*where)
        .group_by(Signature.petition_id, Signature.category_key, Signature.verification_level)
    )
    for petition, category, level, n in levels:
        fresh.levels[(petition, category, str(level))] = n
    departements = db.session.execute(
        select(Signature.petition_id, Signature.departement, func.count(Signature.id))
        .where(*where, Signature.departement.is_not(None), Signature.departement != "")
        .group_by(Signature.petition_id, Signature.departement)
    )
    for petition, departement, n in departements:
        fresh.departements[(petition, departement)] = n
    return fresh


def stored_counts(petition_id: int | None = None) -> Deltas:
    """The stored counts, zeros left out (of one petition, or of all)."""
    stored = Deltas.empty()
    levels = select(
        PetitionCount.petition_id,
        PetitionCount.category_key,
        PetitionCount.verification_level,
        PetitionCount.count,
    ).where(PetitionCount.count != 0)
    departements = select(
        PetitionDepartementCount.petition_id,
        PetitionDepartementCount.departement,
        PetitionDepartementCount.count,
    ).where(PetitionDepartementCount.count != 0)
    if petition_id is not None:
        levels = levels.where(PetitionCount.petition_id == petition_id)
        departements = departements.where(PetitionDepartementCount.petition_id == petition_id)
    for petition, category, level, n in db.session.execute(levels):
        stored.levels[(petition, category, level)] = n
    for petition, departement, n in db.session.execute(departements):
        stored.departements[(petition, departement)] = n
    return stored


@dataclass(frozen=True)
class Drift:
    """One stored count that differs from the signatures: no personal data, only keys."""

    petition_id: int
    what: str  # "category/level" or "departement"
    key: str
    stored: int
    counted: int

    def describe(self) -> str:
        return (
            f"petition {self.petition_id}: {self.what} {self.key}: "
            f"stored {self.stored}, counted {self.counted}"
        )


def count_drift(petition_id: int | None = None) -> list[Drift]:
    """The stored counts that differ from a fresh COUNT (of one petition, or of all)."""
    stored, fresh = stored_counts(petition_id), counted_from_signatures(petition_id)
    drift = []
    for key in sorted(set(stored.levels) | set(fresh.levels)):
        if stored.levels[key] != fresh.levels[key]:
            petition, category, level = key
            key_name = f"{category}/{level}"
            drift.append(
                Drift(petition, "category/level", key_name, stored.levels[key], fresh.levels[key])
            )
    for key in sorted(set(stored.departements) | set(fresh.departements)):
        if stored.departements[key] != fresh.departements[key]:
            petition, departement = key
            numbers = (stored.departements[key], fresh.departements[key])
            drift.append(Drift(petition, "departement", departement, *numbers))
    return drift


def recount_petition(session: Session, petition_id: int) -> None:
    """Rebuild a petition's counts from its signatures, in the caller's transaction: after
    a bulk change (the retention purge), or to repair drift.

    The rows are deleted, then inserted from one grouped SELECT with the same upsert as
    increments: a confirmation committed during the recount either is in the SELECT or
    adds itself after, never both."""
    lock_petitions(session, [petition_id])
    session.execute(delete(PetitionCount).where(PetitionCount.petition_id == petition_id))
    session.execute(
        delete(PetitionDepartementCount).where(PetitionDepartementCount.petition_id == petition_id)
    )
    apply_deltas(session, counted_from_signatures(petition_id))


# --- Reading ----------------------------------------------------------------------------------


def total(petition_id: int) -> int:
    """Counted signatures of the petition."""
    return db.session.scalar(
        select(func.coalesce(func.sum(PetitionCount.count), 0)).where(
            PetitionCount.petition_id == petition_id
        )
    )


def by_category_and_level(petition_id: int) -> dict[str, dict[str, int]]:
    """Counted signatures per category key and level, zeros left out."""
    rows = db.session.execute(
        select(PetitionCount.category_key, PetitionCount.verification_level, PetitionCount.count)
        .where(PetitionCount.petition_id == petition_id, PetitionCount.count != 0)
        .order_by(PetitionCount.category_key, PetitionCount.verification_level)
    )
    counts: dict[str, dict[str, int]] = {}
    for category, level, n in rows:
        counts.setdefault(category, {})[level] = n
    return counts


def by_departement(petition_id: int, departement: str | None = None) -> dict[str, int]:
    """Counted signatures per département code (of one code when given), zeros left out."""
    query = select(PetitionDepartementCount.departement, PetitionDepartementCount.count).where(
        PetitionDepartementCount.petition_id == petition_id, PetitionDepartementCount.count != 0
    )
    if departement is not None:
        query = query.where(PetitionDepartementCount.departement == departement)
    return dict(db.session.execute(query).all())


def repair_counts(petition_id: int | None = None) -> list[Drift]:
    """Rebuild the counts of every petition (or one) whose stored counts drifted from the
    signatures, and commit; the drift found, for the caller to report."""
    drift = count_drift(petition_id)
    for drifted in sorted({item.petition_id for item in drift}):
        recount_petition(db.session, drifted)
    db.session.commit()
    return drift
