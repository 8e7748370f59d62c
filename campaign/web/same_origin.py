"""The sign form's defence against cross-site requests, without a token baked into the page.

The petition page is shared by every anonymous reader (and by the reverse proxy's cache), so
it cannot carry a visitor's CSRF token. A POST to the sign form is accepted when the browser
says it comes from this site: its Fetch Metadata (`Sec-Fetch-Site: same-origin`, or `none`
for an action of the user's own), which every current browser sends with a form POST,
JavaScript or not, else an `Origin` of this site (OWASP's CSRF cheat sheet, "Fetch Metadata
headers" and "Verifying origin with standard headers"). Our `Referrer-Policy: no-referrer`
makes browsers send `Origin: null` with form POSTs, so `null` proves nothing either way.
Without either proof, the session's CSRF token is required: sign-form.js fetches it with the
form (/p/<slug>/sign/token). A cross-site answer from the browser is refused whatever token
comes with it. docs/security.md,
"The sign form on a shared page".
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

# Sec-Fetch-Site values of a request this site's own page made, or the user typed.
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins() -> set[str]:
    """The origins this site's pages are served from: the public address, and the one this
    request reached (behind the proxy, as ProxyFix restores it)."""
    return {_origin(current_app.config["PUBLIC_URL"]), _origin(request.host_url)}


def cross_site_problem(token: str) -> str | None:
    """Why this POST must be refused as possibly cross-site, or None to accept it."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return None  # CSRF protection switched off for the whole site (some tests)
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        # Set by the browser, never by a page: it says where the request came from.
        return None if fetch_site.lower() in SAME_SITE_FETCHES else f"Sec-Fetch-Site: {fetch_site}"
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null":
        return None if origin.lower() in own_origins() else "Origin of another site"
    # No Fetch Metadata, and no Origin or `Origin: null`: our pages' Referrer-Policy:
    # no-referrer makes browsers send `null` with every form POST, ours too, and so do a
    # sandboxed frame or a data: page. Only the session's token can tell.
    if not token:
        return "no Sec-Fetch-Site, no Origin and no token"
    try:
        validate_csrf(token)
    except ValidationError:
        return "CSRF token invalid"
    return None
