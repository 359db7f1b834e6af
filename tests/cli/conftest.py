"""Fixtures of the CLI tests: the API fixtures' networks and fake node, and devnets of real nodes.

``devnet_dir`` is where a test's devnet lives; when the test ends every node
it recorded is stopped (``devnet down``), and the end of each node's log is
printed, which pytest shows when the test failed. ``devnet_ports`` gives
blocks of free API and peer ports so a test's devnet collides neither with
another test's nor with a running ``make run``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinglian.testing.process import find_free_port
from tests.api.fixtures import admin, gm_dir, http, network_dir, node, sdk, solo_dir

__all__ = [
    "admin",
    "devnet_dir",
    "devnet_ports",
    "gm_dir",
    "http",
    "network_dir",
    "node",
    "sdk",
    "solo_dir",
]

DEVNET_NODES_MAX = 4
"""Nodes a test devnet may have: ``devnet_ports`` frees this many consecutive ports each."""
PORT_BLOCK_ATTEMPTS_MAX = 100
DEVNET_LOG_LINES = 30
DEVNET_DOWN_TIMEOUT_S = 60.0


@pytest.fixture()
def devnet_dir(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path/devnet``, for ``jinglian devnet up --dir``; its nodes are stopped afterwards."""
    net_dir = tmp_path / "devnet"
    yield net_dir
    if not (net_dir / "network.json").is_file():
        return
    for log in sorted(net_dir.glob("nodes/*/node.log")):
        tail = log.read_text(errors="replace").splitlines()[-DEVNET_LOG_LINES:]
        print(f"--- end of {log}", *tail, sep="\n")
    if not (net_dir / "devnet.json").is_file():
        return
    subprocess.run(
        [sys.executable, "-m", "jinglian.cli", "devnet", "down", "--dir", str(net_dir)],
        timeout=DEVNET_DOWN_TIMEOUT_S,
        check=False,
    )


@pytest.fixture()
def devnet_ports() -> tuple[int, int]:
    """``(api_port, p2p_port)``: the first of ``DEVNET_NODES_MAX`` free consecutive ports each."""
    api_port = _free_port_block(DEVNET_NODES_MAX)
    return api_port, _free_port_block(DEVNET_NODES_MAX, avoid=api_port)


def _free_port_block(count: int, avoid: int | None = None) -> int:
    """First port of ``count`` free consecutive ports, not overlapping ``avoid``'s block."""
    for _ in range(PORT_BLOCK_ATTEMPTS_MAX):
        first = find_free_port()
        if avoid is not None and abs(first - avoid) < count:
            continue
        if all(_is_bindable(first + i) for i in range(1, count)):
            return first
    raise RuntimeError(f"no {count} consecutive free ports after {PORT_BLOCK_ATTEMPTS_MAX} tries")


def _is_bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
