"""Publishing snapshots: the public order, field-level consent, the chain, proofs, receipts,
withdrawals and erasure, called without HTTP."""

import hashlib
import json
import random
from datetime import timedelta

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import select

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.publication.formats import Entry
from campaign.publication.merkle import verify_inclusion
from campaign.publication.models import ExportFormat, PublicationEntry, PublicationFile
from campaign.publication.services import (
    ExportFile,
    added_entries,
    current_publication,
    entries_of,
    erased_count,
    file_chunks,
    inclusion_proof,
    prepare_file,
    publication_due,
    publish_changed_petitions,
    publish_snapshot,
    receipt_for,
    render_stored,
    render_streamed,
)
from campaign.publication.verification import publication_problems
from campaign.signatures.counts import move_signature
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.services import withdraw_signature
from tests.factories import make_petition, make_signature
from tests.publication.lists import insert_signatories, pdf_text, txt_list, xlsx_texts

FRENCH_NAMES = [
    ("Leblond", "Anne"),
    ("Desgrippes", "Marc"),
    ("Le Bouter", "Yves"),
    ("De Maison Rouge", "Claire"),
    ("Zola", "Émile"),
    ("Ébert", "Lucie"),
    ("dupont", "jean"),
    ("Durand", "Élodie"),
    ("Durand", "Alain"),
    ("Ecole", "Paul"),
]
FRENCH_ORDER = [
    "De Maison Rouge Claire",
    "Desgrippes Marc",
    "dupont jean",
    "Durand Alain",
    "Durand Élodie",
    "Ébert Lucie",
    "Ecole Paul",
    "Le Bouter Yves",
    "Leblond Anne",
    "Zola Émile",
]


def file_bytes(publication, fmt, by_category=False) -> bytes:
    export = ExportFile(ExportFormat(fmt), by_category)
    if fmt in ("xlsx", "pdf"):
        return render_stored(publication, export)
    return b"".join(render_streamed(publication, export))


def json_of(publication) -> dict:
    return json.loads(file_bytes(publication, "json"))


def lines_of(publication) -> list[str]:
    return txt_list(file_bytes(publication, "txt").decode()).splitlines()


def test_the_list_is_in_french_alphabetical_order_in_every_format(app):
    petition = make_petition()
    for last, first in FRENCH_NAMES:
        make_signature(petition, last_name=last, first_name=first)
    publication = publish_snapshot(petition, utcnow())
    assert lines_of(publication) == FRENCH_ORDER
    entries = json_of(publication)["entries"]
    assert [f"{e['last_name']} {e['first_name']}" for e in entries] == FRENCH_ORDER
    csv_lines = file_bytes(publication, "csv").decode().splitlines()[1:]
    assert [line.split('","')[0].strip('"') for line in csv_lines] == [
        name.rsplit(" ", 1)[0] for name in FRENCH_ORDER
    ]


def test_only_confirmed_signatures_with_a_published_name_are_published(app):
    petition = make_petition()
    make_signature(petition, last_name="Visible", first_name="Vera")
    make_signature(petition, last_name="Anonyme", first_name="Ana", show_name=False)
    for status in (SignatureStatus.PENDING, SignatureStatus.HIDDEN, SignatureStatus.INVALIDATED):
        make_signature(petition, last_name=f"Statut{status}", status=status)
    publication = publish_snapshot(petition, utcnow())
    assert lines_of(publication) == ["Visible Vera"]
    assert publication.signature_count == 2 and publication.entry_count == 1


def test_fields_kept_private_are_absent_from_every_format(app):
    petition = make_petition()
    make_signature(petition, last_name="Martin", first_name="Alice", title="Cheffe secrète",
                   organisation="Clinique Publique", show_title=False, show_organisation=True,
                   email="alice.private@example.net")  # fmt: skip
    make_signature(petition, last_name="Cachée", first_name="Nina", title="Titre caché",
                   organisation="Orga cachée", show_name=False)  # fmt: skip
    publication = publish_snapshot(petition, utcnow())
    texts = {
        "txt": file_bytes(publication, "txt").decode(),
        "txt-by-category": file_bytes(publication, "txt", True).decode(),
        "csv": file_bytes(publication, "csv").decode(),
        "json": file_bytes(publication, "json").decode(),
        "xlsx": xlsx_texts(file_bytes(publication, "xlsx")),
        "pdf": pdf_text(file_bytes(publication, "pdf")),
    }
    for name, content in texts.items():
        assert "Martin" in content and "Clinique Publique" in content, name
        for private in ("Cheffe secrète", "Cachée", "Nina", "Titre caché", "Orga cachée"):
            assert private not in content, (name, private)
        assert "example.net" not in content and "alice.private" not in content, name


def test_no_email_digest_token_or_internal_id_is_published(app):
    petition = make_petition()
    signature = make_signature(petition, email="secret.person@example.org")
    signature.ip_digest = "ip-digest-value-1234"
    db.session.commit()
    publication = publish_snapshot(petition, utcnow())
    document = json_of(publication)
    [published] = document["entries"]
    assert set(published) == {
        "category",
        "confirmed_on",
        "first_name",
        "last_name",
        "salt",
        "verification",
    }
    everything = b"".join(file_bytes(publication, fmt) for fmt in ("txt", "csv", "json"))
    everything += xlsx_texts(file_bytes(publication, "xlsx")).encode()
    everything += pdf_text(file_bytes(publication, "pdf")).encode()
    for secret in (signature.email_digest, "ip-digest-value-1234", "secret.person"):
        assert secret.encode() not in everything
    assert '"id"' not in document and "signature_id" not in json.dumps(document)


def test_a_name_holding_html_or_a_url_is_printed_as_text_and_nothing_is_fetched(app):
    from campaign.publication.formats import refusing_url_fetcher

    petition = make_petition()
    make_signature(
        petition,
        last_name='<img src="http://evil.example/x">',
        first_name="Eve",
        organisation="https://evil.example/track.css",
        show_organisation=True,
    )
    publication = publish_snapshot(petition, utcnow())
    fetcher = refusing_url_fetcher()
    content = render_stored(publication, ExportFile(ExportFormat.PDF), url_fetcher=fetcher)
    assert fetcher.refused == []
    extracted = "".join(pdf_text(content).split())  # the columns wrap long words
    assert '<imgsrc="http://evil.example/x">Eve' in extracted
    assert "https://evil.example/track.css" in extracted


def test_publications_form_a_hash_chain_that_verifies(app):
    petition = make_petition()
    make_signature(petition)
    now = utcnow()
    first = publish_snapshot(petition, now)
    make_signature(petition)
    second = publish_snapshot(petition, now + timedelta(days=1))
    assert first.previous_hash is None and second.previous_hash == first.hash
    assert (second.sequence, second.added_count, second.removed_count) == (2, 1, 0)
    document = json_of(second)
    assert publication_problems(document) == []
    assert [header["sequence"] for header in document["chain"]] == [1]
    assert publication_problems(json_of(first)) == []


def test_an_unchanged_entry_is_carried_over_not_duplicated(app):
    petition = make_petition()
    make_signature(petition)
    publish_snapshot(petition, utcnow())
    publish_snapshot(petition, utcnow())
    assert len(db.session.scalars(select(PublicationEntry)).all()) == 1


def test_withdrawn_signer_leaves_the_next_publication_and_is_counted_never_named(app):
    petition = make_petition()
    staying = make_signature(petition, last_name="Reste", first_name="Rémi")
    leaving = make_signature(petition, last_name="Part", first_name="Paula", title="Maire",
                             show_title=True)  # fmt: skip
    first = publish_snapshot(petition, utcnow())
    root_before = first.root
    withdraw_signature(leaving.id, utcnow())
    make_signature(petition, last_name="Arrive", first_name="Ariane")
    second = publish_snapshot(petition, utcnow())
    assert lines_of(second) == ["Arrive Ariane", "Reste Rémi"]
    assert (second.added_count, second.removed_count) == (1, 1)
    added = added_entries(second)
    assert [entry.line() for entry in added.entries] == ["Arrive Ariane"]
    # The first publication no longer names her, and still verifies against its root.
    assert lines_of(first) == ["Reste Rémi"]
    document = json_of(first)
    assert publication_problems(document) == [] and first.root == root_before
    assert {"erased"} in [set(entry) for entry in document["entries"]]
    assert "Paula" not in json.dumps(document, ensure_ascii=False)
    assert erased_count(first) == 1
    stored = db.session.scalars(select(PublicationEntry)).all()
    assert not any(entry.last_name == "Part" for entry in stored)
    assert receipt_for(db.session.get(Signature, staying.id))


def test_erasures_keep_every_earlier_root_valid(app):
    """Random signings, withdrawals and moderation over several publications, with
    namesakes: every publication's file must still verify against its stored root."""
    rng = random.Random(6962)
    petition = make_petition()
    now = utcnow()
    names = ["Durand", "Le Bouter", "Leblond", "Martin", "Zola"]
    alive = []
    publications = []
    for step in range(6):
        # One clock for the changes and the publications, as in production: an incremental
        # publication looks for the changes stamped since the one before.
        day = now + timedelta(days=step)
        for _ in range(rng.randint(2, 6)):
            alive.append(make_signature(petition, last_name=rng.choice(names), now=day,
                                        first_name=rng.choice(["Anne", "Paul"])))  # fmt: skip
        for signature in rng.sample(alive, k=min(len(alive), rng.randint(0, 3))):
            alive.remove(signature)
            if rng.random() < 0.5:
                withdraw_signature(signature.id, day)
            else:
                move_signature(db.session, signature.id, frozenset({SignatureStatus.CONFIRMED}),
                               SignatureStatus.HIDDEN, day)  # fmt: skip
                db.session.commit()
        publications.append(publish_snapshot(petition, day))
    for publication in publications:
        db.session.refresh(publication)
        assert publication_problems(json_of(publication)) == [], publication.sequence
    assert publications[-1].entry_count == len(alive)


def test_inclusion_proof_of_a_receipt_verifies_against_the_latest_root(app):
    petition = make_petition()
    signatures = [make_signature(petition, last_name=f"Nom{n}") for n in range(11)]
    publication = publish_snapshot(petition, utcnow())
    for signature in signatures:
        receipt = receipt_for(signature)
        proof = inclusion_proof(petition.id, receipt)
        assert proof is not None and proof.size == 11
        assert verify_inclusion(bytes.fromhex(receipt), proof.index, proof.size,
                                [bytes.fromhex(n) for n in proof.path],
                                bytes.fromhex(publication.root))  # fmt: skip
    assert inclusion_proof(petition.id, "ab" * 32) is None


def test_receipt_is_known_before_publication_and_matches_the_published_leaf(app):
    petition = make_petition()
    signature = make_signature(petition)
    before = receipt_for(signature)
    publish_snapshot(petition, utcnow())
    assert receipt_for(signature) == before
    assert inclusion_proof(petition.id, before) is not None
    private = make_signature(petition, show_name=False)
    assert receipt_for(private) is None


def test_the_live_downloads_republish_at_once_when_a_named_signer_leaves(app):
    petition = make_petition()
    leaving = make_signature(petition, last_name="Part")
    make_signature(petition, last_name="Reste")
    first = current_publication(petition, utcnow())
    assert current_publication(petition, utcnow()).id == first.id
    make_signature(petition, last_name="Nouveau")
    assert current_publication(petition, utcnow()).id == first.id
    withdraw_signature(leaving.id, utcnow())
    latest = current_publication(petition, utcnow())
    assert latest.sequence == 2
    assert [line.split()[0] for line in lines_of(latest)] == ["Nouveau", "Reste"]


def test_scheduled_publication_runs_daily_while_the_count_changes(app):
    petition = make_petition()
    make_signature(petition)
    now = utcnow()
    assert publication_due(petition, now)
    [first] = publish_changed_petitions(now)
    assert not publication_due(petition, now + timedelta(days=2))
    make_signature(petition)
    assert not publication_due(petition, now + timedelta(hours=12))
    assert publication_due(petition, now + timedelta(days=1))
    [second] = publish_changed_petitions(now + timedelta(days=1))
    assert second.previous_hash == first.hash
    assert publish_changed_petitions(now + timedelta(days=3)) == []


def test_digests_are_those_of_the_bytes_served_and_are_computed_once(app):
    petition = make_petition()
    make_signature(petition)
    publication = publish_snapshot(petition, utcnow())
    for export in (ExportFile(ExportFormat(f)) for f in ("txt", "csv", "json", "xlsx", "pdf")):
        record = prepare_file(publication, export, utcnow())
        served = b"".join(file_chunks(publication, export, record))
        assert hashlib.sha256(served).hexdigest() == record.sha256 and len(served) == record.size
    assert len(db.session.scalars(select(PublicationFile.name)).all()) >= 5


def test_entries_of_a_publication_are_entries_not_signatures(app):
    petition = make_petition()
    make_signature(petition)
    publication = publish_snapshot(petition, utcnow())
    assert all(isinstance(entry, Entry) for entry in entries_of(publication))


@pytest.mark.parametrize("fmt", ["txt", "csv", "json"])
def test_streamed_formats_render_the_same_bytes_twice(app, fmt):
    petition = make_petition()
    for n in range(5):
        make_signature(petition, last_name=f"Nom{n}", title="T", show_title=True)
    publication = publish_snapshot(petition, utcnow())
    assert file_bytes(publication, fmt) == file_bytes(publication, fmt)


def test_publishing_enqueues_the_rendering_of_its_files(app, enqueued):
    from campaign.publication.services import prepare_publication_files

    petition = make_petition()
    make_signature(petition)
    publication = publish_snapshot(petition, utcnow())
    assert enqueued == [("render_publication_files", publication.id)]
    assert prepare_publication_files(publication.id, utcnow()) == 7
    assert prepare_publication_files(publication.id, utcnow()) == 0


def test_a_long_pdf_numbers_its_pages_out_of_the_total_and_continues_its_sections(app):
    petition = make_petition()
    insert_signatories(petition, 400)
    publication = publish_snapshot(petition, utcnow())
    text = pdf_text(render_stored(publication, ExportFile(ExportFormat.PDF)))
    assert all(f"Nom{number:06d}" in text for number in range(400))
    pages = text.split("\f")[:-1]
    total = len(pages)
    assert total > 2
    # pdftotext joins "n / total" into one word.
    assert [page.split()[-1] for page in pages] == [f"{n}/{total}" for n in range(1, total + 1)]
    with force_locale("fr"):
        continued = gettext("%(category)s (continued)", category="Ingénieures et ingénieurs")
    assert continued in text


def test_the_csv_copied_by_postgresql_has_the_bytes_python_writes(app):
    """On PostgreSQL the canonical csv is written by COPY, each line built in SQL; its bytes
    (hence its digest) must be those of formats.render_csv, whatever the names hold."""
    from sqlalchemy import update

    from campaign.publication.formats import render_csv
    from campaign.publication.services import press_rows, snapshot_of

    if db.session.connection().dialect.name != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's (TEST_DATABASE_URL)")
    petition = make_petition()
    names = [
        ('Quote "Jo"', "=SUM(A1)"),
        ("+33 Plus", "-moins"),
        ("@arobase", "\uff1dfull"),
        ("Tab\there", "back\\slash \\n"),
        ("Line\nbreak", "carriage\rreturn"),
        ("Ébert", "Œuvray"),
        ("Zola", "Émile"),
    ]
    for last, first in names:
        make_signature(petition, last_name=f"Nom {last}", first_name="x", title="Dr",
                       organisation='"AP-HP"', show_title=True, show_organisation=True)  # fmt: skip
    publication = publish_snapshot(petition, utcnow())
    entries = db.session.scalars(
        select(PublicationEntry.id).where(PublicationEntry.petition_id == petition.id)
    ).all()
    # The names as stored, whatever publishing normalises: the renderers' own escaping.
    for entry_id, (last, first) in zip(entries, names, strict=True):
        db.session.execute(
            update(PublicationEntry)
            .where(PublicationEntry.id == entry_id)
            .values(last_name=last, first_name=first, title="\t@title" if "Tab" in last else None)
        )
    db.session.execute(
        update(PublicationEntry).where(PublicationEntry.id == entries[0]).values(first_rank=2)
    )
    db.session.execute(
        update(PublicationEntry).where(PublicationEntry.id == entries[1]).values(first_rank=1)
    )
    db.session.execute(
        update(PublicationEntry)
        .where(PublicationEntry.id == entries[2])
        .values(category_key="=gone", verified_profession="-Médecin")
    )
    db.session.commit()
    expected = b"".join(render_csv(snapshot_of(publication), press_rows(publication)))
    copied = file_bytes(publication, "csv")
    assert copied == expected
    assert b'"\'=SUM(A1)"' in copied and b"back\\slash \\n" in copied and b"Line\nbreak" in copied
