"""Read-only JSON API, version 1."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify, send_file, url_for

from campaign.petitions.services import find_public_petition, op_ed_of
from campaign.signatures.services import (
    counts_by_category,
    last_change_at,
    public_counts_by_departement,
    signature_count,
)
from campaign.verification.services import level_counts

bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


@bp.after_request
def readable_from_any_site(response):
    """Any site's script may read the API: it holds public fields only, and with `*` the
    browser sends no cookie with such reads (so nothing of a visitor's session is exposed)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/openapi.yaml")
def openapi():
    """The API's description (docs/openapi.yaml)."""
    return send_file(OPENAPI, mimetype="application/yaml", max_age=3600)


def _levels_by_category(petition) -> dict[str, dict[str, int]]:
    """Confirmed signatures per category and verification level, every category offered."""
    levels = level_counts(petition.id)
    return {category.key: levels.get(category.key, {}) for category in petition.categories}


def _op_ed(petition) -> dict:
    """How newspapers publish the op-ed; empty strings and nulls when not given."""
    op_ed = op_ed_of(petition)
    image = None
    if op_ed.image_sha256:
        image = {
            "url": url_for(
                "petitions.image", slug=petition.slug, digest=op_ed.image_sha256, _external=True
            ),
            "sha256": op_ed.image_sha256,
            "width": op_ed.image_width,
            "height": op_ed.image_height,
            "alt": op_ed.image_alt,
        }
    published = None
    if op_ed.newspaper:
        published = {
            "newspaper": op_ed.newspaper,
            "published_on": op_ed.published_on.isoformat() if op_ed.published_on else None,
            "article_url": op_ed.article_url or None,
        }
    return {
        "initiators": op_ed.initiators,
        "published_in": published,
        "press_contact": op_ed.press_contact,
        "image": image,
    }


@bp.get("/petitions/<slug>")
def petition(slug: str):
    petition = find_public_petition(slug) or abort(404)
    body = {
        "slug": petition.slug,
        "status": petition.status,
        "title": {text.language: text.title for text in petition.current_texts()},
        "summary": {text.language: text.summary for text in petition.current_texts()},
        **_op_ed(petition),
        "count": signature_count(petition.id),
        "goal": petition.goal,
        "counts_by_category": {
            category.key: count for category, count in counts_by_category(petition)
        },
        "verification_by_category": _levels_by_category(petition),
        "counts_by_departement": public_counts_by_departement(petition.id),
        "updated_at": last_change_at(petition).isoformat(timespec="seconds") + "Z",
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=30"
    return response
