"""State machines: one table of allowed moves per model, one guarded UPDATE to make them.

Every status change in Tribune (a signature confirmed, a mailing paused, a delivery sent, a
petition closed) is a single UPDATE whose WHERE clause names the states it may start from.
Two requests racing for the same row then move it once: the loser's UPDATE matches nothing
and the caller learns it from the row count, without a read-then-write window.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from sqlalchemy import Table, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.dml import Update

from campaign.errors import InvalidTransition

S = TypeVar("S", bound=StrEnum)


class StateMachine(Generic[S]):
    """The moves a model's `status` column allows, and the guarded UPDATE that makes them."""

    def __init__(self, name: str, moves: Mapping[S, Iterable[S]]) -> None:
        self.name = name
        self.moves: dict[S, frozenset[S]] = {
            source: frozenset(targets) for source, targets in moves.items()
        }
        # Asked on every settled delivery: computed once.
        self._sources: dict[S, frozenset[S]] = {
            to: frozenset(source for source, targets in self.moves.items() if to in targets)
            for to in self.moves
        }

    def targets(self, source: S) -> frozenset[S]:
        """The states one may move to from `source`."""
        return self.moves[source]

    def sources_of(self, to: S) -> frozenset[S]:
        """The states from which `to` may be reached."""
        return self._sources[to]

    def check(self, sources: S | Collection[S], to: S) -> frozenset[S]:
        """The sources as a set; raises InvalidTransition if one of them may not move to `to`
        (a programming error: the table is the rule, callers ask only for allowed moves)."""
        sources = _as_set(sources)
        for source in sources:
            if to not in self.moves[source]:
                raise InvalidTransition(f"{self.name}: {source} -> {to}")
        return sources

    def update(
        self,
        target: type | Table,
        sources: S | Collection[S],
        to: S,
        *where: ColumnElement[bool],
        **values: object,
    ) -> Update:
        """UPDATE target SET status = to, **values WHERE status IN sources AND *where.

        `target` is a mapped class or its Table (the table skips the ORM's bulk-update
        layer on hot paths). Callers may add RETURNING before executing it."""
        sources = self.check(sources, to)
        status = target.c.status if isinstance(target, Table) else target.status
        statement = update(target).where(status.in_(sources), *where).values(status=to, **values)
        if isinstance(target, Table):
            return statement
        # The rows are usually not in the session; when they are, the caller refreshes.
        return statement.execution_options(synchronize_session=False)

    def move(
        self,
        session: Session,
        target: type | Table,
        sources: S | Collection[S],
        to: S,
        *where: ColumnElement[bool],
        **values: object,
    ) -> int:
        """Make the move on every row matching `where` that is in one of `sources`; returns
        how many moved (0: another request moved them first, or none matched)."""
        return session.execute(self.update(target, sources, to, *where, **values)).rowcount


def _as_set(sources: object) -> frozenset:
    if isinstance(sources, str):  # a StrEnum member is a str, not a collection of states
        return frozenset({sources})
    return frozenset(sources)
