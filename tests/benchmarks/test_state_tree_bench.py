"""pytest-benchmark figures for the state tree (``make bench``); tiny so the normal suite stays quick.

The fuller measurement behind ADR 0005 (10k and 1M keys, LMDB) is
``tests/storage/bench_state_tree.py``.
"""

from __future__ import annotations

import hashlib
import random

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from jinglian.crypto.state_proof import verify_state_proof
from jinglian.storage import EMPTY_ROOT, Batch, MemoryKV, StateTree

TREE_KEYS = 2000
BATCH_KEYS = 100


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@pytest.fixture(scope="module")
def tree_and_root() -> tuple[StateTree, bytes]:
    kv = MemoryKV()
    tree = StateTree(kv, sha256)
    root, writes = tree.compute_update(
        EMPTY_ROOT, {b"k%d" % i: b"v%d" % i for i in range(TREE_KEYS)}
    )
    batch = Batch()
    batch.extend(writes)
    kv.write(batch)
    return tree, root


@pytest.mark.benchmark
def test_bench_update_batch_of_100(
    benchmark: BenchmarkFixture, tree_and_root: tuple[StateTree, bytes]
) -> None:
    tree, root = tree_and_root
    rng = random.Random(1)
    changes: dict[bytes, bytes | None] = {
        b"k%d" % rng.randrange(TREE_KEYS): b"new" for _ in range(BATCH_KEYS)
    }
    new_root, _ = benchmark(tree.compute_update, root, changes)
    assert new_root != root


@pytest.mark.benchmark
def test_bench_prove(benchmark: BenchmarkFixture, tree_and_root: tuple[StateTree, bytes]) -> None:
    tree, root = tree_and_root
    proof = benchmark(tree.prove, root, b"k7")
    assert proof.leaf is not None


@pytest.mark.benchmark
def test_bench_verify(benchmark: BenchmarkFixture, tree_and_root: tuple[StateTree, bytes]) -> None:
    tree, root = tree_and_root
    proof = tree.prove(root, b"k7")
    assert benchmark(verify_state_proof, sha256, root, b"k7", b"v7", proof)
