"""WTForms filters shared by the forms of every package."""

from __future__ import annotations


def strip_text(value: str | None) -> str | None:
    """Leading and trailing whitespace removed; non-text values as they are."""
    return value.strip() if isinstance(value, str) else value
