"""Fixtures for tests that run real node processes; a failing test shows each node's log.

``solo_node`` is a fresh one-organisation solo network with its node running
(stopped, or killed, when the test ends). Whenever a test that holds a
``NodeProcess`` fails, the tail of that node's log is added to the report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from jinglian.testing.process import NodeProcess, make_solo_network

REPO = Path(__file__).resolve().parents[2]
KV_SOURCE = REPO / "examples" / "contracts" / "kv.py"
"""The example key-value contract: ``set(key, value)`` and ``get(key)``."""


@pytest.fixture()
def solo_node(tmp_path: Path) -> Iterator[NodeProcess]:
    """A new solo network (in ``tmp_path/net``) with its node started."""
    net_dir = make_solo_network(tmp_path)
    with NodeProcess(net_dir / "nodes" / "node1") as node:
        node.start()
        yield node


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the log tail of every node process the failed test used."""
    report = yield
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            if isinstance(value, NodeProcess):
                report.sections.append((f"node log ({name}, {value.node_dir})", value.log_tail()))
    return report
