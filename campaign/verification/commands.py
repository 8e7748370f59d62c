"""`flask registry import rpps FILE`: load the public RPPS extract."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from campaign.clock import utcnow
from campaign.verification.models import RegistryName
from campaign.verification.registries import import_rpps_register
from campaign.verification.services import reassess_registry_claims

registry = AppGroup("registry", help="Official registers used to verify categories.")


@registry.command("import")
@click.argument("name", type=click.Choice([name.value for name in RegistryName]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the valid lines despite invalid ones.")
def import_command(name: str, file: Path, skip_invalid: bool) -> None:
    """Import a register extract, replacing the previous one at once.

    rpps: the public "PS_LibreAcces_Personne_activite" extract (UTF-8, fields separated by
    "|", a header row naming at least Identifiant PP, Nom d'exercice, Prénom d'exercice,
    Code profession and Libellé profession), read line by line. Exits 1 when a line is
    invalid, listing each as "line N, field F: reason" on standard error; then nothing
    changes unless --skip-invalid is given. Signatures that gave an RPPS number are then
    assessed again against the new register.
    """
    with file.open(encoding="utf-8-sig", newline="") as lines:
        report = import_rpps_register(lines, file.name, utcnow(), skip_invalid=skip_invalid)
    for error in report.errors:
        click.echo(str(error), err=True)
    if report.invalid > len(report.errors):
        click.echo(f"... {report.invalid - len(report.errors)} more error(s)", err=True)
    click.echo(
        f"{name}: {report.lines} line(s) read, {report.records} record(s) for "
        f"{report.people} professional(s), {report.skipped} non-RPPS line(s) skipped, "
        f"{report.invalid} invalid"
    )
    if not report.imported:
        click.echo("nothing imported: the previous register stays in force", err=True)
        raise click.exceptions.Exit(1)
    changed = reassess_registry_claims(utcnow())
    click.echo(f"register replaced; {changed} signature(s) changed level")
    if report.errors:
        raise click.exceptions.Exit(1)
