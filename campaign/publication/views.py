"""Press downloads, the press page, the publication chain and inclusion proofs."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    render_template,
    request,
    send_file,
    stream_with_context,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from campaign.clock import utcnow
from campaign.config import ROOT
from campaign.petitions.models import Petition
from campaign.petitions.services import find_public_petition, op_ed_of
from campaign.publication.models import ExportFormat, Publication
from campaign.publication.op_ed import op_ed_languages, op_ed_pdf, op_ed_txt
from campaign.publication.services import (
    ExportFile,
    added_entries,
    current_publication,
    erased_count,
    file_chunks,
    file_for_download,
    file_records,
    find_publication,
    inclusion_proof,
    normalise_receipt,
    offered_files,
    pdf_offered,
    publication_chain,
    publication_page,
    receipt_for,
)
from campaign.signatures.models import Signature
from campaign.signatures.services import signature_count
from campaign.web.http_cache import public_page, visitor_has_own_data

bp = Blueprint("publication", __name__)

FORMATS = "any(txt, csv, json, xlsx, pdf)"
VERIFICATION_SCRIPT = ROOT / "docs" / "verify_publication.py"


def _petition(slug: str) -> Petition:
    return find_public_petition(slug) or abort(404)


def _download(petition: Petition, publication: Publication, fmt: str) -> Response:
    """A file of a publication, streamed, with its digest known before the first byte."""
    export = ExportFile(ExportFormat(fmt))
    if export.format == ExportFormat.TXT and request.args.get("group") == "category":
        export = ExportFile(export.format, by_category=True)
    elif export.format == ExportFormat.CSV and request.args.get("variant") == "excel":
        export = ExportFile(export.format, for_excel=True)
    if export.format == ExportFormat.PDF and not pdf_offered(publication):
        page = render_template("publication/unavailable.html", petition=petition, reason="too_long")
        return Response(page, status=404)
    record = file_for_download(publication, export, utcnow())
    if record is None:
        page = render_template(
            "publication/unavailable.html", petition=petition, reason="preparing"
        )
        return Response(page, status=503, headers={"Retry-After": "60"})
    response = Response(
        stream_with_context(file_chunks(publication, export, record)),
        content_type=export.media_type,
    )
    digest = base64.b64encode(bytes.fromhex(record.sha256)).decode()
    response.set_etag(record.sha256)
    response.last_modified = publication.published_at
    response.content_length = record.size
    response.headers["Digest"] = f"sha-256={digest}"
    response.headers["Repr-Digest"] = f"sha-256=:{digest}:"
    response.headers["Cache-Control"] = "public, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # The name says the moment the file reflects (UTC), as the csv and txt cannot.
    moment = publication.published_at.strftime("%Y-%m-%dT%H%MZ")
    filename = f"{petition.slug}-{publication.sequence}-{moment}-{export.name}"
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response.make_conditional(request)


@bp.get(f"/p/<slug>/signatories.<{FORMATS}:fmt>")
def download_latest(slug: str, fmt: str):
    petition = _petition(slug)
    return _download(petition, current_publication(petition, utcnow()), fmt)


@bp.get(f"/p/<slug>/publications/<int:sequence>/signatories.<{FORMATS}:fmt>")
def download(slug: str, sequence: int, fmt: str):
    petition = _petition(slug)
    publication = find_publication(petition.id, sequence) or abort(404)
    return _download(petition, publication, fmt)


@bp.get("/press/verify_publication.py")
def verification_script():
    return send_file(
        VERIFICATION_SCRIPT, mimetype="text/x-python", as_attachment=True, max_age=3600
    )


@bp.get("/p/<slug>/op-ed.<any(txt, pdf):fmt>")
def op_ed_file(slug: str, fmt: str):
    petition = _petition(slug)
    languages = op_ed_languages(petition)
    language = request.args.get("lang") or languages[0]
    if language not in languages:
        abort(404)
    if fmt == "txt":
        content, media_type = op_ed_txt(petition, language), "text/plain; charset=utf-8"
    else:
        content, media_type = op_ed_pdf(petition, language), "application/pdf"
    response = Response(content, content_type=media_type)
    response.set_etag(hashlib.sha256(content).hexdigest())
    response.headers["Cache-Control"] = "public, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    filename = f"{petition.slug}-op-ed-{language}.{fmt}"
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    return response.make_conditional(request)


@bp.get("/p/<slug>/press")
def press(slug: str):
    own_data = visitor_has_own_data()
    petition = _petition(slug)
    publication = current_publication(petition, utcnow())
    locale = str(get_locale())
    page = render_template(
        "publication/press.html",
        petition=petition,
        text=petition.text(locale),
        op_ed=op_ed_of(petition),
        publication=publication,
        header=publication.header_fields,
        files=offered_files(publication),
        records=file_records(publication),
        pdf_offered=pdf_offered(publication),
        live_count=signature_count(petition.id),
        chain=publication_chain(petition.id, limit=10),
        op_ed_languages=op_ed_languages(petition),
        locale=locale,
    )
    return public_page(page, own_data)


@bp.get("/p/<slug>/publications")
def publications(slug: str):
    petition = _petition(slug)
    current_publication(petition, utcnow())
    locale = str(get_locale())
    return render_template(
        "publication/publications.html",
        petition=petition,
        text=petition.text(locale),
        listing=publication_page(petition.id, request.args.get("page", 1, type=int)),
    )


@bp.get("/p/<slug>/publications/<int:sequence>")
def publication(slug: str, sequence: int):
    petition = _petition(slug)
    found = find_publication(petition.id, sequence) or abort(404)
    locale = str(get_locale())
    return render_template(
        "publication/publication.html",
        petition=petition,
        text=petition.text(locale),
        publication=found,
        header=found.header_fields,
        files=offered_files(found),
        records=file_records(found),
        added=added_entries(found, page=request.args.get("page", 1, type=int)),
        erased=erased_count(found),
        locale=locale,
    )


def _proof_of(petition: Petition):
    """The receipt asked about, and its proof against the latest publication."""
    receipt = normalise_receipt(request.args.get("receipt"))
    current_publication(petition, utcnow())
    return receipt, (inclusion_proof(petition.id, receipt) if receipt else None)


@bp.get("/p/<slug>/proof")
def proof(slug: str):
    petition = _petition(slug)
    receipt, found = _proof_of(petition)
    page = render_template(
        "publication/proof.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        asked=request.args.get("receipt", ""),
        receipt=receipt,
        proof=found,
    )
    return page, (400 if receipt is None else 200)


@bp.get("/p/<slug>/proof.json")
def proof_json(slug: str):
    petition = _petition(slug)
    receipt, found = _proof_of(petition)
    if receipt is None:
        return jsonify(
            {
                "error": "invalid receipt",
                "message": _("A receipt is 64 hexadecimal digits (0-9, a-f)."),
            }
        ), 400
    if found is None:
        return jsonify(
            {"error": "not found", "message": _("This receipt is not in the latest publication.")}
        ), 404
    return jsonify(found.as_json())


def confirmation_panel(signature: Signature, now: datetime) -> dict[str, object]:
    """The signer's receipt, on their confirmation page (signatures/events.py)."""
    return {"receipt": receipt_for(signature)}
