"""The petition page."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    has_app_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import force_locale, format_decimal, get_locale, get_translations, gettext
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import escape
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from campaign.accounts.services import can_manage
from campaign.clock import utcnow
from campaign.mailings.letters import letters_ledger
from campaign.mailings.models import Delivery
from campaign.petitions.cards import CardCache, CardText, count_step, draw_card
from campaign.petitions.models import Petition
from campaign.petitions.posters import poster_pdf, qr_png, qr_svg, sheet_pdf
from campaign.petitions.services import (
    cached_public_petition,
    find_petition_by_slug,
    find_petition_image,
    find_public_petition,
    op_ed_of,
    public_petition_snapshot,
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
from campaign.signatures.models import COUNTED, Signature
from campaign.signatures.services import (
    DEPARTEMENT_COUNT_THRESHOLD,
    first_signatories,
    latest_signatories,
    public_counts_by_departement,
    signatory_line,
    signature_count,
)
from campaign.tokens import external_url
from campaign.verification.services import (
    category_tallies,
    level_counts,
    sign_form_verification_fields,
)
from campaign.web.departement_map import departement_map

bp = Blueprint("petitions", __name__)


# How long a process shows the same counts and latest signatories (and the same page, below).
# Writes to signatures or letters in the same process clear them at once; other processes'
# writes show within this delay.
PAGE_COUNTS_SECONDS = 3.0
_COUNTS_KEY = "tribune.petition_page_counts"


@dataclass(frozen=True)
class Signatory:
    """What the page shows of a latest signatory: plain values, shared between requests."""

    verification_level: str | None
    verified_profession: str | None


@dataclass(frozen=True)
class PageCounts:
    """The page's count, counts per category and level, and latest signatories."""

    count: int
    levels: dict[str, dict[str, int]]
    latest: tuple[tuple[str, Signatory], ...]
    first: tuple[tuple[str, Signatory], ...] = ()
    # Confirmed signatures per département shown in public (at least the threshold).
    departements: tuple[tuple[str, int], ...] = ()


def _counts_cache() -> dict[int, tuple[float, PageCounts]]:
    """This app's cache (one per app, so tests never share one): petition id -> counts."""
    return current_app.extensions.setdefault(_COUNTS_KEY, {})


def forget_page_counts() -> None:
    """Empty this app's cache of page counts."""
    if has_app_context():
        current_app.extensions.pop(_COUNTS_KEY, None)


def _changes_counts(new: Iterable[object], changed: Iterable[object]) -> bool:
    """Whether these ORM writes may change the page: a new pending signature (every sign
    POST) does not, so that signing does not empty the cache each time."""
    return any(
        isinstance(instance, Signature) and instance.status in COUNTED for instance in new
    ) or any(isinstance(instance, (Signature, Delivery)) for instance in changed)


@event.listens_for(Session, "after_flush")
def _note_signature_flush(session: Session, _flush_context: object) -> None:
    """Remember that this transaction added a counted signature or changed one (ORM)."""
    if _changes_counts(session.new, (*session.dirty, *session.deleted)):
        session.info["signatures_written"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_signature_statement(state: ORMExecuteState) -> None:
    """Remember an INSERT, UPDATE or DELETE statement on signatures (Signature.move...) or
    on deliveries of letters (the ledger)."""
    if (state.is_update or state.is_delete or state.is_insert) and any(
        mapper.class_ in (Signature, Delivery) for mapper in state.all_mappers
    ):
        state.session.info["signatures_written"] = True


@event.listens_for(Session, "after_commit")
def _forget_counts_after_signature_writes(session: Session) -> None:
    if session.info.pop("signatures_written", False):
        forget_page_counts()


@event.listens_for(Session, "after_rollback")
def _reset_signature_writes(session: Session) -> None:
    session.info.pop("signatures_written", None)


def page_counts(petition_id: int) -> PageCounts:
    """The counts of the petition page, read at most every PAGE_COUNTS_SECONDS."""
    cache = _counts_cache()
    entry = cache.get(petition_id)
    now = time.monotonic()
    if entry is not None and entry[0] > now:
        return entry[1]
    counts = PageCounts(
        count=signature_count(petition_id),
        levels=level_counts(petition_id),
        latest=tuple(
            (signatory_line(s), Signatory(s.verification_level, s.verified_profession))
            for s in latest_signatories(petition_id)
        ),
        first=tuple(
            (signatory_line(s), Signatory(s.verification_level, s.verified_profession))
            for s in first_signatories(petition_id)
        ),
        departements=tuple(public_counts_by_departement(petition_id).items()),
    )
    cache[petition_id] = (now + PAGE_COUNTS_SECONDS, counts)
    return counts


# The body's HTML depends only on its Markdown: rendered once per text, not per request.
_page_body = lru_cache(maxsize=64)(render_markdown)


def card_url(petition: Petition, count: int, locale: str) -> str:
    """The absolute address of the petition's preview card in this language; it changes
    when the card would be redrawn, so that link previews fetch the new one."""
    version = f"{petition.current_version}-{count_step(count)}"
    if petition.image_sha256:
        version += f"-{petition.image_sha256[:8]}"
    return external_url("petitions.card", slug=petition.slug, lang=locale, v=version)


def render_petition_page(petition: Petition, form: SignatureForm, status: int = 200):
    """The petition with its counts, latest signatories and the sign form."""
    locale = str(get_locale())
    counts = page_counts(petition.id)
    count = counts.count
    text = petition.text(locale)
    rpps_categories, evidence_categories = sign_form_verification_fields(
        [category.key for category in petition.categories]
    )
    page = render_template(
        "petitions/show.html",
        petition=petition,
        text=text,
        canonical=petition_url(petition.slug),
        description=page_description(text),
        card=card_url(petition, count, locale),
        other_languages=sorted({t.language for t in petition.current_texts()} - {locale}),
        body=_page_body(petition.text(locale).body),
        op_ed=op_ed_of(petition),
        count=count,
        progress=min(100, round(100 * count / petition.goal)) if petition.goal else 100,
        tallies=category_tallies(petition, counts.levels),
        latest=counts.latest,
        first=counts.first,
        form=form,
        rpps_categories=rpps_categories,
        evidence_categories=evidence_categories,
        ledger=letters_ledger(petition.id, utcnow(), locale),
        locale=locale,
        departement_map=departement_map(dict(counts.departements), DEPARTEMENT_COUNT_THRESHOLD),
    )
    return page, status


# The petition page is what most visitors load, and most of its cost is rendering it. For
# anonymous visitors with nothing flashed, it is the same page for everyone but for the CSRF
# token: rendered once per petition, language and counts, with a placeholder where each
# visitor's own token goes in.
_PAGES_KEY = "tribune.petition_pages"
_CSRF_PLACEHOLDER = f"csrf-placeholder-{secrets.token_hex(16)}"


@dataclass(frozen=True)
class SharedPage:
    """A rendered petition page, valid while its petition snapshot and counts are current."""

    snapshot: Petition
    counts: PageCounts
    html: str


def _page_is_shared() -> bool:
    """Whether this request gets the shared page: nothing in it may be the visitor's own
    (a flashed message, a signed-in account, a query string, which would also let anyone
    fill the cache with variants)."""
    return not request.query_string and "_flashes" not in session and "_user_id" not in session


def _shared_page(snapshot: Petition, locale: str) -> str:
    """The shared page's HTML, with the CSRF token placeholder; rendered when stale."""
    pages: dict[tuple[str, str], SharedPage] = current_app.extensions.setdefault(_PAGES_KEY, {})
    counts = page_counts(snapshot.id)
    page = pages.get((snapshot.slug, locale))
    if page is None or page.snapshot is not snapshot or page.counts is not counts:
        petition = cached_public_petition(snapshot.slug)
        form = SignatureForm().offer_choices(petition, locale)
        form.csrf_token.current_token = _CSRF_PLACEHOLDER
        html, _status = render_petition_page(petition, form)
        page = SharedPage(snapshot, counts, html)
        pages[(snapshot.slug, locale)] = page
    return page.html


@bp.get("/p/<slug>")
def show(slug: str):
    locale = str(get_locale())
    if "s" in request.args:
        return _counted_share_visit(slug)
    if _page_is_shared():
        snapshot = public_petition_snapshot(slug) or abort(404)
        return _shared_page(snapshot, locale).replace(_CSRF_PLACEHOLDER, escape(generate_csrf()))
    petition = cached_public_petition(slug) or abort(404)
    return render_petition_page(petition, SignatureForm().offer_choices(petition, locale))


@bp.get("/p/<slug>/versions")
def versions(slug: str):
    petition = find_public_petition(slug) or abort(404)
    locale = str(get_locale())
    return render_template(
        "petitions/versions.html",
        petition=petition,
        text=petition.text(locale),
        versions=version_history(petition, locale),
    )


def _counted_share_visit(slug: str):
    """A visit through a shared link (?s=mail...): counted for its source, then sent to the
    petition's own address, so that the page stays the shared one and the tag is not passed
    on when the reader shares the address again."""
    snapshot = public_petition_snapshot(slug) or abort(404)
    source = counted_source(request.args.get("s"), request.user_agent.string)
    if source is not None and request.method == "GET":
        record_share_visit(snapshot.id, source, utcnow().date())
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


# The cards drawn by this process; a card is a few tens of kilobytes.
_CARDS_KEY = "tribune.petition_cards"


@bp.get("/p/<slug>/card.png")
def card(slug: str):
    """The preview card (og:image), in the language asked for (link previews send no
    cookie), drawn again when the count changes noticeably."""
    snapshot = public_petition_snapshot(slug) or abort(404)
    locale = request.args.get("lang")
    if locale not in current_app.config["LANGUAGES"]:
        locale = snapshot.language
    count = page_counts(snapshot.id).count
    shown = count_step(count)
    cards: CardCache = current_app.extensions.setdefault(_CARDS_KEY, CardCache())
    key = (snapshot.id, locale, snapshot.current_version, snapshot.goal, shown)
    key += (snapshot.image_sha256,)
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
                title=snapshot.text(locale).title,
                count_line=count_line,
                goal_line=gettext("Goal: %(goal)s", goal=format_decimal(snapshot.goal)),
                site=urlsplit(current_app.config["PUBLIC_URL"]).netloc,
            )
        picture = (
            find_petition_image(snapshot.id, snapshot.image_sha256)
            if snapshot.image_sha256
            else None
        )
        progress = shown / snapshot.goal if snapshot.goal else 1.0
        png = draw_card(text, progress, picture.content if picture is not None else None)
        cards.put(key, png)
    response = current_app.response_class(png, mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/p/<slug>/qr.<any(png, svg):kind>")
def qr_code(slug: str, kind: str):
    """The QR code of the petition's address, to print or to put on a slide."""
    snapshot = public_petition_snapshot(slug) or abort(404)
    body, mimetype = (
        (qr_png(snapshot.slug), "image/png")
        if kind == "png"
        else (qr_svg(snapshot.slug), "image/svg+xml")
    )
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{snapshot.slug}-qr.{kind}"'
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# The PDFs drawn by this process: a poster or a sheet takes WeasyPrint a second.
_PRINTS_KEY = "tribune.petition_prints"


@bp.get("/p/<slug>/<any(poster, sheet):kind>.pdf")
def printable(slug: str, kind: str):
    """The A4 poster, or the paper signing sheet, in the reader's language."""
    snapshot = public_petition_snapshot(slug) or abort(404)
    if kind == "sheet" and not snapshot.accepts_signatures(utcnow()):
        abort(404)
    locale = str(get_locale())
    count = count_step(page_counts(snapshot.id).count) if kind == "poster" else 0
    prints: CardCache = current_app.extensions.setdefault(_PRINTS_KEY, CardCache(size=32))
    key = (kind, snapshot.id, locale, snapshot.current_version, snapshot.goal, count)
    pdf = prints.get(key)
    if pdf is None:
        petition = cached_public_petition(slug)
        pdf = (
            poster_pdf(petition, locale, count) if kind == "poster" else sheet_pdf(petition, locale)
        )
        prints.put(key, pdf)
    response = current_app.response_class(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{snapshot.slug}-{kind}.pdf"'
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
