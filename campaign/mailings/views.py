"""Public pages of mailings: a supporter writing to their representatives, and the one-click
unsubscribe of updates (RFC 8058)."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, Response, current_app, render_template
from flask_babel import get_locale

from campaign.clock import utcnow
from campaign.errors import TokenExpired, TokenInvalid
from campaign.extensions import csrf, limiter
from campaign.mailings.forms import LetterForm
from campaign.mailings.letters import (
    LetterRefused,
    already_written,
    draft_letter,
    open_letter_mailing,
    preview_letters,
    write_link_token,
    write_to_representatives,
)
from campaign.mailings.models import ReplyAddress
from campaign.mailings.services import confirm_reply_address
from campaign.mailings.subscriptions import unsubscribe_signatory
from campaign.petitions.models import Petition
from campaign.petitions.services import find_petition, find_public_petition
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import signature_from_token
from campaign.tokens import row_from_token
from campaign.web.forms import ActionForm

bp = Blueprint("mailings", __name__)


def _write_limit() -> str:
    return current_app.config["RATELIMIT_WRITE"]


@bp.after_request
def never_cached(response: Response) -> Response:
    """These pages are reached through personal links: no browser or proxy keeps a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(TokenInvalid)
def invalid_link(_error: TokenInvalid):
    return render_template("mailings/invalid_link.html", expired=False), 404


@bp.errorhandler(TokenExpired)
def expired_link(_error: TokenExpired):
    return render_template("mailings/invalid_link.html", expired=True), 410


def _supporter(slug: str, token: str) -> tuple[Signature, Petition]:
    """The signatory a write link is about, on this petition. Raises TokenInvalid."""
    max_age = current_app.config["WRITE_LINK_MAX_AGE"]
    signature = signature_from_token("write", token, utcnow(), max_age)
    petition = find_public_petition(slug)
    if petition is None or signature.petition_id != petition.id:
        raise TokenInvalid("write")
    return signature, petition


# --- Writing to one's representatives -------------------------------------------------------


@bp.route("/p/<slug>/write/<token>", methods=["GET", "POST"])
@limiter.limit(_write_limit, methods=["POST"])
def write(slug: str, token: str):
    signature, petition = _supporter(slug, token)
    locale = str(get_locale())
    mailing = open_letter_mailing(petition.id)
    if mailing is None or signature.status != SignatureStatus.CONFIRMED:
        page = render_template(
            "mailings/write_closed.html", petition=petition, text=petition.text(locale)
        )
        return page, 410
    form = LetterForm(departement=signature.departement or "")
    draft = draft_letter(mailing, form.chosen_departement())
    form.offer_choices(draft.officials, locale)
    written = already_written(signature.id, mailing.id)
    problem, status = None, 200
    if form.preview.data:
        if not form.validate_on_submit():
            status = 422
    elif not form.send.data:
        # A first visit, or "show my representatives" after changing the département.
        form.fill(draft, written, keep_text=form.is_submitted())
    elif not form.validate_on_submit():
        status = 422
    else:
        try:
            outcome = write_to_representatives(
                signature.id,
                mailing.id,
                form.chosen_departement(),
                form.official_ids(),
                form.subject.data or "",
                form.body.data or "",
                utcnow(),
                place=form.place.data or "",
            )
        except LetterRefused as refusal:
            if refusal.field in form:
                form[refusal.field].errors = [*form[refusal.field].errors, refusal.message]
            else:
                problem = refusal.message
            status = 422
        else:
            return render_template(
                "mailings/written.html",
                petition=petition,
                text=petition.text(locale),
                outcome=outcome,
            )
    ticked = set(form.official_ids())
    previews = preview_letters(
        mailing,
        signature,
        form.chosen_departement(),
        [official for official in draft.officials if official.id in ticked],
        form.subject.data or "",
        form.body.data or "",
        form.place.data or "",
    )
    page = render_template(
        "mailings/write.html",
        petition=petition,
        text=petition.text(locale),
        form=form,
        officials=draft.officials,
        written=written,
        problem=problem,
        previews=previews,
        prompt=draft.prompt,
    )
    return page, status


# --- Confirming a campaign's Reply-To address -------------------------------------------------


def _reply_address(token: str) -> tuple[ReplyAddress, Petition]:
    max_age = current_app.config["REPLY_TO_LINK_MAX_AGE"]
    record = row_from_token("reply_to", token, utcnow(), max_age, ReplyAddress)
    return record, find_petition(record.petition_id)


def _reply_to_page(record: ReplyAddress, petition: Petition, **state: bool) -> str:
    return render_template(
        "mailings/reply_to.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        address=record.email,
        form=ActionForm(),
        **state,
    )


@bp.get("/reply-to/<token>")
def confirm_reply_to(token: str):
    # A GET changes nothing: mail scanners open links.
    record, petition = _reply_address(token)
    return _reply_to_page(record, petition, confirmed=record.confirmed_at is not None)


@bp.post("/reply-to/<token>")
def confirm_reply_to_now(token: str):
    # The CSRF token is checked before the view runs (CSRFProtect).
    record, petition = _reply_address(token)
    confirm_reply_address(record.id, utcnow())
    return _reply_to_page(record, petition, confirmed=True, just_confirmed=True)


# --- Unsubscribing from updates ----------------------------------------------------------


def _subscriber(token: str) -> tuple[Signature, Petition]:
    """The signatory an unsubscribe link is about. Raises TokenInvalid or TokenExpired."""
    max_age = current_app.config["UNSUBSCRIBE_LINK_MAX_AGE"]
    signature = signature_from_token("unsubscribe", token, utcnow(), max_age)
    return signature, find_petition(signature.petition_id)


@bp.get("/u/<token>")
def unsubscribe(token: str):
    # A GET changes nothing: mail scanners open links.
    signature, petition = _subscriber(token)
    return render_template(
        "mailings/unsubscribe.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        subscribed=signature.contact_ok,
        form=ActionForm(),
    )


# The mail provider's one-click POST carries no CSRF token and no cookie: the signed token
# in the URL is the authentication (RFC 8058), so this one view is exempt.
@csrf.exempt
@bp.post("/u/<token>")
def unsubscribe_now(token: str):
    signature, petition = _subscriber(token)
    unsubscribe_signatory(signature.id, utcnow())
    return render_template(
        "mailings/unsubscribed.html", petition=petition, text=petition.text(str(get_locale()))
    )


def confirmation_panel(signature: Signature, now: datetime) -> dict[str, object]:
    """The link to write to one's representatives, on the signer's confirmation page
    (signatures/events.py), when the petition has letters open."""
    return {"write_token": write_link_token(signature, now)}
