"""Signed, expiring link tokens (confirm, withdraw, rights), and absolute URLs for emails.

A token is the subject id and the issue time, signed with SECRET_KEY under a salt per
purpose: no personal data in it, and a confirm token cannot be used to withdraw.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from campaign.errors import TokenExpired, TokenInvalid

PURPOSES = ("confirm", "withdraw", "rights", "unsubscribe", "verify_address", "write")


def _epoch(moment: datetime) -> int:
    """Seconds since the epoch of a naive UTC datetime."""
    return int(moment.replace(tzinfo=UTC).timestamp())


def _serializer(purpose: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"tribune-{purpose}")


def make_token(purpose: str, subject_id: int, now: datetime) -> str:
    """A URL-safe token for `purpose` about `subject_id`, issued at `now`."""
    return _serializer(purpose).dumps([subject_id, _epoch(now)])


def read_token(purpose: str, token: str, now: datetime, max_age: int | None) -> int:
    """The subject id of a valid token. Raises TokenInvalid, or TokenExpired past max_age."""
    try:
        subject_id, issued = _serializer(purpose).loads(token)
    except (BadSignature, ValueError, TypeError) as error:
        raise TokenInvalid(purpose) from error
    if not isinstance(subject_id, int) or not isinstance(issued, int):
        raise TokenInvalid(purpose)
    if max_age is not None and _epoch(now) - issued > max_age:
        raise TokenExpired(subject_id)
    return subject_id


def external_url(endpoint: str, **values: object) -> str:
    """An absolute URL on PUBLIC_URL, buildable outside a request (in jobs)."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)
