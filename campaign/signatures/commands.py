"""`flask signatures import FILE.csv --petition SLUG (--confirmed | --send-confirmation)`, and
`flask petitions recount [--check]` (the stored counts, campaign/signatures/counts.py)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy import select

from campaign.cli import acting_account, import_source
from campaign.clock import utcnow
from campaign.extensions import db
from campaign.petitions.models import Petition
from campaign.signatures.counts import Drift, count_drift, recount_petition
from campaign.signatures.imports import (
    SOURCE_MAX,
    ImportMode,
    ImportNotAllowed,
    ImportPlan,
    import_signatures,
    preview_import,
)

signatures = AppGroup("signatures", help="Signatures: import lists collected elsewhere.")


def _echo_errors(plan: ImportPlan) -> None:
    """Every error, 'line N, field F: reason', on standard error."""
    for error in plan.errors:
        click.echo(str(error), err=True)


def _summary(plan: ImportPlan) -> str:
    return f"{len(plan.new)} new, {plan.duplicates} already there, {plan.invalid} invalid line(s)"


@signatures.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--petition", "slug", required=True, metavar="SLUG", help="The petition.")
@click.option(
    "--confirmed",
    is_flag=True,
    help="The signers already agreed elsewhere to be published: count them now.",
)
@click.option(
    "--send-confirmation",
    is_flag=True,
    help="Send each signer the confirmation email; counted once they confirm.",
)
@click.option(
    "--first-signatories",
    is_flag=True,
    help="Mark every line a first signatory, attested by the importer (see --as).",
)
@click.option("--dry-run", is_flag=True, help="Check and count; change nothing.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid lines despite invalid ones.")
@click.option("--source", metavar="NAME", help="Name of the list (default: the file's name).")
@click.option(
    "--as", "as_email", metavar="EMAIL", help="The workspace account recorded as the importer."
)
def import_command(
    file: Path,
    slug: str,
    confirmed: bool,
    send_confirmation: bool,
    first_signatories: bool,
    dry_run: bool,
    skip_invalid: bool,
    source: str | None,
    as_email: str | None,
) -> None:
    """Import a CSV list of signatures collected elsewhere.

    Columns (header row, comma or semicolon, UTF-8): last_name, first_name, title,
    organisation, category, email, departement, show_name (1: publish the line, 0: count
    only), and optionally kind (person or organisation; an organisation has its name in
    last_name and no first name, as has a line of category organisation with no first name).
    With --first-signatories, the lines are the petition's first signatories, shown
    first, with the level "attested by the organisers". Exits 1 when a line is invalid,
    listing each on standard error; then nothing is imported unless --skip-invalid is given.
    Importing the same list again changes nothing.
    """
    if confirmed == send_confirmation:
        raise click.UsageError("choose exactly one of --confirmed and --send-confirmation")
    mode = ImportMode.CONFIRMED if confirmed else ImportMode.SEND_CONFIRMATION
    source = import_source(source, file, SOURCE_MAX)
    petition = db.session.scalar(select(Petition).where(Petition.slug == slug))
    if petition is None:
        raise click.ClickException(f"no petition {slug!r}")
    actor = acting_account(as_email)
    content = file.read_bytes()
    # Messages in English, like the rest of the command line.
    with force_locale("en"):
        try:
            if dry_run:
                plan = preview_import(petition, content, mode)
                imported = 0
            else:
                outcome = import_signatures(
                    petition,
                    content,
                    mode=mode,
                    source=source,
                    now=utcnow(),
                    skip_invalid=skip_invalid,
                    actor=actor,
                    via="cli",
                    first_signatories=first_signatories,
                )
                plan, imported = outcome.plan, outcome.imported
        except ImportNotAllowed as error:
            raise click.ClickException(f"petition {error} is archived: no import") from error
        _echo_errors(plan)
    click.echo(f"{petition.slug}: {_summary(plan)}")
    if dry_run:
        click.echo("dry run: nothing imported")
    elif imported:
        first = ", first signatories" if first_signatories else ""
        click.echo(f"imported {imported} signature(s) from {source!r} ({mode}{first})")
    else:
        click.echo("nothing imported")
    if plan.errors:
        raise click.exceptions.Exit(1)


@click.command("recount")
@click.option("--check", is_flag=True, help="Compare only: change nothing, fail on a difference.")
@click.option("--petition", "slug", metavar="SLUG", help="One petition (default: all).")
def recount(check: bool, slug: str | None) -> None:
    """Rebuild the petitions' stored counts from their signatures, or with --check verify
    them: exits 1 naming each petition and category/level or département that differs."""
    petition_id = None
    if slug is not None:
        petition_id = db.session.scalar(select(Petition.id).where(Petition.slug == slug))
        if petition_id is None:
            raise click.ClickException(f"no petition {slug!r}")
    if check:
        drift = count_drift(petition_id)
        for item in drift:
            click.echo(_named(item), err=True)
        if drift:
            raise SystemExit(1)
        click.echo("counts match the signatures")
        return
    petitions = [petition_id] if petition_id is not None else db.session.scalars(
        select(Petition.id).order_by(Petition.id)
    ).all()  # fmt: skip
    for one in petitions:
        recount_petition(db.session, one)
    db.session.commit()
    click.echo(f"{len(petitions)} petition(s) recounted")


def _named(item: Drift) -> str:
    slug = db.session.scalar(select(Petition.slug).where(Petition.id == item.petition_id))
    return f"{slug}: {item.describe()}"
