"""The command line: ``python -m jinglian.testing.loadgen {run,profile-node,timed-node,timers,breakdown}``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jinglian.client.identity import Identity
from jinglian.client.network import load_network
from jinglian.testing.loadgen.figures import summarize
from jinglian.testing.loadgen.measure import run_load
from jinglian.testing.loadgen.profiling import profile_node, timed_node, timers_table
from jinglian.testing.loadgen.records import LoadResult
from jinglian.testing.loadgen.signing import presign
from jinglian.testing.loadgen.stages import breakdown
from jinglian.testing.loadgen.submit import CLIENTS, register_certificate

__all__ = ["main"]


def _cmd_run(args: argparse.Namespace) -> int:
    net_dir = Path(args.net)
    network = load_network(net_dir)
    url = args.url or network.node(None).api_url
    if args.by_id:
        register_certificate(url, net_dir, args.identity, network.chain_id)
    started = time.perf_counter()
    txs = presign(
        net_dir, args.identity, network.chain_id, args.txs, args.workers, args.by_id, args.seed
    )
    sign_s = time.perf_counter() - started
    print(
        f"signed {len(txs)} txs in {sign_s:.1f} s with {args.workers} processes; "
        f"sending to {url} over {args.concurrency} connections"
        + (f" at {args.rate:g} tx/s" if args.rate else ""),
        file=sys.stderr,
    )
    result = asyncio.run(
        run_load(
            url,
            txs,
            args.concurrency,
            args.rate,
            node_pid=args.node_pid,
            client_kind=args.client,
            py_spy=None if args.py_spy is None else (Path(args.py_spy), args.py_spy_rate),
            batch=args.batch,
            reader=Identity.from_network(net_dir, args.identity),
        )
    )
    summary = summarize(result, args.warmup_s)
    summary["presign_s"] = round(sign_s, 1)
    summary["workers"] = args.workers
    summary["by_id"] = args.by_id
    summary["tx_base64_bytes_mean"] = round(statistics.fmean(len(b) for _, b in txs), 1)
    summary["loadgen_maxrss_mib"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
    )
    print(json.dumps(summary, indent=2))
    if result.py_spy is not None:
        summary["py_spy"] = result.py_spy
        print(
            breakdown(
                Path(args.py_spy),
                summary["txs_committed"],
                args.py_spy_rate,
                result.py_spy["errors"],
            )
        )
    if args.out:
        Path(args.out).write_text(json.dumps({"summary": summary, "raw": _raw(result)}))
    return 0


def _raw(result: LoadResult) -> dict[str, Any]:
    """``result`` as JSON-ready data (tx ids in hex)."""
    raw = asdict(result)
    raw["sent_s"] = {k.hex(): v for k, v in result.sent_s.items()}
    raw["blocks"] = [{**asdict(b), "tx_ids": [t.hex() for t in b.tx_ids]} for b in result.blocks]
    return raw


def _cmd_breakdown(args: argparse.Namespace) -> int:
    print(breakdown(Path(args.collapsed), args.txs, args.rate, args.errors, args.top))
    return 0


def _cmd_timed(args: argparse.Namespace) -> int:
    timed_node(Path(args.node_dir), Path(args.out))
    return 0


def _cmd_timers(args: argparse.Namespace) -> int:
    print(timers_table(Path(args.report), args.txs))
    return 0


def _cmd_profile(args: argparse.Namespace) -> int:
    profile_node(Path(args.node_dir), Path(args.out))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jinglian.testing.loadgen {run,profile-node} ...``."""
    parser = argparse.ArgumentParser(prog="python -m jinglian.testing.loadgen")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run(commands)
    _add_node_commands(commands)
    args = parser.parse_args(argv)
    return int(args.handler(args))


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``run`` subcommand."""
    run = commands.add_parser("run", help="pre-sign kv.set transactions, send them, measure")
    run.add_argument("--net", required=True, help="network directory (jinglian init)")
    run.add_argument("--url", help="node API base URL (default: the network's first node)")
    run.add_argument("--identity", default="org1/client", help="signing identity")
    run.add_argument("--txs", type=int, default=20_000, help="transactions to send")
    run.add_argument("--concurrency", type=int, default=64, help="concurrent connections")
    run.add_argument(
        "--client", choices=sorted(CLIENTS), default="httpx", help="HTTP client to send with"
    )
    run.add_argument(
        "--batch", type=int, default=0, help="transactions per request to /txs/batch (0: /txs)"
    )
    run.add_argument("--rate", type=float, help="offered tx/s (default: as fast as answered)")
    run.add_argument("--warmup-s", type=float, default=5.0, help="seconds left out at the start")
    run.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="signing processes")
    run.add_argument("--by-id", action="store_true", help="cite the certificate by id")
    run.add_argument("--seed", type=int, help="random seed for keys, values and nonces")
    run.add_argument("--node-pid", type=int, help="node process id, to record its CPU time")
    run.add_argument("--py-spy", help="sample the node with py-spy into this file (--node-pid)")
    run.add_argument("--py-spy-rate", type=float, default=100.0, help="py-spy samples per second")
    run.add_argument("--out", help="write summary and raw timings as JSON here")
    run.set_defaults(handler=_cmd_run)


def _add_node_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``profile-node``, ``timed-node``, ``timers`` and ``breakdown``."""
    prof = commands.add_parser("profile-node", help="run a node under cProfile (all threads)")
    prof.add_argument("node_dir", help="the node's directory (with node.toml)")
    prof.add_argument("--out", required=True, help="pstats output file")
    prof.set_defaults(handler=_cmd_profile)
    timed = commands.add_parser("timed-node", help="run a node with per-stage CPU timers")
    timed.add_argument("node_dir", help="the node's directory (with node.toml)")
    timed.add_argument("--out", required=True, help="JSON report written on exit")
    timed.set_defaults(handler=_cmd_timed)
    table = commands.add_parser("timers", help="print a timed-node report per transaction")
    table.add_argument("report", help="timed-node --out file")
    table.add_argument("--txs", type=int, required=True, help="transactions the node took")
    table.set_defaults(handler=_cmd_timers)
    stages = commands.add_parser(
        "breakdown", help="stage shares from py-spy raw output (record --threads --gil -f raw)"
    )
    stages.add_argument("collapsed", help="py-spy record -f raw output")
    stages.add_argument("--txs", type=int, help="transactions committed over the recording")
    stages.add_argument("--rate", type=float, help="py-spy sampling rate (-r), samples/s")
    stages.add_argument("--errors", type=int, default=0, help="failed samples py-spy reported")
    stages.add_argument("--top", type=int, default=25, help="functions to list")
    stages.set_defaults(handler=_cmd_breakdown)
