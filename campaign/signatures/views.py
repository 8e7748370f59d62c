"""Sign, check your inbox, confirm, withdraw, and the public list."""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from campaign.clock import utcnow
from campaign.departements import DEPARTEMENTS
from campaign.errors import TokenExpired, TokenInvalid
from campaign.extensions import limiter
from campaign.personal_data import decrypt_email, encrypt_email, request_ip_digest
from campaign.petitions.models import Petition
from campaign.petitions.services import find_petition, find_public_petition
from campaign.signatures.events import confirmation_page_context
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import (
    DEPARTEMENT_COUNT_THRESHOLD,
    ConfirmationOutcome,
    confirm_signature,
    find_signature,
    first_signatories,
    masked_address,
    published_signatories,
    resend_confirmation,
    resend_to_address,
    signatories_in_departement,
    signatory_line,
    signature_count,
    signature_from_token,
    withdraw_signature,
)
from campaign.tokens import make_token
from campaign.web.forms import ActionForm
from campaign.web.http_cache import public_page, visitor_has_own_data

bp = Blueprint("signatures", __name__)


def sign_limit() -> str:
    """The sign forms' rate limit (the petition page's, campaign/site/petition.py, and the
    embed's)."""
    return current_app.config["RATELIMIT_SIGN"]


def _resend_limit() -> str:
    return current_app.config["RATELIMIT_RESEND"]


def _resend_key() -> str:
    """Resends are limited per signature (one address on one petition), not per IP."""
    try:
        signature = signature_from_token("confirm", request.view_args["token"], utcnow(), None)
        return f"resend:{signature.id}"
    except (TokenInvalid, KeyError):
        return f"resend-ip:{request_ip_digest()}"


# The address just typed, for the "check your inbox" page: encrypted, in the visitor's own
# session cookie (never in a URL or a log), for the last petition signed only.
_SIGNED_ADDRESS = "signed_address"


def remember_address(petition_id: int, address: str) -> None:
    session[_SIGNED_ADDRESS] = [petition_id, encrypt_email(address).decode()]


def _remembered_address(petition_id: int) -> str | None:
    remembered = session.get(_SIGNED_ADDRESS)
    if not isinstance(remembered, list) or len(remembered) != 2 or remembered[0] != petition_id:
        return None
    try:
        return decrypt_email(str(remembered[1]).encode())
    except (InvalidToken, ValueError):
        return None


@bp.get("/p/<slug>/check-inbox")
def check_inbox(slug: str):
    petition = find_public_petition(slug) or abort(404)
    address = _remembered_address(petition.id)
    return render_template(
        "signatures/check_inbox.html",
        petition=petition,
        masked=masked_address(address) if address else None,
        form=ActionForm(),
    )


@bp.post("/p/<slug>/check-inbox/resend")
@limiter.limit(_resend_limit)
def resend_from_inbox_page(slug: str):
    petition = find_public_petition(slug) or abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    address = _remembered_address(petition.id)
    if address is not None:
        resend_to_address(petition.id, address, utcnow())
    flash(
        _(
            "A new email is on its way, unless one left in the last few minutes: look in "
            "your spam folder too."
        ),
        "info",
    )
    return redirect(url_for("signatures.check_inbox", slug=slug), code=303)


def _signature_from(purpose: str, token: str, max_age: int | None) -> tuple[Signature, Petition]:
    """The signature a link token is about, and its petition. Raises TokenInvalid or
    TokenExpired, which the handlers below turn into pages."""
    signature = signature_from_token(purpose, token, utcnow(), max_age)
    return signature, find_petition(signature.petition_id)


@bp.errorhandler(TokenInvalid)
def invalid_link(_error: TokenInvalid):
    return render_template("signatures/invalid_link.html"), 404


@bp.errorhandler(TokenExpired)
def expired_link(error: TokenExpired):
    signature = find_signature(error.subject_id)
    if signature is None:
        return invalid_link(TokenInvalid("confirm"))
    page = render_template(
        "signatures/expired_link.html",
        petition=find_petition(signature.petition_id),
        form=ActionForm(),
        token=request.view_args["token"],
        purpose=error.purpose,
    )
    return page, 410


@bp.route("/s/<token>", methods=["GET", "HEAD"])
def confirmation(token: str):
    max_age = current_app.config["CONFIRMATION_TOKEN_MAX_AGE"]
    signature, petition = _signature_from("confirm", token, max_age)
    return render_template(
        "signatures/confirmation.html",
        signature=signature,
        petition=petition,
        line=signatory_line(signature),
        count=signature_count(petition.id),
        status=SignatureStatus(signature.status),
        form=ActionForm(),
        withdraw_token=make_token("withdraw", signature, utcnow()),
        locale=str(get_locale()),
        in_departement=signatories_in_departement(signature),
        departement_threshold=DEPARTEMENT_COUNT_THRESHOLD,
        departement_name=DEPARTEMENTS.get(signature.departement or ""),
        # receipt (publication), verification and address_form (verification), write_token
        # (mailings): signatures/events.py's confirmation_page.
        **confirmation_page_context(signature, utcnow()),
    )


@bp.post("/s/<token>")
def confirm(token: str):
    max_age = current_app.config["CONFIRMATION_TOKEN_MAX_AGE"]
    signature, _petition = _signature_from("confirm", token, max_age)
    if not ActionForm().validate_on_submit():
        abort(400)
    outcome = confirm_signature(signature.id, utcnow())
    if outcome is ConfirmationOutcome.CONFIRMED:
        flash(_("Thank you: your signature is confirmed."), "success")
    elif outcome is ConfirmationOutcome.ALREADY_CONFIRMED:
        flash(_("Your signature was already confirmed."), "info")
    return redirect(url_for("signatures.confirmation", token=token), code=303)


@bp.post("/s/<token>/resend")
@limiter.limit(_resend_limit, key_func=_resend_key)
def resend(token: str):
    signature, petition = _signature_from("confirm", token, max_age=None)
    if not ActionForm().validate_on_submit():
        abort(400)
    resend_confirmation(signature.id, utcnow())
    return redirect(url_for("signatures.check_inbox", slug=petition.slug), code=303)


@bp.route("/s/<token>/withdraw", methods=["GET", "HEAD"])
def withdrawal(token: str):
    max_age = current_app.config["WITHDRAW_LINK_MAX_AGE"]
    signature, petition = _signature_from("withdraw", token, max_age)
    return render_template(
        "signatures/withdrawal.html",
        signature=signature,
        petition=petition,
        line=signatory_line(signature),
        status=SignatureStatus(signature.status),
        form=ActionForm(),
    )


@bp.post("/s/<token>/withdraw")
def withdraw(token: str):
    max_age = current_app.config["WITHDRAW_LINK_MAX_AGE"]
    signature, _petition = _signature_from("withdraw", token, max_age)
    if not ActionForm().validate_on_submit():
        abort(400)
    if withdraw_signature(signature.id, utcnow()):
        flash(_("Your signature has been withdrawn and your details erased."), "success")
    return redirect(url_for("signatures.withdrawal", token=token), code=303)


@bp.get("/p/<slug>/signatories")
def signatories(slug: str):
    own_data = visitor_has_own_data()
    petition = find_public_petition(slug) or abort(404)
    category = request.args.get("category") or None
    if category and category not in {c.key for c in petition.categories}:
        category = None
    search = (request.args.get("q") or "").strip()[:100]
    # Unfiltered, the first signatories come first under their own heading; a search or a
    # category finds them among the others.
    apart = not (category or search)
    page = published_signatories(
        petition.id,
        category=category,
        search=search,
        page=request.args.get("page", 1, type=int),
        without_first=apart,
    )
    first = first_signatories(petition.id) if apart and page.page == 1 else []
    html = render_template(
        "signatures/list.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        page=page,
        rows=[(signatory_line(signature), signature) for signature in page.items],
        first_rows=[(signatory_line(signature), signature) for signature in first],
        category=category,
        search=search,
        count=signature_count(petition.id),
        locale=str(get_locale()),
    )
    return public_page(html, own_data, query_varies=True)
