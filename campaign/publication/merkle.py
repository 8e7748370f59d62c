"""Canonical JSON and Merkle trees as in RFC 6962 (Certificate Transparency), section 2.1:
leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right), the left subtree
holding the largest power of two below the size, and SHA-256("") for the empty tree.

Everything here works on streams, in memory logarithmic in the number of leaves, so that a
list of a million signatories never has to be held at once."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from typing import Any

EMPTY_ROOT = hashlib.sha256(b"").digest()


def _normalised(value: Any) -> Any:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_normalised(key): _normalised(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalised(item) for item in value]
    if isinstance(value, float):
        raise TypeError("canonical JSON holds no floats")
    return value


def canonical_json(value: Any) -> bytes:
    """UTF-8 JSON with keys sorted, no whitespace, strings in NFC, no floats."""
    return json.dumps(
        _normalised(value), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def leaf_hash(entry: bytes) -> bytes:
    """RFC 6962 leaf hash of an entry's canonical bytes."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


class MerkleRoot:
    """The root of a tree fed one leaf hash at a time: perfect subtrees are merged as they
    complete, and the remaining ones folded right to left, which is RFC 6962's split."""

    def __init__(self) -> None:
        self._subtrees: list[tuple[int, bytes]] = []
        self.size = 0

    @classmethod
    def from_frontier(cls, size: int, frontier: list[bytes]) -> MerkleRoot:
        """The tree of `size` leaves whose perfect subtrees, left to right, are `frontier`:
        what frontier() gave, so that leaves can be appended without reading the others."""
        sizes = [1 << bit for bit in reversed(range(size.bit_length())) if size >> bit & 1]
        if len(sizes) != len(frontier):
            raise ValueError("the frontier does not match the tree size")
        tree = cls()
        tree._subtrees = list(zip(sizes, frontier, strict=True))
        tree.size = size
        return tree

    def frontier(self) -> list[bytes]:
        """The roots of the perfect subtrees, left to right (one per bit of the size): all
        that appending needs, logarithmic in the number of leaves."""
        return [digest for _, digest in self._subtrees]

    def add(self, leaf: bytes) -> None:
        """Append a leaf hash."""
        size, digest = 1, leaf
        while self._subtrees and self._subtrees[-1][0] == size:
            _, left = self._subtrees.pop()
            size, digest = size * 2, node_hash(left, digest)
        self._subtrees.append((size, digest))
        self.size += 1

    def root(self) -> bytes:
        """The root of the leaves added so far."""
        if not self._subtrees:
            return EMPTY_ROOT
        digest = self._subtrees[-1][1]
        for _, left in reversed(self._subtrees[:-1]):
            digest = node_hash(left, digest)
        return digest


def merkle_root(leaves: Iterable[bytes]) -> bytes:
    """The RFC 6962 root of leaf hashes, in order."""
    tree = MerkleRoot()
    for leaf in leaves:
        tree.add(leaf)
    return tree.root()


def _split(size: int) -> int:
    """The largest power of two strictly below `size` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def audit_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [start, end) whose subtree hashes form the inclusion path of leaf
    `index`, from the bottom of the tree up (RFC 6962 PATH(m, D[n]))."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    ranges: list[tuple[int, int]] = []
    start, length, position = 0, size, index
    while length > 1:
        k = _split(length)
        if position < k:
            ranges.append((start + k, start + length))
            length = k
        else:
            ranges.append((start, start + k))
            start, length, position = start + k, length - k, position - k
    return list(reversed(ranges))


def inclusion_path(index: int, size: int, leaves: Iterable[bytes]) -> list[bytes]:
    """The audit path of leaf `index` among `size` leaves, reading the leaves once."""
    ranges = audit_ranges(index, size)
    by_start = sorted(range(len(ranges)), key=lambda i: ranges[i][0])
    path: list[bytes] = [b""] * len(ranges)
    cursor = 0
    tree: MerkleRoot | None = None
    for position, leaf in enumerate(leaves):
        if cursor == len(by_start):
            break
        start, end = ranges[by_start[cursor]]
        if position < start:
            continue
        tree = tree or MerkleRoot()
        tree.add(leaf)
        if position == end - 1:
            path[by_start[cursor]] = tree.root()
            tree, cursor = None, cursor + 1
    if cursor != len(by_start):
        raise ValueError("fewer leaves than the tree size")
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: whether `path` proves `leaf` at `index` under `root`."""
    if not 0 <= index < size:
        return False
    fn, sn, digest = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            digest = node_hash(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and digest == root
