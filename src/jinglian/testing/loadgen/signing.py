"""Step 1, pre-signing: ``kv.set`` transactions signed in worker processes before the run."""

from __future__ import annotations

import base64
import multiprocessing
import random
from pathlib import Path
from typing import Any

from jinglian.client.identity import Identity

__all__ = ["EXPIRY_S", "kv_set_args", "presign"]

EXPIRY_S = 590
"""Validity of each pre-signed transaction (the chain allows at most 600 s)."""


def kv_set_args(rng: random.Random) -> dict[str, Any]:
    """Arguments of a typical ``kv.set``: random 20-character key, 32-character string value."""
    return {"key": f"k-{rng.getrandbits(72):018x}", "value": f"{rng.getrandbits(128):032x}"}


def _sign_chunk(job: tuple[str, str, str, int, int, bool]) -> list[tuple[bytes, bytes]]:
    """Worker: sign ``count`` transactions; (tx id, base64 of the wire bytes) each."""
    net_dir, identity_name, chain_id, count, seed, by_id = job
    identity = Identity.from_network(net_dir, identity_name)
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        tx = identity.sign_tx(
            chain_id,
            "kv",
            "set",
            kv_set_args(rng),
            expiry_s=EXPIRY_S,
            nonce=rng.randbytes(16),
            include_cert=not by_id,
        )
        out.append((tx.id, base64.b64encode(tx.encoded)))
    return out


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
    chunks = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    jobs = [
        (str(net_dir), identity_name, chain_id, n, seed + i, by_id)
        for i, n in enumerate(chunks)
        if n
    ]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        results = pool.map(_sign_chunk, jobs)
    return [item for chunk in results for item in chunk]
