"""Profiling a node: ``profile-node`` (cProfile), ``timed-node`` and ``timers`` (per-stage timers).

``profile_node`` runs a node like ``jinglian node start`` but under cProfile in
every thread and writes the merged ``pstats`` file on SIGINT/SIGTERM;
``timed_node`` runs it with wall and thread-CPU timers on the ``TIMED``
functions of a transaction's path, and ``timers_table`` prints their report per
transaction.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["TIMED", "profile_node", "timed_node", "timers_table"]


def profile_node(node_dir: Path, out: Path) -> None:
    """Run the node in ``node_dir`` under cProfile in every thread; write merged stats to ``out``."""
    import cProfile
    import pstats

    from jinglian.node.run import run_node

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        with lock:
            profiles.append(profile)
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main_profile = cProfile.Profile()
    main_profile.enable()
    try:
        run_node(node_dir)
    finally:
        main_profile.disable()
        threading.Thread.run = original_run  # type: ignore[method-assign]
        stats = pstats.Stats(main_profile)
        with lock:
            for profile in profiles:
                with contextlib.suppress(TypeError):  # a thread that never ran profiled code
                    stats.add(profile)
        stats.dump_stats(str(out))


TIMED: tuple[tuple[str, str], ...] = (
    # (label, "module:attribute"): functions ``timed_node`` wraps with wall and thread-CPU timers
    ("api: LocalServices.submit_tx", "jinglian.node.local:LocalServices.submit_tx"),
    ("api:   decode_tx", "jinglian.node.local:decode_tx"),
    ("api:   Mempool.add", "jinglian.mempool.pool:Mempool.add"),
    ("api:     check_tx (admission)", "jinglian.node.node:check_tx"),
    ("both: TxAuthenticator.authenticate", "jinglian.ledger.auth:TxAuthenticator.authenticate"),
    ("both: P256PublicKey.verify", "jinglian.crypto._p256:P256PublicKey.verify"),
    ("both: Sm2PublicKey.verify", "jinglian.crypto._sm2:Sm2PublicKey.verify"),
    ("both: Ledger.is_committed", "jinglian.ledger.chain:Ledger.is_committed"),
    ("consensus: Solo.step", "jinglian.consensus.solo:Solo.step"),
    ("consensus:   Node.propose_block", "jinglian.node.node:Node.propose_block"),
    ("consensus:     Mempool.reap", "jinglian.mempool.pool:Mempool.reap"),
    ("consensus:     build_block", "jinglian.node.node:build_block"),
    ("consensus:       check_tx (in block)", "jinglian.ledger.apply:check_tx"),
    (
        "consensus:       process_cert_registrations",
        "jinglian.ledger.apply:process_cert_registrations",
    ),
    (
        "consensus:       ContractExecutor.execute",
        "jinglian.node.executor:ContractExecutor.execute",
    ),
    (
        "consensus:       Ledger.compute_state_root",
        "jinglian.ledger.chain:Ledger.compute_state_root",
    ),
    ("consensus:       make_header (Merkle roots)", "jinglian.ledger.apply:make_header"),
    ("consensus:   Node.commit_block", "jinglian.node.node:Node.commit_block"),
    ("consensus:     Ledger.commit_block", "jinglian.ledger.chain:Ledger.commit_block"),
    ("consensus:       LmdbKV.write", "jinglian.storage.lmdb_kv:LmdbKV.write"),
    ("consensus:     _stream_items", "jinglian.node.node:_stream_items"),
    ("consensus:     EventHub.publish", "jinglian.node.events:EventHub.publish"),
)
"""What ``timed_node`` times; indentation shows which calls run inside which."""


@dataclass
class _Tally:
    calls: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0


_SPANS: dict[int, list[float]] = {}
"""Thread id -> [thread CPU at its first timed call, at its latest timed call's end]."""


def _install_timers(tallies: dict[str, _Tally]) -> list[tuple[Any, str, Any]]:
    """Wrap every ``TIMED`` function that exists; returns what to restore."""
    restore: list[tuple[Any, str, Any]] = []
    for label, target in TIMED:
        module_name, _, path = target.partition(":")
        try:
            owner: Any = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = getattr(owner, name)
        except (ImportError, AttributeError):
            print(f"timed-node: {target} not found, not timed", file=sys.stderr)
            continue
        tally = tallies.setdefault(label, _Tally())
        setattr(owner, name, _timed(original, tally))
        restore.append((owner, name, original))
    return restore


def _timed(fn: Any, tally: _Tally) -> Any:
    perf, cpu, ident, spans = time.perf_counter, time.thread_time, threading.get_ident, _SPANS

    def timed(*args: Any, **kwargs: Any) -> Any:
        wall0, cpu0 = perf(), cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            cpu1 = cpu()
            tally.wall_s += perf() - wall0
            tally.cpu_s += cpu1 - cpu0
            tally.calls += 1
            span = spans.setdefault(ident(), [cpu0, cpu1])
            span[1] = cpu1

    return timed


def timed_node(node_dir: Path, out: Path) -> None:
    """Run the node in ``node_dir`` with wall and thread-CPU timers on the ``TIMED`` functions.

    On SIGINT/SIGTERM it writes, per function, calls and total wall and CPU
    seconds, and per thread the CPU it used from its first timed call to the
    end of its last (the API loop and the consensus thread under load), as
    JSON to ``out``. Each timer costs about a microsecond per call.
    """
    from jinglian.node.run import run_node

    tallies: dict[str, _Tally] = {}
    names: dict[int, str] = {}
    restore = _install_timers(tallies)
    original_run = threading.Thread.run

    def named_run(self: threading.Thread) -> None:
        names[threading.get_ident()] = self.name
        original_run(self)

    names[threading.get_ident()] = "MainThread"
    threading.Thread.run = named_run  # type: ignore[method-assign]
    try:
        run_node(node_dir)
    finally:
        threading.Thread.run = original_run  # type: ignore[method-assign]
        for owner, name, original in restore:
            setattr(owner, name, original)
        report = {
            "thread_cpu_s": {
                names.get(thread, str(thread)): last - first
                for thread, (first, last) in _SPANS.items()
            },
            "timers": {label: asdict(t) for label, t in tallies.items() if t.calls},
        }
        out.write_text(json.dumps(report, indent=1))


def timers_table(report_file: Path, txs: int) -> str:
    """``timed_node``'s report as a table: per call and per transaction (``txs`` committed)."""
    report = json.loads(report_file.read_text())
    lines = [
        f"{'function':58} {'calls':>8} {'wall µs/call':>13} {'CPU µs/call':>12} {'CPU µs/tx':>10}"
    ]
    for label, t in report["timers"].items():
        calls = max(1, t["calls"])
        lines.append(
            f"{label:58} {t['calls']:8d} {t['wall_s'] / calls * 1e6:13.1f} "
            f"{t['cpu_s'] / calls * 1e6:12.1f} {t['cpu_s'] / txs * 1e6:10.1f}"
        )
    for thread, cpu_s in report["thread_cpu_s"].items():
        lines.append(
            f"thread {thread} (first to last timed call): {cpu_s:.2f} CPU s"
            f" = {cpu_s / txs * 1e6:.0f} µs/tx"
        )
    return "\n".join(lines)
