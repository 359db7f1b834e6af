"""The authenticated world state: a compressed binary sparse Merkle tree (ADR 0005).

Every key sits at the leaf position named by its 256-bit path,
``hash_fn(key)``; a subtree with no leaf is Empty and a subtree with exactly
one leaf is stored as that leaf, so the tree has about ``log2(n)`` levels for
``n`` keys and its root depends only on the set of ``(key, value)`` pairs.
The hashing rules and the proof format are in ``jinglian.crypto.state_proof``,
which light clients use to check proofs offline.

Storage layout (in the caller's ``KV``; both kinds of entry are
content-addressed, written once and never changed or removed, so every root
ever committed stays readable and provable; nothing is pruned yet)::

    b"n" + node_hash   -> 0x00 || key_path || value_hash     (Leaf)
                          0x01 || left_hash || right_hash     (Internal)
    b"v" + value_hash  -> value

A stored node is exactly its hash preimage. ``StateTree`` never writes: it
returns the entries a change needs, and the caller puts them in the same
batch as the block that makes the change.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Mapping, Sequence

from jinglian.crypto.state_proof import (
    EMPTY_HASH,
    HASH_BYTES,
    INTERNAL_PREFIX,
    LEAF_PREFIX,
    PATH_BITS,
    HashFn,
    StateProof,
    compute_path_bit,
)
from jinglian.storage.kv import KVReader
from jinglian.types.errors import InvalidInput, NotFound, TooLarge

__all__ = [
    "EMPTY_ROOT",
    "STATE_KEY_BYTES_MAX",
    "STATE_NODE_PREFIX",
    "STATE_VALUE_BYTES_MAX",
    "STATE_VALUE_PREFIX",
    "StateTree",
    "StateWrites",
]

EMPTY_ROOT = EMPTY_HASH
"""Root of the empty state: 32 zero bytes."""

STATE_NODE_PREFIX = b"n"
"""KV key prefix of tree nodes: ``b"n" + node_hash``."""

STATE_VALUE_PREFIX = b"v"
"""KV key prefix of state values: ``b"v" + value_hash``."""

STATE_KEY_BYTES_MAX = 256
"""Longest state key."""

STATE_VALUE_BYTES_MAX = 1024 * 1024
"""Largest state value."""

StateWrites = list[tuple[bytes, bytes]]
"""``(kv_key, kv_value)`` puts that make a new root readable, for the caller's batch."""

_LEAF_BYTE = LEAF_PREFIX[0]

# Node kinds of a _Ref. UNKNOWN marks an untouched, non-empty child whose
# kind is only looked up if the compression rule needs it.
_EMPTY, _LEAF, _INTERNAL, _UNKNOWN = range(4)

_Ref = tuple[int, bytes]
"""(kind, hash) of a subtree."""

_EMPTY_REF: _Ref = (_EMPTY, EMPTY_HASH)

_LoadNode = Callable[[bytes], bytes]
"""Reads a stored node by hash."""

_Change = tuple[bytes, bytes | None]
"""(key_path, value_hash), value_hash None for a delete; lists of these are sorted by path."""


class StateTree:
    """Reads, proofs and batched updates of the state tree stored in ``kv``."""

    def __init__(self, kv: KVReader, hash_fn: HashFn) -> None:
        assert len(hash_fn(b"")) == HASH_BYTES, "the state tree needs a 32-byte hash"
        self._kv = kv
        self._hash_fn = hash_fn

    def compute_update(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, StateWrites]:
        """The root after applying ``changes`` (None deletes a key) to ``root``, and its writes.

        Nothing is written: the caller puts the returned entries into its own
        batch. Changes are sorted by path and each touched subtree is rebuilt
        once, so a batch costs less per key than single updates.
        """
        self._validate_root(root)
        updater = _Updater(self._load_node, self._hash_fn)
        ordered = updater.prepare(changes)
        if not ordered:
            return root, []
        new_root = updater.update(root, 0, ordered, 0, len(ordered))
        return new_root[1], list(updater.writes.items())

    def get(self, root: bytes, key: bytes) -> bytes | None:
        """The value of ``key`` in the state with root ``root``, or None if absent."""
        proof = self.prove(root, key)
        if proof.leaf is None or proof.leaf[0] != self._hash_fn(key):
            return None
        return self._load_value(proof.leaf[1])

    def prove(self, root: bytes, key: bytes) -> StateProof:
        """A proof of ``key``'s value, or of its absence, under ``root``."""
        self._validate_root(root)
        path = self._hash_fn(key)
        siblings: list[bytes] = []
        node = root
        while node != EMPTY_HASH:
            encoded = self._load_node(node)
            if encoded[0] == _LEAF_BYTE:
                return StateProof(tuple(siblings), (encoded[1:33], encoded[33:]))
            left, right = encoded[1:33], encoded[33:]
            if compute_path_bit(path, len(siblings)):
                siblings.append(left)
                node = right
            else:
                siblings.append(right)
                node = left
        return StateProof(tuple(siblings), None)

    def has_root(self, root: bytes) -> bool:
        """Whether ``root`` is the empty root or a node stored in the KV."""
        return root == EMPTY_HASH or self._kv.get(STATE_NODE_PREFIX + root) is not None

    def _validate_root(self, root: bytes) -> None:
        if len(root) != HASH_BYTES:
            raise InvalidInput(f"state root must be {HASH_BYTES} bytes")
        if not self.has_root(root):
            raise NotFound(f"unknown state root {root.hex()}")

    def _load_node(self, node_hash: bytes) -> bytes:
        encoded = self._kv.get(STATE_NODE_PREFIX + node_hash)
        assert encoded is not None, f"state tree node {node_hash.hex()} missing"
        return encoded

    def _load_value(self, value_hash: bytes) -> bytes:
        value = self._kv.get(STATE_VALUE_PREFIX + value_hash)
        assert value is not None, f"state value {value_hash.hex()} missing"
        return value


class _Updater:
    """One ``compute_update`` call: the recursive rebuild and the writes it makes."""

    def __init__(self, load_node: _LoadNode, hash_fn: HashFn) -> None:
        self.load_node = load_node
        self.hash_fn = hash_fn
        self.writes: dict[bytes, bytes] = {}

    def prepare(self, changes: Mapping[bytes, bytes | None]) -> list[_Change]:
        """Validate ``changes``, stage their values, and sort them by key path."""
        ordered: list[_Change] = []
        for key, value in changes.items():
            _validate_change(key, value)
            path = self.hash_fn(key)
            ordered.append((path, None if value is None else self.put_value(value)))
        ordered.sort(key=_path_of)
        assert all(a[0] != b[0] for a, b in itertools.pairwise(ordered)), (
            "two keys share a path: hash collision"
        )
        return ordered

    def update(self, node: bytes, depth: int, changes: list[_Change], lo: int, hi: int) -> _Ref:
        """The subtree at ``node`` (at ``depth``) after ``changes[lo:hi]``, which lie under it."""
        if node == EMPTY_HASH:
            return self.build(depth, _merge(None, changes, lo, hi))
        encoded = self.load_node(node)
        if encoded[0] == _LEAF_BYTE:
            leaf = (encoded[1:33], encoded[33:])
            return self.build(depth, _merge(leaf, changes, lo, hi))
        left, right = encoded[1:33], encoded[33:]
        mid = _split(changes, lo, hi, depth)
        new_left = self.update(left, depth + 1, changes, lo, mid) if lo < mid else _ref(left)
        new_right = self.update(right, depth + 1, changes, mid, hi) if mid < hi else _ref(right)
        if new_left[1] == left and new_right[1] == right:
            return (_INTERNAL, node)
        return self.join(new_left, new_right)

    def build(self, depth: int, leaves: list[tuple[bytes, bytes]]) -> _Ref:
        """A fresh subtree at ``depth`` holding ``leaves`` (sorted by path)."""
        return self._build(depth, leaves, 0, len(leaves))

    def _build(self, depth: int, leaves: list[tuple[bytes, bytes]], lo: int, hi: int) -> _Ref:
        if hi - lo <= 1:
            return self.put_leaf(*leaves[lo]) if hi > lo else _EMPTY_REF
        assert depth < PATH_BITS, "distinct paths differ before the last bit"
        mid = _split(leaves, lo, hi, depth)
        left = self._build(depth + 1, leaves, lo, mid)
        right = self._build(depth + 1, leaves, mid, hi)
        return self.put_internal(left[1], right[1])

    def join(self, left: _Ref, right: _Ref) -> _Ref:
        """The parent of two rebuilt children, compressed: a lone leaf moves up."""
        if left[0] == _EMPTY and right[0] == _EMPTY:
            return _EMPTY_REF
        if left[0] == _EMPTY and self.is_leaf(right):
            return (_LEAF, right[1])
        if right[0] == _EMPTY and self.is_leaf(left):
            return (_LEAF, left[1])
        return self.put_internal(left[1], right[1])

    def is_leaf(self, ref: _Ref) -> bool:
        """Whether ``ref`` is a leaf, loading the node if its kind is not known yet."""
        if ref[0] == _UNKNOWN:
            return self.load_node(ref[1])[0] == _LEAF_BYTE
        return ref[0] == _LEAF

    def put_leaf(self, key_path: bytes, value_hash: bytes) -> _Ref:
        """Stage ``Leaf(key_path, value_hash)``."""
        encoded = LEAF_PREFIX + key_path + value_hash
        node_hash = self.hash_fn(encoded)
        self.writes[STATE_NODE_PREFIX + node_hash] = encoded
        return (_LEAF, node_hash)

    def put_internal(self, left: bytes, right: bytes) -> _Ref:
        """Stage ``Internal(left, right)``."""
        encoded = INTERNAL_PREFIX + left + right
        node_hash = self.hash_fn(encoded)
        self.writes[STATE_NODE_PREFIX + node_hash] = encoded
        return (_INTERNAL, node_hash)

    def put_value(self, value: bytes) -> bytes:
        """Stage ``value`` under its hash and return the hash."""
        value_hash = self.hash_fn(value)
        self.writes[STATE_VALUE_PREFIX + value_hash] = value
        return value_hash


def _ref(node_hash: bytes) -> _Ref:
    """The reference to an untouched subtree."""
    return (_EMPTY if node_hash == EMPTY_HASH else _UNKNOWN, node_hash)


def _path_of(item: tuple[bytes, bytes | None]) -> bytes:
    return item[0]


def _split(items: Sequence[tuple[bytes, bytes | None]], lo: int, hi: int, depth: int) -> int:
    """First index in ``items[lo:hi]`` (sorted, sharing ``depth`` path bits) going right."""
    return bisect.bisect_left(items, 1, lo, hi, key=lambda item: compute_path_bit(item[0], depth))


def _merge(
    existing: tuple[bytes, bytes] | None, changes: list[_Change], lo: int, hi: int
) -> list[tuple[bytes, bytes]]:
    """The leaves of a subtree that held at most ``existing`` once ``changes[lo:hi]`` apply."""
    leaves = [(path, value_hash) for path, value_hash in changes[lo:hi] if value_hash is not None]
    if existing is not None:
        i = bisect.bisect_left(changes, existing[0], lo, hi, key=_path_of)
        if i == hi or changes[i][0] != existing[0]:
            bisect.insort(leaves, existing, key=_path_of)
    return leaves


def _validate_change(key: bytes, value: bytes | None) -> None:
    if len(key) > STATE_KEY_BYTES_MAX:
        raise TooLarge(f"state key is {len(key)} bytes, limit {STATE_KEY_BYTES_MAX}")
    if value is not None and len(value) > STATE_VALUE_BYTES_MAX:
        raise TooLarge(f"state value is {len(value)} bytes, limit {STATE_VALUE_BYTES_MAX}")
