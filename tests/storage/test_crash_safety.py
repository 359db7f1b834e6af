"""LmdbKV survives kill -9 at any instant: the last batch is whole or absent."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jinglian.storage import LmdbKV

KILLS = 10
KILL_DELAY_S_MAX = 0.25
WRITER = Path(__file__).with_name("crash_writer.py")


def run_and_kill(path: Path, seed: int, delay_s: float) -> int:
    """Start the writer, SIGKILL it ``delay_s`` after it is ready; its starting batch number."""
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline().split()
    assert ready[:1] == ["ready"], f"writer did not start: {ready}"
    time.sleep(delay_s)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return int(ready[1])


def check_store(path: Path) -> int:
    """Assert batches 0..last are all complete and nothing later exists; return last (-1: none)."""
    with LmdbKV(path, map_size_bytes=64 * 1024, readonly=True) as kv:
        raw = kv.get(b"last")
        last = -1 if raw is None else int.from_bytes(raw, "big")
        counts = [int.from_bytes(v, "big") for _, v in kv.iterate(b"c")]
        assert len(counts) == last + 1, "batch numbers are not contiguous"
        assert [k for k, _ in kv.iterate(b"c")] == [
            b"c" + n.to_bytes(8, "big") for n in range(last + 1)
        ]
        for n, count in enumerate(counts):
            records = sum(1 for _ in kv.iterate(b"r" + n.to_bytes(8, "big")))
            assert records == count, f"batch {n} has {records} of {count} records"
        assert sum(1 for _ in kv.iterate(b"r")) == sum(counts), "records beyond the last batch"
        tombstones = [k for k, _ in kv.iterate(b"t")]
        expected = [] if last < 0 else [b"t" + last.to_bytes(8, "big")]
        assert tombstones == expected, "a batch's delete and put were split"
    return last


@pytest.mark.slow
def test_last_batch_is_complete_or_absent_after_kill_9(tmp_path: Path) -> None:
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    path = tmp_path / "db"
    last = -1
    for kill in range(KILLS):
        started = run_and_kill(path, seed + kill, rng.uniform(0, KILL_DELAY_S_MAX))
        assert started == last + 1, f"seed {seed}: writer restarted at {started}, last was {last}"
        last = check_store(path)
        assert last >= started - 1, f"seed {seed}: committed batches were lost"
    assert last > 0, f"seed {seed}: the writer never committed"
