"""Merkle trees with RFC 6962 / RFC 9162 hashing, over any suite's hash.

The tree of ``n`` leaves is the RFC 9162 section 2.1.1 tree: the empty tree
hashes to ``H(b"")``, a leaf to ``H(0x00 || leaf)``, an inner node to
``H(0x01 || left || right)``, and a tree of ``n > 1`` leaves splits at the
largest power of two below ``n``. The distinct leaf and node prefixes stop a
leaf from being passed off as an inner node.

The tree is built bottom-up, level by level: pairing neighbours and carrying
a lone last node up unchanged gives exactly the RFC tree, so the root and
every audit path of a block come from one pass (:func:`merkle_levels`).
Verification is the RFC 9162 section 2.1.3.2 algorithm and never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

__all__ = [
    "MERKLE_DEPTH_MAX",
    "merkle_levels",
    "merkle_proof",
    "merkle_proof_from_levels",
    "merkle_root",
    "merkle_root_from_levels",
    "verify_merkle_proof",
]

HashFn = Callable[[bytes], bytes]

MERKLE_DEPTH_MAX: Final = 64
"""The longest audit path accepted: a tree size must fit in 64 bits."""

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"


def merkle_levels(hash_fn: HashFn, leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree: leaf hashes first, the root alone last.

    An empty tree has no levels. Use with :func:`merkle_root_from_levels` and
    :func:`merkle_proof_from_levels` to get a root and many proofs from one pass.
    """
    if not leaves:
        return []
    level = [hash_fn(_LEAF_PREFIX + leaf) for leaf in leaves]
    levels = [level]
    while len(level) > 1:
        parents = [
            hash_fn(_NODE_PREFIX + level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            parents.append(level[-1])
        level = parents
        levels.append(level)
    return levels


def merkle_root_from_levels(hash_fn: HashFn, levels: Sequence[Sequence[bytes]]) -> bytes:
    """The root of a tree given as :func:`merkle_levels` returned it."""
    if not levels:
        return hash_fn(b"")
    return levels[-1][0]


def merkle_proof_from_levels(levels: Sequence[Sequence[bytes]], index: int) -> list[bytes]:
    """The audit path of leaf ``index``, bottom first, from :func:`merkle_levels` output."""
    if not levels or not 0 <= index < len(levels[0]):
        raise IndexError(f"leaf index {index} is outside the tree")
    proof: list[bytes] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index >>= 1
    return proof


def merkle_root(hash_fn: HashFn, leaves: Sequence[bytes]) -> bytes:
    """The RFC 6962 Merkle tree hash of ``leaves`` (``hash_fn(b"")`` when empty)."""
    return merkle_root_from_levels(hash_fn, merkle_levels(hash_fn, leaves))


def merkle_proof(hash_fn: HashFn, leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path proving ``leaves[index]``; IndexError if out of range.

    For many proofs of one tree, call :func:`merkle_levels` once instead.
    """
    return merkle_proof_from_levels(merkle_levels(hash_fn, leaves), index)


def verify_merkle_proof(
    hash_fn: HashFn,
    leaf: bytes,
    index: int,
    tree_size: int,
    proof: Sequence[bytes],
    root: bytes,
) -> bool:
    """Whether ``proof`` shows leaf data ``leaf`` at ``index`` of the tree of ``tree_size``
    leaves whose root is ``root`` (RFC 9162 section 2.1.3.2). Never raises on bad input.

    The proof binds the leaf to the root but not ``tree_size`` to the root:
    take both from the same signed header.
    """
    if not 0 <= index < tree_size or len(proof) > MERKLE_DEPTH_MAX:
        return False
    node_index, last_index = index, tree_size - 1
    node = hash_fn(_LEAF_PREFIX + leaf)
    for sibling in proof:
        if last_index == 0:
            return False
        if node_index & 1 or node_index == last_index:
            node = hash_fn(_NODE_PREFIX + sibling + node)
            while not node_index & 1 and node_index != 0:
                node_index >>= 1
                last_index >>= 1
        else:
            node = hash_fn(_NODE_PREFIX + node + sibling)
        node_index >>= 1
        last_index >>= 1
    return last_index == 0 and node == root
