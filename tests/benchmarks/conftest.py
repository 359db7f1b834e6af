"""Shared set-up for the micro-benchmarks: how big and how many rounds.

``make bench`` passes ``--benchmark-only``: then the sizes of the brief apply
(a 100,000-key state tree, 1,000-transaction blocks) and each benchmark takes
enough rounds for a stable median. In a normal test run (``make test``,
``pytest tests/benchmarks``) the same code runs as a quick smoke test: small
sizes and one round each, so it stays well under the suite's time budget.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture


@dataclass(frozen=True)
class Scale:
    """Sizes and round counts of one benchmark run."""

    full: bool
    """True under ``--benchmark-only`` (the measured run)."""
    tree_keys: int
    """Keys in the state tree the state-root benchmarks update."""
    block_txs: int
    """Transactions in one benchmarked block."""
    block_rounds: int
    """Blocks built and committed per block benchmark."""
    rounds: int
    """Rounds of the cheap benchmarks (each round may run several iterations)."""
    split_blocks: int
    """Extra blocks built with every stage timed (the median split is reported)."""

    def pedantic(
        self,
        benchmark: BenchmarkFixture,
        target: Callable[..., Any],
        *args: Any,
        rounds: int | None = None,
        iterations: int = 1,
        setup: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]] | None = None,
    ) -> Any:
        """Run ``target(*args)`` under ``benchmark.pedantic``: full rounds if measuring, else one.

        With ``setup`` (called before each round, untimed) ``args`` come from it instead.
        """
        if not self.full:
            rounds, iterations = 1, 1
        return benchmark.pedantic(  # type: ignore[no-untyped-call]
            target,
            args=args,
            setup=setup,
            rounds=rounds or self.rounds,
            iterations=1 if setup is not None else iterations,
            warmup_rounds=1 if self.full and setup is None else 0,
        )


FULL = Scale(
    full=True, tree_keys=100_000, block_txs=1000, block_rounds=5, rounds=200, split_blocks=3
)
QUICK = Scale(full=False, tree_keys=2000, block_txs=40, block_rounds=1, rounds=1, split_blocks=1)


@pytest.fixture(scope="session")
def scale(request: pytest.FixtureRequest) -> Scale:
    """``FULL`` under ``--benchmark-only``, else ``QUICK``."""
    return FULL if request.config.getoption("benchmark_only", default=False) else QUICK


REPORT: list[str] = []
"""Derived figures (sizes, per-key and per-stage times) for the terminal summary."""


def report(line: str) -> None:
    """Keep ``line`` for the terminal summary (and print it, shown with ``-s``)."""
    REPORT.append(line)
    print(line)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the derived figures after the benchmark tables."""
    if REPORT:
        terminalreporter.section("jinglian micro-benchmark figures")
        for line in REPORT:
            terminalreporter.write_line(line)
