"""Supervision of a local devnet: one ``node start`` process per node of a network directory.

``devnet_cmds`` (the ``jinglian devnet`` commands) is a thin layer over this
module, the way sqlite-utils' ``cli.py`` is over ``db.py``. Main types:
``Devnet`` (a network directory and its node processes: start, wait, probe,
watch, stop), ``NodeView`` (one probe of one node), ``Started`` and
``Stopped`` (what a start or a stop did) and ``TxRates`` (tx/s per node).
``create_network`` and ``open_network`` make or reuse the network itself.

The process ids of the running nodes are recorded in ``DIR/devnet.json``.
Only processes recorded there and still running ``node start`` on this
devnet's node directory are ever signalled: SIGTERM first, SIGKILL after
``STOP_TIMEOUT_S``. A lock file (``DIR/.devnet.lock``) serialises whoever
reads the state and starts or stops nodes; a second holder waits.

Nothing here prints. Results are values, refusals are ``ConfigError`` or
``Timeout``, and progress reaches the caller through the callbacks it
passes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import httpx

from jinglian.client import Network, NodeEntry, load_network
from jinglian.client.network import NETWORK_FILE
from jinglian.types.errors import ConfigError, Timeout

__all__ = [
    "LOCK_FILE",
    "LOG_LINE_CHARS_MAX",
    "LOG_TAIL_BYTES",
    "NODE_LOG_FILE",
    "PEERS_TIMEOUT_S",
    "PROBE_TIMEOUT_S",
    "RATE_SAMPLES_MAX",
    "RATE_WINDOW_S",
    "READY_TIMEOUT_S",
    "REFRESH_S",
    "STATE_FILE",
    "STOP_TIMEOUT_S",
    "TXS_COMMITTED_METRIC",
    "Devnet",
    "NodeProcesses",
    "NodeView",
    "Refresh",
    "Started",
    "Stopped",
    "TxRates",
    "create_network",
    "interrupt_on_signals",
    "is_network_dir",
    "open_network",
]

STATE_FILE = "devnet.json"
"""Process ids of the running nodes, in the network directory."""
LOCK_FILE = ".devnet.lock"
"""Lock file in the network directory, held while the state is read and nodes start or stop."""
NODE_LOG_FILE = "node.log"
"""Each node's output, appended to in its node directory."""
READY_TIMEOUT_S = 60.0
"""How long ``wait_ready`` waits for the APIs of the nodes just started."""
PEERS_TIMEOUT_S = 30.0
"""How long ``wait_ready`` then waits for every tbft node to see all its peers."""
STOP_TIMEOUT_S = 15.0
"""How long the nodes get to exit after SIGTERM before SIGKILL."""
REFRESH_S = 1.0
"""Pause between two refreshes of ``Devnet.watch``."""
PROBE_TIMEOUT_S = 0.5
"""HTTP timeout of one status probe of one node."""
RATE_WINDOW_S = 5.0
"""tx/s is the committed-transaction count's growth over about this long."""
RATE_SAMPLES_MAX = 64
"""Samples ``TxRates`` keeps per node."""
LOG_TAIL_BYTES = 4096
"""How much of the end of ``node.log`` is read to find its last line."""
LOG_LINE_CHARS_MAX = 160
"""The last log line of a node that is down is cut to this length."""
TXS_COMMITTED_METRIC = "jinglian_txs_committed_total"
"""The ``/metrics`` counter that tx/s is computed from."""
HEALTH_POLL_S = 0.2
"""Pause between two rounds of ``/health`` probes while nodes start."""
PEERS_POLL_S = 0.5
"""Pause between two rounds of peer-count probes."""
REAP_POLL_S = 0.1
"""Pause between two checks for exited nodes after SIGTERM."""

NodeProcesses: TypeAlias = dict[str, subprocess.Popen[bytes]]
"""Child node processes started by this process, by node name."""


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


@dataclass(frozen=True, slots=True)
class Started:
    """What ``Devnet.start_down_nodes`` found running and what it started."""

    running: tuple[str, ...]
    """Nodes that were already running, untouched."""
    procs: NodeProcesses
    """The processes it started, by node name, in manifest order."""


@dataclass(frozen=True, slots=True)
class Stopped:
    """What a stop did."""

    names: tuple[str, ...]
    """Nodes that were running and were signalled."""
    killed: tuple[str, ...]
    """Those among them that did not exit within ``STOP_TIMEOUT_S`` and got SIGKILL, sorted."""


@dataclass(frozen=True, slots=True)
class Refresh:
    """One refresh of ``Devnet.watch``."""

    views: list[NodeView]
    """Every node, in manifest order."""
    rates: dict[str, float | None]
    """Committed transactions per second by node name; ``None`` until known."""


def _ignore(*_: object) -> None:
    """The default callback: nothing to report to."""


# -- creating or reusing the network -------------------------------------------------------------


def is_network_dir(net_dir: Path) -> bool:
    """Whether ``net_dir`` holds a network (its ``network.json``)."""
    return (net_dir / NETWORK_FILE).is_file()


def create_network(
    net_dir: Path, nodes: int, crypto: str, api_port: int | None, p2p_port: int | None
) -> Network:
    """Create a devnet's network in ``net_dir``: one organisation and validator per node.

    The consensus is ``solo`` for one node, else ``tbft``, which needs at least
    ``TBFT_VALIDATORS_MIN`` (4) validators to tolerate a faulty one: 2 or 3 nodes
    are refused rather than silently made 4. Ports default to ``jinglian init``'s.
    ``network.json`` says ``"devnet": true``, which ``jinglian init`` networks do not.
    """
    from jinglian.node import init

    if 1 < nodes < init.TBFT_VALIDATORS_MIN:
        raise ConfigError(
            f"a BFT devnet needs at least {init.TBFT_VALIDATORS_MIN} nodes; "
            f"use --nodes 1 (solo) or --nodes {init.TBFT_VALIDATORS_MIN} or more"
        )
    init.create_network(
        net_dir,
        nodes,
        crypto=crypto,
        consensus="solo" if nodes == 1 else "tbft",
        api_port=init.API_PORT_BASE if api_port is None else api_port,
        p2p_port=init.P2P_PORT_BASE if p2p_port is None else p2p_port,
    )
    _mark_devnet(net_dir)
    return load_network(net_dir)


def _mark_devnet(net_dir: Path) -> None:
    """Add ``"devnet": true`` to ``network.json``: governed CLI commands may then gather
    the approvals they need from this directory's admin identities (ADR 0013)."""
    path = net_dir / NETWORK_FILE
    manifest = json.loads(path.read_text())
    manifest["devnet"] = True
    temp = path.with_name(f".{NETWORK_FILE}.tmp")
    temp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temp, path)


def open_network(
    net_dir: Path,
    nodes: int | None,
    crypto: str | None,
    api_port: int | None,
    p2p_port: int | None,
) -> Network:
    """The network in ``net_dir``; ``ConfigError`` if it contradicts the options given."""
    network = load_network(net_dir)
    _validate_same_network(network, net_dir, nodes, crypto, api_port, p2p_port)
    return network


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


# -- signals -------------------------------------------------------------------------------------


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``KeyboardInterrupt`` the way Ctrl-C does."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


# -- the devnet ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Devnet:
    """The node processes of one network directory: start them, probe them, stop them."""

    network: Network
    """The network, as loaded from ``net_dir``."""
    net_dir: Path
    """Its directory: ``network.json``, the state file, the lock file."""

    @classmethod
    def load(cls, net_dir: Path) -> Devnet:
        """The devnet of the network in ``net_dir``; ``ConfigError`` if there is none."""
        return cls(load_network(net_dir), net_dir)

    @property
    def state_path(self) -> Path:
        """The state file, ``DIR/devnet.json``."""
        return self.net_dir / STATE_FILE

    def is_recorded(self) -> bool:
        """Whether the state file exists; ``down`` removes it, which ends ``watch``."""
        return self.state_path.is_file()

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the lock file: one holder at a time reads the state and starts or stops nodes."""
        with (self.net_dir / LOCK_FILE).open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def load_pids(self) -> dict[str, int]:
        """Process ids recorded in the state file; empty if it is missing or unreadable."""
        try:
            state = json.loads(self.state_path.read_text())
            return {str(k): int(v) for k, v in state["pids"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def save_pids(self, pids: dict[str, int]) -> None:
        """Record ``pids`` in the state file, sorted by name; none removes the file."""
        if not pids:
            self.state_path.unlink(missing_ok=True)
            return
        state = {"pids": dict(sorted(pids.items())), "updated_ms": int(time.time() * 1000)}
        self.state_path.write_text(json.dumps(state, indent=2) + "\n")

    def get_running_pids(self) -> dict[str, int]:
        """Recorded node processes that still run ``node start`` on their node directory."""
        dirs = {n.name: n.dir for n in self.network.nodes}
        return {
            name: pid
            for name, pid in self.load_pids().items()
            if name in dirs and _is_node_process(pid, dirs[name])
        }

    def start_down_nodes(self) -> Started:
        """Start every node that is not running and record all pids.

        ``ConfigError`` before anything starts if a port of a node to start is in use.
        """
        with self.lock():
            running = self.get_running_pids()
            down = [n for n in self.network.nodes if n.name not in running]
            for entry in down:
                _validate_ports_free(entry)
            procs = {entry.name: _spawn(entry) for entry in down}
            self.save_pids({**running, **{name: p.pid for name, p in procs.items()}})
        return Started(running=tuple(running), procs=procs)

    def wait_ready(
        self,
        procs: NodeProcesses,
        *,
        on_answering: Callable[[NodeEntry], None] = _ignore,
        on_waiting_peers: Callable[[int], None] = _ignore,
    ) -> None:
        """Until the started nodes answer ``/health`` and, on tbft, every node sees all its peers.

        ``on_answering`` is called as each started node first answers,
        ``on_waiting_peers`` with the peer count expected before waiting for
        peers. ``ConfigError`` if a started node exits, ``Timeout`` after
        ``READY_TIMEOUT_S`` or ``PEERS_TIMEOUT_S``.
        """
        with httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
            self._wait_healthy(procs, http, on_answering)
            if self.network.consensus == "tbft" and len(self.network.nodes) > 1:
                on_waiting_peers(len(self.network.nodes) - 1)
                self._wait_peers(http)

    def _wait_healthy(
        self,
        procs: NodeProcesses,
        http: httpx.Client,
        on_answering: Callable[[NodeEntry], None],
    ) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        waiting = [self.network.node(name) for name in procs]
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
                    on_answering(entry)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(e.name for e in waiting)
                raise Timeout(
                    f"{names} did not answer within {READY_TIMEOUT_S:g} s; see their node.log"
                )
            time.sleep(HEALTH_POLL_S if waiting else 0)

    def _wait_peers(self, http: httpx.Client) -> None:
        """Until every node reports all others as peers; the error names the first that does not."""
        expected = len(self.network.nodes) - 1
        deadline = time.monotonic() + PEERS_TIMEOUT_S
        while True:
            views = self.get_node_statuses(http)
            lagging = [v for v in views if v.peers is None or v.peers < expected]
            if not lagging:
                return
            if time.monotonic() > deadline:
                raise Timeout(_peers_message(self.network, lagging[0], expected))
            time.sleep(PEERS_POLL_S)

    def get_node_statuses(self, http: httpx.Client | None = None) -> list[NodeView]:
        """Probe every node, in manifest order; a node without a running process is ``down``.

        Without ``http``, a client with ``PROBE_TIMEOUT_S`` is opened for this call.
        """
        if http is None:
            with httpx.Client(timeout=PROBE_TIMEOUT_S) as client:
                return self.get_node_statuses(client)
        pids = self.get_running_pids()
        return [_probe(http, entry, pids.get(entry.name)) for entry in self.network.nodes]

    def watch(self, procs: NodeProcesses) -> Iterator[Refresh]:
        """A refresh about every ``REFRESH_S`` until the state file disappears.

        Child processes in ``procs`` that exit are reaped on the way.
        """
        rates = TxRates()
        with httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
            while self.is_recorded():
                _reap(procs)
                views = self.get_node_statuses(http)
                now = time.monotonic()
                yield Refresh(
                    views, {v.name: rates.observe(v.name, now, v.txs_committed) for v in views}
                )
                time.sleep(REFRESH_S)

    def stop_all(
        self, procs: NodeProcesses, *, on_interrupted: Callable[[], None] = _ignore
    ) -> Stopped:
        """Stop every running node of the devnet and update the state file, under the lock.

        ``procs`` are this process's children, waited for once they exit.
        ``on_interrupted`` is called if a Ctrl-C cuts the wait short and
        SIGKILL follows at once.
        """
        with self.lock():
            pids = self.get_running_pids()
            return self._stop(pids, procs, on_interrupted)

    def stop_started(
        self, procs: NodeProcesses, *, on_interrupted: Callable[[], None] = _ignore
    ) -> Stopped:
        """Stop only the nodes in ``procs`` (those this process started); as ``stop_all``."""
        with self.lock():
            pids = {n: p for n, p in self.get_running_pids().items() if n in procs}
            return self._stop(pids, procs, on_interrupted)

    def _stop(
        self, pids: dict[str, int], procs: NodeProcesses, on_interrupted: Callable[[], None]
    ) -> Stopped:
        killed = _terminate(self.network, pids, procs, on_interrupted)
        self.save_pids(self.get_running_pids())
        return Stopped(names=tuple(pids), killed=tuple(killed))

    def down(self, *, on_interrupted: Callable[[], None] = _ignore) -> Stopped:
        """Stop every running node of the devnet (not under the lock) and remove the state file.

        ``on_interrupted`` as for ``stop_all``.
        """
        pids = self.get_running_pids()
        killed = _terminate(self.network, pids, {}, on_interrupted)
        self.state_path.unlink(missing_ok=True)
        return Stopped(names=tuple(pids), killed=tuple(killed))


# -- starting and stopping processes -------------------------------------------------------------


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


def _terminate(
    network: Network,
    pids: dict[str, int],
    procs: NodeProcesses,
    on_interrupted: Callable[[], None],
) -> list[str]:
    """SIGTERM, wait up to ``STOP_TIMEOUT_S`` (a second Ctrl-C cuts it short), then SIGKILL.

    Returns the names of the nodes that needed SIGKILL, sorted.
    """
    for pid in pids.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    alive = dict(pids)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    try:
        while alive and time.monotonic() < deadline:
            time.sleep(REAP_POLL_S)
            _reap(procs)
            alive = {n: p for n, p in alive.items() if _is_node_process(p, network.node(n).dir)}
    except KeyboardInterrupt:
        on_interrupted()
    for pid in alive.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for name in alive:
        if name in procs:
            procs[name].wait(STOP_TIMEOUT_S)
    return sorted(alive)


def _reap(procs: NodeProcesses) -> None:
    """Collect the exit status of child nodes that exited, so none stays a zombie."""
    for proc in procs.values():
        proc.poll()


def _is_node_process(pid: int, node_dir: Path) -> bool:
    """Whether ``pid`` runs ``node start node_dir`` (a reused pid or a zombie does not)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\x00")
    except OSError:
        return False
    return (
        b"start" in args and str(node_dir).encode() in args and any(b"jinglian" in a for a in args)
    )


# -- probes --------------------------------------------------------------------------------------


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


# -- tx/s ----------------------------------------------------------------------------------------


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
