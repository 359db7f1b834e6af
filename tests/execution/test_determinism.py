"""Outcomes never depend on the hash seed: the same scenario in three processes, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from jinglian.types.codec import decode

SCRIPT = Path(__file__).with_name("determinism_run.py")
HASH_SEEDS = ("0", "1", "2718281828")
SECONDS_MAX = 120


def run_with_seed(seed: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_outcomes_are_identical_under_different_hash_seeds() -> None:
    processes = [run_with_seed(seed) for seed in HASH_SEEDS]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=SECONDS_MAX)
        assert process.returncode == 0, stderr.decode()
        outputs.append(stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    outcomes = decode(bytes.fromhex(outputs[0].decode()), len(outputs[0]))
    assert isinstance(outcomes, list)
    codes = [entry[1] for entry in outcomes[:-1] if isinstance(entry, list) and entry[0] == "error"]
    assert codes == ["contract_failed", "out_of_gas", "contract_failed", "sandbox_violation"]
