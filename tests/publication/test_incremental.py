"""Incremental (log) publications, issue 16.4: a publication compares only the signatures
changed since the one before and extends the tree from its frontier; the result is the one a
full comparison and a recomputation of the tree from every leaf give, and every file verifies,
with the app and with docs/verify_publication.py (format 1 files too)."""

import json
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from campaign.clock import utcnow
from campaign.extensions import db
from campaign.publication import services
from campaign.publication.merkle import (
    MerkleRoot,
    canonical_json,
    leaf_hash,
    merkle_root,
    sha256_hex,
)
from campaign.publication.models import ExportFormat, PublicationEntry
from campaign.publication.services import (
    ExportFile,
    log_leaves,
    publish_snapshot,
    published_count,
    render_streamed,
)
from campaign.publication.verification import proof_problems, publication_problems
from campaign.signatures.counts import move_signature
from campaign.signatures.models import Signature, SignatureStatus
from campaign.signatures.moderation import hide_signature, mark_first_signatory
from campaign.signatures.services import sort_key, withdraw_signature
from tests.factories import make_petition, make_signature, make_user

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "verify_publication.py"
DATA = Path(__file__).parent / "data"


def json_bytes(publication) -> bytes:
    return b"".join(render_streamed(publication, ExportFile(ExportFormat.JSON)))


def standalone(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, check=False
    )


def test_the_frontier_extends_a_tree_to_the_root_of_all_its_leaves():
    leaves = [bytes([number]) * 32 for number in range(70)]
    for cut in (0, 1, 2, 3, 7, 8, 33, 64, 69):
        tree = MerkleRoot()
        for leaf in leaves[:cut]:
            tree.add(leaf)
        resumed = MerkleRoot.from_frontier(cut, tree.frontier())
        for leaf in leaves[cut:]:
            resumed.add(leaf)
        assert resumed.root() == merkle_root(leaves) and resumed.size == 70
    with pytest.raises(ValueError):
        MerkleRoot.from_frontier(3, [b"x" * 32])


def test_incremental_publications_equal_a_full_comparison_and_a_recomputed_tree(app, tmp_path):
    """Random confirmations, withdrawals, hidings, first signatories and edits, published
    incrementally: a full publication right after each finds nothing left to add or remove,
    the tree extended from the frontier has the root of all the log's leaves read again,
    the names count is the list's, and every file verifies."""
    rng = random.Random(16_4)
    organiser = make_user("organiser")
    petition = make_petition()
    start = utcnow()
    alive: list[Signature] = []
    for step in range(8):
        moment = start + timedelta(minutes=5 * step)
        for _ in range(rng.randint(1, 6)):
            name = rng.choice(["Durand", "Leblond", "Martin", "Zola"])
            first_name = rng.choice(["A", "B"])
            alive.append(
                make_signature(petition, now=moment, last_name=name, first_name=first_name)
            )
        for signature in rng.sample(alive, k=min(len(alive), rng.randint(0, 2))):
            alive.remove(signature)
            if rng.random() < 0.5:
                withdraw_signature(signature.id, moment)
            else:
                hide_signature(petition, signature.id, organiser, moment)
        if alive and rng.random() < 0.5:
            mark_first_signatory(petition, rng.choice(alive).id, organiser, moment)
        if alive and rng.random() < 0.5:
            edited = rng.choice(alive)
            edited.title, edited.show_title, edited.status_changed_at = "Dr", True, moment
            db.session.commit()

        incremental = publish_snapshot(petition, moment + timedelta(minutes=1))
        full = publish_snapshot(petition, moment + timedelta(minutes=2), full=True)
        assert (full.added_count, full.removed_count) == (0, 0), step
        assert full.root == incremental.root and full.leaf_count == incremental.leaf_count
        recomputed = merkle_root(log_leaves(petition.id, incremental.sequence))
        assert recomputed.hex() == incremental.root
        assert incremental.entry_count == published_count(petition.id) == len(alive)
        members = db.session.scalar(
            select(func.count(PublicationEntry.id)).where(
                PublicationEntry.member_of(petition.id, incremental.sequence)
            )
        )
        assert members == incremental.entry_count
        assert incremental.leaf_count - incremental.removed_total == incremental.entry_count
        for publication in (incremental, full):
            path = tmp_path / f"{publication.sequence}.json"
            path.write_bytes(json_bytes(publication))
            assert publication_problems(json.loads(path.read_bytes())) == []
            assert standalone(path).returncode == 0, standalone(path).stdout
    assert incremental.removed_total > 0


def test_an_incremental_publication_reads_only_what_changed(app):
    petition = make_petition()
    moment = utcnow()
    for _ in range(30):
        make_signature(petition, now=moment - timedelta(days=2))
    first = publish_snapshot(petition, moment - timedelta(days=1))
    newcomer = make_signature(petition, last_name="Nouvelle", now=moment)
    # A change that bypassed status_changed_at (a raw edit) is left to the full publication.
    quiet = db.session.scalars(select(Signature).where(Signature.id != newcomer.id)).first()
    quiet.title, quiet.show_title = "Silencieux", True
    db.session.commit()

    second = publish_snapshot(petition, moment + timedelta(minutes=1))
    assert (second.added_count, second.removed_count) == (1, 0)
    assert second.leaf_count == first.leaf_count + 1
    third = publish_snapshot(petition, moment + timedelta(minutes=2), full=True)
    assert (third.added_count, third.removed_count) == (1, 1)
    added = db.session.scalars(
        select(PublicationEntry.position).where(PublicationEntry.since_sequence == 2)
    ).all()
    assert added == [30]


def test_the_verifier_script_checks_removed_leaves_and_their_count(app, tmp_path):
    petition = make_petition()
    moment = utcnow()
    leaving = make_signature(petition, last_name="Partante", now=moment)
    make_signature(petition, last_name="Restante", now=moment)
    publish_snapshot(petition, moment)
    withdraw_signature(leaving.id, moment + timedelta(minutes=1))
    publication = publish_snapshot(petition, moment + timedelta(minutes=5))
    document = json.loads(json_bytes(publication))
    removed = [entry for entry in document["entries"] if set(entry) == {"removed"}]
    assert len(removed) == 1 and document["publication"]["removed"] == 1
    assert "Partante" not in json.dumps(document)
    path = tmp_path / "signatories.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    result = standalone(path)
    assert result.returncode == 0 and "OK" in result.stdout

    # A removed leaf passed off as a name still in the list: the count gives it away.
    document["entries"] = [
        {"erased": entry["removed"]} if set(entry) == {"removed"} else entry
        for entry in document["entries"]
    ]
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert standalone(path).returncode == 1
    assert publication_problems(document) == ["0 removed entries, the header says 1"]


@pytest.mark.parametrize("name", ["format-1-publication-1.json", "format-1-publication-2.json"])
def test_format_1_files_still_verify(name, tmp_path):
    """Files published before log publications (rendered by that release), an erased entry
    included: they verify, and altering them is caught."""
    path = DATA / name
    document = json.loads(path.read_bytes())
    assert document["publication"]["format"] == "tribune-publication/1"
    assert standalone(path).returncode == 0 and publication_problems(document) == []
    named = next(entry for entry in document["entries"] if "last_name" in entry)
    named["last_name"] = "Autre"
    altered = tmp_path / name
    altered.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert standalone(altered).returncode == 1 and publication_problems(document) != []


def test_a_signer_hidden_then_restored_gets_a_new_leaf_and_the_old_one_stays_removed(app):
    organiser = make_user("organiser")
    petition = make_petition()
    moment = utcnow()
    signature = make_signature(petition, now=moment)
    publish_snapshot(petition, moment)
    hide_signature(petition, signature.id, organiser, moment + timedelta(minutes=1))
    hidden = publish_snapshot(petition, moment + timedelta(minutes=5))
    assert hidden.entry_count == 0 and hidden.removed_total == 1
    move_signature(db.session, signature.id, frozenset({SignatureStatus.HIDDEN}),
                   SignatureStatus.CONFIRMED, moment + timedelta(minutes=6))  # fmt: skip
    db.session.commit()
    back = publish_snapshot(petition, moment + timedelta(minutes=10))
    assert (back.entry_count, back.leaf_count, back.removed_total) == (1, 2, 1)
    assert publication_problems(json.loads(json_bytes(back))) == []


def as_format_1(publication) -> None:
    """Turn a petition's only publication into what the release before the log made: the
    tree of its entries in public order, no positions, no frontier."""
    db.session.execute(
        update(PublicationEntry)
        .where(PublicationEntry.petition_id == publication.petition_id)
        .values(position=None)
    )
    leaves = list(services._leaves_of(publication.petition_id, publication.sequence))
    header = publication.header_fields
    del header["removed"]
    header |= {
        "format": "tribune-publication/1",
        "root": merkle_root(leaves).hex(),
        "entries": len(leaves),
    }
    publication.header = canonical_json(header).decode()
    publication.hash = sha256_hex(canonical_json(header))
    publication.root, publication.leaf_count, publication.frontier = (
        header["root"],
        len(leaves),
        None,
    )
    db.session.commit()


def test_the_log_begins_after_format_1_publications_which_keep_verifying(app, tmp_path):
    petition = make_petition()
    moment = utcnow()
    names = ["Zola", "Ébert", "Durand", "Le Bouter"]
    signatures = [make_signature(petition, last_name=name, now=moment) for name in names]
    old = publish_snapshot(petition, moment)
    as_format_1(old)
    before = json.loads(json_bytes(old))
    assert [entry["last_name"] for entry in before["entries"]] == sorted(names, key=sort_key)
    withdraw_signature(signatures[1].id, moment + timedelta(minutes=1))
    make_signature(petition, last_name="Hugo", now=moment + timedelta(minutes=1))

    log = publish_snapshot(petition, moment + timedelta(minutes=5))
    assert log.is_log and (log.entry_count, log.leaf_count, log.removed_total) == (4, 4, 0)
    positions = db.session.execute(
        select(PublicationEntry.last_name, PublicationEntry.position)
        .where(PublicationEntry.position.is_not(None))
        .order_by(PublicationEntry.position)
    ).all()
    # The carried-over entries first, in public order, then the new one.
    assert [name for name, _ in positions] == ["Durand", "Le Bouter", "Zola", "Hugo"]
    for publication in (old, log):
        path = tmp_path / f"{publication.sequence}.json"
        path.write_bytes(json_bytes(publication))
        assert standalone(path).returncode == 0, standalone(path).stdout
        assert publication_problems(json.loads(path.read_bytes())) == []
    # The format 1 file keeps its order; the withdrawn name is erased in place.
    after = json.loads(json_bytes(old))
    assert after["publication"] == before["publication"]
    assert after["entries"][1] == {"erased": leaf_hash(canonical_json(before["entries"][1])).hex()}
    hugo = db.session.scalars(select(Signature).filter_by(last_name="Hugo")).one()
    proof = services.inclusion_proof(petition.id, services.receipt_for(hugo))
    assert (proof.index, proof.size) == (3, 4)
    assert proof_problems(proof.as_json()) == []
