"""The map of France by département, drawn by Tribune as inline SVG (no tiles, no map service):
a choropleth of counts, with a legend in words and a table, the overseas départements as
insets. Outlines: campaign/departements_map.json (scripts/build_departements_map.py says
where they come from and under which licence)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from markupsafe import Markup

from campaign.departements import DEPARTEMENTS

SHAPES = Path(__file__).resolve().parent.parent / "departements_map.json"
LEVELS = 4


@dataclass(frozen=True)
class Area:
    """One département on the map: its outline, its count (None when not shown) and the
    level of the legend it is coloured with (0: no count shown)."""

    code: str
    name: str
    d: str
    count: int | None
    level: int


@dataclass(frozen=True)
class LegendStep:
    level: int
    low: int
    high: int


@dataclass(frozen=True)
class Inset:
    code: str
    name: str
    x: float
    y: float
    size: float


@dataclass(frozen=True)
class DepartementMap:
    view_box: str
    areas: tuple[Area, ...]
    insets: tuple[Inset, ...]
    legend: tuple[LegendStep, ...]
    threshold: int

    @property
    def shown(self) -> tuple[Area, ...]:
        """The départements whose count is shown, largest first (the table's rows)."""
        return tuple(
            sorted((a for a in self.areas if a.count is not None), key=lambda a: -(a.count or 0))
        )


@lru_cache(maxsize=1)
def _shapes() -> dict:
    return json.loads(SHAPES.read_text())


def _legend(counts: list[int], threshold: int) -> tuple[LegendStep, ...]:
    """Up to LEVELS steps of equal width from the threshold to the largest count."""
    if not counts:
        return ()
    low, high = threshold, max(counts)
    width = max(1, math.ceil((high - low + 1) / LEVELS))
    steps = []
    for level in range(1, LEVELS + 1):
        start = low + (level - 1) * width
        if start > high:
            break
        steps.append(LegendStep(level, start, min(high, start + width - 1)))
    return tuple(steps)


def _level(count: int, legend: tuple[LegendStep, ...]) -> int:
    return next((step.level for step in legend if step.low <= count <= step.high), 0)


def departement_map(counts: dict[str, int], threshold: int) -> DepartementMap:
    """The map of these counts per département code; a count below `threshold` is not shown
    (nor coloured), so that nobody is singled out in a small place."""
    data = _shapes()
    shown = {code: count for code, count in counts.items() if count >= threshold}
    legend = _legend(list(shown.values()), threshold)
    areas = tuple(
        Area(
            code=code,
            name=DEPARTEMENTS.get(code, code),
            d=shape["d"],
            count=shown.get(code),
            level=_level(shown[code], legend) if code in shown else 0,
        )
        for code, shape in data["shapes"].items()
    )
    insets = tuple(
        Inset(inset["code"], DEPARTEMENTS[inset["code"]], inset["x"], inset["y"], inset["size"])
        for inset in data["insets"]
    )
    return DepartementMap(data["viewBox"], areas, insets, legend, threshold)


def public_map_html(counts: dict[str, int], threshold: int, locale: str) -> Markup:
    """The public map of these counts (petitions/_map.html, without the officials' links)
    as HTML in this language: ~100 outlines, each with its title in words, are most of the
    petition page's rendering, yet they change only with the counts shown."""
    shown = tuple((code, count) for code, count in counts.items() if count >= threshold)
    return _public_map_html(shown, threshold, locale)


# Keyed by plain values only: the HTML is a function of the counts shown, the threshold and
# the language (the outlines, the templates and the catalogues do not change while the
# process runs), so an entry is never stale and nothing needs to forget one.
@lru_cache(maxsize=256)
def _public_map_html(shown: tuple[tuple[str, int], ...], threshold: int, locale: str) -> Markup:
    france_map = current_app.jinja_env.get_template("petitions/_map.html").module.france_map
    with force_locale(locale):
        return france_map(departement_map(dict(shown), threshold), "departements")
