"""Step 1, pre-signing: transactions signed in worker processes before the run.

``presign`` signs ``kv.set`` calls by default; any contract call works, given
a module-level function ``make_args(rng)`` (or a ``functools.partial`` of
one) that worker processes can import. ``SignJob`` is one worker's share, and
``sign_jobs`` splits a count into shares for a pool the caller may keep open
(``jinglian bench`` signs long runs in segments on one pool).
"""

from __future__ import annotations

import base64
import dataclasses
import multiprocessing
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinglian.client.identity import Identity

__all__ = ["EXPIRY_S", "SignJob", "kv_set_args", "presign", "sign_chunk", "sign_jobs"]

EXPIRY_S = 590
"""Validity of each pre-signed transaction (the chain allows at most 600 s)."""

MakeArgs = Callable[[random.Random], dict[str, Any]]
"""Arguments of one call from a seeded random source; must pickle (module-level)."""


def kv_set_args(rng: random.Random) -> dict[str, Any]:
    """Arguments of a typical ``kv.set``: random 20-character key, 32-character string value."""
    return {"key": f"k-{rng.getrandbits(72):018x}", "value": f"{rng.getrandbits(128):032x}"}


@dataclass(frozen=True, slots=True)
class SignJob:
    """One worker's share of a signing run."""

    net_dir: str
    """Network directory holding the identity's key and certificate."""
    identity: str
    """Signing identity, e.g. ``org1/client``."""
    chain_id: str
    count: int
    """Transactions to sign."""
    seed: int
    """Seed of this share's keys, values and nonces."""
    by_id: bool = False
    """Cite the certificate by id (it must be registered on chain first)."""
    contract: str = "kv"
    method: str = "set"
    make_args: MakeArgs = kv_set_args


def sign_chunk(job: SignJob) -> list[tuple[bytes, bytes]]:
    """Worker: sign ``job.count`` transactions; (tx id, base64 of the wire bytes) each."""
    identity = Identity.from_network(job.net_dir, job.identity)
    rng = random.Random(job.seed)
    out = []
    for _ in range(job.count):
        tx = identity.sign_tx(
            job.chain_id,
            job.contract,
            job.method,
            job.make_args(rng),
            expiry_s=EXPIRY_S,
            nonce=rng.randbytes(16),
            include_cert=not job.by_id,
        )
        out.append((tx.id, base64.b64encode(tx.encoded)))
    return out


def sign_jobs(template: SignJob, count: int, workers: int) -> list[SignJob]:
    """``count`` transactions split into at most ``workers`` jobs like ``template`` (seeds differ)."""
    chunks = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    return [
        dataclasses.replace(template, count=n, seed=template.seed + i)
        for i, n in enumerate(chunks)
        if n
    ]


def presign(
    net_dir: Path,
    identity_name: str,
    chain_id: str,
    count: int,
    workers: int,
    by_id: bool = False,
    seed: int | None = None,
) -> list[tuple[bytes, bytes]]:
    """``count`` signed ``kv.set`` transactions as (tx id, base64 wire bytes), signed in ``workers`` processes."""
    seed = random.SystemRandom().getrandbits(64) if seed is None else seed
    template = SignJob(str(net_dir), identity_name, chain_id, 0, seed, by_id)
    jobs = sign_jobs(template, count, workers)
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        results = pool.map(sign_chunk, jobs)
    return [item for chunk in results for item in chunk]
