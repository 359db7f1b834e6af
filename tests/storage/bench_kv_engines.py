"""Measure LMDB against SQLite for jinglian's write pattern (ADR 0004).

Run: ``.venv/bin/python tests/storage/bench_kv_engines.py [--batches N] [--dir DIR]``

Each engine commits batches of 1,000 puts of 100-byte values under random
32-byte keys (the shape of state-tree nodes), every commit flushed to disk:
LMDB with its default durable flags (data pages fsync'd, then the meta page),
SQLite (stdlib ``sqlite3``) in WAL mode with ``synchronous=FULL``. Reported:
median time to stage a batch and to commit it, per batch and per key, and
the median time of a random point read. Not collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lmdb

from jinglian.storage import Batch, LmdbKV

KEYS_PER_BATCH = 1000
VALUE_BYTES = 100
KEY_BYTES = 32
READS = 20_000

Items = list[tuple[bytes, bytes]]


def make_batches(count: int, seed: int = 1) -> list[Items]:
    rng = random.Random(seed)
    return [
        [(rng.randbytes(KEY_BYTES), rng.randbytes(VALUE_BYTES)) for _ in range(KEYS_PER_BATCH)]
        for _ in range(count)
    ]


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_lmdb_raw(path: Path, batches: list[Items]) -> tuple[list[float], list[float]]:
    env = lmdb.open(str(path), map_size=1 << 30, sync=True, metasync=True, readahead=False)
    stage, commit = [], []
    for items in batches:
        t0 = time.perf_counter()
        txn = env.begin(write=True)
        for key, value in items:
            txn.put(key, value)
        t1 = time.perf_counter()
        txn.commit()
        t2 = time.perf_counter()
        stage.append(t1 - t0)
        commit.append(t2 - t1)
    env.close()
    return stage, commit


def bench_lmdb_kv(path: Path, batches: list[Items]) -> list[float]:
    """Through jinglian's LmdbKV: one ``write`` (stage and commit) per prebuilt Batch."""
    kv = LmdbKV(path)
    writes = []
    for items in batches:
        batch = Batch()
        batch.extend(items)
        writes.append(timed(lambda b=batch: kv.write(b)))  # type: ignore[misc]
    kv.close()
    return writes


def open_sqlite(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID"
    )
    return conn


def bench_sqlite(path: Path, batches: list[Items]) -> tuple[list[float], list[float]]:
    conn = open_sqlite(path)
    stage, commit = [], []
    for items in batches:
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", items)
        t1 = time.perf_counter()
        conn.execute("COMMIT")
        t2 = time.perf_counter()
        stage.append(t1 - t0)
        commit.append(t2 - t1)
    conn.close()
    return stage, commit


def read_keys(batches: list[Items]) -> list[bytes]:
    rng = random.Random(2)
    keys = [key for items in batches for key, _ in items]
    return [rng.choice(keys) for _ in range(READS)]


def bench_reads(path_lmdb: Path, path_sqlite: Path, keys: list[bytes]) -> dict[str, float]:
    kv = LmdbKV(path_lmdb)
    results = {"LmdbKV.get (own read txn)": timed(lambda: [kv.get(k) for k in keys])}
    with kv.snapshot() as snap:
        results["LmdbKV snapshot.get"] = timed(lambda: [snap.get(k) for k in keys])
    kv.close()
    conn = open_sqlite(path_sqlite)
    select = "SELECT v FROM kv WHERE k = ?"
    results["sqlite3 SELECT"] = timed(lambda: [conn.execute(select, (k,)).fetchone() for k in keys])
    conn.close()
    return {name: seconds / len(keys) for name, seconds in results.items()}


def bench_fsync(path: Path, count: int = 50) -> float:
    """Median cost of writing 4 KiB and fsync'ing it: the floor under any durable commit."""
    samples = []
    with open(path, "wb") as f:
        for _ in range(count):
            f.write(os.urandom(4096))
            f.flush()
            samples.append(timed(lambda: os.fsync(f.fileno())))
    return statistics.median(samples)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def row(name: str, stage: list[float], commit: list[float]) -> str:
    s, c = statistics.median(stage), statistics.median(commit)
    total = s + c
    per_key = total / KEYS_PER_BATCH
    return f"| {name} | {us(s)} | {us(c)} | {us(total)} | {us(per_key)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    batches = make_batches(args.batches)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        raw = bench_lmdb_raw(root / "lmdb-raw", batches)
        wrapped = bench_lmdb_kv(root / "lmdb-kv", batches)
        sqlite = bench_sqlite(root / "sqlite.db", batches)
        reads = bench_reads(root / "lmdb-kv", root / "sqlite.db", read_keys(batches))
        fsync = bench_fsync(root / "fsync.bin")
    print(f"{args.batches} batches x {KEYS_PER_BATCH} puts x {VALUE_BYTES} B values, medians (µs)")
    print("| engine | stage batch | commit (fsync) | batch total | per key |")
    print("|---|---|---|---|---|")
    print(row("LMDB (py-lmdb, sync+metasync)", *raw))
    print(
        f"| LmdbKV.write (stage + commit) | | | {us(statistics.median(wrapped))} | "
        f"{us(statistics.median(wrapped) / KEYS_PER_BATCH)} |"
    )
    print(row("SQLite WAL, synchronous=FULL", *sqlite))
    print(f"\nfsync of a 4 KiB write: {us(fsync)} µs")
    print(f"\nrandom point reads over {args.batches * KEYS_PER_BATCH:,} keys (µs per read)")
    for name, seconds in reads.items():
        print(f"- {name}: {us(seconds)}")


if __name__ == "__main__":
    main()
