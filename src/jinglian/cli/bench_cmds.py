"""``jinglian bench`` and ``jinglian bench compare``: thin over ``jinglian.bench``."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

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
def bench(ctx: click.Context, **options: Any) -> None:
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
