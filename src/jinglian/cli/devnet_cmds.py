"""``jinglian devnet``: a local network on this machine, one process per node.

``devnet up`` creates the network directory if it has no ``network.json``
(one organisation and validator per node: ``tbft``, or ``solo`` for one
node), starts every node that is not running as a child process (``python -m
jinglian.cli node start``, output appended to ``nodes/<node>/node.log``),
waits until each answers on its API and, on tbft, sees all its peers, and
records the process ids in ``DIR/devnet.json``. In the foreground it then
shows a live status (state, height, peers, round, tx/s per node) until
Ctrl-C, SIGTERM or SIGHUP, and stops every node of the devnet; with
``--detach`` it returns, and ``devnet status`` and ``devnet down`` work on
the running nodes later. Running ``up`` again starts only the nodes that are
down, on their existing data.

Only processes recorded in ``devnet.json`` and still running ``node start``
on this devnet's node directory are ever signalled: SIGTERM first, SIGKILL
after ``STOP_TIMEOUT_S``. A lock file serialises concurrent ``up`` runs
while they start nodes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import httpx

from jinglian.cli._base import emit, json_option
from jinglian.client import Network, NodeEntry, find_network_dir, load_network
from jinglian.client.network import NETWORK_FILE
from jinglian.types.errors import ConfigError, JinglianError, Timeout

__all__ = ["devnet"]

STATE_FILE = "devnet.json"
"""Process ids of the running nodes, in the network directory."""
LOCK_FILE = ".devnet.lock"
NODE_LOG_FILE = "node.log"
DEFAULT_DIR = Path(".devnet")
DEFAULT_NODES = 4
READY_TIMEOUT_S = 60.0
"""How long ``devnet up`` waits for the APIs of the nodes it started."""
PEERS_TIMEOUT_S = 30.0
"""How long ``devnet up`` then waits for every tbft node to see all its peers."""
STOP_TIMEOUT_S = 15.0
"""How long the nodes get to exit after SIGTERM before SIGKILL."""
REFRESH_S = 1.0
"""Pause between two refreshes of the live status."""
PROBE_TIMEOUT_S = 0.5
"""HTTP timeout of one status probe of one node."""
RATE_WINDOW_S = 5.0
"""tx/s is the committed-transaction count's growth over about this long."""
RATE_SAMPLES_MAX = 64
HEARTBEAT_S = 10.0
"""Without a TTY, an unchanged status is printed again after this long."""
LOG_TAIL_BYTES = 4096
"""How much of the end of ``node.log`` is read to find its last line."""
LOG_LINE_CHARS_MAX = 160
TXS_COMMITTED_METRIC = "jinglian_txs_committed_total"
EXAMPLE_CONTRACT = Path("examples") / "contracts" / "kv.py"


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node of the devnet as one probe saw it."""

    name: str
    """Node name, e.g. ``node1``."""
    pid: int | None
    """Process id while its process runs, else ``None``."""
    state: str
    """``up`` (its API answers), ``starting`` (its process runs, its API is silent) or ``down``."""
    api_url: str
    """Base URL of its REST API."""
    api_port: int
    """Port of its REST API."""
    p2p_port: int
    """Port of its peer endpoint."""
    log: str
    """Path of its log file."""
    height: int | None = None
    """Height of its last committed block."""
    peers: int | None = None
    """Connected peers (tbft only)."""
    round: int | None = None
    """Consensus round at the current height (tbft only)."""
    txs_committed: int | None = None
    """Transactions committed since its process started (``/metrics``)."""
    last_log: str | None = None
    """Last line of its log, for a node that is down."""


def _resolve_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """``--dir``, else ``.devnet`` if it exists, else the network directory around the cwd."""
    if value is not None:
        return value
    if (DEFAULT_DIR / NETWORK_FILE).is_file():
        return DEFAULT_DIR
    return find_network_dir() or DEFAULT_DIR


dir_option = click.option(
    "--dir",
    "--net",
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
      jinglian devnet up --nodes 4 --dir .devnet --detach
      jinglian devnet status --dir .devnet
      jinglian devnet down --dir .devnet
    """


@devnet.command("up")
@click.option(
    "--nodes",
    type=click.IntRange(1, 16),
    default=None,
    help=(
        f"Nodes, one organisation and validator each: tbft, or solo for 1 "
        f"[default: {DEFAULT_NODES}, or as many as the existing network has]."
    ),
)
@dir_option
@click.option(
    "--crypto",
    type=click.Choice(["default", "gm"]),
    default=None,
    help="Crypto suite of a new network [default: default].",
)
@click.option("--api-port", type=click.IntRange(1, 65535), help="node1's API port (node i: +i-1).")
@click.option("--p2p-port", type=click.IntRange(1, 65535), help="node1's peer port (node i: +i-1).")
@click.option("--detach", is_flag=True, help="Start the nodes and return; stop with `devnet down`.")
def devnet_up(
    nodes: int | None,
    net_dir: Path,
    crypto: str | None,
    api_port: int | None,
    p2p_port: int | None,
    detach: bool,
) -> None:
    """Create (if needed) and start a local network; show its live status until Ctrl-C.

    Starts only the nodes that are down, on their existing data. Ports apply
    when the network is created (default 8601.. and 9601..).

    \b
    Example:
      jinglian devnet up
      jinglian devnet up --nodes 4 --crypto gm --dir gmnet --detach
      jinglian devnet up --dir net2 --api-port 18601 --p2p-port 19601
    """
    network = _ensure_network(net_dir, nodes, crypto, api_port, p2p_port)
    with _signals_interrupt():
        procs = _start_down_nodes(network, net_dir)
        try:
            _wait_ready(network, net_dir, procs)
        except (JinglianError, KeyboardInterrupt):
            # Nodes that cannot start or connect are stopped; any other failure (a closed
            # stdout, say) leaves them running and recorded for `devnet status` and `down`.
            _stop(network, net_dir, procs, everything=False)
            raise
        if detach:
            _show_detached(network, net_dir)
            return
        _run_foreground(network, net_dir, procs)


@devnet.command("status")
@dir_option
@json_option
def devnet_status(net_dir: Path, as_json: bool) -> None:
    """Show each node of the devnet: pid, state, height, peers, round, ports.

    \b
    Example:
      jinglian devnet status --dir .devnet
      jinglian devnet status --json
    """
    network = load_network(net_dir)
    with httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
        views = _probe_all(http, network, _running_pids(network, net_dir))
    emit(as_json, [dataclasses.asdict(v) for v in views], lambda: _table(views, None))


@devnet.command("down")
@dir_option
def devnet_down(net_dir: Path) -> None:
    """Stop the nodes of a devnet (SIGTERM, then SIGKILL after 15 s).

    \b
    Example:
      jinglian devnet down --dir .devnet
    """
    network = load_network(net_dir)
    pids = _running_pids(network, net_dir)
    killed = _terminate(network, pids, {})
    (net_dir / STATE_FILE).unlink(missing_ok=True)
    if not pids:
        click.echo("no devnet nodes were running", err=True)
        return
    click.echo(_stopped_message(len(pids), killed), err=True)


# -- creating or reusing the network -------------------------------------------------------------


def _ensure_network(
    net_dir: Path, nodes: int | None, crypto: str | None, api_port: int | None, p2p_port: int | None
) -> Network:
    if not (net_dir / NETWORK_FILE).is_file():
        return _create_network(
            net_dir, nodes or DEFAULT_NODES, crypto or "default", api_port, p2p_port
        )
    network = load_network(net_dir)
    _validate_same_network(network, net_dir, nodes, crypto, api_port, p2p_port)
    click.echo(f"using the {len(network.nodes)}-node network in {net_dir}", err=True)
    return network


def _create_network(
    net_dir: Path, nodes: int, crypto: str, api_port: int | None, p2p_port: int | None
) -> Network:
    from jinglian.node.init import create_network

    ports = {"api_port": api_port, "p2p_port": p2p_port}
    consensus = "solo" if nodes == 1 else "tbft"
    create_network(
        net_dir,
        nodes,
        crypto=crypto,
        consensus=consensus,
        **{k: v for k, v in ports.items() if v is not None},
    )
    click.echo(
        f"created a {nodes}-node {consensus} network ({crypto} crypto) in {net_dir}", err=True
    )
    return load_network(net_dir)


def _validate_same_network(
    network: Network,
    net_dir: Path,
    nodes: int | None,
    crypto: str | None,
    api_port: int | None,
    p2p_port: int | None,
) -> None:
    """Refuse options that contradict the network already in ``net_dir``."""
    count = len(network.nodes)
    if nodes is not None and nodes != count:
        raise ConfigError(
            f"{net_dir} holds a {count}-node {network.consensus} network, not the {nodes} nodes "
            f"asked for: keep it with `jinglian devnet up --nodes {count} --dir {net_dir}`, "
            f"or remove it (rm -rf {net_dir}) to create a {nodes}-node one"
        )
    if crypto is not None and crypto != network.crypto:
        raise ConfigError(
            f"{net_dir} holds a {network.crypto} network, not {crypto}: "
            "remove it or pick another --dir"
        )
    first = network.nodes[0]
    for option, asked, actual in (
        ("--api-port", api_port, _api_port(first)),
        ("--p2p-port", p2p_port, _p2p_port(first)),
    ):
        if asked is not None and asked != actual:
            raise ConfigError(
                f"{net_dir} was created with {option} {actual}, not {asked}: ports are fixed "
                "when the network is created; drop the option or pick another --dir"
            )


# -- starting nodes ------------------------------------------------------------------------------


@contextlib.contextmanager
def _signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP stop ``devnet up`` the way Ctrl-C does."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _locked(net_dir: Path) -> Iterator[None]:
    """Hold the devnet's lock file: one ``up`` at a time reads the state and starts nodes."""
    with (net_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_down_nodes(network: Network, net_dir: Path) -> dict[str, subprocess.Popen[bytes]]:
    """Start every node that is not running and record all pids; returns the new processes."""
    with _locked(net_dir):
        running = _running_pids(network, net_dir)
        down = [n for n in network.nodes if n.name not in running]
        for entry in down:
            _validate_ports_free(entry)
        procs = {entry.name: _spawn(entry) for entry in down}
        _save_state(net_dir, {**running, **{name: p.pid for name, p in procs.items()}})
    if running and down:
        click.echo(f"{', '.join(running)} already running; starting {', '.join(procs)}", err=True)
    elif running:
        click.echo(f"all {len(running)} nodes already running", err=True)
    return procs


def _validate_ports_free(entry: NodeEntry) -> None:
    host = urlsplit(entry.api_url).hostname or "127.0.0.1"
    for port in (_api_port(entry), _p2p_port(entry)):
        if not _is_bindable(host, port):
            raise ConfigError(
                f"cannot start {entry.name}: port {port} on {host} is in use (by another devnet, "
                "`make run` or node?); stop that, or create the devnet in another --dir "
                "with other --api-port/--p2p-port"
            )


def _is_bindable(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (as nodes do, with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _spawn(entry: NodeEntry) -> subprocess.Popen[bytes]:
    with (entry.dir / NODE_LOG_FILE).open("ab") as log:
        log.write(f"--- jinglian devnet: starting {entry.name} at {time.ctime()} ---\n".encode())
        log.flush()
        return subprocess.Popen(
            [sys.executable, "-m", "jinglian.cli", "node", "start", str(entry.dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )


def _wait_ready(network: Network, net_dir: Path, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Until the started nodes answer ``/health`` and, on tbft, every node sees all its peers."""
    with httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
        _wait_healthy(network, procs, http)
        if network.consensus == "tbft" and len(network.nodes) > 1:
            _wait_peers(network, net_dir, http)


def _wait_healthy(
    network: Network, procs: dict[str, subprocess.Popen[bytes]], http: httpx.Client
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    waiting = [network.node(name) for name in procs]
    while waiting:
        for entry in list(waiting):
            proc = procs[entry.name]
            if proc.poll() is not None:
                raise ConfigError(
                    f"{entry.name} exited with code {proc.returncode} while starting; "
                    f"{_log_path(entry)} ends: {_last_log_line(entry)}"
                )
            if _get_health(http, entry.api_url) is not None:
                waiting.remove(entry)
                click.echo(f"  {entry.name} answers at {entry.api_url}", err=True)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(e.name for e in waiting)
            raise Timeout(
                f"{names} did not answer within {READY_TIMEOUT_S:g} s; see their node.log"
            )
        time.sleep(0.2 if waiting else 0)


def _wait_peers(network: Network, net_dir: Path, http: httpx.Client) -> None:
    """Until every node reports all others as peers; a clear error names the first that does not."""
    expected = len(network.nodes) - 1
    deadline = time.monotonic() + PEERS_TIMEOUT_S
    click.echo(f"  waiting for each node to see its {expected} peers...", err=True)
    while True:
        views = _probe_all(http, network, _running_pids(network, net_dir))
        lagging = [v for v in views if v.peers is None or v.peers < expected]
        if not lagging:
            return
        if time.monotonic() > deadline:
            raise Timeout(_peers_message(network, lagging[0], expected))
        time.sleep(0.5)


def _peers_message(network: Network, view: NodeView, expected: int) -> str:
    why = f"{view.name} sees {view.peers if view.peers is not None else 'no'} of {expected} peers"
    if view.state != "up":
        why = f"{view.name} is {view.state}"
    suite = f"{network.crypto} " if network.crypto != "default" else ""
    entry = network.node(view.name)
    return (
        f"the {suite}nodes did not all connect to each other within {PEERS_TIMEOUT_S:g} s "
        f"({why}); {_log_path(entry)} ends: {_last_log_line(entry)}"
    )


# -- foreground and detached ---------------------------------------------------------------------


def _show_detached(network: Network, net_dir: Path) -> None:
    with httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
        views = _probe_all(http, network, _running_pids(network, net_dir))
    for line in _table(views, None):
        click.echo(line)
    _echo_hints(network, net_dir)
    click.echo(f"stop it with: jinglian devnet down --dir {net_dir}", err=True)


def _run_foreground(
    network: Network, net_dir: Path, procs: dict[str, subprocess.Popen[bytes]]
) -> None:
    _echo_hints(network, net_dir)
    click.echo("Ctrl-C stops all nodes", err=True)
    try:
        _watch(network, net_dir, procs)
        click.echo(f"{STATE_FILE} was removed (`devnet down`?); stopping", err=True)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping all nodes...", err=True)
    finally:
        _stop(network, net_dir, procs, everything=True)


def _echo_hints(network: Network, net_dir: Path) -> None:
    first = network.nodes[0]
    lines = [
        f"devnet {network.chain_id!r}: {len(network.nodes)} {network.consensus} nodes in "
        f"{net_dir}, logs in {net_dir}/nodes/<node>/{NODE_LOG_FILE}",
        f"API {first.api_url}/api/v1 (docs {first.api_url}/docs)",
        f"commands run in {net_dir} (or given --net {net_dir}) use its nodes and identities:",
        f"  cd {net_dir}",
        "  jinglian chain info",
    ]
    example = EXAMPLE_CONTRACT.resolve()
    if example.is_file():
        lines.append(f"  jinglian contract deploy kv {os.path.relpath(example, net_dir.resolve())}")
        lines.append("""  jinglian tx invoke kv set --args '{"key": "a", "value": 1}'""")
    else:
        lines.append("  jinglian tx invoke CONTRACT METHOD --args JSON")
    for line in lines:
        click.echo(line, err=True)


def _watch(network: Network, net_dir: Path, procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Refresh the live status about once a second until the state file disappears."""
    rates = TxRates()
    screen = LiveStatus(sys.stdout.isatty(), f"API {network.nodes[0].api_url}, Ctrl-C stops all")
    with httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
        while (net_dir / STATE_FILE).is_file():
            _reap(procs)
            views = _probe_all(http, network, _running_pids(network, net_dir))
            now = time.monotonic()
            screen.show(views, {v.name: rates.observe(v.name, now, v.txs_committed) for v in views})
            time.sleep(REFRESH_S)


class TxRates:
    """Committed transactions per second of each node, over about ``RATE_WINDOW_S``."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[tuple[float, int]]] = {}

    def observe(self, name: str, now: float, count: int | None) -> float | None:
        """Record ``count`` at ``now`` (monotonic seconds); the rate, once two samples exist."""
        if count is None:
            self._samples.pop(name, None)
            return None
        samples = self._samples.setdefault(name, deque(maxlen=RATE_SAMPLES_MAX))
        if samples and count < samples[-1][1]:
            samples.clear()  # the node restarted and its counter with it
        samples.append((now, count))
        while len(samples) > 2 and now - samples[1][0] >= RATE_WINDOW_S:
            samples.popleft()
        first_time, first_count = samples[0]
        if now <= first_time:
            return None
        return (count - first_count) / (now - first_time)


class LiveStatus:
    """Draws the status: a table redrawn in place on a TTY, else one line per change."""

    def __init__(self, tty: bool, title: str) -> None:
        self.tty = tty
        """Whether stdout is a terminal."""
        self.title = title
        """Shown after the time above the table."""
        self._lines_drawn = 0
        self._last_line = ""
        self._last_print = 0.0
        self._down: set[str] = set()

    def show(self, views: list[NodeView], rates: dict[str, float | None]) -> None:
        """Show one refresh."""
        if self.tty:
            self._redraw([f"{time.strftime('%H:%M:%S')}  {self.title}", *_table(views, rates)])
        else:
            self._print_line(views, rates)

    def _redraw(self, lines: list[str]) -> None:
        width = max(shutil.get_terminal_size().columns - 1, 20)
        up = f"\x1b[{self._lines_drawn}A" if self._lines_drawn else ""
        click.echo(up + "".join(f"\r{line[:width]}\x1b[K\n" for line in lines), nl=False)
        self._lines_drawn = len(lines)

    def _print_line(self, views: list[NodeView], rates: dict[str, float | None]) -> None:
        for view in views:
            if view.state == "down" and view.name not in self._down:
                click.echo(f"{view.name} is down; its log ends: {view.last_log}", err=True)
        self._down = {v.name for v in views if v.state == "down"}
        line = " | ".join(_compact(v, rates.get(v.name)) for v in views)
        now = time.monotonic()
        if line != self._last_line or now - self._last_print >= HEARTBEAT_S:
            click.echo(f"{time.strftime('%H:%M:%S')} {line}")
            self._last_line, self._last_print = line, now


def _stop(
    network: Network,
    net_dir: Path,
    procs: dict[str, subprocess.Popen[bytes]],
    *,
    everything: bool,
) -> None:
    """Stop every node of the devnet, or only those this run started (``procs``); say so."""
    with _locked(net_dir):
        running = _running_pids(network, net_dir)
        pids = running if everything else {n: p for n, p in running.items() if n in procs}
        killed = _terminate(network, pids, procs)
        _save_state(net_dir, _running_pids(network, net_dir))
    click.echo(_stopped_message(len(pids), killed), err=True)


def _stopped_message(count: int, killed: list[str]) -> str:
    message = f"stopped {count} node{'s' if count != 1 else ''}"
    if killed:
        message += (
            f"; {', '.join(killed)} did not exit within {STOP_TIMEOUT_S:g} s of SIGTERM "
            "and got SIGKILL"
        )
    return message


def _terminate(
    network: Network, pids: dict[str, int], procs: dict[str, subprocess.Popen[bytes]]
) -> list[str]:
    """SIGTERM, wait up to ``STOP_TIMEOUT_S`` (a second Ctrl-C cuts it short), then SIGKILL.

    Returns the names of the nodes that needed SIGKILL.
    """
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    alive = dict(pids)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    try:
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            _reap(procs)
            alive = {n: p for n, p in alive.items() if _is_node_process(p, network.node(n).dir)}
    except KeyboardInterrupt:
        click.echo("interrupted again: killing the nodes", err=True)
    for pid in alive.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for name in alive:
        if name in procs:
            procs[name].wait(STOP_TIMEOUT_S)
    return sorted(alive)


def _reap(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """Collect the exit status of child nodes that exited, so none stays a zombie."""
    for proc in procs.values():
        proc.poll()


# -- state and probes ----------------------------------------------------------------------------


def _save_state(net_dir: Path, pids: dict[str, int]) -> None:
    path = net_dir / STATE_FILE
    if not pids:
        path.unlink(missing_ok=True)
        return
    state = {"pids": dict(sorted(pids.items())), "updated_ms": int(time.time() * 1000)}
    path.write_text(json.dumps(state, indent=2) + "\n")


def _running_pids(network: Network, net_dir: Path) -> dict[str, int]:
    """Recorded node processes that still run ``node start`` on their node directory."""
    try:
        state = json.loads((net_dir / STATE_FILE).read_text())
        pids = {str(k): int(v) for k, v in state["pids"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    dirs = {n.name: n.dir for n in network.nodes}
    return {
        name: pid
        for name, pid in pids.items()
        if name in dirs and _is_node_process(pid, dirs[name])
    }


def _is_node_process(pid: int, node_dir: Path) -> bool:
    """Whether ``pid`` runs ``node start node_dir`` (a reused pid or a zombie does not)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\x00")
    except OSError:
        return False
    return (
        b"start" in args and str(node_dir).encode() in args and any(b"jinglian" in a for a in args)
    )


def _probe_all(http: httpx.Client, network: Network, pids: dict[str, int]) -> list[NodeView]:
    return [_probe(http, entry, pids.get(entry.name)) for entry in network.nodes]


def _probe(http: httpx.Client, entry: NodeEntry, pid: int | None) -> NodeView:
    base = NodeView(
        name=entry.name,
        pid=pid,
        state="down",
        api_url=entry.api_url,
        api_port=_api_port(entry),
        p2p_port=_p2p_port(entry),
        log=str(_log_path(entry)),
    )
    if pid is None:
        return dataclasses.replace(base, last_log=_last_log_line(entry))
    health = _get_health(http, entry.api_url)
    if health is None:
        return dataclasses.replace(base, state="starting")
    return dataclasses.replace(
        base,
        state="up",
        height=_int_or_none(health.get("height")),
        peers=_int_or_none(health.get("peers")),
        round=_int_or_none(health.get("round")),
        txs_committed=_get_txs_committed(http, entry.api_url),
    )


def _get_health(http: httpx.Client, api_url: str) -> dict[str, Any] | None:
    try:
        reply = http.get(f"{api_url}/api/v1/health")
        body = reply.json() if reply.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _get_txs_committed(http: httpx.Client, api_url: str) -> int | None:
    """The node's ``jinglian_txs_committed_total`` counter, from ``/metrics``."""
    try:
        reply = http.get(f"{api_url}/metrics")
    except httpx.HTTPError:
        return None
    if reply.status_code != 200:
        return None
    for line in reply.text.splitlines():
        name, _, value = line.partition(" ")
        if name == TXS_COMMITTED_METRIC:
            with contextlib.suppress(ValueError):
                return int(float(value))
    return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _api_port(entry: NodeEntry) -> int:
    return urlsplit(entry.api_url).port or 80


def _p2p_port(entry: NodeEntry) -> int:
    return int(entry.p2p.rpartition(":")[2])


def _log_path(entry: NodeEntry) -> Path:
    return entry.dir / NODE_LOG_FILE


def _last_log_line(entry: NodeEntry) -> str:
    """The last non-empty line of the node's log, shortened; reads only its end."""
    try:
        with _log_path(entry).open("rb") as handle:
            handle.seek(max(handle.seek(0, os.SEEK_END) - LOG_TAIL_BYTES, 0))
            tail = handle.read(LOG_TAIL_BYTES).decode(errors="replace")
    except OSError:
        return "(no log)"
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:LOG_LINE_CHARS_MAX] if lines else "(empty log)"


# -- rendering -----------------------------------------------------------------------------------


def _table(views: list[NodeView], rates: dict[str, float | None] | None) -> list[str]:
    """Status table; with ``rates`` a tx/s column, without it the API URL."""
    last = "tx/s" if rates is not None else "api"
    lines = [f"{'node':<8}{'pid':>8}  {'state':<9}{'height':>8}{'peers':>7}{'round':>7}  {last}"]
    for view in views:
        extra = _rate(rates.get(view.name)) if rates is not None else view.api_url
        if view.state == "down":
            extra = f"{extra}  last log: {view.last_log}" if rates is not None else view.last_log
        lines.append(
            f"{view.name:<8}{_cell(view.pid):>8}  {view.state:<9}{_cell(view.height):>8}"
            f"{_cell(view.peers):>7}{_cell(view.round):>7}  {extra}"
        )
    return lines


def _compact(view: NodeView, rate: float | None) -> str:
    if view.state != "up":
        return f"{view.name} {view.state}"
    return (
        f"{view.name} up h={_cell(view.height)} peers={_cell(view.peers)} "
        f"r={_cell(view.round)} {_rate(rate)} tx/s"
    )


def _cell(value: int | None) -> str:
    return "-" if value is None else str(value)


def _rate(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1f}"
