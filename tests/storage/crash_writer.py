"""Writer process for the kill -9 test: numbered batches into an LmdbKV, forever.

Batch ``n`` holds ``count(n)`` records ``b"r" + n + i`` (``count`` comes from a
seeded generator, so every batch differs in size), a record count
``b"c" + n``, moves the single ``b"t"`` tombstone-test key from ``n - 1`` to
``n`` (a delete plus a put), and sets ``b"last" = n``. It starts after the
last batch it finds, so repeated kills exercise recovery of recovered stores.
The map starts tiny so that growth (a remap) also happens under fire.
"""

from __future__ import annotations

import random
import sys

from jinglian.storage import Batch, LmdbKV

RECORDS_PER_BATCH_MAX = 300
MAP_SIZE_INITIAL_BYTES = 64 * 1024


def number(n: int) -> bytes:
    return n.to_bytes(8, "big")


def make_batch(n: int, rng: random.Random) -> Batch:
    batch = Batch()
    count = rng.randint(1, RECORDS_PER_BATCH_MAX)
    for i in range(count):
        batch.put(b"r" + number(n) + i.to_bytes(2, "big"), rng.randbytes(rng.randint(50, 150)))
    batch.put(b"c" + number(n), number(count))
    if n > 0:
        batch.delete(b"t" + number(n - 1))
    batch.put(b"t" + number(n), b"")
    batch.put(b"last", number(n))
    return batch


def main() -> None:
    path, seed = sys.argv[1], int(sys.argv[2])
    kv = LmdbKV(path, map_size_bytes=MAP_SIZE_INITIAL_BYTES)
    last = kv.get(b"last")
    n = 0 if last is None else int.from_bytes(last, "big") + 1
    rng = random.Random(seed)
    print("ready", n, flush=True)
    while True:
        kv.write(make_batch(n, rng))
        n += 1


if __name__ == "__main__":
    main()
