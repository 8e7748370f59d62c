"""Choosing a letter's recipients: the selection an organiser builds in the picker (roles,
chambers, départements, authorities, officials picked by hand), the officials it selects,
those it skips because their address bounces, and the search of départements.

A selection is plain data, stored on the mailing as JSON:
`{"roles": [...], "chambers": [...], "departements": [...], "official_ids": [...],
"authority_ids": [...]}`. The criteria (roles, chambers, départements) combine with AND and
select people; authorities (institutions) are ticked one by one in their own group; officials
picked by hand are added. The count the picker shows and the deliveries a sending writes come
from the same query (`selection_matches`), so that the number announced is the number sent.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select

from campaign.departements import DEPARTEMENTS, REGIONS
from campaign.extensions import db
from campaign.officials.models import Official, OfficialKind

# What a selection may hold, and the type of its values.
SELECTION_KEYS = ("roles", "chambers", "departements", "official_ids", "authority_ids")
NOT_A_LETTER_OR_DIGIT = re.compile(r"[^a-z0-9]+")


def search_key(text: str) -> str:
    """Text as the search compares it: without accents or case, words separated by one
    space ("Côte-d'Or" → "cote d or"). static/js/recipient-picker.js does the same."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return NOT_A_LETTER_OR_DIGIT.sub(" ", bare.casefold()).strip()


def _region_of() -> dict[str, str]:
    return {code: region for region, codes in REGIONS.items() for code in codes}


REGION_OF = _region_of()


def departement_search_words(code: str) -> str:
    """The words a search may find a département by: its code (also without its leading
    zero, "7" for "07"), its name and its région's."""
    words = [code.lower(), code.lstrip("0").lower(), search_key(DEPARTEMENTS[code])]
    if code in REGION_OF:
        words.append(search_key(REGION_OF[code]))
    return " ".join(dict.fromkeys(word for word in words if word))


SEARCH_WORDS = {code: departement_search_words(code).split() for code in DEPARTEMENTS}


def departements_matching(query: str) -> list[str]:
    """The départements a search finds, in the usual order: every word typed begins one of
    the département's words (code, name, région), accents and case aside; "ile" finds the
    départements of Île-de-France, "ardeche" Ardèche, "2a" Corse-du-Sud. An empty search
    finds them all."""
    typed = search_key(query).split()
    return [
        code
        for code, words in SEARCH_WORDS.items()
        if all(any(word.startswith(part) for word in words) for part in typed)
    ]


def departements_after_regions(
    chosen: Iterable[str], whole: Iterable[str], were_whole: Iterable[str] = ()
) -> list[str]:
    """The départements once the régions' boxes are applied: a région ticked whole adds all
    its départements; one shown ticked whole and now unticked (`were_whole`) clears them.
    Without JavaScript, that is how "all of the région" and its undoing work."""
    codes = set(chosen)
    whole = set(whole)
    for region in set(were_whole) - whole:
        codes -= set(REGIONS.get(region, ()))
    for region in whole:
        codes |= set(REGIONS.get(region, ()))
    return [code for code in DEPARTEMENTS if code in codes]


def clean_selection(selection: dict[str, Any]) -> dict[str, list]:
    """A selection with its known keys only, each sorted and without repeats."""
    return {key: sorted(set(selection.get(key) or ())) for key in SELECTION_KEYS}


def selection_matches(selection: dict[str, Any]) -> list:
    """The selection as SQL conditions, any of which selects an official: the criteria
    (AND) among people, the authorities ticked, the officials picked by hand. Empty when it
    selects nobody."""
    conditions = []
    if selection.get("roles"):
        conditions.append(Official.role.in_(selection["roles"]))
    if selection.get("chambers"):
        conditions.append(Official.chamber.in_(selection["chambers"]))
    if selection.get("departements"):
        conditions.append(Official.departement.in_(selection["departements"]))
    matches = [and_(Official.kind == OfficialKind.PERSON, *conditions)] if conditions else []
    if selection.get("authority_ids"):
        matches.append(
            and_(
                Official.kind == OfficialKind.AUTHORITY,
                Official.id.in_(selection["authority_ids"]),
            )
        )
    if selection.get("official_ids"):
        matches.append(Official.id.in_(selection["official_ids"]))
    return matches


def _officials(selection: dict[str, Any], *, bouncing: bool) -> list[Official]:
    matches = selection_matches(selection)
    if not matches:
        return []
    bounce = Official.bouncing_since.is_not(None) if bouncing else Official.bouncing_since.is_(None)
    return list(
        db.session.scalars(
            select(Official)
            .where(Official.active.is_(True), bounce, or_(*matches))
            .order_by(Official.last_name, Official.first_name, Official.chamber, Official.id)
        )
    )


def selected_officials(selection: dict[str, Any]) -> list[Official]:
    """Active officials the selection selects whose address does not bounce: those a
    sending writes to. No criterion and nobody ticked selects nobody."""
    return _officials(selection, bouncing=False)


def bouncing_officials(selection: dict[str, Any]) -> list[Official]:
    """Active officials the selection selects but whose address bounces: skipped, and the
    organiser is told so."""
    return _officials(selection, bouncing=True)


@dataclass(frozen=True)
class RecipientCount:
    """How many officials a selection writes to, and those it skips (address bouncing)."""

    count: int
    skipped: list[Official] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "skipped": [
                {"name": official.recipient_name, "email": official.email}
                for official in self.skipped
            ],
        }


def count_recipients(selection: dict[str, Any]) -> RecipientCount:
    """The number of recipients of a selection, as a sending would write to them now."""
    matches = selection_matches(selection)
    if not matches:
        return RecipientCount(count=0)
    count = db.session.scalar(
        select(func.count(Official.id)).where(
            Official.active.is_(True), Official.bouncing_since.is_(None), or_(*matches)
        )
    )
    return RecipientCount(count=count or 0, skipped=bouncing_officials(selection))


def active_authorities() -> list[Official]:
    """The active authorities, by name: the picker's group of institutions."""
    return list(
        db.session.scalars(
            select(Official)
            .where(Official.active.is_(True), Official.kind == OfficialKind.AUTHORITY)
            .order_by(Official.chamber, Official.last_name, Official.id)
        )
    )


def pickable_ids() -> dict[OfficialKind, list[int]]:
    """The ids of the active people and authorities, by kind: what a selection may tick."""
    rows = db.session.execute(
        select(Official.kind, Official.id).where(Official.active.is_(True)).order_by(Official.id)
    )
    ids: dict[OfficialKind, list[int]] = {kind: [] for kind in OfficialKind}
    for kind, official_id in rows:
        ids[OfficialKind(kind)].append(official_id)
    return ids


def people_chambers() -> list[str]:
    """The chambers that active people sit in (authorities are their own group)."""
    query = (
        select(Official.chamber)
        .where(
            Official.active.is_(True),
            Official.kind == OfficialKind.PERSON,
            Official.chamber != "",
        )
        .distinct()
    )
    return sorted(db.session.scalars(query))
