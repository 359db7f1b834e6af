"""Supervision of a local devnet: one ``node start`` process per node of a network directory.

``devnet_cmds`` (the ``jinglian devnet`` commands) is a thin layer over this
module, the way sqlite-utils' ``cli.py`` is over ``db.py``. Main types:
``Devnet`` (a network directory and its node processes: start, wait, probe,
watch, stop), ``NodeView`` (one probe of one node), ``Started`` and
``Stopped`` (what a start or a stop did) and ``TxRates`` (tx/s per node).
``create_network`` and ``open_network`` make or reuse the network itself.

The process ids of the running nodes are recorded in ``DIR/devnet.json``,
with those of the devnet's *companions*: other long-running ``jinglian``
processes that serve the nodes (the SQL indexer, exchange services, a
directory watch), described by ``CompanionSpec`` and logged to
``DIR/companions/<name>.log``. Only processes recorded there and still
running ``node start`` on this devnet's node directory (a companion: its
recorded command line, exactly) are ever signalled: SIGTERM first, SIGKILL
after ``STOP_TIMEOUT_S``; companions stop before the nodes they use. A lock file (``DIR/.devnet.lock``) serialises whoever
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
import sqlite3
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
    "COMPANIONS_DIR",
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
    "CompanionSpec",
    "CompanionView",
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
COMPANIONS_DIR = "companions"
"""Directory of the companions' logs (``<name>.log``), in the network directory."""
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
COMPANION_READY_TIMEOUT_S = 60.0
"""How long ``wait_companions_ready`` waits for the companions just started to listen."""
INDEX_CATCH_UP_TIMEOUT_S = 900.0
"""How long ``wait_indexed`` waits for an indexer to reach the chain's head."""
INDEX_PROGRESS_S = 5.0
"""Pause between two progress reports of ``wait_indexed``."""

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
    companions: tuple[str, ...] = ()
    """Companions that were running and were signalled (before the nodes)."""


@dataclass(frozen=True, slots=True)
class Refresh:
    """One refresh of ``Devnet.watch``."""

    views: list[NodeView]
    """Every node, in manifest order."""
    rates: dict[str, float | None]
    """Committed transactions per second by node name; ``None`` until known."""
    companions: list[CompanionView] = dataclasses.field(default_factory=list)
    """Every recorded companion, in the order they were started."""


@dataclass(frozen=True, slots=True)
class CompanionSpec:
    """A long-running ``jinglian`` process that serves the devnet beside its nodes."""

    name: str
    """Unique among the devnet's companions and apart from node names, e.g. ``indexer``."""
    args: tuple[str, ...]
    """Its ``jinglian`` command line (after ``python -m jinglian.cli``)."""
    note: str = ""
    """What it is, shown in the status, e.g. its URL."""
    port: int | None = None
    """A port it listens on (127.0.0.1): checked free before it starts; it is ``up`` once
    the port accepts connections."""
    index_db: Path | None = None
    """An SQLite index it writes: the status shows the height indexed."""

    @property
    def argv(self) -> list[str]:
        """The process's whole command line, as recorded and as found in ``/proc``."""
        return [sys.executable, "-m", "jinglian.cli", *self.args]


@dataclass(frozen=True, slots=True)
class CompanionView:
    """One companion of the devnet as one probe saw it."""

    name: str
    """Its name."""
    pid: int | None
    """Process id while it runs, else ``None``."""
    state: str
    """``up``, ``starting`` (runs, its port does not answer yet) or ``down``."""
    note: str
    """What it is (``CompanionSpec.note``)."""
    log: str
    """Path of its log file."""
    port: int | None = None
    """The port it listens on, if any."""
    indexed_height: int | None = None
    """For an indexer, the last height in its index."""
    last_log: str | None = None
    """Last line of its log, for a companion that is down."""


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

    def _load_state(self) -> dict[str, Any]:
        """The state file's content; empty if it is missing or unreadable."""
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def _save_state(self, pids: dict[str, int], companions: dict[str, dict[str, Any]]) -> None:
        """Write the state file; nothing left to record removes it."""
        if not pids and not companions:
            self.state_path.unlink(missing_ok=True)
            return
        state: dict[str, Any] = {"pids": dict(sorted(pids.items()))}
        if companions:
            state["companions"] = companions
        state["updated_ms"] = int(time.time() * 1000)
        temp = self.state_path.with_name(f".{STATE_FILE}.tmp")
        temp.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(temp, self.state_path)

    def load_pids(self) -> dict[str, int]:
        """Process ids of nodes recorded in the state file; empty if it is missing or unreadable."""
        try:
            return {str(k): int(v) for k, v in self._load_state()["pids"].items()}
        except (ValueError, KeyError, TypeError, AttributeError):
            return {}

    def save_pids(self, pids: dict[str, int]) -> None:
        """Record ``pids`` in the state file, sorted by name, keeping the companions' records;
        nothing left to record removes the file."""
        self._save_state(pids, self._load_companions())

    def get_running_pids(self) -> dict[str, int]:
        """Recorded node processes that still run ``node start`` on their node directory."""
        dirs = {n.name: n.dir for n in self.network.nodes}
        return {
            name: pid
            for name, pid in self.load_pids().items()
            if name in dirs and _is_node_process(pid, dirs[name])
        }

    # -- companions --

    @property
    def companions_dir(self) -> Path:
        """Where the companions' logs go, ``DIR/companions``."""
        return self.net_dir / COMPANIONS_DIR

    def companion_log(self, name: str) -> Path:
        """The log file of the companion ``name``."""
        return self.companions_dir / f"{name}.log"

    def _load_companions(self) -> dict[str, dict[str, Any]]:
        """Companion records of the state file (pid, argv, note, port, index_db), by name."""
        found = self._load_state().get("companions")
        if not isinstance(found, dict):
            return {}
        return {
            str(name): record
            for name, record in found.items()
            if isinstance(record, dict)
            and isinstance(record.get("pid"), int)
            and isinstance(record.get("argv"), list)
        }

    def get_running_companions(self) -> dict[str, int]:
        """Recorded companions whose process still runs exactly the recorded command line."""
        return {
            name: record["pid"]
            for name, record in self._load_companions().items()
            if _runs_argv(record["pid"], record["argv"])
        }

    def start_down_companions(self, specs: list[CompanionSpec]) -> Started:
        """Start each companion of ``specs`` that is not running (the same command line) and
        record it; ``ConfigError`` before anything starts if a port of one to start is in use.

        One that runs the same command line (but for the interpreter's path) is left
        alone; one running another is refused.
        """
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names) or set(names) & {n.name for n in self.network.nodes}:
            raise ConfigError(f"companion names must be unique and not node names: {names}")
        with self.lock():
            records = self._load_companions()
            running = {
                name: records[name]["pid"]
                for name in self.get_running_companions()
                if name in records
            }
            # The interpreter's path may differ between two `up`s (`jinglian` or `python -m`):
            # a companion is the same if the rest of its command line is.
            down = [
                spec
                for spec in specs
                if spec.name not in running or records[spec.name]["argv"][1:] != spec.argv[1:]
            ]
            for spec in down:
                if spec.name in running:
                    raise ConfigError(
                        f"companion {spec.name} (pid {running[spec.name]}) runs another command "
                        "line than the one asked for; stop the devnet (`devnet down`) first"
                    )
                if spec.port is not None and not _is_bindable("127.0.0.1", spec.port):
                    raise ConfigError(
                        f"cannot start {spec.name}: port {spec.port} on 127.0.0.1 is in use; "
                        "stop what uses it and run `devnet up` again"
                    )
            self.companions_dir.mkdir(exist_ok=True)
            procs = {spec.name: self._spawn_companion(spec) for spec in down}
            for spec in down:
                records[spec.name] = {
                    "pid": procs[spec.name].pid,
                    "argv": spec.argv,
                    "note": spec.note,
                    "port": spec.port,
                    "index_db": None if spec.index_db is None else str(spec.index_db),
                }
            self._save_state(self.load_pids(), records)
        return Started(running=tuple(running), procs=procs)

    def _spawn_companion(self, spec: CompanionSpec) -> subprocess.Popen[bytes]:
        with self.companion_log(spec.name).open("ab") as log:
            log.write(f"--- jinglian devnet: starting {spec.name} at {time.ctime()} ---\n".encode())
            log.flush()
            return subprocess.Popen(
                spec.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )

    def get_companion_statuses(self) -> list[CompanionView]:
        """Every recorded companion: running or not, its port answering, its index height."""
        running = self.get_running_companions()
        views = []
        for name, record in self._load_companions().items():
            port = record.get("port") if isinstance(record.get("port"), int) else None
            pid = running.get(name)
            log = self.companion_log(name)
            view = CompanionView(
                name=name,
                pid=pid,
                state="down",
                note=str(record.get("note", "")),
                log=str(log),
                port=port,
            )
            if pid is None:
                views.append(dataclasses.replace(view, last_log=_last_line(log)))
                continue
            index_db = record.get("index_db")
            views.append(
                dataclasses.replace(
                    view,
                    state="up" if port is None or _is_listening(port) else "starting",
                    indexed_height=_indexed_height(Path(index_db)) if index_db else None,
                )
            )
        return views

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
                    views,
                    {v.name: rates.observe(v.name, now, v.txs_committed) for v in views},
                    self.get_companion_statuses(),
                )
                time.sleep(REFRESH_S)

    def wait_companions_ready(self, procs: NodeProcesses) -> None:
        """Until the companions just started (``procs``) listen on their ports.

        ``ConfigError`` (with the end of its log) if one exits, ``Timeout`` after
        ``COMPANION_READY_TIMEOUT_S``.
        """
        deadline = time.monotonic() + COMPANION_READY_TIMEOUT_S
        while True:
            self._check_alive(procs)
            views = [v for v in self.get_companion_statuses() if v.name in procs]
            starting = [v.name for v in views if v.state != "up"]
            if not starting:
                return
            if time.monotonic() > deadline:
                raise Timeout(
                    f"{', '.join(starting)} did not listen within "
                    f"{COMPANION_READY_TIMEOUT_S:g} s; see {self.companions_dir}"
                )
            time.sleep(HEALTH_POLL_S)

    def wait_indexed(
        self,
        name: str,
        height: int,
        procs: NodeProcesses,
        *,
        on_progress: Callable[[int | None], None] = _ignore,
    ) -> None:
        """Until the index of the companion ``name`` reaches ``height``.

        ``on_progress`` gets the indexed height about every ``INDEX_PROGRESS_S``.
        ``ConfigError`` if a companion in ``procs`` exits, ``Timeout`` after
        ``INDEX_CATCH_UP_TIMEOUT_S``.
        """
        deadline = time.monotonic() + INDEX_CATCH_UP_TIMEOUT_S
        reported = time.monotonic()
        while True:
            self._check_alive(procs)
            view = next((v for v in self.get_companion_statuses() if v.name == name), None)
            indexed = None if view is None else view.indexed_height
            if indexed is not None and indexed >= height:
                on_progress(indexed)
                return
            now = time.monotonic()
            if now > deadline:
                raise Timeout(
                    f"{name} indexed {indexed} of {height} blocks within "
                    f"{INDEX_CATCH_UP_TIMEOUT_S:g} s; see {self.companion_log(name)}"
                )
            if now - reported >= INDEX_PROGRESS_S:
                on_progress(indexed)
                reported = now
            time.sleep(PEERS_POLL_S)

    def _check_alive(self, procs: NodeProcesses) -> None:
        """``ConfigError`` naming the first companion of ``procs`` that exited."""
        for name, proc in procs.items():
            if proc.poll() is not None:
                log = self.companion_log(name)
                raise ConfigError(
                    f"{name} exited with code {proc.returncode} while starting; "
                    f"{log} ends: {_last_line(log)}"
                )

    def stop_all(
        self, procs: NodeProcesses, *, on_interrupted: Callable[[], None] = _ignore
    ) -> Stopped:
        """Stop every running companion, then every running node of the devnet, and update
        the state file, under the lock.

        ``procs`` are this process's children, waited for once they exit.
        ``on_interrupted`` is called if a Ctrl-C cuts the wait short and
        SIGKILL follows at once.
        """
        with self.lock():
            pids = self.get_running_pids()
            return self._stop(pids, self.get_running_companions(), procs, on_interrupted)

    def stop_started(
        self, procs: NodeProcesses, *, on_interrupted: Callable[[], None] = _ignore
    ) -> Stopped:
        """Stop only the nodes and companions in ``procs`` (those this process started);
        as ``stop_all``."""
        with self.lock():
            pids = {n: p for n, p in self.get_running_pids().items() if n in procs}
            companions = {n: p for n, p in self.get_running_companions().items() if n in procs}
            return self._stop(pids, companions, procs, on_interrupted)

    def _stop(
        self,
        pids: dict[str, int],
        companions: dict[str, int],
        procs: NodeProcesses,
        on_interrupted: Callable[[], None],
    ) -> Stopped:
        killed = self._terminate_all(pids, companions, procs, on_interrupted)
        records = self._load_companions()
        running = self.get_running_companions()
        self._save_state(
            self.get_running_pids(), {n: r for n, r in records.items() if n in running}
        )
        return Stopped(names=tuple(pids), killed=tuple(killed), companions=tuple(companions))

    def _terminate_all(
        self,
        pids: dict[str, int],
        companions: dict[str, int],
        procs: NodeProcesses,
        on_interrupted: Callable[[], None],
    ) -> list[str]:
        """Stop the companions, then the nodes; the names that needed SIGKILL, sorted."""
        argvs = {n: r["argv"] for n, r in self._load_companions().items()}
        killed = _terminate(
            companions, procs, lambda n, p: _runs_argv(p, argvs.get(n, [])), on_interrupted
        )
        dirs = {n.name: n.dir for n in self.network.nodes}
        killed += _terminate(pids, procs, lambda n, p: _is_node_process(p, dirs[n]), on_interrupted)
        return sorted(killed)

    def down(self, *, on_interrupted: Callable[[], None] = _ignore) -> Stopped:
        """Stop every running companion and node of the devnet (not under the lock) and
        remove the state file.

        ``on_interrupted`` as for ``stop_all``.
        """
        pids = self.get_running_pids()
        companions = self.get_running_companions()
        killed = self._terminate_all(pids, companions, {}, on_interrupted)
        self.state_path.unlink(missing_ok=True)
        return Stopped(names=tuple(pids), killed=tuple(killed), companions=tuple(companions))


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
    pids: dict[str, int],
    procs: NodeProcesses,
    is_alive: Callable[[str, int], bool],
    on_interrupted: Callable[[], None],
) -> list[str]:
    """SIGTERM, wait up to ``STOP_TIMEOUT_S`` (a second Ctrl-C cuts it short), then SIGKILL.

    ``is_alive(name, pid)`` says whether the process still runs what was
    recorded. Returns the names of the processes that needed SIGKILL, sorted.
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
            alive = {n: p for n, p in alive.items() if is_alive(n, p)}
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


def _runs_argv(pid: int, argv: list[str]) -> bool:
    """Whether ``pid`` runs exactly the command line ``argv`` (a reused pid or a zombie
    does not)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\x00")
    except OSError:
        return False
    return args[:-1] == [a.encode() for a in argv] if args and args[-1] == b"" else False


def _is_listening(port: int) -> bool:
    """Whether something accepts TCP connections on ``127.0.0.1:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(PROBE_TIMEOUT_S)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _indexed_height(index_db: Path) -> int | None:
    """The last height in an SQLite index (``indexer_state``), read-only; None if there is
    none yet."""
    if not index_db.is_file():
        return None
    try:
        with contextlib.closing(
            sqlite3.connect(f"file:{index_db}?mode=ro", uri=True, timeout=PROBE_TIMEOUT_S)
        ) as conn:
            row = conn.execute(
                "SELECT last_height FROM indexer_state WHERE key = 'chain'"
            ).fetchone()
    except sqlite3.Error:
        return None
    return int(row[0]) if row and isinstance(row[0], int) else None


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
    return _last_line(_log_path(entry))


def _last_line(path: Path) -> str:
    """The last non-empty line of a log file, shortened; reads only its end."""
    try:
        with path.open("rb") as handle:
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
