"""The evidence figures of ``docs/benchmarks.md``: deposit many digests on a four-validator devnet.

Method::

    python -m jinglian.testing.evidence_bench --digests 1000000 --per-tx 500

1. ``jinglian devnet up --nodes 4 --detach`` in a fresh directory (which also
   deploys the evidence contract).
2. ``digests / per-tx`` ``evidence.deposit`` transactions (random 32-byte
   digests, empty title, type and ref: the smallest deposit) are signed by
   ``org1/client`` 16 at a time and submitted to node1 in one ``/txs/batch``
   request (under the 1 MiB body limit), a ``busy`` answer retried after a
   pause, with at most ``--ahead`` transactions submitted and not yet
   committed (a transaction may wait at most 10 minutes before it expires,
   so a million digests cannot all be signed first). The clock runs from the
   first submission to the commit of the last transaction; the generator's
   signing CPU time is reported beside it.
4. Then: the size of one receipt as ``jinglian evidence put`` writes it; the
   median time of ``verify_receipt`` over 50 runs; the p50/p95 time of
   ``GET /evidence/deposits/{digest}`` over 100 random deposited digests; the
   bytes node1's data directory holds per deposit.

Prints one JSON object. The devnet is stopped at the end (``--keep`` leaves it).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinglian.apps.evidence import fetch_receipt, verify_receipt
from jinglian.client import Client, Identity, load_genesis
from jinglian.testing.process import detached_devnet
from jinglian.types.errors import Busy

__all__ = ["main"]

REQUEST_TXS = 16
"""Transactions per ``/txs/batch`` request."""
BUSY_PAUSE_S = 0.05
VERIFY_RUNS = 50
LOOKUPS = 100
EXPIRY_S = 590


class _Signer:
    """Signs deposit transactions of random digests, keeping a sample of the digests."""

    def __init__(self, net: Path, chain_id: str, per_tx: int) -> None:
        self.identity = Identity.from_network(net, "org1/client")
        self.chain_id = chain_id
        self.per_tx = per_tx
        self.rng = random.Random(random.SystemRandom().getrandbits(48))
        self.sample: list[tuple[str, bytes]] = []
        """(tx id hex, its first digest) of every transaction."""
        self.cpu_s = 0.0

    def sign(self, count: int) -> list[tuple[str, bytes]]:
        started = time.process_time()
        out = []
        for _ in range(count):
            digests = [self.rng.randbytes(32) for _ in range(self.per_tx)]
            items = [
                {"digest": d, "alg": "sha256", "title": "", "type": "", "ref": ""} for d in digests
            ]
            tx = self.identity.sign_tx(
                self.chain_id, "evidence", "deposit", {"items": items}, expiry_s=EXPIRY_S
            )
            out.append((tx.id.hex(), tx.encoded))
            self.sample.append((tx.id.hex(), digests[0]))
        self.cpu_s += time.process_time() - started
        return out


def _submit(client: Client, wave: list[tuple[str, bytes]]) -> None:
    pending = wave
    while pending:
        body = {"txs": [base64.b64encode(data).decode() for _, data in pending]}
        answer = client.call_api("POST", "/txs/batch", body=body, timeout=60)
        retry = []
        for tx, result in zip(pending, answer["results"], strict=True):
            error = result.get("error")
            if error is not None and error["code"] == Busy.code:
                retry.append(tx)
            elif error is not None:
                raise RuntimeError(f"transaction refused: {error}")
        pending = retry
        if retry:
            time.sleep(BUSY_PAUSE_S)


def _run_load(client: Client, signer: _Signer, txs: int, ahead: int) -> None:
    """Sign and submit ``txs`` deposits, at most ``ahead`` uncommitted at a time (so none
    waits in the pool long enough to expire), until the last one commits."""
    outstanding: deque[str] = deque()
    left = txs
    while left:
        wave = signer.sign(min(REQUEST_TXS, left))
        left -= len(wave)
        while len(outstanding) + len(wave) > ahead:
            client.wait_tx(outstanding.popleft(), timeout=600)
        _submit(client, wave)
        outstanding.extend(tx_id for tx_id, _ in wave)
    while outstanding:
        client.wait_tx(outstanding.popleft(), timeout=600)


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.dir or tempfile.mkdtemp(prefix="evidence-bench-"))
    net = work / "net"
    with detached_devnet(net, 4, args.crypto, keep=args.keep):
        genesis = load_genesis(net / "genesis.json")
        txs = args.digests // args.per_tx
        signer = _Signer(net, genesis.chain_id, args.per_tx)
        data_before = _du(net / "nodes" / "node1" / "data")
        with Client.from_network(net, identity=None) as client:
            height_before = client.chain_info()["height"]
            t0 = time.perf_counter()
            _run_load(client, signer, txs, args.ahead)
            elapsed = time.perf_counter() - t0
            height_after = client.chain_info()["height"]
            figures = _after(client, signer.sample, genesis, net, data_before, txs * args.per_tx)
    return {
        "digests": txs * args.per_tx,
        "per_tx": args.per_tx,
        "txs": txs,
        "crypto": args.crypto,
        "generator_sign_cpu_s": round(signer.cpu_s, 1),
        "elapsed_s": round(elapsed, 1),
        "digests_per_s": round(txs * args.per_tx / elapsed),
        "blocks": height_after - height_before,
        **figures,
    }


def _after(
    client: Client,
    sample: list[tuple[str, bytes]],
    genesis: Any,
    net: Path,
    data_before: int,
    digests: int,
) -> dict[str, Any]:
    rng = random.Random(7)
    tx_id, first = rng.choice(sample)
    receipt = fetch_receipt(client, f"{tx_id}:0")
    receipt_bytes = len(json.dumps(receipt, indent=1)) + 1
    times = []
    for _ in range(VERIFY_RUNS):
        t = time.perf_counter()
        verify_receipt(receipt, genesis, first)
        times.append(time.perf_counter() - t)
    lookups = []
    for _ in range(LOOKUPS):
        _, digest = rng.choice(sample)
        t = time.perf_counter()
        found = client.call_api("GET", f"/evidence/deposits/{digest.hex()}")
        lookups.append(time.perf_counter() - t)
        assert len(found["deposits"]) == 1, "each random digest was deposited once"
    lookups.sort()
    data_after = _du(net / "nodes" / "node1" / "data")
    return {
        "receipt_bytes": receipt_bytes,
        "verify_ms_median": round(statistics.median(times) * 1000, 2),
        "lookup_ms_p50": round(lookups[len(lookups) // 2] * 1000, 2),
        "lookup_ms_p95": round(lookups[int(len(lookups) * 0.95)] * 1000, 2),
        "node1_data_bytes": data_after,
        "disk_bytes_per_deposit": round((data_after - data_before) / digests, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(prog="python -m jinglian.testing.evidence_bench")
    parser.add_argument("--digests", type=int, default=1_000_000)
    parser.add_argument("--per-tx", type=int, default=500)
    parser.add_argument(
        "--ahead", type=int, default=64, help="Most submitted, uncommitted transactions."
    )
    parser.add_argument("--crypto", choices=["default", "gm"], default="default")
    parser.add_argument("--dir", help="Work directory (default: a new temporary one).")
    parser.add_argument("--keep", action="store_true", help="Leave the devnet running.")
    print(json.dumps(run(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
