"""CLI groups: `flask outbox flush`, `flask demo load`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaign.clock import utcnow
from campaign.emails import flush_outbox

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
