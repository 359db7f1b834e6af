"""``jinglian devnet up --demo`` and the directory walk (``examples/directory_walk.py``).

The slow tests bring up a solo devnet with the small demo, as a user does
(``python -m jinglian.cli`` in a subprocess, free ports): the companions
(indexer, two exchange services, the planning commission's watch) start, the
node answers directory searches from the index without a restart, a second
``up --demo`` does not reload the demo and restarts only the companion that
died, ``devnet down`` stops them all; the walk runs through, its hash is the
chain's, and it fails with exit code 1, naming the step, when the provider's
exchange service is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jinglian.apps import directory
from jinglian.cli import cli
from jinglian.cli.devnet import CompanionSpec, Devnet
from jinglian.client import Client
from jinglian.node.config import load_node_config
from jinglian.node.init import create_network
from jinglian.testing.process import cli_argv_with_ctrl_c
from jinglian.types.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
WALK = REPO / "examples" / "directory_walk.py"
CLI_TIMEOUT_S = 120.0
COMPANIONS = ["indexer", "exchange-planning", "exchange-water", "watch-planning"]


def _run(args: list[str], *, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ARGS`` (a Python command line) in a subprocess, without ``JINGLIAN_NET``."""
    env = {k: v for k, v in os.environ.items() if k != "JINGLIAN_NET"}
    result = subprocess.run(
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    if ok:
        assert result.returncode == 0, f"{' '.join(args)}: {result.stdout}\n{result.stderr}"
    return result


def _jinglian(*args: str) -> subprocess.CompletedProcess[str]:
    return _run(["-m", "jinglian.cli", *args])


def _up_demo(
    net_dir: Path, ports: tuple[int, int] | None = None
) -> subprocess.CompletedProcess[str]:
    args = ["devnet", "up", "--detach", "--demo", "--demo-size", "small", "--dir", str(net_dir)]
    if ports is not None:
        args += ["--nodes", "1", "--api-port", str(ports[0]), "--p2p-port", str(ports[1])]
    return _jinglian(*args)


def _companions(net_dir: Path) -> dict[str, dict[str, Any]]:
    out = _jinglian("devnet", "status", "--companions", "--json", "--dir", str(net_dir)).stdout
    return {row["name"]: row for row in json.loads(out)}


def _is_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    while not _is_gone(pid):
        assert time.monotonic() < deadline, f"pid {pid} did not exit"
        time.sleep(0.1)


@pytest.mark.slow
def test_up_demo_runs_companions_restarts_them_and_down_stops_them(
    devnet_dir: Path, devnet_ports: tuple[int, int]
) -> None:
    first = _up_demo(devnet_dir, devnet_ports)
    assert "loading the small directory demo" in first.stderr, first.stderr
    assert "node1 reads the SQL index" in first.stderr
    assert load_node_config(devnet_dir / "nodes" / "node1").index_db == (
        "sqlite:///../../index.sqlite"
    )
    companions = _companions(devnet_dir)
    assert list(companions) == COMPANIONS
    assert all(row["state"] == "up" and isinstance(row["pid"], int) for row in companions.values())
    assert companions["exchange-planning"]["port"] == devnet_ports[0] + 49
    assert companions["exchange-water"]["port"] == devnet_ports[0] + 50
    assert companions["indexer"]["indexed_height"] >= 1
    assert all((devnet_dir / "companions" / f"{name}.log").is_file() for name in COMPANIONS)
    # The node reads the index the indexer writes: no restart was needed.
    found = json.loads(
        _jinglian(
            "directory", "search", "土地利用", "--json", "--net", str(devnet_dir),
            "--identity", "water/client",
        ).stdout
    )  # fmt: skip
    assert [(c["org"], c["code"]) for c in found["catalogs"]] == [("planning", "301001/000001")]
    # The text status lists the companions under the nodes.
    text = _jinglian("devnet", "status", "--dir", str(devnet_dir)).stdout
    assert "exchange-planning" in text and f"https://127.0.0.1:{devnet_ports[0] + 49}" in text

    # An exchange service dies; `up --demo` restarts it alone and does not reload the demo.
    dead = companions["exchange-planning"]["pid"]
    os.kill(dead, signal.SIGKILL)
    _wait_gone(dead)
    assert _companions(devnet_dir)["exchange-planning"]["state"] == "down"
    again = _up_demo(devnet_dir)
    assert "loading" not in again.stderr and "already loaded" in again.stderr, again.stderr
    assert "all 1 nodes already running" in again.stderr
    assert "companions already running: indexer, exchange-water, watch-planning" in again.stderr
    assert "started exchange-planning" in again.stderr
    restarted = _companions(devnet_dir)
    assert restarted["exchange-planning"]["state"] == "up"
    assert restarted["exchange-planning"]["pid"] != dead
    others = [n for n in COMPANIONS if n != "exchange-planning"]
    assert {n: restarted[n]["pid"] for n in others} == {n: companions[n]["pid"] for n in others}

    down = _jinglian("devnet", "down", "--dir", str(devnet_dir))
    assert "stopped 1 node and 4 companions" in down.stderr, down.stderr
    assert all(_is_gone(row["pid"]) for row in restarted.values())
    assert not (devnet_dir / "devnet.json").exists()
    assert [row["state"] for row in _companions(devnet_dir).values()] == []


@pytest.mark.slow
def test_walk_gets_the_land_use_data_and_fails_loudly_without_the_exchange(
    devnet_dir: Path, devnet_ports: tuple[int, int]
) -> None:
    _up_demo(devnet_dir, devnet_ports)
    walked = _run([str(WALK), "--net", str(devnet_dir), "--json"])
    run = json.loads(walked.stdout)["runs"][0]
    assert run["approved_by"] == "watch" and run["rows"] == 3000, run
    assert set(run["seconds"]) == {"search", "request", "grant", "fetch", "verify"}
    for step in ("search", "request", "grant", "fetch", "verify"):
        assert f"{step} " in walked.stderr
    with Client.from_network(devnet_dir, "water/client") as water:
        record = directory.get_delivery(water, run["delivery"])
        grant = directory.get_grant(water, run["grant"])
    assert record["response_hash"] == run["payload_hash"] and record["status"] == "confirmed"
    assert record["grant"] == run["grant"] == run["request"]
    assert grant["requester"] == "water" and grant["provider"] == "planning"

    # Without the watch, the script approves as the planning commission itself.
    companions = _companions(devnet_dir)
    os.kill(companions["watch-planning"]["pid"], signal.SIGTERM)
    _wait_gone(companions["watch-planning"]["pid"])
    second = json.loads(
        _run([str(WALK), "--net", str(devnet_dir), "--approve", "self", "--json"]).stdout
    )["runs"][0]
    assert second["approved_by"] == "self" and second["request"] > run["request"]

    # The provider's exchange service is gone: the walk stops at fetch with exit code 1.
    os.kill(companions["exchange-planning"]["pid"], signal.SIGTERM)
    _wait_gone(companions["exchange-planning"]["pid"])
    failed = _run([str(WALK), "--net", str(devnet_dir), "--approve", "self"], ok=False)
    assert failed.returncode == 1
    assert "error: the walk failed at fetch" in failed.stderr, failed.stderr


def test_walk_without_a_network_exits_1(tmp_path: Path) -> None:
    result = _run([str(WALK), "--net", str(tmp_path / "nowhere")], ok=False)
    assert result.returncode == 1 and "error:" in result.stderr, result.stderr


def test_demo_size_needs_demo(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["devnet", "up", "--demo-size", "small", "--dir", str(tmp_path / "net")]
    )
    assert result.exit_code == 2 and "--demo-size needs --demo" in result.output
    assert not (tmp_path / "net").exists()


def test_companion_records_survive_node_updates_and_refuse_clashing_names(
    tmp_path: Path,
) -> None:
    net_dir = tmp_path / "net"
    create_network(net_dir, 1, consensus="solo")
    net = Devnet.load(net_dir)
    with pytest.raises(ConfigError, match="not node names"):
        net.start_down_companions([CompanionSpec(name="node1", args=("version",))])
    sleeper = CompanionSpec(name="sleeper", args=("devnet", "--help"))
    started = net.start_down_companions([sleeper])
    started.procs["sleeper"].wait(30)
    net.save_pids({})  # a node update keeps the companions' records
    views = net.get_companion_statuses()
    assert [(v.name, v.state) for v in views] == [("sleeper", "down")]
    assert views[0].last_log  # the end of its log (its help text)
    assert net.is_recorded()
    assert net.down().companions == ()
    assert not net.is_recorded()


def test_a_companion_started_by_another_interpreter_path_is_the_same(
    tmp_path: Path, devnet_ports: tuple[int, int]
) -> None:
    # `make run` starts companions with .venv/bin/python3 (the `jinglian` script), a
    # `python -m jinglian.cli devnet up` with .venv/bin/python: the same companion.
    net_dir = tmp_path / "net"
    create_network(net_dir, 1, consensus="solo", api_port=devnet_ports[0], p2p_port=devnet_ports[1])
    bin_dir = Path(sys.executable).parent
    other = next(
        str(bin_dir / name)
        for name in ("python3", "python", "python3.11")
        if (bin_dir / name).exists() and str(bin_dir / name) != sys.executable
    )
    spec = CompanionSpec(name="node-proc", args=("node", "start", str(net_dir / "nodes" / "node1")))
    argv = [other, *spec.argv[1:]]
    net = Devnet.load(net_dir)
    net.companions_dir.mkdir()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        record = {"pid": proc.pid, "argv": argv, "note": "", "port": None, "index_db": None}
        (net_dir / "devnet.json").write_text(
            json.dumps({"pids": {}, "companions": {spec.name: record}})
        )
        deadline = time.monotonic() + 10
        while net.get_running_companions() != {spec.name: proc.pid}:
            assert time.monotonic() < deadline, "the recorded companion is not seen running"
            time.sleep(0.1)
        started = net.start_down_companions([spec])
        assert started.running == (spec.name,) and started.procs == {}
        assert net.down().companions == (spec.name,)
        assert proc.wait(20) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_foreground_up_demo_shows_companions_and_ctrl_c_stops_them(
    devnet_dir: Path, devnet_ports: tuple[int, int], tmp_path: Path
) -> None:
    up = [
        "devnet", "up", "--demo", "--demo-size", "small", "--nodes", "1", "--dir", str(devnet_dir),
        "--api-port", str(devnet_ports[0]), "--p2p-port", str(devnet_ports[1]),
    ]  # fmt: skip
    stderr_path = tmp_path / "up.err"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            cli_argv_with_ctrl_c(*up),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + CLI_TIMEOUT_S
        line = ""
        while "watch-planning up" not in line:  # one status line per change, companions last
            assert time.monotonic() < deadline, stderr_path.read_text()
            line = proc.stdout.readline()
            assert line or proc.poll() is None, stderr_path.read_text()
        assert "node1 up" in line and "indexer up" in line and "exchange-planning up" in line
        pids = [row["pid"] for row in _companions(devnet_dir).values()]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    messages = stderr_path.read_text()
    assert (
        "Ctrl-C stops all nodes" in messages
        and "exchange-planning: planning's exchange" in messages
    )
    assert "stopped 1 node and 4 companions" in messages, messages
    assert all(_is_gone(pid) for pid in pids)
    assert not (devnet_dir / "devnet.json").exists()
