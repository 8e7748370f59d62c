"""The organisers' chart of an objection campaign, drawn by Tribune as inline SVG (no script,
no third-party library): per institution and per week, one bar per step (letters prepared,
marked sent, answered, complaints prepared). The geometry is computed here; the template
draws it (templates/workspace/objections/_chart.html). Bar widths are percentages of the
chart's width and text keeps its size, so that the chart fits a 390 px phone unscaled.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import date

# Height, in pixels, of a group's label line, of one bar and of the gap after a bar and a group.
LABEL_HEIGHT, BAR_HEIGHT, BAR_GAP, GROUP_GAP = 20, 14, 4, 14
# SVG text does not wrap: a label is cut into lines that fit a phone's width at 14 px.
LABEL_LINE = 36
# The widest bar, in percent of the chart: the rest holds its count.
WIDEST = 82.0
MAX_WEEKS = 12


@dataclass(frozen=True)
class Bar:
    """One step's bar in a group: its count, its width and its vertical place."""

    step: str
    label: str
    count: int
    width: float
    y: int


@dataclass(frozen=True)
class BarGroup:
    """The bars of one institution or one week, under its label."""

    label: str
    lines: tuple[tuple[str, int], ...]
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class BarChart:
    """A chart's groups and its height in pixels."""

    groups: tuple[BarGroup, ...]
    height: int


def bar_chart(rows: list[tuple[str, dict[str, int]]], steps: list[tuple[str, str]]) -> BarChart:
    """Lay out one group per row (a label and its counts by step key) and one bar per step
    (its key and label), all bars on one scale, the largest count WIDEST percent wide."""
    largest = max((count for _label, counts in rows for count in counts.values()), default=0)
    groups, y = [], 0
    for label, counts in rows:
        lines = []
        for line in textwrap.wrap(label, LABEL_LINE) or [""]:
            lines.append((line, y + LABEL_HEIGHT - 6))
            y += LABEL_HEIGHT
        bars = []
        for key, step_label in steps:
            count = counts.get(key, 0)
            width = round(WIDEST * count / largest, 2) if largest else 0.0
            bars.append(Bar(key, str(step_label), count, width, y))
            y += BAR_HEIGHT + BAR_GAP
        groups.append(BarGroup(label, tuple(lines), tuple(bars)))
        y += GROUP_GAP
    return BarChart(tuple(groups), max(y, 1))


def recent_weeks(
    weeks: list[tuple[date, dict[str, int]]], limit: int = MAX_WEEKS
) -> list[tuple[date, dict[str, int]]]:
    """The last `limit` weeks that had a step, oldest first (the table keeps them all)."""
    return weeks[-limit:]
