"""`flask officials import FILE.csv [--source NAME] [--dry-run] [--deactivate-missing]`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from campaign.cli import acting_account, import_source
from campaign.clock import utcnow
from campaign.officials.services import (
    MAX_BYTES,
    SOURCE_MAX,
    import_officials,
    preview_officials_import,
)

officials = AppGroup("officials", help="The directory of officials that mailings write to.")


@officials.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", metavar="NAME", help="Source of the records (default: the file's name).")
@click.option("--dry-run", is_flag=True, help="Check and count; change nothing.")
@click.option(
    "--deactivate-missing",
    is_flag=True,
    help="Retire the active officials of the same source that the file no longer lists.",
)
@click.option(
    "--as", "as_email", metavar="EMAIL", help="The workspace account recorded as the importer."
)
def import_command(
    file: Path, source: str | None, dry_run: bool, deactivate_missing: bool, as_email: str | None
) -> None:
    """Import or update officials from a CSV file, keyed by their email address.

    Columns (header row, comma or semicolon, UTF-8): email, first_name, last_name, role
    (required); civility, chamber, departement, constituency, party, recorded_on, source. See
    docs/officials.md. Exits 1 when a line is invalid, listing each on standard error; then
    nothing is imported. Importing the same file again changes nothing.
    """
    source = import_source(source, file, SOURCE_MAX)
    if file.stat().st_size > MAX_BYTES:
        raise click.ClickException(f"{file} is larger than {MAX_BYTES // (1024 * 1024)} MB")
    actor = acting_account(as_email)
    content = file.read_bytes()
    # Messages in English, like the rest of the command line.
    with force_locale("en"):
        if dry_run:
            plan = preview_officials_import(
                content, source=source, deactivate_missing=deactivate_missing
            )
            written = False
        else:
            outcome = import_officials(
                content,
                source=source,
                now=utcnow(),
                deactivate_missing=deactivate_missing,
                actor=actor,
                via="cli",
            )
            plan, written = outcome.plan, outcome.written
        for error in plan.errors:
            click.echo(str(error), err=True)
    click.echo(plan.summary())
    if dry_run:
        click.echo("dry run: nothing imported")
    elif written:
        click.echo(f"imported from {source!r}")
    else:
        click.echo("nothing imported")
    if plan.errors:
        raise click.exceptions.Exit(1)
