"""Signed, expiring link tokens (confirm, withdraw, rights...), and absolute URLs for emails.

A token is the subject id and the issue time, signed with SECRET_KEY under a salt per
purpose: no personal data in it, and a confirm token cannot be used to withdraw. The salt
also holds the subject row's binding, its random link key (new_link_key(), kept for the
row's life): a token opens the row it was issued for, never a later row that took the same
id.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from campaign.errors import TokenExpired, TokenInvalid

PURPOSES = ("confirm", "withdraw", "rights", "unsubscribe", "verify_address", "write")


def new_link_key() -> str:
    """A row's random link key: the binding of the tokens about it."""
    return secrets.token_hex(16)


def _epoch(moment: datetime) -> int:
    """Seconds since the epoch of a naive UTC datetime."""
    return int(moment.replace(tzinfo=UTC).timestamp())


def _serializer(purpose: str, binding: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"tribune-{purpose}:{binding}")


def make_token(purpose: str, subject_id: int, binding: str, now: datetime) -> str:
    """A URL-safe token for `purpose` about the row `subject_id`, whose binding is
    `binding`, issued at `now`."""
    if not binding:
        raise ValueError("a token needs its row's binding")
    return _serializer(purpose, binding).dumps([subject_id, _epoch(now)])


def read_token(
    purpose: str,
    token: str,
    now: datetime,
    max_age: int | None,
    binding_of: Callable[[int], str | None],
) -> int:
    """The subject id of a valid token: signed for `purpose` and for the binding that
    binding_of(id) gives the row now (None: the row is gone or erased). Raises TokenInvalid,
    or TokenExpired past max_age."""
    # The id first, unverified, to find the row whose binding the signature must hold.
    _, payload = _serializer(purpose, "").loads_unsafe(token)
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(isinstance(value, int) and not isinstance(value, bool) for value in payload)
    ):
        raise TokenInvalid(purpose)
    subject_id, issued = payload
    binding = binding_of(subject_id)
    if not binding:
        raise TokenInvalid(purpose)
    try:
        _serializer(purpose, binding).loads(token)
    except (BadSignature, ValueError, TypeError) as error:
        raise TokenInvalid(purpose) from error
    if max_age is not None and _epoch(now) - issued > max_age:
        raise TokenExpired(subject_id, purpose)
    return subject_id


def external_url(endpoint: str, **values: object) -> str:
    """An absolute URL on PUBLIC_URL, buildable outside a request (in jobs)."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)
