"""What the domains' `flask` commands share: options read the same way everywhere."""

from __future__ import annotations

from pathlib import Path

import click


def import_source(source: str | None, file: Path, limit: int) -> str:
    """The --source of an import (the file's name by default), or a usage error."""
    source = source if source is not None else file.name
    if not source.strip() or len(source) > limit:
        raise click.BadParameter(f"1 to {limit} characters", param_hint="--source")
    return source


def acting_account(as_email: str | None):
    """The workspace account named by --as (None without it), or an error naming it."""
    from campaign.accounts.services import find_user_by_email

    if not as_email:
        return None
    actor = find_user_by_email(as_email)
    if actor is None:
        raise click.ClickException(f"no workspace account {as_email!r}")
    return actor
