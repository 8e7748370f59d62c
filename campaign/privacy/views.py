"""The signer's rights without an account: ask for a link by email, then see, download,
change, withdraw or erase one's signature from the page it opens."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from campaign.clock import utcnow
from campaign.errors import TokenExpired, TokenInvalid
from campaign.extensions import limiter
from campaign.objections.complaints import follow_ups
from campaign.objections.services import objection_letter_of
from campaign.personal_data import email_digest, request_ip_digest
from campaign.petitions.services import find_public_petition
from campaign.privacy.forms import (
    ConsentForm,
    DetailsForm,
    RightsLinkAnyPetitionForm,
    RightsLinkForm,
)
from campaign.privacy.services import (
    ConsentChoices,
    change_consents,
    correct_details,
    erase_own_data,
    petitions_to_choose_from,
    request_rights_link,
    signer_data,
    withdraw_own_signature,
)
from campaign.signatures.services import (
    find_petition_of,
    signatory_line,
    signature_from_rights_token,
)
from campaign.web.forms import ActionForm

bp = Blueprint("privacy", __name__)

# How each stored column is named on the page; a column missing here shows its own name.
FIELD_LABELS = {
    "id": _l("Signature number"),
    "petition_id": _l("Petition number"),
    "status": _l("Status"),
    "first_name": _l("First name"),
    "last_name": _l("Last name"),
    "title": _l("Title or profession"),
    "organisation": _l("Organisation"),
    "category_key": _l("Category"),
    "departement": _l("Département"),
    "language": _l("Language"),
    "text_version": _l("Version of the text you signed"),
    "show_name": _l("Publish my name"),
    "show_title": _l("Publish my title or profession"),
    "show_organisation": _l("Publish my organisation"),
    "contact_ok": _l("Keep me informed"),
    "consent_version": _l("Version of the consent text"),
    "consented_at": _l("Consent given at"),
    "email_digest": _l("Keyed digest of your address (to prevent signing twice)"),
    "email": _l("Email address (stored encrypted)"),
    "ip_digest": _l("Keyed hash of your IP address (the address itself is not stored)"),
    "held_for_review": _l("Held for review (signed in a burst of signatures)"),
    "email_domain_digest": _l("Keyed digest of your address's domain (for moderation)"),
    "source": _l("Source"),
    "imported_at": _l("Imported at"),
    "imported_by_id": _l("Imported by (account number)"),
    "moderation_reason": _l("Moderation note"),
    "moderated_by_id": _l("Moderated by (account number)"),
    "moderated_at": _l("Moderated at"),
    "sort_last": _l("Sort key of your last name"),
    "sort_first": _l("Sort key of your first name"),
    "confirmation_sends": _l("Confirmation emails sent"),
    "last_confirmation_at": _l("Last confirmation email at"),
    "created_at": _l("Signed at"),
    "confirmed_at": _l("Confirmed at"),
    "withdrawn_at": _l("Withdrawn at"),
    "status_changed_at": _l("Status last changed at"),
    "verification_level": _l("Verification level of your category"),
    "verification_method": _l("How it was verified"),
    "verified_profession": _l("Profession found in the RPPS register"),
    "address_confirmed_at": _l("Email address confirmed at"),
    "rpps_number": _l("RPPS number you gave"),
    "verification_evidence": _l("What you gave to verify your category"),
    "verification_decision": _l("Moderator's decision on your category"),
    "verification_reason": _l("Reason for the moderator's decision"),
    "professional_email": _l("Professional email address (stored encrypted)"),
    "professional_email_confirmed_at": _l("Professional address confirmed at"),
}


def _rights_link_limit() -> str:
    return current_app.config["PRIVACY_RIGHTS_LINK_RATELIMIT"]


def _sign_limit() -> str:
    return current_app.config["RATELIMIT_SIGN"]


def _mailbox_key() -> str:
    """Links are limited per mailbox, known by its keyed digest so that the limiter's store
    never holds an address; the same for an address that signed and one that did not."""
    email = (request.form.get("email") or "").strip()
    if not email:
        return f"rights-ip:{request_ip_digest()}"
    return f"rights:{email_digest(email)}"


@bp.after_request
def never_cached(response: Response) -> Response:
    """These pages show personal data, or lead to it: no browser or proxy keeps a copy."""
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Asking for the link ------------------------------------------------------------------


@bp.get("/my-signature")
def request_link():
    form = RightsLinkAnyPetitionForm().offer_choices(petitions_to_choose_from(), str(get_locale()))
    return render_template("privacy/request_link.html", form=form, petition=None)


@bp.post("/my-signature")
@limiter.limit(_sign_limit)
@limiter.limit(_rights_link_limit, key_func=_mailbox_key)
def send_link():
    form = RightsLinkAnyPetitionForm().offer_choices(petitions_to_choose_from(), str(get_locale()))
    petition = find_public_petition(form.petition.data or "")
    if not form.validate_on_submit() or petition is None:
        return render_template("privacy/request_link.html", form=form, petition=None), 422
    request_rights_link(petition, form.email.data, utcnow())
    return redirect(url_for("privacy.link_sent"), code=303)


@bp.get("/p/<slug>/my-signature")
def request_petition_link(slug: str):
    petition = find_public_petition(slug) or abort(404)
    return render_template("privacy/request_link.html", form=RightsLinkForm(), petition=petition)


@bp.post("/p/<slug>/my-signature")
@limiter.limit(_sign_limit)
@limiter.limit(_rights_link_limit, key_func=_mailbox_key)
def send_petition_link(slug: str):
    petition = find_public_petition(slug) or abort(404)
    form = RightsLinkForm()
    if not form.validate_on_submit():
        return render_template("privacy/request_link.html", form=form, petition=petition), 422
    request_rights_link(petition, form.email.data, utcnow())
    return redirect(url_for("privacy.link_sent"), code=303)


@bp.get("/my-signature/sent")
def link_sent():
    return render_template("privacy/link_sent.html")


# --- The page the link opens ----------------------------------------------------------------


@bp.errorhandler(TokenInvalid)
def invalid_link(_error: TokenInvalid):
    return render_template("privacy/invalid_link.html"), 404


@bp.errorhandler(TokenExpired)
def expired_link(error: TokenExpired):
    petition = find_petition_of(error.subject_id)
    return render_template("privacy/expired_link.html", petition=petition), 410


def _render_my_data(token: str, signature, details_form: DetailsForm, status: int = 200):
    page = render_template(
        "privacy/my_data.html",
        data=signer_data(signature),
        line=signatory_line(signature),
        form=ConsentForm(obj=signature),
        details_form=details_form,
        labels=FIELD_LABELS,
        token=token,
        locale=str(get_locale()),
        objection_open=objection_letter_of(signature.petition_id) is not None,
        letter_follow_ups=follow_ups(signature.id),
        now=utcnow(),
        action_form=ActionForm(),
    )
    return page, status


@bp.route("/s/<token>/my-data", methods=["GET", "HEAD"])
def my_data(token: str):
    signature = signature_from_rights_token(token, utcnow())
    return _render_my_data(token, signature, DetailsForm(obj=signature))


@bp.post("/s/<token>/my-data/details")
def correct_my_details(token: str):
    now = utcnow()
    signature = signature_from_rights_token(token, now)
    form = DetailsForm()
    if not form.validate_on_submit():
        return _render_my_data(token, signature, form, status=422)
    if correct_details(signature, form.title.data or "", form.organisation.data or "", now):
        flash(_("Your details are corrected."), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("privacy.my_data", token=token), code=303)


@bp.get("/s/<token>/my-data.json")
def download_my_data(token: str):
    now = utcnow()
    data = signer_data(signature_from_rights_token(token, now))
    body = json.dumps(data.as_json(now), ensure_ascii=False, indent=2)
    filename = f"tribune-{data.petition.slug}-my-signature.json"
    return Response(
        body,
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.post("/s/<token>/my-data/consents")
def change_my_consents(token: str):
    now = utcnow()
    signature = signature_from_rights_token(token, now)
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    choices = ConsentChoices(
        show_name=form.show_name.data,
        show_title=form.show_title.data,
        show_organisation=form.show_organisation.data,
        contact_ok=form.contact_ok.data,
    )
    if change_consents(signature, choices, now):
        flash(_("Your choices are saved, and apply at once."), "success")
    else:
        flash(_("Nothing changed."), "info")
    return redirect(url_for("privacy.my_data", token=token), code=303)


@bp.post("/s/<token>/my-data/withdraw")
def withdraw_my_signature(token: str):
    now = utcnow()
    signature = signature_from_rights_token(token, now)
    if not ActionForm().validate_on_submit():
        abort(400)
    if withdraw_own_signature(signature, now):
        flash(_("Your signature has been withdrawn and your details erased."), "success")
    return redirect(url_for("privacy.my_data", token=token), code=303)


@bp.post("/s/<token>/my-data/erase")
def erase_my_data(token: str):
    now = utcnow()
    signature = signature_from_rights_token(token, now)
    if not ActionForm().validate_on_submit():
        abort(400)
    erase_own_data(signature, now)
    flash(_("Your data has been erased."), "success")
    return redirect(url_for("privacy.my_data", token=token), code=303)
