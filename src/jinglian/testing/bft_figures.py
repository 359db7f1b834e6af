"""``python -m jinglian.testing.bft_figures {recovery,sync}``: BFT fault figures on real processes.

Both build a fresh four-validator ``tbft`` network in a temporary directory,
run each node as its own process (as ``jinglian node start`` does) and print
one JSON object.

- ``recovery``: a client commits ``kv.set`` transactions one after another
  through node1 while node ``--victim`` is SIGKILLed; reported: the longest
  wait for a commit before the kill (steady state), the time from the kill to
  the first commit after it, and the longest wait after it. Repeated
  ``--kills`` times, killing each validator but node1 in turn and restarting it.
- ``sync``: ``--txs`` kv.set transactions are committed (pre-signed, in
  batches), then node4 is stopped, its data directory wiped and the node
  restarted; reported: the time until it holds the same head as node1, with
  blocks/s and tx/s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jinglian.client import Client, Identity
from jinglian.node.init import create_network
from jinglian.testing.process import NodeProcess, find_free_ports

__all__ = ["main", "measure_recovery", "measure_sync"]

KV = Path(__file__).resolve().parents[3] / "examples" / "contracts" / "kv.py"


def _start_network(root: Path) -> list[NodeProcess]:
    create_network(root, 4, api_port=find_free_ports(4), p2p_port=find_free_ports(4))
    nodes = [NodeProcess(root / "nodes" / f"node{i}") for i in range(1, 5)]
    for node in nodes:
        node.start()
    admin = Client.from_network(root, "org1/admin")
    admin.invoke("contracts", "deploy", {"name": "kv", "source": _kv_source()}, timeout=60)
    return nodes


def _kv_source() -> str:
    if KV.is_file():
        return KV.read_text()
    raise SystemExit(f"example contract not found at {KV}")


def measure_recovery(root: Path, kills: int, commits_around: int) -> dict[str, Any]:
    """Kill validators 2..4 in turn under a closed-loop client; time the commit gaps."""
    nodes = _start_network(root)
    client = Client.from_network(root, "org1/client")
    runs = []
    try:
        for i in range(kills):
            victim = nodes[1 + i % 3]
            before = _commit_gaps(client, commits_around, f"b{i}")
            killed_at = time.monotonic()
            victim.kill(signal.SIGKILL)
            client.invoke("kv", "set", {"key": f"k{i}", "value": i}, timeout=60)
            first_after = time.monotonic() - killed_at
            after = _commit_gaps(client, commits_around, f"a{i}")
            runs.append(
                {
                    "victim": victim.node_dir.name,
                    "steady_gap_ms_max": round(max(before) * 1000, 1),
                    "first_commit_after_kill_ms": round(first_after * 1000, 1),
                    "gap_ms_max_after": round(max(after) * 1000, 1),
                }
            )
            victim.start()
    finally:
        for node in nodes:
            node.close()
    return {"figure": "recovery", "runs": runs}


def _commit_gaps(client: Client, count: int, tag: str) -> list[float]:
    gaps = []
    for j in range(count):
        started = time.monotonic()
        client.invoke("kv", "set", {"key": f"{tag}-{j}", "value": j}, timeout=60)
        gaps.append(time.monotonic() - started)
    return gaps


def measure_sync(root: Path, txs: int) -> dict[str, Any]:
    """Fill a chain, wipe node4 and time its block sync back to the head."""
    nodes = _start_network(root)
    try:
        admin = Client.from_network(root, "org1/client")
        batch = 500
        for start in range(0, txs, batch):
            signed = [
                admin.identity.sign_tx(  # type: ignore[union-attr]
                    admin.genesis.chain_id,  # type: ignore[union-attr]
                    "kv",
                    "set",
                    {"key": f"s{start + j}", "value": start + j},
                    include_cert=start + j == 0,
                )
                for j in range(min(batch, txs - start))
            ]
            outcomes = admin.submit_many(signed)
            ids = [o for o in outcomes if isinstance(o, str)]
            if ids:
                admin.wait_tx(ids[-1], timeout=120)
        reader = Identity.from_network(root, "org1/admin")
        head = Client(nodes[0].api_url, reader).get_block("latest")
        lagging = nodes[3]
        lagging.stop()
        shutil.rmtree(lagging.node_dir / "data")
        started = time.monotonic()
        lagging.start()
        probe = Client(lagging.api_url, reader)
        while probe.health()["height"] < head["height"]:
            time.sleep(0.05)
        took = time.monotonic() - started
        synced = probe.get_block(head["height"])
        assert synced["hash"] == head["hash"], "synced head differs"
        total_txs = sum(
            Client(nodes[0].api_url, reader).get_block(h)["header"]["tx_count"]
            for h in range(1, head["height"] + 1)
        )
    finally:
        for node in nodes:
            node.close()
    return {
        "figure": "sync",
        "blocks": head["height"],
        "txs": total_txs,
        "seconds_to_head_including_start": round(took, 2),
        "blocks_per_s": round(head["height"] / took, 1),
        "txs_per_s": round(total_txs / took, 1),
    }


def main(argv: list[str]) -> int:
    """Parse arguments, run one figure, print its JSON."""
    parser = argparse.ArgumentParser(prog="python -m jinglian.testing.bft_figures")
    sub = parser.add_subparsers(dest="figure", required=True)
    rec = sub.add_parser("recovery", help="commit gaps when a validator is SIGKILLed")
    rec.add_argument("--kills", type=int, default=3)
    rec.add_argument("--commits", type=int, default=20, help="commits timed before/after")
    syn = sub.add_parser("sync", help="block sync speed of a wiped node")
    syn.add_argument("--txs", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="jinglian-bft-") as tmp:
        root = Path(tmp) / "net"
        if args.figure == "recovery":
            result = measure_recovery(root, args.kills, args.commits)
        else:
            result = measure_sync(root, args.txs)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
