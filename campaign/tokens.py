"""Signed, expiring link tokens (confirm, withdraw, rights...), and absolute URLs for emails.

A token is the subject id and the issue time, signed with SECRET_KEY under a salt per
purpose: no personal data in it, and a confirm token cannot be used to withdraw. The salt
also holds the subject row's binding, its random link key (new_link_key(), kept for the
row's life): a token opens the row it was issued for, never a later row that took the same
id.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import UTC, datetime
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from campaign.errors import TokenExpired, TokenInvalid
from campaign.extensions import db

PURPOSES = (
    "confirm",
    "withdraw",
    "rights",
    "unsubscribe",
    "verify_address",
    "write",
    "reply_to",
)


def new_link_key() -> str:
    """A row's random link key: the binding of the tokens about it."""
    return secrets.token_hex(16)


def _epoch(moment: datetime) -> int:
    """Seconds since the epoch of a naive UTC datetime."""
    return int(moment.replace(tzinfo=UTC).timestamp())


def _serializer(purpose: str, link_key: str) -> URLSafeSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"tribune-{purpose}:{link_key}")


class LinkedRow(Protocol):
    """A row that emailed links are about: a signature, a professional address."""

    id: int
    link_key: str


Row = TypeVar("Row", bound=LinkedRow)


def make_token(purpose: str, row: LinkedRow, now: datetime) -> str:
    """A URL-safe token for `purpose` about `row`, issued at `now`."""
    return _serializer(purpose, row.link_key).dumps([row.id, _epoch(now)])


def row_from_token(
    purpose: str, token: str, now: datetime, max_age: int | None, model: type[Row]
) -> Row:
    """The row of `model` a valid token was issued for: signed for `purpose` and for that
    row's link key. Raises TokenInvalid (forged, another purpose, or the row is gone and
    another took its id), or TokenExpired past max_age."""
    # The id first, unverified, to find the row whose link key the signature must hold.
    _, payload = _serializer(purpose, "").loads_unsafe(token)
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(isinstance(value, int) and not isinstance(value, bool) for value in payload)
    ):
        raise TokenInvalid(purpose)
    subject_id, issued = payload
    row = db.session.get(model, subject_id)
    if row is None:
        raise TokenInvalid(purpose)
    try:
        _serializer(purpose, row.link_key).loads(token)
    except (BadSignature, ValueError, TypeError) as error:
        raise TokenInvalid(purpose) from error
    if max_age is not None and _epoch(now) - issued > max_age:
        raise TokenExpired(subject_id, purpose)
    return row


def external_url(endpoint: str, **values: object) -> str:
    """An absolute URL on PUBLIC_URL, buildable outside a request (in jobs)."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


# The paths that carry a token: whoever reads a log holding one could open the link.
TOKEN_PATH = re.compile(r"(/[sau]/|/p/[^/\s?\"']+/write/)[^/\s?\"']+")


def redact_token_paths(text: str) -> str:
    """`text` with the token of every token-bearing path replaced: /s/-redacted-/withdraw."""
    return TOKEN_PATH.sub(r"\1-redacted-", text)


class RedactTokenPaths(logging.Filter):
    """A logging filter that takes the tokens out of a record's message (the request log of
    the development server, Flask's "Exception on /s/<token>" lines...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_token_paths(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


# --- The embed's form token ----------------------------------------------------------------
# The embed's sign box works inside another site's frame, where the session cookie (and so
# Flask-WTF's session-bound CSRF token) is often blocked as a third-party cookie. Its form
# carries instead a signed, short-lived token naming the petition, issued with the page.
EMBED_FORM_MAX_AGE = 2 * 3600


def _embed_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="tribune-embed-form")


def make_embed_form_token(petition_id: int) -> str:
    """A token for the embed's sign form of this petition, with a random nonce (so that two
    pages never carry the same token), valid EMBED_FORM_MAX_AGE seconds."""
    return _embed_serializer().dumps([petition_id, secrets.token_urlsafe(8)])


def embed_form_token_is_valid(token: str | None, petition_id: int) -> bool:
    """Whether the token was issued by this site for this petition's embed, not too long ago."""
    if not token or len(token) > 200:
        return False
    try:
        payload = _embed_serializer().loads(token, max_age=EMBED_FORM_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return False
    return isinstance(payload, list) and len(payload) == 2 and payload[0] == petition_id
