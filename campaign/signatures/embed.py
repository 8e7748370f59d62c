"""The embed: a compact counter and sign box that the sites on a petition's allow-list may
frame (/p/<slug>/embed). It works without the session cookie, which browsers often block
inside a frame: its form carries a signed form token instead of the session's CSRF token
(docs/security.md, "Embeds"); the proof of work and the rate limit apply as on the main form.
The confirmation email links to the main site, as for every signature."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _

from campaign.clock import utcnow
from campaign.errors import PetitionNotSignable
from campaign.extensions import csrf, limiter
from campaign.petitions.embeds import frame_ancestors
from campaign.petitions.models import Petition
from campaign.petitions.services import find_public_petition
from campaign.signatures.forms import EmbedSignatureForm
from campaign.signatures.models import SignatoryKind
from campaign.signatures.services import SignatureRequest, sign_petition, signature_count
from campaign.signatures.views import sign_limit
from campaign.tokens import make_embed_form_token
from campaign.web.framing import allow_framing

bp = Blueprint("embed", __name__)


def _language() -> dict[str, str]:
    """The ?lang= of the embed's URL, kept on its links (the language cookie may not reach
    a frame)."""
    lang = request.args.get("lang")
    return {"lang": lang} if lang in ("fr", "en") else {}


def _framed(petition: Petition, page: str, status: int = 200) -> Response:
    response = make_response(page, status)
    allow_framing(response, frame_ancestors(petition))
    # The page carries a form token and counts: never stored by a shared cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _render(petition: Petition, form: EmbedSignatureForm, status: int = 200) -> Response:
    form.form_token.data = make_embed_form_token(petition.id)
    count = signature_count(petition.id)
    page = render_template(
        "embed/sign.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        count=count,
        progress=min(100, round(100 * count / petition.goal)) if petition.goal else 100,
        form=form,
        language=_language(),
        signable=petition.accepts_signatures(utcnow()),
    )
    return _framed(petition, page, status)


@bp.get("/p/<slug>/embed")
def show(slug: str):
    petition = find_public_petition(slug) or abort(404)
    return _render(petition, EmbedSignatureForm().offer_choices(petition, str(get_locale())))


@bp.post("/p/<slug>/embed")
@csrf.exempt
@limiter.limit(sign_limit)
def sign(slug: str):
    petition = find_public_petition(slug) or abort(404)
    locale = str(get_locale())
    form = EmbedSignatureForm().offer_choices(petition, locale)
    if not form.validate_on_submit():
        return _render(petition, form, status=422)
    submitted = SignatureRequest(
        first_name=form.first_name.data,
        last_name=form.last_name.data,
        email=form.email.data,
        category_key=form.category.data,
        departement=form.departement.data or None,
        show_name=form.show_name.data == "yes",
        show_title=False,
        show_organisation=False,
        contact_ok=form.contact_ok.data,
        language=locale,
        ip=request.remote_addr,
        kind=SignatoryKind.PERSON,
    )
    try:
        sign_petition(petition, submitted, utcnow())
    except PetitionNotSignable:
        form.form_token.errors = [_("This petition is not accepting signatures.")]
        return _render(petition, form, status=409)
    return redirect(url_for("embed.sent", slug=slug, **_language()), code=303)


@bp.get("/p/<slug>/embed/sent")
def sent(slug: str):
    petition = find_public_petition(slug) or abort(404)
    page = render_template(
        "embed/sent.html",
        petition=petition,
        text=petition.text(str(get_locale())),
        language=_language(),
    )
    return _framed(petition, page)
