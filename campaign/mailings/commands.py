"""`flask mailings sweep` and `flask mailings status`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from campaign.clock import utcnow

mailings = AppGroup("mailings", help="Mail campaigns: their state, and the sweeper.")


@mailings.command("sweep")
def sweep() -> None:
    """Start due scheduled mailings, mark sends of dead workers unknown, wake lost jobs."""
    from campaign.mailings.services import sweep_mailings

    counts = sweep_mailings(utcnow())
    click.echo(
        "started {started}, marked unknown {unknown}, woken {woken}, finished {finished}".format(
            **counts
        )
    )


@mailings.command("status")
def status() -> None:
    """One line per mailing that is not a draft: its state and its deliveries."""
    from campaign.extensions import db
    from campaign.mailings.models import Mailing, MailingStatus
    from campaign.mailings.services import mailing_progress

    now = utcnow()
    for mailing in db.session.scalars(
        db.select(Mailing).where(Mailing.status != MailingStatus.DRAFT).order_by(Mailing.id)
    ):
        progress = mailing_progress(mailing, now).as_json()
        click.echo(
            f"#{mailing.id} {mailing.kind} {mailing.status}: {progress['sent']} sent, "
            f"{progress['failed']} failed, {progress['unknown']} unknown, "
            f"{progress['remaining']} remaining of {progress['total']}"
        )
