"""The authenticated world state: a compressed binary sparse Merkle tree (ADR 0005).

Every key sits at the leaf position named by its 256-bit path,
``hash_fn(key)``; a subtree with no leaf is Empty and a subtree with exactly
one leaf is stored as that leaf, so the tree has about ``log2(n)`` levels for
``n`` keys and its root depends only on the set of ``(key, value)`` pairs.
The hashing rules and the proof format are in ``jinglian.crypto.state_proof``,
which light clients use to check proofs offline.

Storage layout, in the caller's ``KV``::

    b"n" + group + node_hash -> 0x00 || key_path || value_hash                 Leaf (65 B)
                                0x01 || left || right || left_group || right_group
                                                                           Internal (81 B)
    b"v" + value_hash        -> value

A node's hash covers the first 65 bytes of its stored form (the hash
preimage); the two 8-byte groups say where each child is stored (zeros for
an Empty child). The *group* of a node is the first 8 bytes of the root
produced by the update that wrote it, so the nodes of one update are
adjacent in the KV (one B+tree region instead of one random page per node:
ADR 0005 measures the difference), and a root's own node is at
``b"n" + root[:8] + root``. Entries are written once and never removed, so
every root ever committed stays readable and provable; nothing is pruned yet.

``StateTree`` never writes: ``compute_update`` returns the entries a change
needs, and the caller puts them in the same batch as the block that makes
the change.

Reads are the cost of an update once the tree is large (each LMDB read
releases the GIL and must win it back from the node's other threads), so
``StateTree`` keeps recently read *and recently computed* nodes in memory,
keyed by their full KV key, and an update reads what it still misses through
one read transaction (a snapshot of the store) instead of one per node.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence

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
from jinglian.storage.kv import KVReader, KVSnapshot
from jinglian.types.errors import InvalidInput, NotFound, TooLarge

__all__ = [
    "EMPTY_ROOT",
    "STATE_KEY_BYTES_MAX",
    "STATE_NODE_CACHE_ENTRIES_MAX",
    "STATE_NODE_GROUP_BYTES",
    "STATE_NODE_PREFIX",
    "STATE_VALUE_BYTES_MAX",
    "STATE_VALUE_PREFIX",
    "StateTree",
    "StateWrites",
    "compute_node_key",
]

EMPTY_ROOT = EMPTY_HASH
"""Root of the empty state: 32 zero bytes."""

STATE_NODE_PREFIX = b"n"
"""KV key prefix of tree nodes: ``b"n" + group + node_hash``."""

STATE_NODE_GROUP_BYTES = 8
"""Length of a node's group: the prefix of the root of the update that wrote it."""

STATE_VALUE_PREFIX = b"v"
"""KV key prefix of state values: ``b"v" + value_hash``."""

STATE_KEY_BYTES_MAX = 256
"""Longest state key."""

STATE_VALUE_BYTES_MAX = 1024 * 1024
"""Largest state value."""

STATE_NODE_CACHE_ENTRIES_MAX = 1 << 18
"""Tree nodes kept in memory (about 65 MiB): the top levels every walk visits and the nodes
of the last updates, which the next block's paths run through."""

StateWrites = list[tuple[bytes, bytes]]
"""``(kv_key, kv_value)`` puts that make a new root readable, for the caller's batch."""

_LEAF_BYTE = LEAF_PREFIX[0]
_GROUP_OF_EMPTY = bytes(STATE_NODE_GROUP_BYTES)

# Node kinds of a _Ref. UNKNOWN marks an untouched, non-empty child whose
# kind is only looked up if the compression rule needs it.
_EMPTY, _LEAF, _INTERNAL, _UNKNOWN = range(4)

_Ref = tuple[int, bytes, bytes | None]
"""(kind, hash, group) of a subtree; group None for a node this update creates."""

_EMPTY_REF: _Ref = (_EMPTY, EMPTY_HASH, _GROUP_OF_EMPTY)

_LoadNode = Callable[[bytes, bytes], bytes]
"""Reads a stored node by hash and group."""

_Change = tuple[bytes, bytes | None]
"""(key_path, value_hash), value_hash None for a delete; lists of these are sorted by path."""


def compute_node_key(group: bytes, node_hash: bytes) -> bytes:
    """The KV key of a tree node."""
    return STATE_NODE_PREFIX + group + node_hash


def _group_of_root(root: bytes) -> bytes:
    return root[:STATE_NODE_GROUP_BYTES]


def _decode_children(encoded: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """``(left, right, left_group, right_group)`` of a stored Internal node."""
    return encoded[1:33], encoded[33:65], encoded[65:73], encoded[73:81]


class StateTree:
    """Reads, proofs and batched updates of the state tree stored in ``kv``."""

    def __init__(self, kv: KVReader, hash_fn: HashFn) -> None:
        assert len(hash_fn(b"")) == HASH_BYTES, "the state tree needs a 32-byte hash"
        self._kv = kv
        self._hash_fn = hash_fn
        self._cache = _NodeCache(STATE_NODE_CACHE_ENTRIES_MAX)

    def compute_update(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, StateWrites]:
        """The root after applying ``changes`` (None deletes a key) to ``root``, and its writes.

        Nothing is written: the caller puts the returned entries into its own
        batch. Changes are sorted by path and each touched subtree is rebuilt
        once, so a batch costs less per key than single updates. The new nodes
        enter the node cache under their KV keys: a key names one content
        (group and hash), so an update that is never committed leaves only
        entries no committed node points at.
        """
        self._validate_root(root)
        with self._read_view() as reader:
            updater = _Updater(functools.partial(self._load_node, reader), self._hash_fn)
            ordered = updater.prepare(changes)
            if not ordered:
                return root, []
            new_root = updater.update(root, _group_of_root(root), 0, ordered, 0, len(ordered))
            if new_root[1] == root:
                return root, []
            writes = updater.finish(new_root)
        for kv_key, encoded in writes:
            if kv_key[:1] == STATE_NODE_PREFIX:
                self._cache.put(kv_key, encoded)
        return new_root[1], writes

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
        node, group = root, _group_of_root(root)
        while node != EMPTY_HASH:
            encoded = self._load_node(self._kv, node, group)
            if encoded[0] == _LEAF_BYTE:
                return StateProof(tuple(siblings), (encoded[1:33], encoded[33:65]))
            left, right, left_group, right_group = _decode_children(encoded)
            if compute_path_bit(path, len(siblings)):
                siblings.append(left)
                node, group = right, right_group
            else:
                siblings.append(right)
                node, group = left, left_group
        return StateProof(tuple(siblings), None)

    def has_root(self, root: bytes) -> bool:
        """Whether ``root`` is the empty root or a root whose writes are in the KV."""
        if root == EMPTY_HASH:
            return True
        return self._kv.get(compute_node_key(_group_of_root(root), root)) is not None

    def _validate_root(self, root: bytes) -> None:
        if len(root) != HASH_BYTES:
            raise InvalidInput(f"state root must be {HASH_BYTES} bytes")
        if not self.has_root(root):
            raise NotFound(f"unknown state root {root.hex()}")

    @contextlib.contextmanager
    def _read_view(self) -> Iterator[KVReader]:
        """One consistent read transaction for a whole update, if the store offers snapshots."""
        open_snapshot: Callable[[], KVSnapshot] | None = getattr(self._kv, "snapshot", None)
        if open_snapshot is None:
            yield self._kv
            return
        with open_snapshot() as snapshot:
            yield snapshot

    def _load_node(self, reader: KVReader, node_hash: bytes, group: bytes) -> bytes:
        kv_key = STATE_NODE_PREFIX + group + node_hash
        encoded = self._cache.get(kv_key)
        if encoded is None:
            encoded = reader.get(kv_key)
            assert encoded is not None, f"state tree node {node_hash.hex()} missing"
            self._cache.put(kv_key, encoded)
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
        self.values: dict[bytes, bytes] = {}
        """New value entries by KV key."""
        self.leaves: dict[bytes, bytes] = {}
        """New Leaf nodes: hash -> stored form."""
        self.internals: dict[bytes, tuple[_Ref, _Ref]] = {}
        """New Internal nodes: hash -> children (their groups are filled in by ``finish``)."""

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

    def update(
        self, node: bytes, group: bytes, depth: int, changes: list[_Change], lo: int, hi: int
    ) -> _Ref:
        """The subtree ``node`` (at ``depth``) after ``changes[lo:hi]``, which lie under it."""
        if node == EMPTY_HASH:
            return self.build(depth, _merge(None, changes, lo, hi))
        encoded = self.load_node(node, group)
        if encoded[0] == _LEAF_BYTE:
            leaf = (encoded[1:33], encoded[33:65])
            return self.build(depth, _merge(leaf, changes, lo, hi))
        left, right, left_group, right_group = _decode_children(encoded)
        mid = _split(changes, lo, hi, depth)
        new_left = (
            self.update(left, left_group, depth + 1, changes, lo, mid)
            if lo < mid
            else _ref(left, left_group)
        )
        new_right = (
            self.update(right, right_group, depth + 1, changes, mid, hi)
            if mid < hi
            else _ref(right, right_group)
        )
        if new_left[1] == left and new_right[1] == right:
            return (_INTERNAL, node, group)
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
        return self.put_internal(left, right)

    def join(self, left: _Ref, right: _Ref) -> _Ref:
        """The parent of two rebuilt children, compressed: a lone leaf moves up."""
        if left[0] == _EMPTY and right[0] == _EMPTY:
            return _EMPTY_REF
        if left[0] == _EMPTY and self.is_leaf(right):
            return (_LEAF, right[1], right[2])
        if right[0] == _EMPTY and self.is_leaf(left):
            return (_LEAF, left[1], left[2])
        return self.put_internal(left, right)

    def is_leaf(self, ref: _Ref) -> bool:
        """Whether ``ref`` is a leaf, loading the node if its kind is not known yet."""
        if ref[0] == _UNKNOWN:
            assert ref[2] is not None
            return self.load_node(ref[1], ref[2])[0] == _LEAF_BYTE
        return ref[0] == _LEAF

    def put_leaf(self, key_path: bytes, value_hash: bytes) -> _Ref:
        """Stage ``Leaf(key_path, value_hash)``."""
        encoded = LEAF_PREFIX + key_path + value_hash
        node_hash = self.hash_fn(encoded)
        self.leaves[node_hash] = encoded
        return (_LEAF, node_hash, None)

    def put_internal(self, left: _Ref, right: _Ref) -> _Ref:
        """Stage ``Internal(left, right)``."""
        node_hash = self.hash_fn(INTERNAL_PREFIX + left[1] + right[1])
        self.internals[node_hash] = (left, right)
        return (_INTERNAL, node_hash, None)

    def put_value(self, value: bytes) -> bytes:
        """Stage ``value`` under its hash and return the hash."""
        value_hash = self.hash_fn(value)
        self.values[STATE_VALUE_PREFIX + value_hash] = value
        return value_hash

    def finish(self, new_root: _Ref) -> StateWrites:
        """The KV entries of the update: values, then every new node in the new root's group."""
        if new_root[0] == _EMPTY:
            return []  # everything was deleted: no node and no value is needed
        group = _group_of_root(new_root[1])
        if new_root[2] is not None:
            # An existing leaf became the root: the root must also be found in its own group.
            assert new_root[0] == _LEAF, "only a lone leaf moves up to the root"
            self.leaves[new_root[1]] = self.load_node(new_root[1], new_root[2])
        writes = list(self.values.items())
        writes.extend((compute_node_key(group, h), e) for h, e in self.leaves.items())
        for node_hash, (left, right) in self.internals.items():
            left_group = group if left[2] is None else left[2]
            right_group = group if right[2] is None else right[2]
            encoded = INTERNAL_PREFIX + left[1] + right[1] + left_group + right_group
            writes.append((compute_node_key(group, node_hash), encoded))
        return writes


class _NodeCache:
    """Recently used nodes by KV key, in two generations (a cheap LRU).

    Nodes read from the KV enter, and so do the nodes an update computes. The
    key holds the group and the hash, and the stored form is a function of
    both, so a cached node is never stale; one computed by an update that is
    not committed is reached only through parents of that same update.
    """

    __slots__ = ("_generation_entries_max", "_old", "_young")

    def __init__(self, entries_max: int) -> None:
        self._generation_entries_max = entries_max // 2
        self._young: dict[bytes, bytes] = {}
        self._old: dict[bytes, bytes] = {}

    def get(self, kv_key: bytes) -> bytes | None:
        """The stored form under ``kv_key`` if cached (moving it to the young generation)."""
        encoded = self._young.get(kv_key)
        if encoded is None:
            encoded = self._old.get(kv_key)
            if encoded is not None:
                self.put(kv_key, encoded)
        return encoded

    def put(self, kv_key: bytes, encoded: bytes) -> None:
        """Cache a node, retiring the old generation when the young one is full."""
        if len(self._young) >= self._generation_entries_max:
            self._old, self._young = self._young, {}
        self._young[kv_key] = encoded


def _ref(node_hash: bytes, group: bytes) -> _Ref:
    """The reference to an untouched subtree."""
    return (_EMPTY if node_hash == EMPTY_HASH else _UNKNOWN, node_hash, group)


def _path_of(item: tuple[bytes, bytes | None]) -> bytes:
    return item[0]


def _split(items: Sequence[tuple[bytes, bytes | None]], lo: int, hi: int, depth: int) -> int:
    """First index in ``items[lo:hi]`` (sorted, sharing ``depth`` path bits) going right."""
    if hi - lo == 1:  # the common case deep in the tree: no search needed
        return lo if compute_path_bit(items[lo][0], depth) else hi
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
