"""``jinglian bench`` and ``jinglian bench compare``: thin over ``jinglian.bench``."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from jinglian.bench import (
    MODES,
    WORKLOADS,
    BenchConfig,
    Progress,
    compare_results,
    load_result,
    run_bench,
    validate_config,
    write_report,
)
from jinglian.bench.recovery import (
    run_restart,
    run_sync,
)
from jinglian.cli._base import emit, json_option

__all__ = ["bench"]

PROGRESS_LINE_S = 5.0
"""Without a TTY, a progress line is printed at most this often."""


@click.group(invoke_without_command=True)
@click.option(
    "--workload", default="kv", help=f"What to load: {', '.join(WORKLOADS)} [default: kv]."
)
@click.option(
    "--mode",
    default="fixed",
    help=f"{', '.join(MODES)}: one rate, step up to the limit, 2x it, 20% of it for long "
    "[default: fixed].",
)
@click.option("--rate", type=float, help="tx/s (queries/s); spike/stability: the stress rate.")
@click.option("--duration", type=float, help="Measured seconds (stress: per step).")
@click.option("--warmup", type=float, help="Seconds of load before the measured window.")
@click.option("--nodes", type=int, default=1, help="Validators of the fresh network [default: 1].")
@click.option("--crypto", default="default", help="Suite of the fresh network: default or gm.")
@click.option("--consensus", help="solo (1 node) or tbft (4+) [default: as --nodes implies].")
@click.option("--batch", type=int, help="Transactions per request [default: about rate/50].")
@click.option("--connections", type=int, default=32, help="Most connections per node [32].")
@click.option("--workers", type=int, default=2, help="Signing processes [default: 2].")
@click.option("--endpoint", help="Attach: load this node API URL (keys from --net).")
@click.option(
    "--net",
    type=click.Path(file_okay=False, path_type=Path),
    help="Attach: load this network directory's nodes instead of a fresh network.",
)
@click.option("--identity", default="org1/client", help="Signer [default: org1/client].")
@click.option("--full-cert", is_flag=True, help="Put the whole certificate in every transaction.")
@click.option("--rate-max", type=float, default=50_000.0, help="Stress: highest rate to try.")
@click.option("--drain-timeout", type=float, default=60.0, help="Seconds to wait for commits.")
@click.option("--keep", is_flag=True, help="Leave the fresh network running afterwards.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="JSON file.")
@json_option
@click.pass_context
def bench(ctx: click.Context, /, **options: Any) -> None:
    """Measure throughput, latency and resource use of a network under load.

    Starts a fresh network in a temporary directory (or attaches with --net
    or --endpoint), signs the transactions first in worker processes, sends
    them at a fixed arrival rate, and measures submitted, accepted and
    committed tx/s, success, latency to the commit event, block size and
    interval, and each node's CPU and memory. Writes --report FILE (JSON),
    FILE with .md, and FILE-throughput/latency/resources.png; prints the
    summary (or the JSON with --json). Progress goes to stderr.

    \b
    Example:
      jinglian bench --workload kv --rate 500 --duration 30
      jinglian bench --nodes 4 --mode stress --rate 200 --report stress.json
      jinglian bench compare before.json after.json
    """
    if ctx.invoked_subcommand is not None:
        return
    as_json = options.pop("as_json")
    report = options.pop("report")
    config = _config(options)
    validate_config(config)
    result = run_bench(config, _Progress())
    _Progress.finish()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = report or Path(f"bench-{config.workload}-{config.mode}-{stamp}.json")
    written = write_report(result, path)
    emit(as_json, result, lambda: _summary_lines(result, written))


def _config(options: dict[str, Any]) -> BenchConfig:
    return BenchConfig(
        workload=options["workload"],
        mode=options["mode"],
        nodes=options["nodes"],
        crypto=options["crypto"],
        consensus=options["consensus"],
        rate=options["rate"],
        duration_s=options["duration"],
        warmup_s=options["warmup"],
        batch=options["batch"],
        connections=options["connections"],
        workers=options["workers"],
        endpoint=options["endpoint"],
        net=options["net"],
        identity=options["identity"],
        by_id=not options["full_cert"],
        keep=options["keep"],
        drain_timeout_s=options["drain_timeout"],
        rate_max=options["rate_max"],
    )


def _summary_lines(result: dict[str, Any], written: dict[str, Path]) -> list[str]:
    head = result["headline"]
    outcome = result["outcome"]
    lines = [f"{result['config']['workload']} {outcome['mode']}: {_verdict(outcome)}"]
    for key in (
        "rate",
        "submitted_tps",
        "accepted_tps",
        "committed_tps",
        "digests_per_s",
        "queries_per_s",
        "success_rate",
        "latency_ms_p50",
        "latency_ms_p90",
        "latency_ms_p99",
        "latency_ms_max",
        "block_txs_mean",
        "block_interval_ms_mean",
        "nodes_cpu_cores",
        "generator_cpu_cores",
        "other_processes_cpu_cores",
        "node_rss_mib_max",
    ):
        if head.get(key) is not None:
            lines.append(f"  {key:<26} {head[key]}")
    lines += [f"  {kind:<26} {path}" for kind, path in written.items()]
    return lines


def _verdict(outcome: dict[str, Any]) -> str:
    if outcome["mode"] == "stress":
        if outcome["max_rate"] is None:
            return "no step passed"
        return f"highest passing rate {outcome['max_rate']:g}/s"
    if outcome.get("passed") is None:
        return f"{outcome['rate']:g}/s offered"
    checks = ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in outcome["checks"].items())
    return ("passed" if outcome["passed"] else "FAILED") + f" ({checks})"


class _Progress:
    """The progress display on stderr: one updated line on a TTY, a line every few s otherwise."""

    _last_line_s = 0.0
    _tty = sys.stderr.isatty()

    def __call__(self, p: Progress) -> None:
        text = (
            f"{p.label}  {p.phase}  {p.elapsed_s:.0f}/{p.total_s:.0f} s  sent {p.submitted:,}  "
            f"accepted {p.accepted:,}  committed {p.committed:,}  busy {p.busy:,}  "
            f"refused {p.refused - p.busy:,}"
        )
        now = time.monotonic()
        if self._tty:
            click.echo("\r" + text.ljust(110), nl=False, err=True)
        elif now - _Progress._last_line_s >= PROGRESS_LINE_S or p.phase == "signing":
            _Progress._last_line_s = now
            click.echo(text, err=True)

    @classmethod
    def finish(cls) -> None:
        if cls._tty:
            click.echo("", err=True)


@bench.command("compare")
@click.argument("first", type=click.Path(path_type=Path))
@click.argument("second", type=click.Path(path_type=Path))
@json_option
def bench_compare(first: Path, second: Path, as_json: bool) -> None:
    """Print the ratio of two runs' figures: SECOND / FIRST (before, after a change).

    \b
    Example:
      jinglian bench compare before.json after.json
    """
    rows = compare_results(load_result(first), load_result(second))
    data = [
        {"figure": r.name, "first": r.first, "second": r.second, "ratio": r.ratio} for r in rows
    ]

    def lines() -> list[str]:
        out = [f"{'figure':<28} {'first':>14} {'second':>14} {'second/first':>13}"]
        for r in rows:
            ratio = "-" if r.ratio is None else f"{r.ratio:.3f}"
            out.append(f"{r.name:<28} {r.first:>14,.1f} {r.second:>14,.1f} {ratio:>13}")
        return out

    emit(as_json, data, lines)


_F = TypeVar("_F", bound=Callable[..., Any])

RESTART_API_PORT = 17_610
"""Default first API port of ``bench restart`` (apart from devnets' 8601 and 9601 ranges)."""
SYNC_API_PORT = 17_620
"""Default first API port of ``bench sync`` (four consecutive ports)."""
P2P_PORT_OFFSET = 1_000
"""Peer ports are the API ports plus this."""


def _work_options(default_txs: int, default_port: int) -> Callable[[_F], _F]:
    """Options shared by ``bench restart`` and ``bench sync``."""

    def wrap(fn: _F) -> _F:
        fn = click.option(
            "--txs",
            type=int,
            default=default_txs,
            show_default=True,
            help="Committed transactions to build.",
        )(fn)
        fn = click.option(
            "--api-port",
            type=int,
            default=default_port,
            show_default=True,
            help="First API port (peer ports: this + 1000).",
        )(fn)
        fn = click.option(
            "--workers", type=int, default=2, show_default=True, help="Signing processes."
        )(fn)
        fn = click.option(
            "--dir",
            "work_dir",
            type=click.Path(file_okay=False, path_type=Path),
            help="Work directory [default: a new one under /tmp].",
        )(fn)
        fn = click.option("--keep", is_flag=True, help="Keep the network directory afterwards.")(fn)
        fn = click.option(
            "--report",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write the result as JSON to FILE.",
        )(fn)
        return json_option(fn)

    return wrap


def _work(work_dir: Path | None, prefix: str) -> Path:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        return work_dir
    return Path(tempfile.mkdtemp(prefix=prefix))


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _finish(result: dict[str, Any], report: Path | None, as_json: bool, keys: list[str]) -> None:
    if report is not None:
        report.write_text(json.dumps(result, indent=2) + "\n")

    def lines() -> list[str]:
        out = [f"{result['kind']}: {'target met' if result.get('met') else 'target NOT met'}"]
        for key in keys:
            if key in result:
                out.append(f"  {key:<28} {result[key]}")
        for item in result.get("restarts", []):
            out.append(
                f"  after {item['signal']:<8} health {item['health_s']} s, latest block read "
                f"{item['latest_block_read_s']} s, new tx committed {item['new_tx_committed_s']} s"
            )
        return out

    emit(as_json, result, lines)


@bench.command("restart")
@_work_options(1_000_000, RESTART_API_PORT)
def bench_restart(
    txs: int,
    api_port: int,
    workers: int,
    work_dir: Path | None,
    keep: bool,
    report: Path | None,
    as_json: bool,
) -> None:
    """Time a solo node's restart with TXS committed transactions on disk.

    Builds the chain with the node's own block production (real signed
    transactions sent through its API; the build time is reported apart),
    then stops the node with SIGTERM, and again with SIGKILL, and times from
    the new process's spawn: health answering, a signed read of the latest
    block, a new transaction committed. Also times a restart before the
    build, and reports the store's size on disk.

    \b
    Example:
      jinglian bench restart --txs 1000000 --report restart.json
    """
    result = run_restart(
        _work(work_dir, "jinglian-restart-"),
        txs,
        api_port=api_port,
        p2p_port=api_port + P2P_PORT_OFFSET,
        workers=workers,
        keep=keep,
        progress=_progress,
    )
    keys = ["txs_on_chain", "height", "build", "store_bytes", "restart_before_build"]
    keys += ["serving_again_s_max", "target_s"]
    _finish(result, report, as_json, keys)


@bench.command("sync")
@_work_options(100_000, SYNC_API_PORT)
@click.option(
    "--profile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sample the catching-up node with py-spy into FILE (raw format) and summarise it.",
)
def bench_sync(
    txs: int,
    api_port: int,
    workers: int,
    work_dir: Path | None,
    keep: bool,
    report: Path | None,
    as_json: bool,
    profile: Path | None,
) -> None:
    """Time block sync: a validator of four misses TXS transactions, then catches up.

    The catch-up rate counts the transactions of the blocks synced after the
    first one, over the time from that block to the head (polled every
    50 ms); the other three nodes are idle meanwhile.

    \b
    Example:
      jinglian bench sync --txs 100000 --profile sync.spy --report sync.json
    """
    result = run_sync(
        _work(work_dir, "jinglian-sync-"),
        txs,
        api_port=api_port,
        p2p_port=api_port + P2P_PORT_OFFSET,
        workers=workers,
        profile=profile,
        keep=keep,
        progress=_progress,
    )
    keys = [
        "txs_synced",
        "blocks_synced",
        "health_s",
        "first_synced_block_s",
        "reached_head_s",
        "catch_up_txs_per_s",
        "catch_up_blocks_per_s",
        "txs_per_s_from_spawn",
        "target_tps",
    ]
    _finish(result, report, as_json, keys)
