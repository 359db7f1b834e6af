"""State proofs: check a key's value (or its absence) against a state root offline.

The world state is a compressed binary sparse Merkle tree (ADR 0005). A key's
*path* is ``hash_fn(key)``: 256 bits, read most significant bit of byte 0
first; bit 0 picks the child at the root, bit 1 the child below it, and so on
(0 = left, 1 = right). A subtree holding no leaf is *Empty*, a subtree holding
exactly one leaf is that *Leaf*, anything else is an *Internal* node. Hashes::

    Empty                          32 zero bytes
    Leaf(key_path, value_hash)     hash_fn(0x00 || key_path || value_hash)
    Internal(left, right)          hash_fn(0x01 || left_hash || right_hash)

where ``value_hash = hash_fn(value)``. ``hash_fn`` is the chain's hash
(SHA-256 or SM3), and every hash here is 32 bytes.

A ``StateProof`` is the walk from the root along the key's path down to the
first node that is not Internal: the sibling hashes met on the way, ordered
from the root down (``siblings[i]`` is the sibling of the node taken at depth
``i + 1``), and that final node, a Leaf (``leaf``) or Empty (``leaf is
None``). The same proof shape proves membership (the leaf is the key's own)
and non-membership (the walk ends in Empty, or in a Leaf with another path).

This module is what a light client needs to check proofs with nothing but the
genesis file and a commit certificate, so it imports only the standard
library and the error tree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from jinglian.types.errors import DecodeError

__all__ = [
    "EMPTY_HASH",
    "HASH_BYTES",
    "INTERNAL_PREFIX",
    "LEAF_PREFIX",
    "PATH_BITS",
    "PROOF_SIBLINGS_MAX",
    "HashFn",
    "ProofData",
    "StateProof",
    "compute_internal_hash",
    "compute_leaf_hash",
    "compute_path_bit",
    "compute_root_from_proof",
    "decode_state_proof",
    "encode_state_proof",
    "verify_state_proof",
]

HashFn = Callable[[bytes], bytes]
"""A 32-byte hash function over bytes: the chain's SHA-256 or SM3."""

HASH_BYTES = 32
"""Length of every hash in the tree: node hashes, key paths, value hashes."""

PATH_BITS = HASH_BYTES * 8
"""Bits in a key path, hence the greatest possible depth of a node."""

PROOF_SIBLINGS_MAX = PATH_BITS
"""A proof holds at most one sibling per level of the tree."""

EMPTY_HASH = bytes(HASH_BYTES)
"""Hash of the Empty subtree, and the root of a tree with no keys."""

LEAF_PREFIX = b"\x00"
"""First byte of a Leaf's hash preimage."""

INTERNAL_PREFIX = b"\x01"
"""First byte of an Internal node's hash preimage."""

_PROOF_FIELDS = frozenset({"siblings", "leaf"})

ProofData: TypeAlias = (
    bool
    | int
    | str
    | bytes
    | list["ProofData"]
    | tuple["ProofData", ...]
    | dict[str, "ProofData"]
    | None
)
"""Plain data a proof encodes to; the same shape as ``jinglian.types.codec.Value``."""


@dataclass(frozen=True, slots=True)
class StateProof:
    """The sibling hashes along a key's path and the node that ends the path."""

    siblings: tuple[bytes, ...]
    """Sibling hashes ordered from the root down: ``siblings[i]`` is at depth ``i + 1``."""

    leaf: tuple[bytes, bytes] | None
    """``(key_path, value_hash)`` of the Leaf ending the path, or None if it ends in Empty."""


def compute_path_bit(path: bytes, depth: int) -> int:
    """Bit ``depth`` of ``path`` (0 = go left at that depth, 1 = go right)."""
    return (path[depth >> 3] >> (7 - (depth & 7))) & 1


def compute_leaf_hash(hash_fn: HashFn, key_path: bytes, value_hash: bytes) -> bytes:
    """Hash of ``Leaf(key_path, value_hash)``."""
    return hash_fn(LEAF_PREFIX + key_path + value_hash)


def compute_internal_hash(hash_fn: HashFn, left: bytes, right: bytes) -> bytes:
    """Hash of ``Internal(left, right)``."""
    return hash_fn(INTERNAL_PREFIX + left + right)


def compute_root_from_proof(hash_fn: HashFn, path: bytes, proof: StateProof) -> bytes:
    """The root a well-formed ``proof`` implies for a walk along ``path``."""
    node = EMPTY_HASH if proof.leaf is None else compute_leaf_hash(hash_fn, *proof.leaf)
    for level in range(len(proof.siblings) - 1, -1, -1):
        sibling = proof.siblings[level]
        if compute_path_bit(path, level):
            node = compute_internal_hash(hash_fn, sibling, node)
        else:
            node = compute_internal_hash(hash_fn, node, sibling)
    return node


def verify_state_proof(
    hash_fn: HashFn, root: bytes, key: bytes, value: bytes | None, proof: StateProof
) -> bool:
    """True iff ``proof`` shows that ``key`` holds ``value`` under ``root``.

    ``value`` None asks for proof that ``key`` is absent. Anything malformed
    (wrong lengths, too many siblings, wrong types) gives False, never an
    exception.
    """
    if not (_is_hash(root) and isinstance(key, bytes) and _is_well_formed(proof)):
        return False
    if value is not None and not isinstance(value, bytes):
        return False
    path = hash_fn(key)
    if not _is_hash(path) or not _is_leaf_consistent(hash_fn, path, value, proof):
        return False
    return compute_root_from_proof(hash_fn, path, proof) == root


def _is_leaf_consistent(
    hash_fn: HashFn, path: bytes, value: bytes | None, proof: StateProof
) -> bool:
    """Whether the node ending the walk says what the caller claims about ``path``."""
    if value is not None:
        return proof.leaf is not None and proof.leaf == (path, hash_fn(value))
    if proof.leaf is None:
        return True
    # Absence shown by another key's leaf: that leaf must sit on our path.
    other_path = proof.leaf[0]
    depth = len(proof.siblings)
    return other_path != path and all(
        compute_path_bit(other_path, i) == compute_path_bit(path, i) for i in range(depth)
    )


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_BYTES


def _is_well_formed(proof: object) -> bool:
    if not isinstance(proof, StateProof) or not isinstance(proof.siblings, tuple):
        return False
    if len(proof.siblings) > PROOF_SIBLINGS_MAX:
        return False
    if not all(_is_hash(sibling) for sibling in proof.siblings):
        return False
    leaf = proof.leaf
    if leaf is None:
        return True
    return isinstance(leaf, tuple) and len(leaf) == 2 and all(_is_hash(part) for part in leaf)


def encode_state_proof(proof: StateProof) -> dict[str, ProofData]:
    """The proof as canonical-CBOR-friendly data: ``{"siblings": [...], "leaf": [p, v] | None}``."""
    siblings: list[ProofData] = [*proof.siblings]
    leaf: ProofData = None if proof.leaf is None else [proof.leaf[0], proof.leaf[1]]
    return {"siblings": siblings, "leaf": leaf}


def decode_state_proof(obj: object) -> StateProof:
    """Rebuild a proof from ``encode_state_proof`` output; raises ``DecodeError`` if malformed."""
    if not isinstance(obj, dict) or set(obj) != _PROOF_FIELDS:
        raise DecodeError("state proof must be a map with keys 'siblings' and 'leaf'")
    siblings = obj["siblings"]
    if not isinstance(siblings, list | tuple) or len(siblings) > PROOF_SIBLINGS_MAX:
        raise DecodeError(f"state proof siblings must be a list of at most {PROOF_SIBLINGS_MAX}")
    if not all(_is_hash(sibling) for sibling in siblings):
        raise DecodeError(f"state proof siblings must each be {HASH_BYTES} bytes")
    return StateProof(siblings=tuple(siblings), leaf=_decode_leaf(obj["leaf"]))


def _decode_leaf(leaf: object) -> tuple[bytes, bytes] | None:
    if leaf is None:
        return None
    if not isinstance(leaf, list | tuple) or len(leaf) != 2:
        raise DecodeError("state proof leaf must be null or [key_path, value_hash]")
    key_path, value_hash = leaf
    if not (_is_hash(key_path) and _is_hash(value_hash)):
        raise DecodeError(f"state proof leaf parts must each be {HASH_BYTES} bytes")
    return (key_path, value_hash)
