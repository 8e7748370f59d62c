"""Claim, settle, retry: the one engine under both senders of mail.

The outbox's drain (confirmations, receipts...) and a mailing's sending jobs both take rows
that are owed a send, send them, and record what became of them:

- claim(): due rows -> claimed, by one worker only, in one UPDATE whose candidates are
  locked with SKIP LOCKED on PostgreSQL (two workers take two different rows instead of
  waiting for each other), committed before the first SMTP byte so the claim outlives the
  worker;
- settle(): the outcome of claimed rows, one UPDATE for all of them, optionally guarded by
  the table's state machine and the claim's own token;
- RetrySchedule and failure(): after a failed send, whether and when to try again.

What differs between the two stays with them: the outbox sends an ambiguous message again
(a confirmation twice is harmless), a mailing marks it unknown for the organiser.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Row, Select, Table, bindparam, update
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.dml import Update

from campaign.extensions import db
from campaign.mail.transport import PermanentMailError, classify_mail_error
from campaign.transitions import StateMachine


def claim_statement(
    table: Table,
    candidates: Select,
    values: Mapping[str, object],
    returning: Sequence[ColumnElement],
    *,
    machine: StateMachine | None = None,
    sources: Collection[StrEnum] = (),
    wait: bool = False,
    one: bool = False,
) -> Update:
    """The UPDATE ... RETURNING that claim() runs, for a caller that claims in a loop: built
    once with bindparam() placeholders, then run with claim_with(). SQLAlchemy would
    otherwise build and look up the statement again for every row (a sending job claims
    one delivery a letter)."""
    locked = candidates.with_for_update(skip_locked=not wait).scalar_subquery()
    chosen = table.c.id == locked if one else table.c.id.in_(locked)
    if machine is None:
        statement = update(table).where(chosen).values(**values)
    else:
        values = dict(values)
        status = values.pop("status")
        statement = machine.update(table, sources, status, chosen, **values)
    return statement.returning(*returning)


def claim_with(statement: Update, parameters: Mapping[str, object] | None = None) -> list[Row]:
    """Run a statement of claim_statement() with its parameters, and commit (the claim is
    committed before anything is sent); the claimed rows."""
    rows = db.session.execute(statement, parameters).all()
    db.session.commit()
    return rows


def claim(
    table: Table,
    candidates: Select,
    values: Mapping[str, object],
    returning: Sequence[ColumnElement],
    *,
    machine: StateMachine | None = None,
    sources: Collection[StrEnum] = (),
    wait: bool = False,
    one: bool = False,
) -> list[Row]:
    """Set `values` (the claimed status, claimed_at, attempts + 1, a token...) on the rows
    whose id `candidates` selects (with its own filters, order and limit), and commit;
    the claimed rows' `returning` columns. With a state machine, the UPDATE also checks
    that each row is still in one of `sources`. Safe under concurrency: a row is claimed
    by one caller only: the candidates are locked as they are chosen and checked again
    once locked, so that the UPDATE never takes a row another caller has just claimed.
    Locked candidates are skipped (`wait`: waited for, for a claim of one given row).
    `one`: the candidates are one row at most (LIMIT 1), compared with `=`: PostgreSQL then
    chooses it once, as an InitPlan; with IN it may run the subquery again for each row it
    scans, and SKIP LOCKED would let each run return another row, claiming several.

    Core statements on the table: the ORM's bulk-update layer was a fifth of a mailing
    worker's CPU."""
    statement = claim_statement(
        table,
        candidates,
        values,
        returning,
        machine=machine,
        sources=sources,
        wait=wait,
        one=one,
    )
    return claim_with(statement)


def settle(
    table: Table,
    ids: Collection[int],
    status: StrEnum,
    *where: ColumnElement[bool],
    machine: StateMachine | None = None,
    claimed: Collection[StrEnum] = (),
    commit: bool = True,
    **values: object,
) -> int:
    """Record the outcome of claimed rows: `status` and `values`, in one UPDATE for all of
    them (a batch's sent messages share one). With a state machine, only rows in one of
    the `claimed` states that may move to `status` are touched; `where` adds guards (the
    claim's token: only its owner settles). Returns how many rows moved."""
    only = table.c.id == next(iter(ids)) if len(ids) == 1 else table.c.id.in_(ids)
    if machine is not None:
        sources = frozenset(claimed) & machine.sources_of(status)
        moved = machine.move(db.session, table, sources, status, only, *where, **values)
    else:
        statement = update(table).where(only, *where).values(status=status, **values)
        moved = db.session.execute(statement).rowcount
    if commit:
        db.session.commit()
    return moved


def settle_statement(
    table: Table,
    status: StrEnum,
    *where: ColumnElement[bool],
    machine: StateMachine | None = None,
    claimed: Collection[StrEnum] = (),
    **values: object,
) -> Update:
    """settle()'s UPDATE for one row, for a caller that settles in a loop: built once, the
    row's id given as the parameter `settled_id` (the other parameters are the caller's
    bindparam()s in `where` and `values`)."""
    only = table.c.id == bindparam("settled_id")
    if machine is not None:
        sources = frozenset(claimed) & machine.sources_of(status)
        return machine.update(table, sources, status, only, *where, **values)
    return update(table).where(only, *where).values(status=status, **values)


@dataclass(frozen=True)
class RetrySchedule:
    """After the n-th failed attempt, the next one waits delay(n); a send that failed on
    its max_attempts-th attempt is given up."""

    delay: Callable[[int], timedelta]
    max_attempts: int

    @classmethod
    def table(cls, delays: Sequence[timedelta]) -> RetrySchedule:
        """One delay per retry, in order; given up after the last one's attempt fails."""
        return cls(delay=lambda attempts: delays[attempts - 1], max_attempts=len(delays) + 1)

    @classmethod
    def exponential(cls, base: float, cap: timedelta, max_attempts: int) -> RetrySchedule:
        """base seconds, doubled at each failure, never more than `cap`."""

        def delay(attempts: int) -> timedelta:
            return min(timedelta(seconds=base * 2 ** (attempts - 1)), cap)

        return cls(delay=delay, max_attempts=max_attempts)

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after the `attempts`-th attempt failed; None: give up."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delay(attempts)


@dataclass(frozen=True)
class Failure:
    """What a failed send means: the reason to record (no address in it), and when to try
    again (None: failed for good)."""

    reason: str
    retry_at: datetime | None


def failure(error: Exception, attempts: int, schedule: RetrySchedule, now: datetime) -> Failure:
    """The verdict on a send that raised an SMTP or connection error on its `attempts`-th
    attempt: a permanent refusal fails at once, a temporary one is retried on schedule."""
    classified = classify_mail_error(error)
    if isinstance(classified, PermanentMailError):
        return Failure(str(classified), None)
    return Failure(str(classified), schedule.next_attempt(attempts, now))
