"""`flask institutions import FILE.csv` and `flask objections letter SLUG`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale

from campaign.cli import import_source
from campaign.clock import utcnow
from campaign.mailings.templates import TemplateProblem
from campaign.objections.institutions import (
    MAX_BYTES,
    import_institutions,
    plan_institutions_import,
)

institutions = AppGroup(
    "institutions", help="The institutions supporters write to in an objection campaign."
)
objections = AppGroup("objections", help="Objection campaigns: each petition's letter.")


@institutions.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="The name recorded on lines without a source (the file's name).")
@click.option("--dry-run", is_flag=True, help="Check the file and count; write nothing.")
def import_command(file: Path, source: str | None, dry_run: bool) -> None:
    """Import or update institutions from a CSV file, keyed by `key`.

    Columns (header row, comma or semicolon, UTF-8): key, name, kind (caisse or autorité),
    channel (courriel, portail or courrier), postal_address (required); email, portal_url,
    answer_days (30 by default), departements (codes; none for a national one),
    portal_steps and, on an authority, complaint_steps (one per line), source. Exits 1
    when a line is invalid, listing each on standard error; then nothing is imported.
    """
    source = import_source(source, file, 100)
    if file.stat().st_size > MAX_BYTES:
        raise click.ClickException(f"{file} is larger than {MAX_BYTES // (1024 * 1024)} MB")
    content = file.read_bytes()
    with force_locale("en"):
        if dry_run:
            plan = plan_institutions_import(content, source)
        else:
            plan = import_institutions(content, source=source, now=utcnow())
        for error in plan.errors:
            click.echo(str(error), err=True)
    click.echo(plan.summary())
    if dry_run:
        click.echo("dry run: nothing imported")
    if plan.errors:
        raise click.exceptions.Exit(1)


@objections.command("letter")
@click.argument("slug")
@click.option("--subject", required=True, help="The letter's subject (merge fields allowed).")
@click.option(
    "--body-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A UTF-8 text file: the letter's body (merge fields allowed).",
)
def letter_command(slug: str, subject: str, body_file: Path) -> None:
    """Open an objection campaign on a petition, or change its letter template."""
    from campaign.objections.services import set_objection_letter
    from campaign.petitions.services import find_petition_by_slug

    petition = find_petition_by_slug(slug)
    if petition is None:
        raise click.ClickException(f"no petition {slug!r}")
    with force_locale("en"):
        try:
            set_objection_letter(petition, subject, body_file.read_text("utf-8"), utcnow())
        except TemplateProblem as problem:
            raise click.ClickException(f"{problem.part}: {problem.message()}") from problem
    click.echo(f"objection letter saved for {slug!r}")
