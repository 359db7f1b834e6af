"""A run's result: the JSON document, its Markdown summary, its charts, and comparing two.

``build_result`` assembles the JSON document (``RESULT_FORMAT``): the
machine and software, the options, the network, the mode's outcome, the
*headline* figures (those of the step the outcome names: the only one of a
``fixed`` run, the highest passing rate of ``stress``) and every step with
its per-second series. ``write_report`` writes it beside its Markdown
summary and three PNG charts (throughput, latency, node CPU and memory),
drawn with matplotlib's Agg backend (no display needed; ADR 0015).
``compare_results`` divides the second run's headline figures by the first's.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from jinglian.bench.config import BenchConfig
from jinglian.bench.network import Target
from jinglian.types.errors import InvalidInput

__all__ = [
    "CHART_NAMES",
    "RESULT_FORMAT",
    "ComparedFigure",
    "build_result",
    "chart_paths",
    "compare_results",
    "describe_machine",
    "load_result",
    "render_markdown",
    "write_report",
]

RESULT_FORMAT = "jinglian-bench/1"
"""The ``format`` field of every result document."""
CHART_NAMES = ("throughput", "latency", "resources")
"""Charts written beside the report, as ``STEM-NAME.png``."""
RESULT_BYTES_MAX = 256 * 1024 * 1024
"""Largest result file ``load_result`` reads."""
CHART_DPI = 100
CHART_SIZE_IN = (10.0, 4.5)


def describe_machine() -> dict[str, Any]:
    """CPU model, cores, memory, OS and Python of this machine."""
    model = "unknown"
    memory_kib = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def _software() -> dict[str, Any]:
    """The jinglian version and, in a source checkout, its commit."""
    try:
        version = metadata.version("jinglian")
    except metadata.PackageNotFoundError:
        version = "unknown"
    commit = None
    source = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        commit = done.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {"jinglian": version, "commit": commit}


def build_result(
    config: BenchConfig,
    target: Target,
    steps: Sequence[dict[str, Any]],
    outcome: dict[str, Any],
    started_s: float,
    signing_cpu_s: float,
) -> dict[str, Any]:
    """The JSON document of a run."""
    index = outcome.get("headline_step")
    headline: dict[str, Any] = {}
    if index is not None:
        step = steps[index]
        headline = {"rate": step["rate"], "batch": step["batch"], **step["figures"]}
        headline.update(_resource_headline(step["resources"]))
    options = asdict(config)
    options["net"] = None if config.net is None else str(config.net)
    return {
        "format": RESULT_FORMAT,
        "started": _iso(started_s),
        "finished": _iso(datetime.datetime.now().timestamp()),
        "machine": describe_machine(),
        "software": _software(),
        "config": options,
        "network": {
            "nodes": target.nodes,
            "consensus": target.consensus,
            "crypto": target.crypto,
            "chain_id": target.chain_id,
            "endpoints": list(target.endpoints),
            "fresh": target.fresh,
            "net_dir": None if target.fresh and not config.keep else str(target.net_dir),
            "node_pids_known": bool(target.pids),
        },
        "outcome": outcome,
        "headline": headline,
        "signing_cpu_s": round(signing_cpu_s, 2),
        "steps": list(steps),
    }


def _resource_headline(resources: dict[str, Any]) -> dict[str, Any]:
    """The flat resource figures of a step (per-node detail stays in the step)."""
    flat = {
        key: resources[key]
        for key in (
            "nodes_cpu_cores",
            "generator_cpu_cores",
            "other_processes_cpu_cores",
            "machine_cpu_cores",
        )
        if key in resources
    }
    nodes = [n for n in resources.get("nodes", {}).values() if "rss_mib_end" in n]
    if nodes:
        flat["node_rss_mib_max"] = max(n["rss_mib_max"] for n in nodes)
        flat["node_rss_growth_pct_max"] = max(n["rss_growth_pct"] for n in nodes)
    return flat


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat(timespec="seconds")


# -- files ---------------------------------------------------------------------------------------


def chart_paths(report: Path) -> dict[str, Path]:
    """Where the charts of the report at ``report`` go: ``STEM-NAME.png`` beside it."""
    return {name: report.with_name(f"{report.stem}-{name}.png") for name in CHART_NAMES}


def write_report(result: dict[str, Any], report: Path) -> dict[str, Path]:
    """Write the JSON to ``report``, the Markdown to ``report`` with ``.md``, and the charts.

    Returns every path written, by kind (``json``, ``markdown`` and the chart names).
    """
    report.parent.mkdir(parents=True, exist_ok=True)
    charts = chart_paths(report)
    markdown = report.with_suffix(".md")
    report.write_text(json.dumps(result, indent=1) + "\n")
    _plot(result, charts)
    markdown.write_text(render_markdown(result, {k: p.name for k, p in charts.items()}))
    return {"json": report, "markdown": markdown, **charts}


def load_result(path: Path) -> dict[str, Any]:
    """A result document read from ``path``; ``InvalidInput`` saying why it cannot be used."""
    try:
        if path.stat().st_size > RESULT_BYTES_MAX:
            raise InvalidInput(f"{path} is larger than {RESULT_BYTES_MAX} bytes")
        document = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("format") != RESULT_FORMAT:
        raise InvalidInput(f"{path} is not a `jinglian bench` result ({RESULT_FORMAT})")
    if not isinstance(document.get("headline"), dict):
        raise InvalidInput(f"{path} has no headline figures")
    return document


# -- comparing -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ComparedFigure:
    """One figure of two runs."""

    name: str
    first: float
    second: float
    ratio: float | None
    """``second / first``; ``None`` when ``first`` is zero."""


def compare_results(first: dict[str, Any], second: dict[str, Any]) -> list[ComparedFigure]:
    """The numeric headline figures (and a stress run's ``max_rate``) both runs have."""
    a = _numbers(first)
    b = _numbers(second)
    return [
        ComparedFigure(name, a[name], b[name], (b[name] / a[name]) if a[name] else None)
        for name in a
        if name in b
    ]


def _numbers(result: dict[str, Any]) -> dict[str, float]:
    figures = dict(result["headline"])
    max_rate = result.get("outcome", {}).get("max_rate")
    if max_rate is not None:
        figures["max_rate"] = max_rate
    return {
        k: float(v)
        for k, v in figures.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


# -- Markdown ------------------------------------------------------------------------------------

_HEADLINE_ROWS = (
    ("rate", "offered rate (tx/s or queries/s)"),
    ("batch", "transactions per request"),
    ("submitted_tps", "submitted tx/s"),
    ("accepted_tps", "accepted tx/s"),
    ("committed_tps", "committed tx/s"),
    ("digests_per_s", "committed digests/s"),
    ("submitted_qps", "queries sent/s"),
    ("queries_per_s", "queries answered/s"),
    ("success_rate", "success rate"),
    ("latency_ms_p50", "latency p50 (ms)"),
    ("latency_ms_p90", "latency p90 (ms)"),
    ("latency_ms_p99", "latency p99 (ms)"),
    ("latency_ms_max", "latency max (ms)"),
    ("block_txs_mean", "block size, mean (txs)"),
    ("block_interval_ms_mean", "block interval, mean (ms)"),
    ("nodes_cpu_cores", "nodes' CPU (cores)"),
    ("generator_cpu_cores", "generator's CPU (cores, signing in the window included)"),
    ("other_processes_cpu_cores", "other processes' CPU (cores)"),
    ("node_rss_mib_max", "largest node RSS (MiB)"),
    ("node_rss_growth_pct_max", "largest node RSS growth over the window (%)"),
    ("send_lag_ms_p99", "generator lag behind schedule, p99 (ms)"),
)


def render_markdown(result: dict[str, Any], charts: dict[str, str] | None = None) -> str:
    """The run's summary: what ran, the outcome, the headline figures, every step, the charts."""
    config, network, outcome = result["config"], result["network"], result["outcome"]
    lines = [
        f"# jinglian bench: {config['workload']}, {config['mode']}",
        "",
        f"{result['started']} on {result['machine']['cpu']} ({result['machine']['cores']} cores, "
        f"{result['machine']['memory_gib']} GiB); jinglian {result['software']['jinglian']}"
        + (f" at commit `{result['software']['commit']}`" if result["software"]["commit"] else ""),
        "",
        f"Network: {network['nodes']} node(s), {network['consensus']}, {network['crypto']} suite"
        + (", fresh" if network["fresh"] else ", attached")
        + f"; load to {', '.join(network['endpoints'])}.",
        "",
        "## Outcome",
        "",
    ]
    lines += _outcome_lines(outcome)
    lines += ["", "## Headline figures", "", "| figure | value |", "|---|---|"]
    headline = result["headline"]
    for key, label in _HEADLINE_ROWS:
        if headline.get(key) is not None:
            lines.append(f"| {label} | {_fmt(headline[key])} |")
    if headline.get("refused"):
        lines.append(f"| refused, by code | {_fmt(headline['refused'])} |")
    lines += ["", "## Steps", ""]
    lines += _step_lines(result["steps"])
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{name}]({path})" for name, path in charts.items()]
    return "\n".join(lines) + "\n"


def _outcome_lines(outcome: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in outcome.items():
        if key in {"headline_step", "stress_search"} or (value is None and key != "max_rate"):
            continue
        if key == "checks":
            lines += [f"- check `{name}`: {'pass' if ok else 'FAIL'}" for name, ok in value.items()]
        else:
            lines.append(f"- {key.replace('_', ' ')}: {_fmt(value)}")
    return lines


def _step_lines(steps: Sequence[dict[str, Any]]) -> list[str]:
    lines = [
        "| step | rate | batch | submitted/s | committed/s | success | p50 ms | p99 ms | passed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for step in steps:
        f = step["figures"]
        lines.append(
            f"| {step['label']} | {_fmt(step['rate'])} | {step['batch']} "
            f"| {_fmt(f.get('submitted_tps', f.get('submitted_qps')))} "
            f"| {_fmt(f.get('committed_tps', f.get('queries_per_s')))} "
            f"| {_fmt(f.get('success_rate'))} | {_fmt(f.get('latency_ms_p50'))} "
            f"| {_fmt(f.get('latency_ms_p99'))} | {'yes' if step['passed'] else 'no'} |"
        )
    return lines


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items()) or "none"
    return "-" if value is None else str(value)


# -- charts --------------------------------------------------------------------------------------


def _plot(result: dict[str, Any], paths: dict[str, Path]) -> None:
    """Draw the three charts of the run's steps, one after another on one time axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    steps = result["steps"]
    title = f"jinglian bench {result['config']['workload']} ({result['config']['mode']})"
    offsets = _offsets(steps)
    for name, draw in (
        ("throughput", _draw_throughput),
        ("latency", _draw_latency),
        ("resources", _draw_resources),
    ):
        figure, axes = pyplot.subplots(figsize=CHART_SIZE_IN)
        draw(axes, steps, offsets)
        for offset, step in zip(offsets, steps, strict=True):
            axes.axvline(offset, color="grey", linewidth=0.5)
            axes.annotate(
                step["label"],
                (offset, 1.0),
                xycoords=("data", "axes fraction"),
                fontsize=7,
                rotation=90,
                va="top",
            )
        axes.set_title(title)
        axes.set_xlabel("seconds")
        axes.grid(alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        figure.savefig(paths[name], dpi=CHART_DPI)
        pyplot.close(figure)


def _offsets(steps: Sequence[dict[str, Any]]) -> list[float]:
    offsets, at = [], 0.0
    for step in steps:
        offsets.append(at)
        times = step["series"]["t_s"]
        at += (times[-1] + 1.0) if times else 0.0
    return offsets


def _joined(
    steps: Sequence[dict[str, Any]], offsets: list[float], key: str, times: str = "t_s"
) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for offset, step in zip(offsets, steps, strict=True):
        series = step["series"]
        for t, y in zip(series[times], series[key], strict=True):
            xs.append(offset + t)
            ys.append(math.nan if y is None else y)
    return xs, ys


def _draw_throughput(axes: Any, steps: Sequence[dict[str, Any]], offsets: list[float]) -> None:
    for key, label in (
        ("submitted_per_s", "submitted"),
        ("accepted_per_s", "accepted"),
        ("committed_per_s", "committed (or answered)"),
    ):
        axes.plot(*_joined(steps, offsets, key), label=label, linewidth=1)
    axes.set_ylabel("per second")


def _draw_latency(axes: Any, steps: Sequence[dict[str, Any]], offsets: list[float]) -> None:
    for key, label in (("latency_ms_p50", "p50"), ("latency_ms_p99", "p99")):
        axes.plot(*_joined(steps, offsets, key), label=f"latency {label}", linewidth=1)
    axes.set_ylabel("ms, by second sent")


def _draw_resources(axes: Any, steps: Sequence[dict[str, Any]], offsets: list[float]) -> None:
    names = sorted({n for s in steps for n in s["series"].get("node_cpu_cores", {})})
    memory = axes.twinx()
    for name in names:
        xs: list[float] = []
        cpu: list[float] = []
        rss: list[float] = []
        own: list[float] = []
        for offset, step in zip(offsets, steps, strict=True):
            series = step["series"]
            private = series.get("node_private_mib", {}).get(name, [])
            for i, (t, c, r) in enumerate(
                zip(
                    series["resource_t_s"],
                    series["node_cpu_cores"].get(name, []),
                    series["node_rss_mib"].get(name, []),
                    strict=False,
                )
            ):
                xs.append(offset + t)
                cpu.append(math.nan if c is None else c)
                rss.append(math.nan if r is None else r)
                p = private[i] if i < len(private) else None
                own.append(math.nan if p is None else p)
        axes.plot(xs, cpu, label=f"{name} CPU", linewidth=1)
        memory.plot(xs, rss, linestyle="--", linewidth=1, label=f"{name} RSS")
        memory.plot(xs, own, linestyle=":", linewidth=1, label=f"{name} private")
    axes.set_ylabel("CPU cores (solid)")
    memory.set_ylabel("RSS MiB (dashed), private MiB (dotted)")
    if not names:
        axes.text(
            0.5,
            0.5,
            "node processes not on this machine: no CPU or memory samples",
            transform=axes.transAxes,
            ha="center",
        )
