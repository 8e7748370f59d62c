"""Where a form or a link may send the visitor back to: only this site."""

from __future__ import annotations

from flask import url_for


def local_path(target: str | None, default: str | None = None) -> str:
    """Only a path on this site: never //host, /\\host, a scheme or a control character."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(ord(char) < 32 for char in target)
    ):
        return default or url_for("pages.home")
    return target
