"""StateTree: roots match the spec, depend only on the state, and prove every key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinglian.crypto.state_proof import (
    EMPTY_HASH,
    compute_internal_hash,
    compute_leaf_hash,
    compute_path_bit,
    verify_state_proof,
)
from jinglian.storage import (
    STATE_KEY_BYTES_MAX,
    STATE_NODE_GROUP_BYTES,
    STATE_NODE_PREFIX,
    STATE_VALUE_BYTES_MAX,
    STATE_VALUE_PREFIX,
    Batch,
    LmdbKV,
    MemoryKV,
    StateTree,
    state_tree,
)
from jinglian.storage.kv import KV
from jinglian.storage.state_tree import compute_node_key
from jinglian.types.errors import InvalidInput, NotFound, TooLarge

HashFn = Callable[[bytes], bytes]
Changes = dict[bytes, bytes | None]


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def identity_path_hash(data: bytes) -> bytes:
    """SHA-256, except that 32-byte inputs are their own hash: lets tests choose key paths."""
    return data if len(data) == 32 else sha256(data)


def spec_root(hash_fn: HashFn, state: dict[bytes, bytes]) -> bytes:
    """The root by the ADR's definition, computed naively."""
    leaves = {hash_fn(k): hash_fn(v) for k, v in state.items()}

    def node(subset: dict[bytes, bytes], depth: int) -> bytes:
        if not subset:
            return EMPTY_HASH
        if len(subset) == 1:
            ((path, value_hash),) = subset.items()
            return compute_leaf_hash(hash_fn, path, value_hash)
        left = {p: v for p, v in subset.items() if not compute_path_bit(p, depth)}
        right = {p: v for p, v in subset.items() if compute_path_bit(p, depth)}
        return compute_internal_hash(hash_fn, node(left, depth + 1), node(right, depth + 1))

    return node(leaves, 0)


def apply(kv: KV, tree: StateTree, root: bytes, changes: Changes) -> bytes:
    new_root, writes = tree.compute_update(root, changes)
    batch = Batch()
    batch.extend(writes)
    kv.write(batch)
    return new_root


def apply_to_model(model: dict[bytes, bytes], changes: Changes) -> None:
    for key, value in changes.items():
        if value is None:
            model.pop(key, None)
        else:
            model[key] = value


keys = st.binary(min_size=0, max_size=6)
change_batches = st.lists(
    st.dictionaries(keys, st.none() | st.binary(max_size=8), max_size=12), max_size=8
)


@st.composite
def clustered_batches(draw: st.DrawFn) -> list[Changes]:
    """Batches over 32-byte keys sharing long prefixes (deep trees under identity_path_hash)."""
    base = draw(st.binary(min_size=32, max_size=32))
    tail = st.binary(min_size=1, max_size=2).map(lambda t: base[: 32 - len(t)] + t)
    batch = st.dictionaries(tail, st.none() | st.binary(max_size=4), max_size=8)
    return draw(st.lists(batch, max_size=6))


@given(batches=change_batches)
@settings(max_examples=80, deadline=None)
def test_root_depends_only_on_the_final_state(batches: list[Changes]) -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    root = EMPTY_HASH
    model: dict[bytes, bytes] = {}
    for changes in batches:
        root = apply(kv, tree, root, changes)
        apply_to_model(model, changes)
        assert root == spec_root(sha256, model)
    fresh_kv = MemoryKV()
    fresh_root = apply(fresh_kv, StateTree(fresh_kv, sha256), EMPTY_HASH, dict(model))
    assert fresh_root == root
    removed = apply(kv, tree, root, dict.fromkeys(model))
    assert removed == EMPTY_HASH


@given(batches=clustered_batches())
@settings(max_examples=80, deadline=None)
def test_deep_trees_insert_delete_and_recompress(batches: list[Changes]) -> None:
    kv = MemoryKV()
    tree = StateTree(kv, identity_path_hash)
    root = EMPTY_HASH
    model: dict[bytes, bytes] = {}
    for changes in batches:
        root = apply(kv, tree, root, changes)
        apply_to_model(model, changes)
        assert root == spec_root(identity_path_hash, model)
        for key, value in model.items():
            assert tree.get(root, key) == value
            proof = tree.prove(root, key)
            assert verify_state_proof(identity_path_hash, root, key, value, proof)


@given(batches=change_batches, probes=st.lists(keys, max_size=6), singles=st.booleans())
@settings(max_examples=60, deadline=None)
def test_every_historical_root_reads_and_proves(
    batches: list[Changes], probes: list[bytes], singles: bool
) -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    root = EMPTY_HASH
    model: dict[bytes, bytes] = {}
    history: list[tuple[bytes, dict[bytes, bytes]]] = [(root, {})]
    for changes in batches:
        parts = [{k: v} for k, v in changes.items()] if singles else [changes]
        for part in parts:
            root = apply(kv, tree, root, part)
        apply_to_model(model, changes)
        history.append((root, dict(model)))
    for old_root, old_state in history:
        for key in [*old_state, *probes]:
            value = old_state.get(key)
            assert tree.get(old_root, key) == value
            assert verify_state_proof(sha256, old_root, key, value, tree.prove(old_root, key))


def test_empty_tree_root_is_zero_and_empty_batch_keeps_root() -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    assert tree.compute_update(EMPTY_HASH, {}) == (EMPTY_HASH, [])
    assert tree.compute_update(EMPTY_HASH, {b"absent": None}) == (EMPTY_HASH, [])
    assert tree.get(EMPTY_HASH, b"k") is None
    assert bytes(32) == EMPTY_HASH


def test_compute_update_writes_nothing_and_returns_grouped_content_addressed_entries() -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    root, writes = tree.compute_update(EMPTY_HASH, {b"a": b"1", b"b": b"2", b"c": b"3"})
    assert len(kv) == 0
    group = root[:STATE_NODE_GROUP_BYTES]
    nodes = {k: v for k, v in writes if k[:1] == STATE_NODE_PREFIX}
    values = {k: v for k, v in writes if k[:1] == STATE_VALUE_PREFIX}
    assert len(nodes) + len(values) == len(writes)
    assert {k[1:] for k in values} == {sha256(v) for v in (b"1", b"2", b"3")}
    assert compute_node_key(group, root) in nodes
    for key, stored in nodes.items():
        assert key[1 : 1 + STATE_NODE_GROUP_BYTES] == group
        assert key[1 + STATE_NODE_GROUP_BYTES :] == sha256(stored[:65])
        assert len(stored) == (65 if stored[0] == 0 else 81)
    with pytest.raises(NotFound):
        tree.get(root, b"a")  # not committed yet


def test_nodes_point_at_the_groups_their_children_were_written_in() -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    first = apply(kv, tree, EMPTY_HASH, {b"k%d" % i: b"v" for i in range(64)})
    second, writes = tree.compute_update(first, {b"k0": b"changed"})
    groups = {k[1 : 1 + STATE_NODE_GROUP_BYTES] for k, _ in writes if k[:1] == STATE_NODE_PREFIX}
    assert groups == {second[:STATE_NODE_GROUP_BYTES]}
    root_node = dict(writes)[compute_node_key(second[:STATE_NODE_GROUP_BYTES], second)]
    child_groups = {root_node[65:73], root_node[73:81]}
    assert child_groups == {first[:STATE_NODE_GROUP_BYTES], second[:STATE_NODE_GROUP_BYTES]}


def test_deleting_down_to_one_key_collapses_to_that_leaf() -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    root = apply(kv, tree, EMPTY_HASH, {bytes([i]): b"v" for i in range(50)})
    root = apply(kv, tree, root, {bytes([i]): None for i in range(1, 50)})
    assert root == compute_leaf_hash(sha256, sha256(b"\x00"), sha256(b"v"))
    proof = tree.prove(root, b"\x00")
    assert proof.siblings == ()


def test_unchanged_values_keep_the_root() -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    root = apply(kv, tree, EMPTY_HASH, {b"a": b"1", b"b": b"2", b"c": b"3"})
    assert tree.compute_update(root, {b"a": b"1"})[0] == root
    assert tree.compute_update(root, {b"zz": None})[0] == root


def test_sm3_trees_verify() -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sm3)
    state = {b"k%d" % i: b"v%d" % i for i in range(100)}
    root = apply(kv, tree, EMPTY_HASH, dict(state))
    assert root == spec_root(sm3, state)
    assert verify_state_proof(sm3, root, b"k7", b"v7", tree.prove(root, b"k7"))
    assert not verify_state_proof(sha256, root, b"k7", b"v7", tree.prove(root, b"k7"))


def test_tree_on_lmdb_survives_reopen(tmp_path: Path) -> None:
    state = {b"k%d" % i: b"v%d" % i for i in range(200)}
    with LmdbKV(tmp_path / "db") as kv:
        root = apply(kv, StateTree(kv, sha256), EMPTY_HASH, dict(state))
    with LmdbKV(tmp_path / "db", readonly=True) as kv:
        tree = StateTree(kv, sha256)
        assert all(tree.get(root, k) == v for k, v in state.items())
        with kv.snapshot() as snap:
            assert StateTree(snap, sha256).get(root, b"k1") == b"v1"


def test_invalid_roots_keys_and_values() -> None:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    with pytest.raises(InvalidInput):
        tree.get(b"short", b"k")
    with pytest.raises(NotFound):
        tree.prove(b"\x01" * 32, b"k")
    with pytest.raises(TooLarge):
        tree.compute_update(EMPTY_HASH, {b"k" * (STATE_KEY_BYTES_MAX + 1): b"v"})
    with pytest.raises(TooLarge):
        tree.compute_update(EMPTY_HASH, {b"k": b"v" * (STATE_VALUE_BYTES_MAX + 1)})
    assert tree.compute_update(EMPTY_HASH, {b"k" * STATE_KEY_BYTES_MAX: b""})[0] != EMPTY_HASH


def test_batch_update_shares_work() -> None:
    """One batch of n keys writes fewer nodes than n single updates."""
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    root = apply(kv, tree, EMPTY_HASH, {b"base%d" % i: b"x" for i in range(2000)})
    changes: Changes = {b"base%d" % i: b"y" for i in range(0, 2000, 20)}
    _, batch_writes = tree.compute_update(root, changes)
    single_writes = sum(len(tree.compute_update(root, {k: v})[1]) for k, v in changes.items())
    assert len(batch_writes) < 0.75 * single_writes


def test_a_tiny_node_cache_rolls_over_and_stays_correct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state_tree, "STATE_NODE_CACHE_ENTRIES_MAX", 8)
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    state = {b"k%d" % i: b"v%d" % i for i in range(300)}
    root = apply(kv, tree, EMPTY_HASH, dict(state))
    for round_ in range(3):
        changes: Changes = {b"k%d" % i: b"r%d" % round_ for i in range(round_, 300, 7)}
        root = apply(kv, tree, root, changes)
        apply_to_model(state, changes)
    assert root == spec_root(sha256, state)
    assert all(tree.get(root, k) == v for k, v in state.items())


class CountingKV(MemoryKV):
    """A MemoryKV that counts the tree-node reads made through it and its snapshots."""

    def __init__(self) -> None:
        super().__init__()
        self.node_reads = 0
        self.snapshots = 0

    def get(self, key: bytes) -> bytes | None:
        self.node_reads += key[:1] == STATE_NODE_PREFIX
        return super().get(key)

    def snapshot(self) -> Any:
        self.snapshots += 1
        return _CountingSnapshot(self, super().snapshot())


class _CountingSnapshot:
    def __init__(self, owner: CountingKV, inner: Any) -> None:
        self._owner, self._inner = owner, inner

    def get(self, key: bytes) -> bytes | None:
        self._owner.node_reads += key[:1] == STATE_NODE_PREFIX
        return self._inner.get(key)  # type: ignore[no-any-return]

    def __enter__(self) -> _CountingSnapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


def test_an_update_reads_the_nodes_the_previous_update_computed_from_memory() -> None:
    kv = CountingKV()
    tree = StateTree(kv, sha256)
    root = apply(kv, tree, EMPTY_HASH, {b"k%d" % i: b"v" for i in range(500)})
    reads_before = kv.node_reads
    root = apply(kv, tree, root, {b"k%d" % i: b"w" for i in range(0, 500, 3)})
    # one read: the check that the root is committed; every node walked was computed before
    assert kv.node_reads == reads_before + 1
    fresh = StateTree(kv, sha256)  # an empty cache reads them from the store
    fresh.compute_update(root, {b"k1": b"x"})
    assert kv.node_reads > reads_before + 2


def test_an_update_reads_through_one_snapshot() -> None:
    kv = CountingKV()
    root = apply(kv, StateTree(kv, sha256), EMPTY_HASH, {b"k%d" % i: b"v" for i in range(200)})
    snapshots = kv.snapshots
    StateTree(kv, sha256).compute_update(root, {b"k%d" % i: b"w" for i in range(50)})
    assert kv.snapshots == snapshots + 1


def test_an_update_never_committed_does_not_disturb_the_next() -> None:
    """Nodes of a discarded update stay cached; a different committed update stays correct."""
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    state = {b"k%d" % i: b"v" for i in range(300)}
    root = apply(kv, tree, EMPTY_HASH, dict(state))
    discarded, _ = tree.compute_update(root, {b"k%d" % i: b"lost" for i in range(0, 300, 2)})
    with pytest.raises(NotFound):
        tree.get(discarded, b"k0")  # computed and cached, never committed
    changes: Changes = {b"k%d" % i: None if i % 5 == 0 else b"kept" for i in range(0, 300, 3)}
    root = apply(kv, tree, root, changes)
    apply_to_model(state, changes)
    assert root == spec_root(sha256, state)
    later: Changes = {b"k%d" % i: b"again" for i in range(0, 300, 2)}
    root = apply(kv, tree, root, later)
    apply_to_model(state, later)
    assert root == spec_root(sha256, state)
    assert all(tree.get(root, k) == v for k, v in state.items())
    assert all(StateTree(kv, sha256).get(root, k) == v for k, v in state.items())
