"""The petition's preview card (og:image): a 1200×630 PNG that Tribune draws itself with
Pillow, with the DejaVu fonts of the system (fonts-dejavu-core), nothing fetched elsewhere."""

from __future__ import annotations

import io
import math
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from threading import Lock

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 630
MARGIN = 72
# The organisers' image, when there is one: a square beside the title.
PICTURE_BOX, PICTURE_GAP = 300, 40
PAPER = (253, 252, 248)
INK = (27, 27, 31)
MUTED = (74, 74, 85)
ACCENT = (0, 69, 143)
TRACK = (225, 222, 211)
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {
    "title": "DejaVuSerif-Bold.ttf",
    "brand": "DejaVuSerif-Bold.ttf",
    "text": "DejaVuSans.ttf",
    "strong": "DejaVuSans-Bold.ttf",
}


@dataclass(frozen=True)
class CardText:
    """What the card says, already in the reader's language."""

    title: str
    count_line: str
    goal_line: str
    site: str


@lru_cache(maxsize=32)
def _font(kind: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A DejaVu font, or Pillow's own (also scalable) where the system has none."""
    try:
        return ImageFont.truetype(str(FONT_DIR / FONT_FILES[kind]), size)
    except OSError:
        return ImageFont.load_default(size)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """The text cut into lines no wider than `width` (a word too long is cut too)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while draw.textlength(word, font=font) > width and len(word) > 1:
            cut = len(word)
            while cut > 1 and draw.textlength(word[:cut], font=font) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines


def _title_lines(draw: ImageDraw.ImageDraw, title: str, width: int, height: int):
    """The largest title size whose lines fit the box; the last line ends with … if cut."""
    for size in (68, 60, 54, 48, 42, 38):
        font = _font("title", size)
        lines = _wrap(draw, title, font, width)
        if len(lines) * size * 1.2 <= height:
            return font, size, lines
    most = int(height // (size * 1.2))
    lines = lines[:most]
    while lines and draw.textlength(lines[-1] + "…", font=font) > width:
        lines[-1] = lines[-1][:-1]
    lines[-1] = lines[-1].rstrip() + "…"
    return font, size, lines


def draw_card(text: CardText, progress: float, picture: bytes | None = None) -> bytes:
    """The card as PNG bytes: brand, title, count, a goal bar filled to `progress` (0 to 1),
    and the organisers' image (`picture`, as Tribune re-encoded it) beside the title."""
    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 16, HEIGHT), fill=ACCENT)
    inner = WIDTH - 2 * MARGIN

    draw.text((MARGIN, 48), "Tribune", font=_font("brand", 40), fill=ACCENT)
    top, bottom = 120, 410
    title_width = inner
    if picture is not None:
        title_width = inner - PICTURE_BOX - PICTURE_GAP
        _paste_picture(image, picture, (WIDTH - MARGIN - PICTURE_BOX, top - 10))
    font, size, lines = _title_lines(draw, text.title, title_width, bottom - top)
    for index, line in enumerate(lines):
        draw.text((MARGIN, top + index * size * 1.2), line, font=font, fill=INK)

    draw.text((MARGIN, 430), text.count_line, font=_font("strong", 44), fill=INK)
    bar_top = 505
    draw.rounded_rectangle((MARGIN, bar_top, WIDTH - MARGIN, bar_top + 28), 14, fill=TRACK)
    filled = MARGIN + round(inner * max(0.0, min(1.0, progress)))
    if filled > MARGIN + 28:
        draw.rounded_rectangle((MARGIN, bar_top, filled, bar_top + 28), 14, fill=ACCENT)
    small = _font("text", 28)
    draw.text((MARGIN, 550), text.goal_line, font=small, fill=MUTED)
    site_width = draw.textlength(text.site, font=small)
    draw.text((WIDTH - MARGIN - site_width, 550), text.site, font=small, fill=MUTED)

    output = io.BytesIO()
    image.save(output, format="PNG", optimize=True)
    return output.getvalue()


def _paste_picture(card: Image.Image, picture: bytes, corner: tuple[int, int]) -> None:
    """The picture scaled down to fit a PICTURE_BOX square, centred in it."""
    with Image.open(io.BytesIO(picture)) as source:
        thumbnail = source.convert("RGB")
    thumbnail.thumbnail((PICTURE_BOX, PICTURE_BOX))
    left = corner[0] + (PICTURE_BOX - thumbnail.width) // 2
    top = corner[1] + (PICTURE_BOX - thumbnail.height) // 2
    card.paste(thumbnail, (left, top))


def count_step(count: int) -> int:
    """The count as the card shows it: rounded down to two significant digits (1 234 is
    drawn as 1 200), so that the card is redrawn when the count changes noticeably, not on
    every signature."""
    if count < 100:
        return count
    unit = 10 ** (int(math.log10(count)) - 1)
    return count // unit * unit


class CardCache:
    """The cards drawn by this process, the most recent first: one per petition, language,
    text version and count step."""

    def __init__(self, size: int = 64) -> None:
        self._cards: OrderedDict[tuple, bytes] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, key: tuple) -> bytes | None:
        with self._lock:
            card = self._cards.get(key)
            if card is not None:
                self._cards.move_to_end(key)
            return card

    def put(self, key: tuple, card: bytes) -> None:
        with self._lock:
            self._cards[key] = card
            self._cards.move_to_end(key)
            while len(self._cards) > self._size:
                self._cards.popitem(last=False)
