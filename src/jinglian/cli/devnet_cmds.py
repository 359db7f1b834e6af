"""``jinglian devnet``: a local network on this machine, one process per node.

``devnet up`` creates the network directory if needed (one organisation and
one validator per node; ``solo`` for a single node, ``tbft`` otherwise),
starts every node as a child process (``python -m jinglian.cli node start``,
output in ``nodes/<node>/node.log``), waits until each answers on its API and
records the process ids in ``DIR/devnet.json``. In the foreground it runs
until Ctrl-C and then stops the nodes; with ``--detach`` it returns and
``devnet down`` stops them later. Only processes recorded in ``devnet.json``
(and still running ``node start``) are ever signalled.
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

import click
import httpx

from jinglian.cli._base import emit, json_option
from jinglian.client import Client, Network, find_network_dir, load_network
from jinglian.client.network import NETWORK_FILE
from jinglian.types.errors import ConfigError, JinglianError, Timeout

__all__ = ["devnet"]

STATE_FILE = "devnet.json"
READY_TIMEOUT_S = 60.0
"""How long ``devnet up`` waits for every node's API."""
STOP_TIMEOUT_S = 15.0
"""How long a node gets to stop after SIGTERM before SIGKILL."""
LOG_TAIL_LINES = 5

DEFAULT_DIR = Path(".devnet")


def _resolve_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """``--dir``, else ``.devnet`` if it exists, else the network directory around the cwd."""
    if value is not None:
        return value
    if (DEFAULT_DIR / NETWORK_FILE).is_file():
        return DEFAULT_DIR
    return find_network_dir() or DEFAULT_DIR


dir_option = click.option(
    "--dir",
    "net_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    callback=_resolve_dir,
    help="Network directory [default: .devnet, or the network directory you are in].",
)


@click.group()
def devnet() -> None:
    """Run a local network: one process per node on this machine.

    \b
    Example:
      jinglian devnet up --nodes 4 --dir .devnet
      jinglian devnet status --dir .devnet
    """


@devnet.command("up")
@click.option(
    "--nodes",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Nodes (one organisation and validator each) when creating the network.",
)
@dir_option
@click.option(
    "--crypto",
    type=click.Choice(["default", "gm"]),
    default="default",
    show_default=True,
    help="Crypto suite when creating the network.",
)
@click.option("--detach", is_flag=True, help="Start the nodes and return; stop with `devnet down`.")
def devnet_up(nodes: int, net_dir: Path, crypto: str, detach: bool) -> None:
    """Create (if needed) and start a local network; Ctrl-C stops it.

    \b
    Example:
      jinglian devnet up
      jinglian devnet up --nodes 4 --crypto gm --dir gmnet --detach
    """
    network = _ensure_network(net_dir, nodes, crypto)
    if _running_pids(net_dir):
        raise ConfigError(
            f"a devnet already runs in {net_dir}; stop it with `jinglian devnet down`"
        )
    procs = _start_nodes(network)
    _save_state(net_dir, {name: p.pid for name, p in procs.items()})
    try:
        _wait_ready(network, procs)
    except BaseException:
        _stop(net_dir, procs)
        raise
    click.echo(
        f"devnet {network.chain_id!r} running: {len(procs)} nodes, "
        f"API {network.nodes[0].api_url}/docs",
        err=True,
    )
    if detach:
        click.echo(f"stop it with: jinglian devnet down --dir {net_dir}", err=True)
        return
    click.echo("Ctrl-C stops it", err=True)
    try:
        _watch(procs)
    except KeyboardInterrupt:
        click.echo("stopping...", err=True)
    finally:
        _stop(net_dir, procs)


@devnet.command("status")
@dir_option
@json_option
def devnet_status(net_dir: Path, as_json: bool) -> None:
    """Show each node of the devnet: process, height, API URL.

    \b
    Example:
      jinglian devnet status --dir .devnet
    """
    network = load_network(net_dir)
    pids = _running_pids(net_dir)
    rows = [_node_status(network, n.name, pids.get(n.name)) for n in network.nodes]
    emit(
        as_json,
        rows,
        lambda: [
            f"{r['name']:<8} {'running' if r['running'] else 'stopped':<8} "
            f"height {r['height'] if r['height'] is not None else '-':<6} {r['api_url']}"
            for r in rows
        ],
    )


@devnet.command("down")
@dir_option
def devnet_down(net_dir: Path) -> None:
    """Stop the nodes `devnet up --detach` started.

    \b
    Example:
      jinglian devnet down --dir .devnet
    """
    pids = _running_pids(net_dir)
    for pid in pids.values():
        os.kill(pid, signal.SIGTERM)
    _wait_gone(list(pids.values()), STOP_TIMEOUT_S)
    (net_dir / STATE_FILE).unlink(missing_ok=True)
    click.echo(f"stopped {len(pids)} nodes" if pids else "no devnet nodes were running", err=True)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops a foreground devnet the way Ctrl-C does."""
    raise KeyboardInterrupt


def _ensure_network(net_dir: Path, nodes: int, crypto: str) -> Network:
    if (net_dir / NETWORK_FILE).is_file():
        click.echo(f"using the network in {net_dir}", err=True)
        return load_network(net_dir)
    from jinglian.node.init import create_network

    consensus = "solo" if nodes == 1 else "tbft"
    create_network(net_dir, nodes, crypto=crypto, consensus=consensus)
    click.echo(f"created a {nodes}-node {crypto} network in {net_dir}", err=True)
    return load_network(net_dir)


def _start_nodes(network: Network) -> dict[str, subprocess.Popen[bytes]]:
    procs = {}
    for entry in network.nodes:
        log = (entry.dir / "node.log").open("ab")
        procs[entry.name] = subprocess.Popen(
            [sys.executable, "-m", "jinglian.cli", "node", "start", str(entry.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
    return procs


def _wait_ready(network: Network, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Until every node answers ``/health``; shows progress; raises if one dies or hangs."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = {n.name: n for n in network.nodes}
    while waiting:
        for name, entry in list(waiting.items()):
            if procs[name].poll() is not None:
                raise ConfigError(
                    f"{name} exited; its log ends: {_log_tail(entry.dir / 'node.log')}"
                )
            if _is_healthy(entry.api_url):
                del waiting[name]
                ready = len(network.nodes) - len(waiting)
                click.echo(f"  {name} ready ({ready}/{len(network.nodes)})", err=True)
        if time.monotonic() > deadline:
            raise Timeout(f"nodes {', '.join(waiting)} did not start in {READY_TIMEOUT_S:g} s")
        time.sleep(0.2)


def _is_healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _log_tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return " | ".join(lines[-LOG_TAIL_LINES:]) or "no output"


def _watch(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Until Ctrl-C; reports nodes that exit on their own."""
    reported: set[str] = set()
    while True:
        time.sleep(1.0)
        for name, proc in procs.items():
            if proc.poll() is not None and name not in reported:
                reported.add(name)
                click.echo(f"{name} exited with code {proc.returncode}", err=True)


def _stop(net_dir: Path, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    (net_dir / STATE_FILE).unlink(missing_ok=True)


def _save_state(net_dir: Path, pids: dict[str, int]) -> None:
    state = {"pids": pids, "started_ms": int(time.time() * 1000)}
    (net_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")


def _running_pids(net_dir: Path) -> dict[str, int]:
    """Recorded node processes that still run ``node start`` (a reused pid is ignored)."""
    try:
        state = json.loads((net_dir / STATE_FILE).read_text())
        pids = {str(k): int(v) for k, v in state["pids"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    return {name: pid for name, pid in pids.items() if _is_node_process(pid)}


def _is_node_process(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"jinglian" in cmdline and b"node\x00start" in cmdline


def _wait_gone(pids: list[int], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while any(_is_node_process(p) for p in pids):
        if time.monotonic() > deadline:
            for pid in pids:
                if _is_node_process(pid):
                    os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.1)


def _node_status(network: Network, name: str, pid: int | None) -> dict[str, Any]:
    entry = network.node(name)
    height = None
    if pid is not None:
        try:
            with Client(entry.api_url) as client:
                height = client.health().get("height")
        except (httpx.HTTPError, JinglianError):
            height = None
    return {
        "name": name,
        "pid": pid,
        "running": pid is not None,
        "height": height,
        "api_url": entry.api_url,
    }
