"""The current time, as naive UTC: what every DateTime column stores on SQLite and PostgreSQL."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, without tzinfo. Domain functions take it as a parameter."""
    return datetime.now(UTC).replace(tzinfo=None)
