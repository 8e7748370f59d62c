"""The sign form's defence against cross-site requests, without a token baked into the page.

The petition page is shared by every anonymous reader (and by the reverse proxy's cache), so
it cannot carry a visitor's CSRF token. A POST to the sign form is accepted when the browser
says it comes from this site: its Fetch Metadata (`Sec-Fetch-Site: same-origin`, or `none`
for an action of the user's own) or its `Origin`. Every current browser sends one or both
with a form POST, JavaScript or not (OWASP's CSRF cheat sheet, "Fetch Metadata headers" and
"Verifying origin with standard headers"). When the browser sends neither, the session's
CSRF token is required: sign-form.js fetches it with the form (/p/<slug>/sign/token). A
cross-site answer from the browser is refused whatever token comes with it. docs/security.md,
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
    origin = request.headers.get("Origin")
    if fetch_site is not None and fetch_site.lower() not in SAME_SITE_FETCHES:
        return f"Sec-Fetch-Site: {fetch_site}"
    if origin is not None and origin.lower() not in own_origins():
        # Also `Origin: null` (a sandboxed frame, a data: page, some redirects).
        return "Origin of another site"
    if fetch_site is not None or origin is not None:
        # The browser vouches for the origin; a token sent along may have outlived its
        # session (a cookie cleared since), which says nothing about the origin.
        return None
    if not token:
        return "no Origin, no Sec-Fetch-Site and no token"
    try:
        validate_csrf(token)
    except ValidationError:
        return "CSRF token invalid"
    return None
