"""Checking a downloaded publication (or inclusion proof) without trusting the server: the
same computations as docs/verify_publication.py, with a message for every failure."""

from __future__ import annotations

from typing import Any

from campaign.publication.merkle import (
    MerkleRoot,
    canonical_json,
    leaf_hash,
    sha256_hex,
    verify_inclusion,
)


def entry_leaf(entry: dict[str, Any]) -> bytes:
    """The leaf hash of a JSON entry; an erased or removed entry carries its leaf."""
    if set(entry) == {"erased"}:
        return bytes.fromhex(entry["erased"])
    if set(entry) == {"removed"}:
        return bytes.fromhex(entry["removed"])
    return leaf_hash(canonical_json(entry))


def publication_problems(document: dict[str, Any]) -> list[str]:
    """Every way in which a publication file is inconsistent; empty when it verifies."""
    problems = []
    header = document["publication"]
    if sha256_hex(canonical_json(header)) != document["hash"]:
        problems.append("the header does not hash to the publication's hash")
    texts = document["petition"]["texts"]
    if sha256_hex(canonical_json(texts)) != header["text_sha256"]:
        problems.append("the petition's text does not hash to text_sha256")
    tree = MerkleRoot()
    removed = 0
    for entry in document["entries"]:
        tree.add(entry_leaf(entry))
        removed += set(entry) == {"removed"}
    if tree.size != header["entries"]:
        problems.append(f"{tree.size} entries, the header says {header['entries']}")
    # Format 1 has no removed leaves; format 2 counts them in its header.
    if removed != header.get("removed", 0):
        problems.append(f"{removed} removed entries, the header says {header.get('removed', 0)}")
    if tree.root().hex() != header["root"]:
        problems.append("the entries do not hash to the Merkle root: the list was altered")
    previous = None
    for number, earlier in enumerate(document["chain"], start=1):
        if earlier.get("previous") != previous or earlier.get("sequence") != number:
            problems.append(f"the chain is broken at publication {number}")
        previous = sha256_hex(canonical_json(earlier))
    if header["previous"] != previous or header["sequence"] != len(document["chain"]) + 1:
        problems.append("the header does not follow the last publication of the chain")
    return problems


def chain_hashes(document: dict[str, Any]) -> set[str]:
    """The hashes of this publication and of every earlier one it chains to."""
    hashes = {sha256_hex(canonical_json(header)) for header in document["chain"]}
    return hashes | {document["hash"]}


def proof_problems(document: dict[str, Any]) -> list[str]:
    """Every way in which an inclusion proof fails; empty when it verifies."""
    problems = []
    header = document["publication"]
    if sha256_hex(canonical_json(header)) != document["hash"]:
        problems.append("the header does not hash to the publication's hash")
    if header["root"] != document["root"] or header["entries"] != document["size"]:
        problems.append("the proof's root or size is not the publication's")
    included = verify_inclusion(
        bytes.fromhex(document["leaf"]),
        document["index"],
        document["size"],
        [bytes.fromhex(node) for node in document["path"]],
        bytes.fromhex(header["root"]),
    )
    if not included:
        problems.append("the audit path does not lead from the receipt to the root")
    return problems
