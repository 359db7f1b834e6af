"""The workloads of ``jinglian bench``: what each transaction (or query) calls.

A ``Workload`` names the contract call, how to make one call's arguments from
a seeded random source (a module-level function, so signing worker processes
can import it), how many evidence digests one transaction carries, and which
contract it needs deployed. ``query`` sends no transactions: it asks
``kv.get`` of keys written during set-up.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinglian.testing.loadgen.signing import MakeArgs, kv_set_args
from jinglian.types.errors import ConfigError, InvalidInput

__all__ = [
    "CPU_ROUNDS",
    "EVIDENCE_BATCH_ITEMS",
    "EXAMPLE_CONTRACTS",
    "QUERY_KEYS",
    "WORKLOADS",
    "Workload",
    "cpu_work_args",
    "evidence_args",
    "get_workload",
    "kv_get_body",
    "read_contract_source",
]

EVIDENCE_BATCH_ITEMS = 100
"""Digests per transaction of ``evidence-batch``."""
CPU_ROUNDS = 100
"""Rounds of ``cpu.work`` per ``contract-cpu`` transaction (2,425 gas, about 0.4 ms of contract
time on the reference machine)."""
QUERY_KEYS = 1000
"""Keys ``query`` writes during set-up and then reads at random."""
EXAMPLE_CONTRACTS = Path(__file__).resolve().parents[3] / "examples" / "contracts"
"""Where the sources of ``kv`` and ``cpu`` are (the repository's ``examples/contracts``)."""


@dataclass(frozen=True, slots=True)
class Workload:
    """One kind of load."""

    name: str
    """Its ``--workload`` name."""
    summary: str
    """One line for ``--help`` and the report."""
    contract: str
    """The contract called (deployed during set-up if missing)."""
    method: str
    make_args: MakeArgs
    """Arguments of one call from a seeded random source; module-level, so it pickles."""
    digests_per_tx: int = 0
    """Evidence digests one transaction deposits (0: not an evidence workload)."""
    source: str | None = None
    """File in ``EXAMPLE_CONTRACTS`` to deploy the contract from (``None``: the evidence app)."""
    is_query: bool = False
    """Sends ``POST /query`` requests, not transactions."""


def evidence_args(rng: random.Random, items: int) -> dict[str, Any]:
    """A deposit of ``items`` random SHA-256 digests with empty title, type and reference."""
    return {
        "items": [
            {"digest": rng.randbytes(32), "alg": "sha256", "title": "", "type": "", "ref": ""}
            for _ in range(items)
        ]
    }


def cpu_work_args(rng: random.Random) -> dict[str, Any]:
    """``cpu.work`` of a random seed for ``CPU_ROUNDS`` rounds."""
    return {"seed": rng.getrandbits(62), "rounds": CPU_ROUNDS}


def kv_get_body(key: str) -> bytes:
    """The ``POST /query`` body of ``kv.get(key)``."""
    return b'{"contract":"kv","method":"get","args":{"key":"' + key.encode() + b'"}}'


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("kv", "kv.set of a random 20-character key", "kv", "set", kv_set_args, 0, "kv.py"),
        Workload(
            "evidence",
            "one evidence deposit (one digest) per transaction",
            "evidence",
            "deposit",
            functools.partial(evidence_args, items=1),
            1,
        ),
        Workload(
            "evidence-batch",
            f"{EVIDENCE_BATCH_ITEMS} evidence digests per transaction",
            "evidence",
            "deposit",
            functools.partial(evidence_args, items=EVIDENCE_BATCH_ITEMS),
            EVIDENCE_BATCH_ITEMS,
        ),
        Workload(
            "contract-cpu",
            f"cpu.work: {CPU_ROUNDS} rounds of 64-bit integer mixing, one state write",
            "cpu",
            "work",
            cpu_work_args,
            0,
            "cpu.py",
        ),
        Workload(
            "query",
            f"POST /query kv.get of one of {QUERY_KEYS} keys written first",
            "kv",
            "get",
            kv_set_args,
            0,
            "kv.py",
            is_query=True,
        ),
    )
}
"""Every workload by name."""


def get_workload(name: str) -> Workload:
    """The workload called ``name``; ``InvalidInput`` naming the known ones otherwise."""
    workload = WORKLOADS.get(name)
    if workload is None:
        raise InvalidInput(f"unknown workload {name!r}: use one of {', '.join(WORKLOADS)}")
    return workload


def read_contract_source(workload: Workload) -> str:
    """The source to deploy ``workload.contract`` from; ``ConfigError`` if it is not there."""
    assert workload.source is not None, "the evidence workloads deploy through the evidence app"
    path = EXAMPLE_CONTRACTS / workload.source
    try:
        return path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the {workload.contract!r} contract for workload {workload.name!r} "
            f"from {path}: {exc.strerror}; run from a jinglian source checkout"
        ) from exc
