"""CLI groups: `flask outbox flush`, `flask demo load`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from campaign.clock import utcnow
from campaign.mail.outbox import flush_outbox


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


outbox = AppGroup("outbox", help="The emails the platform owes.")
demo = AppGroup("demo", help="Demonstration data.")
maintenance = AppGroup("maintenance", help="Scheduled upkeep.")


@maintenance.command("daily")
def maintenance_daily() -> None:
    """Publish changed lists, purge expired personal data, forget spent challenges."""
    from campaign.maintenance import run_daily_tasks

    for name, count in run_daily_tasks(utcnow()).items():
        click.echo(f"{count} {name}")


@outbox.command("flush")
def outbox_flush() -> None:
    """Send (or enqueue) every email still owed, e.g. after a Redis or SMTP outage."""
    count = flush_outbox(utcnow())
    click.echo(f"{count} message(s) enqueued")


@demo.command("load")
@click.option("--signatories", default=200, show_default=True, help="How many demo signatories.")
def demo_load(signatories: int) -> None:
    """Load the demo petition and its signatories (idempotent)."""
    from campaign.demo import load_demo

    created = load_demo(utcnow(), signatories=signatories)
    click.echo(f"demo petition ready; {created} signatories added")
