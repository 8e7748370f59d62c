"""The list pages of the press PDF, drawn with fpdf2 rather than laid out by WeasyPrint.

WeasyPrint lays out a list of names at about 2.5 ms a name (two balanced columns of
paragraphs), so 100,000 names took four minutes; here a name costs a few tens of
microseconds: the layout is fixed (A4, two columns, a name never split between columns),
so lines are broken with the fonts' advance widths and placed directly. The cover (title,
text, counts) stays HTML rendered by WeasyPrint; services.write_publication_pdf joins the
two. The look follows templates/publication/signatories_pdf.html: DejaVu Serif, the name in
bold, the level in small type, a hanging indent, a heading per category, the title at the
top and the date and page number at the foot of every page. Nothing here reads the
database, the request or the network: text goes in as text, never as markup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from campaign.publication.formats import CONTROL_CHARACTERS

# Millimetres (fpdf2's unit here) and points, as in the HTML template's CSS.
PT = 25.4 / 72
K = 72 / 25.4  # points per millimetre, the PDF's unit
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
TOP, SIDE, BOTTOM = 18.0, 16.0, 20.0
COLUMN_GAP = 8.0
COLUMN_WIDTH = (PAGE_WIDTH - 2 * SIDE - COLUMN_GAP) / 2
LIST_SIZE, LEVEL_SIZE, MARGIN_SIZE, HEADING_SIZE = 8.5, 7.5, 7.5, 13.0
LINE = LIST_SIZE * 1.25 * PT
ENTRY_GAP = 0.6
HANGING = 0.8 * LIST_SIZE * PT
HEADING_LINE = HEADING_SIZE * 1.35 * PT
HEADING_BEFORE, HEADING_AFTER = 7.0, 2.5
TEXT_COLOUR, MARGIN_COLOUR = (17, 17, 17), (85, 85, 85)
# The levels marked after a name, as in the template: checked ones with a tick, an
# unconfirmed address in words, nothing for a confirmed address (the usual case).
CHECKED_LEVELS = frozenset({"domain", "registry", "roster", "moderator"})

# (family, style) of the fonts fpdf2 embeds (subsets): the files of the DejaVu fonts that
# WeasyPrint uses too (Debian's fonts-dejavu-core); DejaVu Sans draws what DejaVu Serif
# lacks (the tick, some scripts).
FONTS = {
    ("serif", ""): "DejaVuSerif.ttf",
    ("serif", "B"): "DejaVuSerif-Bold.ttf",
    ("sans", ""): "DejaVuSans.ttf",
    ("sans", "B"): "DejaVuSans-Bold.ttf",
}
FONT_FOLDERS = ("/usr/share/fonts", "/usr/local/share/fonts", "/opt/homebrew/share/fonts")


@functools.cache
def font_file(name: str) -> str:
    """The path of an installed font file, searched in the usual font folders."""
    for folder in map(Path, FONT_FOLDERS):
        found = next(folder.rglob(name), None) if folder.is_dir() else None
        if found is not None:
            return str(found)
    raise RuntimeError(f"font {name} not found (install the package fonts-dejavu-core)")


@dataclass(frozen=True)
class ListLabels:
    """The words of the list pages, in the petition's language."""

    title: str
    as_of: str
    levels: dict[str, str]
    continued: Callable[[str], str]


# A run of text in one font: (text, family, bold, size).
Run = tuple[str, str, bool, float]


@dataclass
class _Entry:
    lines: list[list[tuple[float, Run]]]  # per line: (x offset, run)
    height: float
    column: int = 0


class _Fonts:
    """The embedded fonts: their resource numbers, advance widths, coverage, and the
    mapping of characters to their codes in the subset fpdf2 embeds."""

    def __init__(self, pdf) -> None:
        self.ids: dict[tuple[str, bool], int] = {}
        self.widths: dict[tuple[str, bool], Any] = {}
        self.covered: dict[tuple[str, bool], frozenset[str]] = {}
        self.fonts: dict[tuple[str, bool], Any] = {}
        self.codes: dict[tuple[str, bool], dict[int, str]] = {}
        self.cache: dict[Run, float] = {}
        for (family, style), pattern in FONTS.items():
            pdf.add_font(family, style, font_file(pattern))
            font = pdf.fonts[family + style]
            key = (family, style == "B")
            self.ids[key] = font.i
            self.fonts[key] = font
            self.widths[key] = font.cw
            self.covered[key] = frozenset(map(chr, font.cmap))
            self.codes[key] = {}

    def encode(self, run: Run) -> str:
        """The run as a PDF string of two-byte codes in the font's subset (what fpdf2's
        encode_text() does), parentheses and backslashes escaped."""
        text, family, bold, _size = run
        codes = self.codes[family, bold]
        if not codes.keys() >= set(map(ord, text)):
            subset = self.fonts[family, bold].subset
            for char in set(text):
                if ord(char) not in codes:
                    code = subset.pick(ord(char))
                    codes[ord(char)] = "" if code is None else chr(code)
        raw = text.translate(codes).encode("utf-16-be").decode("latin-1")
        if "\\" in raw or "(" in raw or ")" in raw or "\r" in raw:
            raw = raw.replace("\\", "\\\\").replace(")", "\\)").replace("(", "\\(")
            raw = raw.replace("\r", "\\r")
        return raw

    def runs(self, text: str, bold: bool, size: float) -> list[Run]:
        """The text cut where DejaVu Serif lacks a glyph and DejaVu Sans has it."""
        covered = self.covered["serif", bold]
        if covered.issuperset(text):
            return [(text, "serif", bold, size)]
        sans = self.covered["sans", bold]
        runs: list[Run] = []
        for char in text:
            family = "sans" if char not in covered and char in sans else "serif"
            if runs and runs[-1][1] == family:
                runs[-1] = (runs[-1][0] + char, family, bold, size)
            else:
                runs.append((char, family, bold, size))
        return runs

    def width(self, run: Run) -> float:
        width = self.cache.get(run)
        if width is None:
            text, family, bold, size = run
            widths = self.widths[family, bold]
            width = sum(widths[ord(char)] for char in text) * size * PT / 1000
            if len(self.cache) > 100_000:
                self.cache.clear()
            self.cache[run] = width
        return width


def _words(runs: list[Run]) -> Iterator[list[Run]]:
    """The runs cut into words, each word keeping the space that follows it: lines break
    only at spaces (the template's hyphens: manual)."""
    word: list[Run] = []
    for text, family, bold, size in runs:
        pieces = text.split(" ")
        for number, piece in enumerate(pieces):
            last = number == len(pieces) - 1
            chunk = piece if last else piece + " "
            if chunk:
                word.append((chunk, family, bold, size))
            if not last:
                yield word
                word = []
    if word:
        yield word


class ListDrawer:
    """Draws sections of names into an fpdf2 document, two columns to a page."""

    def __init__(self, labels: ListLabels, first_page: int) -> None:
        from fpdf import FPDF
        from fpdf.enums import PDFResourceType

        self._font_resource = PDFResourceType.FONT

        self.labels = labels
        self.first_page = first_page
        pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_auto_page_break(False)
        pdf.set_margins(SIDE, TOP, SIDE)
        pdf.set_creator("Tribune")
        pdf.set_title(labels.title)
        pdf.set_text_color(*TEXT_COLOUR)
        self.pdf = pdf
        self.fonts = _Fonts(pdf)
        self.y = PAGE_HEIGHT  # no page yet: the first heading starts one

    # --- the parts of a page

    def _new_page(self) -> None:
        self.pdf.add_page()
        # Every font among the page's resources: the text below is written as content
        # operators directly (fpdf2's text() costs about 0.2 ms a call, mostly checks).
        for font in self.fonts.ids.values():
            self.pdf._resource_catalog.add(self._font_resource, font, self.pdf.page)
        self.y = TOP

    def _show(self, ops: list[str], x: float, baseline: float, run: Run) -> None:
        """Append to `ops` the operators that show `run` with its left end at x."""
        _text, family, bold, size = run
        ops.append(
            f"/F{self.fonts.ids[family, bold]} {size:.2f} Tf 1 0 0 1 {x * K:.2f} "
            f"{(PAGE_HEIGHT - baseline) * K:.2f} Tm ({self.fonts.encode(run)}) Tj"
        )

    def _write(self, ops: list[str], colour: tuple[int, int, int] = TEXT_COLOUR) -> None:
        if ops:
            grey = " ".join(f"{value / 255:.3f}" for value in colour)
            self.pdf._out(f"q {grey} rg BT\n" + "\n".join(ops) + "\nET Q")

    def _entry(self, row: Sequence[Any]) -> _Entry:
        """One name laid out in a column: the name in bold, then the title and the
        organisation, then the level in small type; wrapped lines indented."""
        last, first, title, organisation, _category, _day, _salt, level, profession = row[:9]
        name = last + " " + first if first else last
        rest = (", " + title if title else "") + (", " + organisation if organisation else "")
        tag = ""
        if level in CHECKED_LEVELS:
            tag = "[✓ " + self.labels.levels.get(level, level)
            tag += (" · " + profession if profession else "") + "]"
        elif level == "none":
            tag = "[" + self.labels.levels.get(level, level) + "]"
        fonts = self.fonts
        runs = fonts.runs(_clean(name), True, LIST_SIZE)
        if rest:
            runs += fonts.runs(_clean(rest), False, LIST_SIZE)
        if tag:
            runs += fonts.runs(" " + _clean(tag), False, LEVEL_SIZE)
        width = fonts.width
        if sum(map(width, runs)) <= COLUMN_WIDTH:
            # Most names hold on one line: no need to cut them into words.
            line, x = [], 0.0
            for run in runs:
                line.append((x, run))
                x += width(run)
            return _Entry([line], LINE + ENTRY_GAP)
        lines: list[list[tuple[float, Run]]] = [[]]
        x = 0.0
        for word in _words(runs):
            widths = [fonts.width(run) for run in word]
            # The trailing space may hang past the column's edge.
            fit = sum(widths) - fonts.width((" ", *word[-1][1:])) * word[-1][0].endswith(" ")
            if lines[-1] and x + fit > COLUMN_WIDTH:
                lines.append([])
                x = HANGING
            for run, width in zip(word, widths, strict=True):
                line = lines[-1]
                if line and line[-1][1][1:] == run[1:]:
                    start, previous = line[-1]
                    line[-1] = (start, (previous[0] + run[0], *run[1:]))
                else:
                    line.append((x, run))
                x += width
        return _Entry(lines, len(lines) * LINE + ENTRY_GAP)

    def _draw_entries(self, entries: list[_Entry], x: float, y: float) -> None:
        ops: list[str] = []
        # The baseline sits 0.8 of the font size under the top of the glyphs, which are
        # centred in the line box (CSS half-leading).
        drop = (LINE - LIST_SIZE * PT) / 2 + LIST_SIZE * PT * 0.8
        for entry in entries:
            for line in entry.lines:
                for offset, run in line:
                    self._show(ops, x + offset, y + drop, run)
                y += LINE
            y += ENTRY_GAP
        self._write(ops)

    def _heading(self, text: str, at_top: bool) -> None:
        if not at_top:
            self.y += HEADING_BEFORE
        baseline = self.y + (HEADING_LINE - HEADING_SIZE * PT) / 2 + HEADING_SIZE * PT * 0.8
        x, ops = SIDE, []
        for run in self.fonts.runs(_clean(text), True, HEADING_SIZE):
            self._show(ops, x, baseline, run)
            x += self.fonts.width(run)
        self._write(ops)
        self.y += HEADING_LINE + HEADING_AFTER

    # --- the flow

    def section(self, label: str, rows: Iterable[Sequence[Any]]) -> None:
        """A heading and its names in two columns: a page's columns are filled one after
        the other, the section's last page balanced; a page that continues a section
        starts with its heading marked as continued."""
        column_height = PAGE_HEIGHT - BOTTOM
        pending: list[_Entry] = []
        heights = [0.0, 0.0]
        column = 0
        started = False
        for row in rows:
            entry = self._entry(row)
            if not started:
                # The heading stays with the first name (break-after: avoid).
                before = HEADING_BEFORE if self.y > TOP else 0.0
                if self.y + before + HEADING_LINE + HEADING_AFTER + entry.height > column_height:
                    self._new_page()
                self._heading(label, self.y == TOP)
                started = True
            room = column_height - self.y
            if heights[column] + entry.height > room and heights[column] > 0:
                if column == 0:
                    column = 1
                else:
                    self._flush(pending, heights, balance=False)
                    pending, heights, column = [], [0.0, 0.0], 0
                    self._new_page()
                    self._heading(self.labels.continued(label), True)
            pending.append(entry)
            heights[column] += entry.height
            entry.column = column
        if pending:
            self._flush(pending, heights, balance=True)

    def _flush(self, pending: list[_Entry], heights: list[float], *, balance: bool) -> None:
        if balance:
            total = sum(entry.height for entry in pending)
            first, height, best = 0, 0.0, None
            # The split whose taller column is shortest.
            for number in range(len(pending) + 1):
                taller = max(height, total - height)
                if best is None or taller < best[0]:
                    best = (taller, number)
                if number < len(pending):
                    height += pending[number].height
            first = best[1] if best else len(pending)
            left, right = pending[:first], pending[first:]
        else:
            left = [entry for entry in pending if entry.column == 0]
            right = [entry for entry in pending if entry.column == 1]
        self._draw_entries(left, SIDE, self.y)
        self._draw_entries(right, SIDE + COLUMN_WIDTH + COLUMN_GAP, self.y)
        self.y += max(sum(e.height for e in left), sum(e.height for e in right))

    def finish(self, page_total: int | None, target: BinaryIO) -> int:
        """Title, date and page number on every page (the total when given), then the
        document into `target`; returns its number of pages."""
        pdf = self.pdf
        pages = pdf.pages_count
        for number in range(1, pages + 1):
            pdf.page = number
            shown = f"{self.first_page + number - 1}"
            if page_total:
                shown += f" / {page_total}"
            foot = PAGE_HEIGHT - BOTTOM / 2 + 1
            self._write(self._margin_text(self.labels.title, TOP / 2 + 1, "center"), MARGIN_COLOUR)
            self._write(self._margin_text(self.labels.as_of, foot, "left"), MARGIN_COLOUR)
            self._write(self._margin_text(shown, foot, "right"))
        target.write(pdf.output())
        return pages

    def _margin_text(self, text: str, baseline: float, align: str) -> list[str]:
        runs = self.fonts.runs(_clean(text), False, MARGIN_SIZE)
        width = sum(self.fonts.width(run) for run in runs)
        x = {"left": SIDE, "right": PAGE_WIDTH - SIDE - width}.get(align, (PAGE_WIDTH - width) / 2)
        ops: list[str] = []
        for run in runs:
            self._show(ops, x, baseline, run)
            x += self.fonts.width(run)
        return ops


def _clean(text: str) -> str:
    return CONTROL_CHARACTERS.sub(" ", text) if CONTROL_CHARACTERS.search(text) else text


def draw_list(
    sections: Iterable[tuple[str, Iterable[Sequence[Any]]]],
    labels: ListLabels,
    target: BinaryIO,
    *,
    first_page: int = 1,
    page_total: Callable[[int], int | None] = lambda pages: None,
) -> int:
    """The list pages: each (label, rows) section that has rows, under its heading. Pages
    are numbered from `first_page`; page_total(pages drawn) gives the total printed after
    each number, if any. Returns the number of pages."""
    drawer = ListDrawer(labels, first_page)
    for label, rows in sections:
        drawer.section(label, rows)
    if drawer.pdf.pages_count == 0:
        return 0
    return drawer.finish(page_total(drawer.pdf.pages_count), target)
