"""The op-ed alone, as a file a journalist can paste or print: plain text and PDF of the
current text in one language, with its publication details. Not a publication: the list's
files are the publication's; these follow the petition's current text."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from io import BytesIO

from flask import render_template
from flask_babel import force_locale, format_date, gettext

from campaign.petitions.models import Petition
from campaign.petitions.services import OpEd, find_petition_image, op_ed_of, render_markdown
from campaign.publication.formats import image_data_url, write_pdf

# Where a block of the rendered Markdown ends: a blank line in the text file (list items and
# line breaks already end their line in markdown-it's output).
_BLOCK_END = re.compile(r"</(p|h[1-6]|blockquote|pre)>|<hr ?/?>", re.I)
_TAG = re.compile(r"<[^>]+>")


def markdown_as_text(source: str) -> str:
    """The text of a Markdown body without its markup: paragraphs separated by a blank line,
    list items on their own line after a dash, a link as its text."""
    rendered = _BLOCK_END.sub(lambda match: match.group(0) + "\n", str(render_markdown(source)))
    text = html.unescape(_TAG.sub("", rendered.replace("<li>", "– ")))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _details(op_ed: OpEd) -> list[str]:
    """The publication details as lines, in the current locale."""
    lines = []
    if op_ed.initiators:
        lines.append(gettext("Initiators: %(names)s", names=op_ed.initiators))
    if op_ed.newspaper:
        if op_ed.published_on:
            line = gettext(
                "Published in %(newspaper)s on %(date)s",
                newspaper=op_ed.newspaper,
                date=format_date(op_ed.published_on, "long"),
            )
        else:
            line = gettext("Published in %(newspaper)s", newspaper=op_ed.newspaper)
        lines.append(line + (f" <{op_ed.article_url}>" if op_ed.article_url else ""))
    if op_ed.press_contact:
        lines.append(gettext("Press contact: %(contact)s", contact=op_ed.press_contact))
    return lines


def op_ed_languages(petition: Petition) -> list[str]:
    """The languages the current text is written in, the petition's own first."""
    languages = {text.language for text in petition.current_texts()}
    return sorted(languages, key=lambda code: (code != petition.language, code))


def op_ed_txt(petition: Petition, language: str) -> bytes:
    """The title, summary, text and publication details, UTF-8, one blank line between
    paragraphs, `\\n` line ends."""
    text = petition.text(language)
    with force_locale(text.language):
        details = _details(op_ed_of(petition))
    parts = [text.title]
    if text.summary:
        parts.append(text.summary)
    parts.append(markdown_as_text(text.body))
    if details:
        parts.append("\n".join(details))
    return ("\n\n".join(parts) + "\n").encode()


def op_ed_pdf(petition: Petition, language: str) -> bytes:
    """The op-ed laid out on A4 (title, image, summary, details, text), fetching nothing;
    rendered once per text, details and image, then served from this process's memory."""
    text = petition.text(language)
    op_ed = op_ed_of(petition)
    return _pdf(petition.id, text.language, text.title, text.summary, text.body, op_ed)


@lru_cache(maxsize=16)
def _pdf(petition_id: int, language: str, title: str, summary: str, body: str, op_ed: OpEd):
    image = find_petition_image(petition_id, op_ed.image_sha256) if op_ed.image_sha256 else None
    with force_locale(language):
        page = render_template(
            "publication/op_ed_pdf.html",
            language=language,
            title=title,
            summary=summary,
            body=render_markdown(body),
            op_ed=op_ed,
            image_url=image_data_url(image.content) if image else None,
        )
    target = BytesIO()
    write_pdf(page, target)
    return target.getvalue()
