"""A signer's professional address: adding it from the confirmation page, and confirming it
from the link emailed to it (on a POST, so that mail scanners confirm nothing)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from campaign.clock import utcnow
from campaign.errors import TokenExpired, TokenInvalid
from campaign.extensions import limiter
from campaign.petitions.services import find_petition
from campaign.signatures.models import Signature
from campaign.signatures.services import find_signature, signature_from_token
from campaign.verification.forms import ProfessionalAddressForm
from campaign.verification.services import (
    ProfessionalAddressRefused,
    confirm_professional_address,
    professional_address_from_token,
    request_professional_address,
    signer_verification,
)
from campaign.web.forms import ActionForm

bp = Blueprint("verification", __name__)


def _resend_limit() -> str:
    return current_app.config["RATELIMIT_RESEND"]


def _refusal_message(reason: str) -> str:
    return {
        "same_address": _("This is the address you signed with. Give your professional one."),
        "too_many": _("Too many professional addresses were given for this signature."),
        "not_confirmed": _("Confirm your signature first."),
    }.get(reason, _("Enter a valid email address."))


@bp.errorhandler(TokenInvalid)
def invalid_link(_error: TokenInvalid):
    return render_template("signatures/invalid_link.html"), 404


@bp.errorhandler(TokenExpired)
def expired_link(_error: TokenExpired):
    return render_template("verification/expired_link.html"), 410


@bp.post("/s/<token>/professional-address")
@limiter.limit(_resend_limit)
def add_professional_address(token: str):
    max_age = current_app.config["CONFIRMATION_TOKEN_MAX_AGE"]
    signature = signature_from_token("confirm", token, utcnow(), max_age)
    if signature is None:
        raise TokenInvalid("confirm")
    form = ProfessionalAddressForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(" ".join(form.email.errors), "error")
    else:
        try:
            request_professional_address(signature.id, form.email.data, utcnow())
        except ProfessionalAddressRefused as refused:
            flash(_refusal_message(refused.reason), "error")
        else:
            flash(
                _("We sent a link to your professional address: follow it to confirm it."),
                "success",
            )
    return redirect(url_for("signatures.confirmation", token=token), code=303)


@bp.route("/a/<token>", methods=["GET", "HEAD"])
def professional_address(token: str):
    address = professional_address_from_token(token, utcnow())
    signature = find_signature(address.signature_id)
    return render_template(
        "verification/professional_address.html",
        address=address,
        petition=find_petition(signature.petition_id),
        verification=signer_verification(signature),
        form=ActionForm(),
        locale=str(get_locale()),
    )


@bp.post("/a/<token>")
def confirm_address(token: str):
    address = professional_address_from_token(token, utcnow())
    if not ActionForm().validate_on_submit():
        abort(400)
    if confirm_professional_address(address.id, utcnow()) is not None:
        flash(_("Your professional address is confirmed."), "success")
    return redirect(url_for("verification.professional_address", token=token), code=303)


def confirmation_panel(signature: Signature, now: datetime) -> dict[str, object]:
    """Where the signature stands and the professional-address form, on the signer's
    confirmation page (signatures/events.py)."""
    return {
        "verification": signer_verification(signature),
        "address_form": ProfessionalAddressForm(),
    }
