"""The evidence figures of ``docs/benchmarks.md``: deposit many digests on a four-validator devnet.

Method::

    python -m jinglian.testing.evidence_bench --digests 1000000 --per-tx 500

1. ``jinglian devnet up --nodes 4 --detach`` in a fresh directory (which also
   deploys the evidence contract).
2. Before anything is timed, ``digests / per-tx`` ``evidence.deposit``
   transactions (random 32-byte digests, empty title, type and ref: the
   smallest deposit) are signed by ``org1/client`` in worker processes.
3. They are submitted to node1, 16 per ``/txs/batch`` request (under the
   1 MiB body limit), a ``busy`` answer retried after a pause; the clock runs
   from the first submission to the commit of the last transaction.
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
import multiprocessing
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinglian.apps.evidence import fetch_receipt, verify_receipt
from jinglian.client import Client, Identity, load_genesis
from jinglian.testing.process import find_free_ports
from jinglian.types.errors import Busy

__all__ = ["main"]

REQUEST_TXS = 16
"""Transactions per ``/txs/batch`` request."""
BUSY_PAUSE_S = 0.05
VERIFY_RUNS = 50
LOOKUPS = 100
EXPIRY_S = 590


def _sign(job: tuple[str, str, int, int, int]) -> list[tuple[str, bytes, list[bytes]]]:
    net_dir, chain_id, count, per_tx, seed = job
    identity = Identity.from_network(net_dir, "org1/client")
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        digests = [rng.randbytes(32) for _ in range(per_tx)]
        items = [
            {"digest": d, "alg": "sha256", "title": "", "type": "", "ref": ""} for d in digests
        ]
        tx = identity.sign_tx(chain_id, "evidence", "deposit", {"items": items}, expiry_s=EXPIRY_S)
        out.append((tx.id.hex(), tx.encoded, digests[:2]))
    return out


def _presign(net: Path, chain_id: str, txs: int, per_tx: int, workers: int) -> list[Any]:
    seed = random.SystemRandom().getrandbits(48)
    sizes = [txs // workers + (1 if i < txs % workers else 0) for i in range(workers)]
    jobs = [(str(net), chain_id, n, per_tx, seed + i) for i, n in enumerate(sizes) if n]
    with multiprocessing.get_context("spawn").Pool(len(jobs)) as pool:
        return [tx for chunk in pool.map(_sign, jobs) for tx in chunk]


def _submit_all(client: Client, signed: list[Any]) -> None:
    pending = list(range(len(signed)))
    while pending:
        chunk, pending = pending[:REQUEST_TXS], pending[REQUEST_TXS:]
        body = {"txs": [base64.b64encode(signed[i][1]).decode() for i in chunk]}
        answer = client.call_api("POST", "/txs/batch", body=body, timeout=60)
        retry = [
            i
            for i, result in zip(chunk, answer["results"], strict=True)
            if "error" in result and result["error"]["code"] == Busy.code
        ]
        failed = [
            r["error"]
            for r in answer["results"]
            if "error" in r and r["error"]["code"] != Busy.code
        ]
        if failed:
            raise RuntimeError(f"transactions refused: {failed[:3]}")
        if retry:
            pending = retry + pending
            time.sleep(BUSY_PAUSE_S)


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.dir or tempfile.mkdtemp(prefix="evidence-bench-"))
    net = work / "net"
    api, p2p = find_free_ports(4), find_free_ports(4)
    jinglian = [sys.executable, "-m", "jinglian.cli"]
    subprocess.run(
        [
            *jinglian,
            "devnet",
            "up",
            "--nodes",
            "4",
            "--dir",
            str(net),
            "--detach",
            "--api-port",
            str(api),
            "--p2p-port",
            str(p2p),
            "--crypto",
            args.crypto,
        ],
        check=True,
        capture_output=True,
    )
    try:
        genesis = load_genesis(net / "genesis.json")
        txs = args.digests // args.per_tx
        t_sign = time.perf_counter()
        signed = _presign(net, genesis.chain_id, txs, args.per_tx, args.workers)
        sign_s = time.perf_counter() - t_sign
        data_before = _du(net / "nodes" / "node1" / "data")
        with Client.from_network(net, identity=None) as client:
            height_before = client.chain_info()["height"]
            t0 = time.perf_counter()
            _submit_all(client, signed)
            submitted_s = time.perf_counter() - t0
            for tx_id, _, _ in signed:
                client.wait_tx(tx_id, timeout=600)
            elapsed = time.perf_counter() - t0
            height_after = client.chain_info()["height"]
            figures = _after(client, signed, genesis, net, data_before, txs * args.per_tx)
    finally:
        if not args.keep:
            subprocess.run(
                [*jinglian, "devnet", "down", "--dir", str(net)], capture_output=True, check=False
            )
    return {
        "digests": txs * args.per_tx,
        "per_tx": args.per_tx,
        "txs": txs,
        "crypto": args.crypto,
        "sign_s": round(sign_s, 1),
        "submit_s": round(submitted_s, 1),
        "elapsed_s": round(elapsed, 1),
        "digests_per_s": round(txs * args.per_tx / elapsed),
        "blocks": height_after - height_before,
        **figures,
    }


def _after(
    client: Client, signed: list[Any], genesis: Any, net: Path, data_before: int, digests: int
) -> dict[str, Any]:
    rng = random.Random(7)
    tx_id, _, firsts = rng.choice(signed)
    receipt = fetch_receipt(client, f"{tx_id}:0")
    receipt_bytes = len(json.dumps(receipt, indent=1)) + 1
    times = []
    for _ in range(VERIFY_RUNS):
        t = time.perf_counter()
        verify_receipt(receipt, genesis, firsts[0])
        times.append(time.perf_counter() - t)
    lookups = []
    for _ in range(LOOKUPS):
        _, _, picks = rng.choice(signed)
        t = time.perf_counter()
        found = client.call_api("GET", f"/evidence/deposits/{picks[1].hex()}")
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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crypto", choices=["default", "gm"], default="default")
    parser.add_argument("--dir", help="Work directory (default: a new temporary one).")
    parser.add_argument("--keep", action="store_true", help="Leave the devnet running.")
    print(json.dumps(run(parser.parse_args(argv)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
