"""``jinglian bench``: the chain's throughput, latency and resource use under a chosen load.

A run starts a fresh network in a temporary directory (``jinglian devnet up
--detach``) or attaches to one, deploys what the workload calls, and loads
it at a fixed arrival rate (open loop) with transactions signed beforehand
in worker processes. It measures submitted, accepted and committed tx/s,
success, latency from submission to the commit event on the block stream,
block size and interval, each node's CPU and memory over time, and the
generator's own CPU; and writes a JSON result, a Markdown summary and PNG
charts. ``docs/cli.md`` describes the command, ``docs/benchmarks.md`` the
figures it measured, ADR 0015 the choices.

Modules, in the order of a run: ``config`` (options and their checks),
``workloads`` (what is called), ``network`` (the network under test and its
set-up), ``load`` (the open-loop sender), ``observe`` (the block stream and
``/proc``), ``figures`` (rates, percentiles, series), ``run`` (steps and the
modes ``fixed``, ``stress``, ``spike``, ``stability``), ``report`` (JSON,
Markdown, charts, ``compare``).
"""

from jinglian.bench.config import MODES, BenchConfig, validate_config
from jinglian.bench.report import (
    RESULT_FORMAT,
    ComparedFigure,
    compare_results,
    load_result,
    render_markdown,
    write_report,
)
from jinglian.bench.run import Progress, run_bench
from jinglian.bench.workloads import WORKLOADS, Workload, get_workload

__all__ = [
    "MODES",
    "RESULT_FORMAT",
    "WORKLOADS",
    "BenchConfig",
    "ComparedFigure",
    "Progress",
    "Workload",
    "compare_results",
    "get_workload",
    "load_result",
    "render_markdown",
    "run_bench",
    "validate_config",
    "write_report",
]
