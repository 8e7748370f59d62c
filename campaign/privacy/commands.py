"""`flask privacy purge [--dry-run]` and `flask privacy register [--output FILE]`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from campaign.clock import utcnow
from campaign.privacy.services import processing_register, purge_personal_data

privacy = AppGroup("privacy", help="Retention of personal data, and the record of processing.")


@privacy.command("purge")
@click.option("--dry-run", is_flag=True, help="Print what would be erased; change nothing.")
def purge(dry_run: bool) -> None:
    """Erase the personal data past its retention period (docs/privacy.md)."""
    report = purge_personal_data(utcnow(), dry_run=dry_run)
    verb = "would erase" if dry_run else "erased"
    for counts in report:
        click.echo(f"{counts.slug}: {verb} {counts.describe()}")
    if not report:
        click.echo(f"nothing to erase{' (dry run)' if dry_run else ''}")


@privacy.command("register")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the Markdown to this file instead of standard output.",
)
@click.option("--language", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def register(output: Path | None, language: str) -> None:
    """Write the record of processing activities (GDPR Art. 30) as Markdown."""
    text = processing_register(utcnow(), language)
    if output is None:
        click.echo(text)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"record of processing written to {output}")
