"""Measure the state tree: updates, proofs and verification (ADR 0005).

Run: ``.venv/bin/python tests/storage/bench_state_tree.py [--keys 10000 1000000] [--lmdb DIR]``

For each tree size the tree is built in chunks, then batches of 1, 100 and
1,000 updates of existing keys (fresh values) are computed against the same
root: reported is ``compute_update`` time per key, and separately the time to
put its writes into a Batch and commit them to the KV. Proof, read and
verification times are per key over random existing keys (a fresh sample
each, after a warm-up). SHA-256 throughout. The built tree is frozen out of
the garbage collector's generations (``gc.freeze``) before measuring. Computation is timed in process
CPU time (the development machine is shared, and wall time there measures
the neighbours too); commits are timed in wall time, since they wait for
the disk. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import statistics
import tempfile
import time
from pathlib import Path

from jinglian.crypto.state_proof import encode_state_proof, verify_state_proof
from jinglian.storage import EMPTY_ROOT, KV, Batch, LmdbKV, MemoryKV, StateTree
from jinglian.types import codec

BUILD_CHUNK_KEYS = 100_000
BATCH_SIZES = (1, 100, 1000)
KEYS_PER_SIZE = 5000
PROOFS = 5000


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def key(i: int) -> bytes:
    return b"acct/%d" % i


def value(i: int, version: int) -> bytes:
    return b"%d:%d:" % (i, version) + bytes(40)


def commit(kv: KV, writes: list[tuple[bytes, bytes]]) -> None:
    batch = Batch()
    batch.extend(writes)
    kv.write(batch)


def build(kv: KV, tree: StateTree, keys: int) -> tuple[bytes, float]:
    root, start = EMPTY_ROOT, time.perf_counter()
    for lo in range(0, keys, BUILD_CHUNK_KEYS):
        changes: dict[bytes, bytes | None] = {
            key(i): value(i, 0) for i in range(lo, min(keys, lo + BUILD_CHUNK_KEYS))
        }
        root, writes = tree.compute_update(root, changes)
        commit(kv, writes)
    return root, time.perf_counter() - start


def bench_updates(
    kv: KV, tree: StateTree, root: bytes, keys: int, size: int, rng: random.Random
) -> tuple[float, float]:
    """Median µs per key of compute_update, and of committing its writes, for batches of ``size``."""
    compute, store = [], []
    for version in range(1, max(2, KEYS_PER_SIZE // size) + 1):
        changes: dict[bytes, bytes | None] = {
            key(i): value(i, version) for i in rng.sample(range(keys), size)
        }
        t0 = time.process_time()
        new_root, writes = tree.compute_update(root, changes)
        compute.append((time.process_time() - t0) / size)
        t1 = time.perf_counter()
        commit(kv, writes)
        store.append((time.perf_counter() - t1) / size)
        root = new_root
    return statistics.median(compute), statistics.median(store)


def bench_proofs(tree: StateTree, root: bytes, keys: int, rng: random.Random) -> dict[str, float]:
    warm_up, for_proofs, for_gets = (
        [key(i) for i in rng.sample(range(keys), PROOFS)] for _ in range(3)
    )
    for k in warm_up:
        tree.prove(root, k)
    t0 = time.process_time()
    proofs = [tree.prove(root, k) for k in for_proofs]
    t1 = time.process_time()
    for k in for_gets:
        tree.get(root, k)
    t2 = time.process_time()
    values = [tree.get(root, k) for k in for_proofs]
    t3 = time.process_time()
    ok = [
        verify_state_proof(sha256, root, k, v, p)
        for k, v, p in zip(for_proofs, values, proofs, strict=True)
    ]
    t4 = time.process_time()
    assert all(ok)
    sizes = [len(codec.encode(encode_state_proof(p))) for p in proofs]
    return {
        "prove": (t1 - t0) / PROOFS,
        "get": (t2 - t1) / PROOFS,
        "verify": (t4 - t3) / PROOFS,
        "siblings": statistics.mean(len(p.siblings) for p in proofs),
        "proof_bytes": statistics.mean(sizes),
    }


def run(kv: KV, keys: int, label: str) -> None:
    rng = random.Random(keys)
    tree = StateTree(kv, sha256)
    root, build_s = build(kv, tree, keys)  # wall time
    # Move the built tree out of the collector's sight: a MemoryKV of 1M keys
    # is millions of Python objects, and full collections over them would be
    # measured as tree cost (LmdbKV keeps its data outside the Python heap).
    gc.collect()
    gc.freeze()
    print(f"\n## {keys:,} keys, {label}")
    print(
        f"build: {build_s:.1f} s ({build_s / keys * 1e6:.1f} µs per key, chunks of {BUILD_CHUNK_KEYS:,})"
    )
    print("| batch size | compute_update µs/key | commit writes µs/key |")
    print("|---|---|---|")
    for size in BATCH_SIZES:
        compute, store = bench_updates(kv, tree, root, keys, size, rng)
        print(f"| {size:,} | {compute * 1e6:.1f} | {store * 1e6:.1f} |")
    stats = bench_proofs(tree, root, keys, rng)
    print(
        f"prove {stats['prove'] * 1e6:.1f} µs, get {stats['get'] * 1e6:.1f} µs, "
        f"verify {stats['verify'] * 1e6:.1f} µs; mean {stats['siblings']:.1f} siblings, "
        f"{stats['proof_bytes']:.0f} bytes encoded"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, nargs="+", default=[10_000])
    parser.add_argument("--lmdb", type=Path, default=None, help="also run on LmdbKV under DIR")
    args = parser.parse_args()
    for keys in args.keys:
        run(MemoryKV(), keys, "MemoryKV")
        if args.lmdb is not None:
            with tempfile.TemporaryDirectory(dir=args.lmdb) as tmp, LmdbKV(Path(tmp) / "db") as kv:
                run(kv, keys, "LmdbKV")


if __name__ == "__main__":
    main()
