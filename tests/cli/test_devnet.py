"""``jinglian devnet`` with real node processes: up, status, a tx, a crash, a restart, down.

The slow tests run the CLI as a user does (``python -m jinglian.cli`` in a
subprocess) against nodes on free ports, so they never meet a running
``make run``; the others check the refusals that need no node.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from click.testing import CliRunner

from jinglian.cli import cli
from jinglian.cli.devnet_cmds import TxRates
from jinglian.node.init import create_network
from jinglian.testing.process import cli_argv_with_ctrl_c

REPO = Path(__file__).resolve().parents[2]
KV_SOURCE = REPO / "examples" / "contracts" / "kv.py"
CLI_TIMEOUT_S = 90.0
CATCH_UP_TIMEOUT_S = 30.0
FOREGROUND_TIMEOUT_S = 60.0
NODES = ["node1", "node2", "node3", "node4"]


def _jinglian(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``jinglian ARGS`` in a subprocess; it must succeed."""
    env = {k: v for k, v in os.environ.items() if k != "JINGLIAN_NET"}
    result = subprocess.run(
        [sys.executable, "-m", "jinglian.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"jinglian {' '.join(args)}: {result.stderr}"
    return result


def _status(net_dir: Path) -> dict[str, dict[str, Any]]:
    rows = json.loads(_jinglian("devnet", "status", "--json", "--dir", str(net_dir)).stdout)
    return {row["name"]: row for row in rows}


def _invoke(net_dir: Path, key: str, value: int) -> dict[str, Any]:
    """``tx invoke kv set`` run inside the devnet directory, with no other flag."""
    args = json.dumps({"key": key, "value": value})
    out = _jinglian("tx", "invoke", "kv", "set", "--args", args, "--json", cwd=net_dir).stdout
    summary: dict[str, Any] = json.loads(out)
    assert summary["status"] == "ok", summary
    return summary


def _is_gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout_s:g} s"
        time.sleep(0.2)


def _heights(rows: dict[str, dict[str, Any]]) -> dict[str, int | None]:
    heights = {}
    for name, row in rows.items():
        try:
            heights[name] = httpx.get(f"{row['api_url']}/api/v1/health", timeout=2).json()["height"]
        except httpx.HTTPError:
            heights[name] = None
    return heights


@pytest.mark.slow
def test_detached_devnet_survives_a_crash_and_restarts_only_the_dead_node(
    devnet_dir: Path, devnet_ports: tuple[int, int]
) -> None:
    api_port, p2p_port = devnet_ports
    ports = ["--api-port", str(api_port), "--p2p-port", str(p2p_port)]
    _jinglian("devnet", "up", "--detach", "--nodes", "4", "--dir", str(devnet_dir), *ports)

    nodes = _status(devnet_dir)
    assert sorted(nodes) == NODES
    for i, name in enumerate(NODES):
        row = nodes[name]
        assert row["state"] == "up" and row["peers"] == 3, row
        assert isinstance(row["height"], int) and isinstance(row["pid"], int), row
        assert (row["api_port"], row["p2p_port"]) == (api_port + i, p2p_port + i)

    # Inside the directory, commands find node1 and org1/admin without flags.
    _jinglian("contract", "deploy", "kv", str(KV_SOURCE), cwd=devnet_dir)
    _invoke(devnet_dir, "a", 1)

    # node1 crashes; the others keep committing and commands fall back to node2.
    os.kill(nodes["node1"]["pid"], signal.SIGKILL)
    _wait_until(lambda: _is_gone(nodes["node1"]["pid"]), 10, "node1 exiting")
    crashed = _status(devnet_dir)
    assert crashed["node1"]["state"] == "down" and crashed["node1"]["pid"] is None
    assert crashed["node1"]["last_log"]
    assert [crashed[n]["state"] for n in NODES[1:]] == ["up"] * 3
    missed = _invoke(devnet_dir, "b", 2)["height"]
    query = _jinglian("query", "kv", "get", "--args", '{"key": "b"}', cwd=devnet_dir)
    assert query.stdout.strip() == "2"

    # `up` again starts node1 alone; it catches up with what it missed.
    again = _jinglian("devnet", "up", "--detach", "--dir", str(devnet_dir))
    assert "starting node1" in again.stderr
    restarted = _status(devnet_dir)
    assert (
        restarted["node1"]["state"] == "up" and restarted["node1"]["pid"] != nodes["node1"]["pid"]
    )
    assert {n: restarted[n]["pid"] for n in NODES[1:]} == {n: nodes[n]["pid"] for n in NODES[1:]}
    _wait_until(
        lambda: set(_heights(restarted).values()) == {missed}, CATCH_UP_TIMEOUT_S, "catching up"
    )

    down = _jinglian("devnet", "down", "--dir", str(devnet_dir))
    assert "stopped 4 nodes" in down.stderr
    assert all(_is_gone(row["pid"]) for row in restarted.values())
    assert not (devnet_dir / "devnet.json").exists()
    assert [row["state"] for row in _status(devnet_dir).values()] == ["down"] * 4


class _Lines:
    """Lines of a child's stdout, collected by a thread, awaited by content."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, text: str, after: int = 0, timeout_s: float = FOREGROUND_TIMEOUT_S) -> int:
        """Index of the first line from ``after`` on that contains ``text``."""
        deadline = time.monotonic() + timeout_s
        while True:
            for i in range(after, len(self.lines)):
                if text in self.lines[i]:
                    return i
            assert time.monotonic() < deadline, f"no {text!r} in {self.lines[after:]}"
            time.sleep(0.1)


@pytest.mark.slow
def test_foreground_devnet_shows_a_dead_node_and_stops_everything_on_ctrl_c(
    devnet_dir: Path, devnet_ports: tuple[int, int], tmp_path: Path
) -> None:
    api_port, p2p_port = devnet_ports
    ports = ["--api-port", str(api_port), "--p2p-port", str(p2p_port)]
    up = ["devnet", "up", "--nodes", "1", "--dir", str(devnet_dir), *ports]
    stderr_path = tmp_path / "devnet-up.err"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            cli_argv_with_ctrl_c(*up),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        out = _Lines(proc.stdout)
        seen = out.wait_for("node1 up h=1")  # block 1 deploys the evidence contract
        first = json.loads((devnet_dir / "devnet.json").read_text())["pids"]["node1"]

        os.kill(first, signal.SIGKILL)
        seen = out.wait_for("node1 down", after=seen)
        assert proc.poll() is None, "the foreground devnet exited when its node died"

        _jinglian("devnet", "up", "--detach", "--dir", str(devnet_dir))
        out.wait_for("node1 up", after=seen)
        second = json.loads((devnet_dir / "devnet.json").read_text())["pids"]["node1"]

        proc.send_signal(signal.SIGINT)
        assert proc.wait(FOREGROUND_TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    messages = stderr_path.read_text()
    assert "node1 is down; its log ends:" in messages
    assert "interrupted: stopping all nodes" in messages and "stopped 1 node" in messages
    assert _is_gone(first) and _is_gone(second)
    assert not (devnet_dir / "devnet.json").exists()


def _one_error_line(args: list[str]) -> str:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "Traceback" not in result.output, result.output
    return lines[-1]


def test_up_refuses_a_network_other_than_the_one_asked_for(tmp_path: Path) -> None:
    net_dir = tmp_path / ".devnet"
    create_network(net_dir, 1, consensus="solo")
    line = _one_error_line(["devnet", "up", "--nodes", "4", "--dir", str(net_dir)])
    assert f"{net_dir} holds a 1-node solo network, not the 4 nodes asked for" in line
    assert f"rm -rf {net_dir}" in line and f"--nodes 1 --dir {net_dir}" in line
    line = _one_error_line(["devnet", "up", "--crypto", "gm", "--dir", str(net_dir)])
    assert "holds a default network, not gm" in line
    line = _one_error_line(["devnet", "up", "--api-port", "18601", "--dir", str(net_dir)])
    assert "created with --api-port 8601, not 18601" in line
    assert not (net_dir / "devnet.json").exists()


def test_up_refuses_ports_in_use(tmp_path: Path, devnet_ports: tuple[int, int]) -> None:
    api_port, p2p_port = devnet_ports
    net_dir = tmp_path / "net"
    create_network(net_dir, 1, consensus="solo", api_port=api_port, p2p_port=p2p_port)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", api_port))
        busy.listen()
        line = _one_error_line(["devnet", "up", "--detach", "--dir", str(net_dir)])
    assert f"cannot start node1: port {api_port} on 127.0.0.1 is in use" in line
    assert not (net_dir / "devnet.json").exists()


def test_tx_rate_spans_the_window_and_restarts_with_the_counter() -> None:
    rates = TxRates()
    assert rates.observe("node1", 0.0, 10) is None
    assert rates.observe("node1", 1.0, 20) == 10.0
    assert rates.observe("node1", 2.0, 40) == 15.0
    for t in range(3, 10):
        rate = rates.observe("node1", float(t), 40 + 5 * (t - 2))
    assert rate == 5.0
    assert rates.observe("node1", 10.0, 3) is None  # the node restarted: a new counter
    assert rates.observe("node1", 11.0, 5) == 2.0
    assert rates.observe("node1", 12.0, None) is None
