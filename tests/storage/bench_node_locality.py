"""Why state-tree node keys carry a group prefix (ADR 0005): LMDB write locality.

Run: ``.venv/bin/python tests/storage/bench_node_locality.py [--entries N]``

Fills an LMDB environment with N random node-shaped entries (41-byte keys,
65-byte values), then times one write transaction of 2,000 and of 20,000
new 81-byte nodes, with fully random keys versus keys sharing one random
8-byte prefix (the nodes of one update). Each timed transaction includes its
durable commit, as in ``LmdbKV``. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

import lmdb

FILL_CHUNK = 200_000
GROUP_BYTES = 8
HASH_BYTES = 32


def fill(env: lmdb.Environment, entries: int, rng: random.Random) -> None:
    for lo in range(0, entries, FILL_CHUNK):
        with env.begin(write=True) as txn:
            for _ in range(min(FILL_CHUNK, entries - lo)):
                key = b"n" + rng.randbytes(GROUP_BYTES) + rng.randbytes(HASH_BYTES)
                txn.put(key, rng.randbytes(65))


def time_write(env: lmdb.Environment, nodes: int, grouped: bool, rng: random.Random) -> float:
    group = rng.randbytes(GROUP_BYTES)
    items = [
        (
            b"n" + (group if grouped else rng.randbytes(GROUP_BYTES)) + rng.randbytes(HASH_BYTES),
            rng.randbytes(81),
        )
        for _ in range(nodes)
    ]
    start = time.perf_counter()
    with env.begin(write=True) as txn:
        for key, value in items:
            txn.put(key, value)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=2_000_000)
    args = parser.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        env = lmdb.open(tmp, map_size=1 << 33, readahead=False, sync=True, metasync=True)
        fill(env, args.entries, rng)
        print(f"{args.entries:,} entries; µs per node written in one transaction")
        for trial in range(3):
            for grouped in (False, True):
                for nodes in (2_000, 20_000):
                    seconds = time_write(env, nodes, grouped, rng)
                    label = "grouped" if grouped else "random "
                    print(f"trial {trial} {label} {nodes:>6,} nodes: {seconds / nodes * 1e6:.1f}")
        env.close()


if __name__ == "__main__":
    main()
