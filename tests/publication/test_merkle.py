"""RFC 6962 trees: roots, audit paths, and canonical JSON."""

import hashlib

import pytest

from campaign.publication.merkle import (
    EMPTY_ROOT,
    audit_ranges,
    canonical_json,
    inclusion_path,
    leaf_hash,
    merkle_root,
    node_hash,
    verify_inclusion,
)


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) written as in RFC 6962, recursively."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def reference_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962, recursively."""
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if index < k:
        return [*reference_path(index, leaves[:k]), reference_root(leaves[k:])]
    return [*reference_path(index - k, leaves[k:]), reference_root(leaves[:k])]


def leaves(count: int) -> list[bytes]:
    return [leaf_hash(str(number).encode()) for number in range(count)]


def test_empty_tree_root_is_the_hash_of_nothing():
    assert merkle_root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_leaf_and_node_hashes_are_domain_separated():
    assert leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()


@pytest.mark.parametrize("size", [*range(1, 34), 100, 127, 128, 129])
def test_streamed_root_equals_rfc_6962_for_balanced_and_unbalanced_trees(size):
    assert merkle_root(leaves(size)) == reference_root(leaves(size))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33])
def test_every_audit_path_matches_rfc_6962_and_verifies(size):
    tree = leaves(size)
    root = merkle_root(tree)
    for index in range(size):
        path = inclusion_path(index, size, iter(tree))
        assert path == reference_path(index, tree)
        assert verify_inclusion(tree[index], index, size, path, root)


def test_a_proof_fails_for_another_leaf_index_or_path():
    tree = leaves(13)
    root = merkle_root(tree)
    path = inclusion_path(6, 13, tree)
    assert not verify_inclusion(tree[5], 6, 13, path, root)
    assert not verify_inclusion(tree[6], 7, 13, path, root)
    assert not verify_inclusion(tree[6], 6, 13, path[:-1], root)
    assert not verify_inclusion(tree[6], 6, 13, [*path[:-1], b"\x00" * 32], root)


def test_audit_ranges_cover_every_other_leaf_exactly_once():
    for size in range(1, 40):
        for index in range(size):
            covered = sorted(
                n for start, end in audit_ranges(index, size) for n in range(start, end)
            )
            assert covered == [n for n in range(size) if n != index]


def test_canonical_json_sorts_keys_has_no_whitespace_and_is_nfc_utf8():
    decomposed = "E\u0301lise"
    assert (
        canonical_json({"b": 1, "a": [decomposed, None]}) == '{"a":["Élise",null],"b":1}'.encode()
    )


def test_canonical_json_refuses_floats():
    with pytest.raises(TypeError):
        canonical_json({"a": 1.5})
