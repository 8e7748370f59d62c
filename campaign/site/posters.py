"""Posters: the QR code of a petition's address (PNG and SVG, segno), a printable A4 poster
and a paper signing sheet whose columns are the CSV import's (PDF, WeasyPrint), so that the
names collected on paper can be typed into a file and imported."""

from __future__ import annotations

import io

import segno
from flask import render_template
from markupsafe import Markup

from campaign.petitions.models import Petition
from campaign.petitions.sharing import page_description, petition_url
from campaign.publication.formats import write_pdf
from campaign.signatures.imports import COLUMNS

# Lines of a signing sheet: as many as fit an A4 landscape page with room to write.
SHEET_LINES = 12


def petition_qr(slug: str) -> segno.QRCode:
    """The QR code of the petition's address, tagged as coming from a QR code."""
    return segno.make(petition_url(slug, "qr"), error="m", micro=False)


def qr_png(slug: str, scale: int = 12) -> bytes:
    """The QR code as a PNG, black on white with its quiet zone."""
    output = io.BytesIO()
    petition_qr(slug).save(output, kind="png", scale=scale, border=4)
    return output.getvalue()


def qr_svg(slug: str) -> bytes:
    """The QR code as a standalone SVG file."""
    output = io.BytesIO()
    petition_qr(slug).save(output, kind="svg", scale=10, border=4, xmldecl=True, title=None)
    return output.getvalue()


def _inline_qr(slug: str) -> Markup:
    """The QR code as an <svg> element to place in a page (WeasyPrint fetches nothing)."""
    # segno writes the SVG itself: a path of modules, with no text from the petition.
    return Markup(petition_qr(slug).svg_inline(scale=8, border=4, omitsize=True))  # noqa: S704


def poster_pdf(petition: Petition, locale: str, count: int) -> bytes:
    """An A4 poster: title, summary, the count, the QR code and the address written out."""
    text = petition.text(locale)
    html = render_template(
        "petitions/poster_pdf.html",
        petition=petition,
        text=text,
        description=page_description(text, length=400),
        count=count,
        qr=_inline_qr(petition.slug),
        address=petition_url(petition.slug),
        locale=locale,
    )
    output = io.BytesIO()
    write_pdf(html, output)
    return output.getvalue()


def sheet_pdf(petition: Petition, locale: str) -> bytes:
    """A paper signing sheet (A4 landscape): the petition's title and consent notice, then
    a table whose columns are the import's, in its order, with their names as the import
    file must spell them."""
    html = render_template(
        "petitions/sheet_pdf.html",
        petition=petition,
        text=petition.text(locale),
        columns=COLUMNS,
        lines=range(SHEET_LINES),
        qr=_inline_qr(petition.slug),
        address=petition_url(petition.slug),
        locale=locale,
    )
    output = io.BytesIO()
    write_pdf(html, output)
    return output.getvalue()
