"""The public petition pages: the petition with its counts, latest signatories, letters and
sign form, its versions, share links, preview card, QR codes, posters and image.

The page composes the domains below it (petitions, signatures, verification, mailings), so it
lives here, above them, under the blueprint name "petitions" (endpoints `petitions.show`...).
An anonymous visitor's page is the same for everyone reading it in one language, so that a
reverse proxy may serve it (campaign/web/http_cache.py); it therefore holds no CSRF token.
The sign form is protected by a same-origin check and, when JavaScript fetched one, the
session's CSRF token (campaign/web/same_origin.py, docs/security.md).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, format_decimal, get_locale, get_translations, gettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from campaign.accounts.services import can_manage
from campaign.clock import utcnow
from campaign.errors import PetitionNotSignable
from campaign.extensions import csrf, limiter
from campaign.mailings.letters import letters_ledger
from campaign.petitions.cards import CardCache, CardText, count_step, draw_card
from campaign.petitions.models import Petition
from campaign.petitions.services import (
    find_petition_by_slug,
    find_petition_image,
    find_public_petition,
    op_ed_of,
    render_markdown,
    version_history,
)
from campaign.petitions.sharing import (
    counted_source,
    mastodon_instance,
    mastodon_share_link,
    page_description,
    petition_url,
    record_share_visit,
)
from campaign.signatures.forms import SignatureForm
from campaign.signatures.models import SignatoryKind
from campaign.signatures.services import (
    DEPARTEMENT_COUNT_THRESHOLD,
    SignatureRequest,
    confirmed_signatures_by_version,
    count_of,
    first_signatories,
    latest_signatories,
    public_counts_by_departement,
    sign_petition,
    signatory_line,
    signature_count,
)
from campaign.signatures.views import remember_address, sign_limit
from campaign.site.posters import poster_pdf, qr_png, qr_svg, sheet_pdf
from campaign.tokens import external_url
from campaign.verification.services import (
    category_tallies,
    level_counts,
    sign_form_verification_fields,
)
from campaign.web.departement_map import public_map_html
from campaign.web.http_cache import PRIVATE, public_page, visitor_has_own_data
from campaign.web.same_origin import cross_site_problem

bp = Blueprint("petitions", __name__)

# The body's HTML depends only on its Markdown: rendered once per text, not per request.
_page_body = lru_cache(maxsize=64)(render_markdown)


def card_url(petition: Petition, count: int, locale: str) -> str:
    """The absolute address of the petition's preview card in this language; it changes
    when the card would be redrawn, so that link previews fetch the new one."""
    version = f"{petition.current_version}-{count_step(count)}"
    if petition.image_sha256:
        version += f"-{petition.image_sha256[:8]}"
    return external_url("petitions.card", slug=petition.slug, lang=locale, v=version)


def sign_form(petition: Petition, locale: str) -> SignatureForm:
    """The sign form, without the session's CSRF token: the page is shared by every reader
    (its protection is in sign() below)."""
    return SignatureForm(meta={"csrf": False}).offer_choices(petition, locale)


# The sign form as every reader gets it (nothing typed, no error), per petition address,
# language, categories offered (with their labels), anti-robot setting and mount point: plain
# values, so an entry is never stale. Its hundred fields and options cost a quarter of the page.
# One store per app (current_app.extensions), so that two apps of one process never share one.
_SIGN_SECTIONS_KEY = "tribune.sign_sections"
_SIGN_SECTIONS_KEPT = 256


def sign_section(
    petition: Petition, form: SignatureForm, locale: str, rpps: list[str], evidence: list[str]
) -> Markup:
    """The sign form's section (petitions/_sign.html): rendered once per key while the form
    is blank; a submitted form, with what was typed and its errors, every time."""

    def render() -> Markup:
        # A template's output, escaped by Jinja's autoescape like the page around it.
        return Markup(  # noqa: S704
            render_template(
                "petitions/_sign.html",
                slug=petition.slug,
                form=form,
                rpps_categories=rpps,
                evidence_categories=evidence,
            )
        )

    if form.is_submitted():
        return render()
    categories = tuple((choice.value, str(choice.label)) for choice in form.category.choices)
    key = (petition.slug, locale, categories, tuple(rpps), tuple(evidence))
    # Its addresses are relative to where the app is mounted.
    key += (current_app.config["ALTCHA_ENABLED"], request.script_root)
    sections: dict[tuple, Markup] = current_app.extensions.setdefault(_SIGN_SECTIONS_KEY, {})
    html = sections.get(key)
    if html is None:
        if len(sections) >= _SIGN_SECTIONS_KEPT:
            sections.clear()
        html = sections[key] = render()
    return html


def render_petition_page(petition: Petition, form: SignatureForm) -> str:
    """The petition with its counts, latest signatories, letters and the sign form: the
    same HTML for every anonymous reader in one language."""
    locale = str(get_locale())
    levels = level_counts(petition.id)
    count = count_of(levels)
    text = petition.text(locale)
    rpps_categories, evidence_categories = sign_form_verification_fields(
        [category.key for category in petition.categories]
    )
    return render_template(
        "petitions/show.html",
        petition=petition,
        text=text,
        canonical=petition_url(petition.slug),
        description=page_description(text),
        card=card_url(petition, count, locale),
        other_languages=sorted({t.language for t in petition.current_texts()} - {locale}),
        body=_page_body(text.body),
        op_ed=op_ed_of(petition),
        count=count,
        progress=min(100, round(100 * count / petition.goal)) if petition.goal else 100,
        tallies=category_tallies(petition, levels),
        latest=[(signatory_line(s), s) for s in latest_signatories(petition.id)],
        first=[(signatory_line(s), s) for s in first_signatories(petition.id)],
        form=form,
        sign_section=sign_section(petition, form, locale, rpps_categories, evidence_categories),
        ledger=letters_ledger(petition.id, utcnow(), locale),
        locale=locale,
        departement_map=public_map_html(
            public_counts_by_departement(petition.id), DEPARTEMENT_COUNT_THRESHOLD, locale
        ),
    )


@bp.get("/p/<slug>")
def show(slug: str):
    if "s" in request.args:
        return _counted_share_visit(slug)
    own_data = visitor_has_own_data()
    petition = find_public_petition(slug) or abort(404)
    page = render_petition_page(petition, sign_form(petition, str(get_locale())))
    return public_page(page, own_data)


@bp.get("/p/<slug>/sign/token")
def sign_token(slug: str):
    """The session's CSRF token for the sign form, which sign-form.js puts in the form: a
    small answer of the visitor's own, never stored by any cache."""
    find_public_petition(slug) or abort(404)
    response = jsonify(token=generate_csrf())
    response.headers["Cache-Control"] = PRIVATE
    return response


@bp.post("/p/<slug>/sign")
@csrf.exempt  # the page holds no token: cross_site_problem() is this form's check
@limiter.limit(sign_limit)
def sign(slug: str):
    if cross_site_problem(request.form.get("csrf_token", "")):
        page = render_template("petitions/cross_site.html", slug=slug)
        response = current_app.response_class(page, status=403, mimetype="text/html")
        response.headers["Cache-Control"] = PRIVATE
        return response
    petition = find_public_petition(slug) or abort(404)
    locale = str(get_locale())
    form = sign_form(petition, locale)
    if not form.validate_on_submit():
        response = current_app.make_response((render_petition_page(petition, form), 422))
        response.headers["Cache-Control"] = PRIVATE
        return response
    submitted = SignatureRequest(
        first_name=form.first_name.data,
        last_name=form.last_name.data,
        email=form.email.data,
        category_key=form.category.data,
        title=form.title.data or "",
        organisation=form.organisation.data or "",
        departement=form.departement.data or None,
        show_name=form.show_name.data == "yes",
        show_title=form.show_title.data,
        show_organisation=form.show_organisation.data,
        contact_ok=form.contact_ok.data,
        language=locale,
        ip=request.remote_addr,
        rpps_number=form.rpps_number.data or "",
        evidence=form.evidence.data or "",
        kind=SignatoryKind.ORGANISATION if form.for_organisation.data else SignatoryKind.PERSON,
    )
    try:
        sign_petition(petition, submitted, utcnow())
    except PetitionNotSignable:
        flash(_("This petition is not accepting signatures."), "error")
        return redirect(url_for("petitions.show", slug=slug), code=303)
    remember_address(petition.id, form.email.data)
    return redirect(url_for("signatures.check_inbox", slug=slug), code=303)


@bp.get("/p/<slug>/versions")
def versions(slug: str):
    petition = find_public_petition(slug) or abort(404)
    locale = str(get_locale())
    return render_template(
        "petitions/versions.html",
        petition=petition,
        text=petition.text(locale),
        versions=version_history(petition, locale, confirmed_signatures_by_version(petition.id)),
    )


def _counted_share_visit(slug: str):
    """A visit through a shared link (?s=mail...): counted for its source, then sent to the
    petition's own address, so that the page stays the shared one and the tag is not passed
    on when the reader shares the address again."""
    petition = find_public_petition(slug) or abort(404)
    source = counted_source(request.args.get("s"), request.user_agent.string)
    if source is not None and request.method == "GET":
        record_share_visit(petition.id, source, utcnow().date())
    return redirect(url_for("petitions.show", slug=slug), code=302)


@bp.get("/p/<slug>/share/mastodon")
def share_on_mastodon(slug: str):
    petition = find_public_petition(slug) or abort(404)
    typed = request.args.get("instance", "")[:300]
    instance = mastodon_instance(typed)
    title = petition.text(str(get_locale())).title
    page = render_template(
        "petitions/share_mastodon.html",
        petition=petition,
        title=title,
        typed=typed,
        instance=instance,
        link=mastodon_share_link(instance, slug, title) if instance else None,
    )
    return page, 422 if typed and instance is None else 200


# The cards drawn by this process, keyed by what a card shows (the count rounded): a function
# of its key, so nothing needs to forget an entry. A card is a few tens of kilobytes.
_CARDS_KEY = "tribune.petition_cards"


@bp.get("/p/<slug>/card.png")
def card(slug: str):
    """The preview card (og:image), in the language asked for (link previews send no
    cookie), drawn again when the count changes noticeably."""
    petition = find_public_petition(slug) or abort(404)
    locale = request.args.get("lang")
    if locale not in current_app.config["LANGUAGES"]:
        locale = petition.language
    count = signature_count(petition.id)
    shown = count_step(count)
    cards: CardCache = current_app.extensions.setdefault(_CARDS_KEY, CardCache())
    key = (petition.id, locale, petition.current_version, petition.goal, shown)
    # The title too: a version nobody signed yet may be rewritten in place.
    key += (petition.image_sha256, petition.text(locale).title)
    png = cards.get(key)
    if png is None:
        with force_locale(locale):
            number = format_decimal(shown)
            if shown < count:
                count_line = gettext("More than %(num)s signatures", num=number)
            else:
                # The page's own words, with the number written as the language writes it.
                count_line = get_translations().ungettext(
                    "%(num)s confirmed signature", "%(num)s confirmed signatures", shown
                ) % {"num": number}
            text = CardText(
                title=petition.text(locale).title,
                count_line=count_line,
                goal_line=gettext("Goal: %(goal)s", goal=format_decimal(petition.goal)),
                site=urlsplit(current_app.config["PUBLIC_URL"]).netloc,
            )
        picture = (
            find_petition_image(petition.id, petition.image_sha256)
            if petition.image_sha256
            else None
        )
        progress = shown / petition.goal if petition.goal else 1.0
        png = draw_card(text, progress, picture.content if picture is not None else None)
        cards.put(key, png)
    response = current_app.response_class(png, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/p/<slug>/qr.<any(png, svg):kind>")
def qr_code(slug: str, kind: str):
    """The QR code of the petition's address, to print or to put on a slide."""
    petition = find_public_petition(slug) or abort(404)
    body, mimetype = (
        (qr_png(petition.slug), "image/png")
        if kind == "png"
        else (qr_svg(petition.slug), "image/svg+xml")
    )
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{petition.slug}-qr.{kind}"'
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# The PDFs drawn by this process, keyed like the cards: a poster or a sheet takes WeasyPrint
# a second.
_PRINTS_KEY = "tribune.petition_prints"


@bp.get("/p/<slug>/<any(poster, sheet):kind>.pdf")
def printable(slug: str, kind: str):
    """The A4 poster, or the paper signing sheet, in the reader's language."""
    petition = find_public_petition(slug) or abort(404)
    if kind == "sheet" and not petition.accepts_signatures(utcnow()):
        abort(404)
    locale = str(get_locale())
    count = count_step(signature_count(petition.id)) if kind == "poster" else 0
    prints: CardCache = current_app.extensions.setdefault(_PRINTS_KEY, CardCache(size=32))
    text = petition.text(locale)
    key = (kind, petition.id, locale, petition.current_version, petition.goal, count)
    key += (petition.updated_at, text.title, text.summary)
    pdf = prints.get(key)
    if pdf is None:
        pdf = (
            poster_pdf(petition, locale, count) if kind == "poster" else sheet_pdf(petition, locale)
        )
        prints.put(key, pdf)
    response = current_app.response_class(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{petition.slug}-{kind}.pdf"'
    return response


# An image's address names its digest: the bytes behind it never change, so browsers and
# proxies may keep them for a year; a new image gets a new address.
IMAGE_CACHE_CONTROL = "public, max-age=31536000, immutable"


@bp.get("/p/<slug>/image/<string(length=64):digest>.jpg")
def image(slug: str, digest: str):
    petition = find_public_petition(slug)
    cache_control = IMAGE_CACHE_CONTROL
    if petition is None:
        # A draft's image, for the organisers who preview it in the workspace.
        petition = find_petition_by_slug(slug)
        if petition is None or not (
            current_user.is_authenticated and can_manage(current_user, petition)
        ):
            abort(404)
        cache_control = "private, no-store"
    found = find_petition_image(petition.id, digest) or abort(404)
    response = Response(found.content, mimetype=found.media_type)
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(found.sha256)
    return response.make_conditional(request)
