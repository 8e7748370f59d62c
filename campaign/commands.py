"""The platform's own commands: `flask outbox`, `flask demo`, `flask maintenance`,
`flask worker`; each domain registers its own."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaign.clock import utcnow
from campaign.mail.outbox import flush_outbox

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


def init_app(app) -> None:
    """Register the platform's commands."""
    from campaign.worker import worker

    for command in (demo, outbox, worker, maintenance):
        app.cli.add_command(command)
