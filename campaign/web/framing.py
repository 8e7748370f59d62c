"""Framing: every page is unframeable (campaign/__init__.py sends X-Frame-Options: DENY and
frame-ancestors 'none'), except the responses a view explicitly lets other sites frame."""

from __future__ import annotations

from flask import Response

# The site's policy (campaign/__init__.py), with the frame ancestors left to the caller.
FRAMED_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors {ancestors}"
)


def allow_framing(response: Response, ancestors: str) -> Response:
    """Let the pages of `ancestors` (a CSP source list, already checked) frame this response:
    its own frame-ancestors, and no X-Frame-Options, which cannot name sites and would
    forbid every frame. With "'none'", the response stays unframeable."""
    response.headers["Content-Security-Policy"] = FRAMED_POLICY.format(ancestors=ancestors)
    response.frameable = ancestors != "'none'"
    return response


def is_frameable(response: Response) -> bool:
    """Whether a view let other sites frame this response (allow_framing)."""
    return getattr(response, "frameable", False)
