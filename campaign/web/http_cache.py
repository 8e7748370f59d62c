"""HTTP caching of the public pages, so that a reverse proxy serves them instead of the app.

An anonymous visitor's petition page, list of signatories or press page is the same for
everyone who reads it in the same language: it carries nothing of its own (no CSRF token, no
flashed message, no account), so a shared cache may keep it for PUBLIC_PAGE_MAX_AGE seconds
(docs/deploy.md, "Micro-caching"). Its ETag is the digest of the page itself, so that it
changes with whatever the page shows (a text version, a count, the latest signatories, the
language) and a browser that already holds the page gets a 304. A page that is the
visitor's own (signed in, a message flashed, the session written) is `private, no-store`.
"""

from __future__ import annotations

from flask import Response, current_app, make_response, request, session
from flask_login import current_user

PRIVATE = "private, no-store"


def visitor_has_own_data() -> bool:
    """Whether a page rendered now could hold something of this visitor's own: a signed-in
    account or a message flashed to them. Asked before rendering (rendering takes the
    flashed messages out of the session)."""
    return current_user.is_authenticated or "_flashes" in session


def public_page(
    page: str | Response, own_data: bool, status: int = 200, *, query_varies: bool = False
) -> Response:
    """The response for a public read-only page: shared and conditional when it is the same
    for every anonymous reader, `private, no-store` when `own_data` or when rendering it
    wrote the session (which would set a cookie). A query string makes it private unless the
    page's own parameters are in it (`query_varies`: a filter, a page number)."""
    response = make_response(page, status)
    if own_data or session.modified or status != 200 or (request.query_string and not query_varies):
        # A stray query string would also let anyone fill the shared cache with variants.
        response.headers["Cache-Control"] = PRIVATE
        return response
    shared_for = current_app.config["PUBLIC_PAGE_MAX_AGE"]
    # Browsers always revalidate (max-age=0, cheap with the ETag); only the proxy keeps it.
    response.headers["Cache-Control"] = (
        f"public, max-age=0, s-maxage={shared_for}" if shared_for > 0 else "no-cache"
    )
    response.add_etag()
    # The page varies with the language (the switch's cookie, else Accept-Language) and
    # with the session (signed in): Vary: Accept-Language, Cookie is added for every HTML
    # page in campaign/__init__.py.
    return response.make_conditional(request)
