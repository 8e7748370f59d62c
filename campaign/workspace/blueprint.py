"""The workspace blueprint, its guards, and per-object access to petitions."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from campaign.accounts.services import can_manage, can_moderate
from campaign.extensions import db
from campaign.petitions.models import Petition

bp = Blueprint("workspace", __name__, url_prefix="/admin")

# Reachable while a second factor is still to be set up.
ENROLMENT_ENDPOINTS = {"accounts.enrol_second_factor", "accounts.logout"}


@bp.before_request
def require_login_and_second_factor():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if (
        current_app.config["REQUIRE_2FA"]
        and current_user.exports_personal_data
        and not current_user.totp_secret
        and request.endpoint not in ENROLMENT_ENDPOINTS
    ):
        return redirect(url_for("accounts.enrol_second_factor"), code=303)
    return None


def _petition(slug: str) -> Petition:
    petition = db.session.scalar(select(Petition).where(Petition.slug == slug))
    if petition is None:
        abort(404)
    return petition


def managed_petition(slug: str) -> Petition:
    """The petition if the current user manages it; 404 otherwise (no hint it exists)."""
    petition = _petition(slug)
    if not can_manage(current_user, petition):
        abort(404)
    return petition


def moderated_petition(slug: str) -> Petition:
    """The petition if the current user may moderate it; 404 otherwise."""
    petition = _petition(slug)
    if not can_moderate(current_user, petition):
        abort(404)
    return petition


def require_admin() -> None:
    """Admins only; others get 404."""
    if not current_user.is_admin:
        abort(404)
