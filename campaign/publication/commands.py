"""`flask publication ...`: publish, the scheduled publication, exports and verification."""

from __future__ import annotations

import itertools
import json
import sys

import click
from flask.cli import AppGroup

from campaign.clock import utcnow
from campaign.petitions.services import find_public_petition
from campaign.publication.models import ExportFormat
from campaign.publication.services import (
    ExportFile,
    current_publication,
    file_chunks,
    find_publication,
    pdf_offered,
    prepare_file,
    publish_changed_petitions,
    publish_snapshot,
)
from campaign.publication.verification import chain_hashes, proof_problems, publication_problems

publication = AppGroup("publication", help="Press exports and verifiable publications.")


def _petition(slug: str):
    petition = find_public_petition(slug)
    if petition is None:
        raise click.BadParameter(f"no public petition {slug!r}", param_hint="--petition")
    return petition


@publication.command("publish")
@click.option("--petition", "slug", required=True, help="The petition's slug.")
def publish(slug: str) -> None:
    """Publish the petition's public list now, as the next link of its chain."""
    published = publish_snapshot(_petition(slug), utcnow())
    click.echo(
        f"{slug} #{published.sequence}: {published.entry_count} entries, "
        f"root {published.root}, hash {published.hash}"
    )


@publication.command("publish-due")
def publish_due() -> None:
    """Publish every petition that is due: daily while its counts change, at once when a
    name it shows has left the list. Run it from cron or the worker every few minutes."""
    for published in publish_changed_petitions(utcnow()):
        click.echo(f"publication #{published.sequence}: {published.entry_count} entries")


@publication.command("export")
@click.option("--petition", "slug", required=True, help="The petition's slug.")
@click.option("--format", "fmt", required=True, type=click.Choice([f.value for f in ExportFormat]))
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Default: stdout.")
@click.option(
    "--publication", "sequence", type=int, help="A publication's number; default: latest."
)
@click.option(
    "--group", type=click.Choice(["category"]), help="txt only: one section per category."
)
@click.option(
    "--variant",
    type=click.Choice(["excel"]),
    help="csv only: for Excel in French (; separated, headers in words).",
)
def export(
    slug: str,
    fmt: str,
    output: str | None,
    sequence: int | None,
    group: str | None,
    variant: str | None = None,
) -> None:
    """Write the same file as /p/<slug>/signatories.<format>, streamed."""
    petition = _petition(slug)
    now = utcnow()
    if sequence is None:
        chosen = current_publication(petition, now)
    else:
        chosen = find_publication(petition.id, sequence)
        if chosen is None:
            raise click.BadParameter(f"no publication {sequence}", param_hint="--publication")
    wanted = ExportFile(
        ExportFormat(fmt),
        by_category=fmt == "txt" and group == "category",
        for_excel=fmt == "csv" and variant == "excel",
    )
    if wanted.format == ExportFormat.PDF and not pdf_offered(chosen):
        raise click.ClickException("this list is too long for a PDF; use csv or txt")
    record = prepare_file(chosen, wanted, now)
    target = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        for chunk in file_chunks(chosen, wanted, record):
            target.write(chunk)
    finally:
        if output:
            target.close()
    click.echo(f"publication #{chosen.sequence} {wanted.name} sha256 {record.sha256}", err=True)


@publication.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.File("rb"))
def verify(files) -> None:
    """Check downloaded publications (FILE.json) or inclusion proofs (proof.json) without
    trusting the server: recompute each root and hash, check each chain, and, given several
    publications of one petition, that the later ones chain to the earlier ones."""
    failed = False
    publications = []
    for handle in files:
        document = json.load(handle)
        proof = "path" in document
        problems = proof_problems(document) if proof else publication_problems(document)
        if not proof:
            publications.append((handle.name, document))
        header = document["publication"]
        kind = "proof" if proof else f"{len(document['entries'])} entries"
        if problems:
            failed = True
            click.echo(f"FAIL {handle.name}: " + "; ".join(problems), err=True)
        else:
            click.echo(
                f"OK   {handle.name}: {header['petition']} #{header['sequence']}, {kind}, "
                f"root {header['root']}"
            )
    publications.sort(
        key=lambda item: (item[1]["publication"]["petition"], item[1]["publication"]["sequence"])
    )
    for (earlier_name, earlier), (later_name, later) in itertools.pairwise(publications):
        if earlier["publication"]["petition"] != later["publication"]["petition"]:
            continue
        sequence = earlier["publication"]["sequence"]
        if sequence == later["publication"]["sequence"] and earlier["hash"] != later["hash"]:
            failed = True
            click.echo(f"FAIL two different publications #{sequence}: the history forked", err=True)
        elif earlier["hash"] not in chain_hashes(later):
            failed = True
            click.echo(f"FAIL {later_name} does not chain to {earlier_name}", err=True)
    if failed:
        sys.exit(1)
