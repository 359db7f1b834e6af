"""A BFT cluster of real node processes for fault tests: faults, load and safety checks.

``make_tbft_network(path)`` writes a four-validator ``tbft`` network on free
ports whose genesis has the shorter consensus timeouts of ``TEST_CONSENSUS``
(``jinglian init`` has no flag for them, so the genesis file is edited before
the first start). ``Cluster(net_dir)`` runs its nodes as child processes
(``NodeProcess``) and injects process faults by name: ``kill`` (SIGKILL),
``stop`` (SIGTERM, clean), ``pause``/``resume`` (SIGSTOP/SIGCONT), ``wipe``
(delete a stopped node's ``data/``) and ``start``/``restart``. Given
``links`` (``jinglian.testing.netns``), every node runs on its own host of
that network, whose links the test cuts and heals.

``LoadDriver`` submits ``kv.set`` transactions from worker threads to the
nodes the cluster reports up (or to the nodes the test aims it at), waits for
each commit through the API and records every acknowledged commit
(``AckedTx``). The checks over the nodes' APIs are in
``jinglian.testing.chain_checks``.

Processes are killed and the load stopped by ``Cluster.close`` and
``LoadDriver.stop`` (both context managers); every node also kills itself
once the test process is gone (``ORPHAN_CHECK_S``), so none outlives a test
run that was itself killed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import itertools
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from jinglian.client import (
    Client,
    Identity,
    invoke_governed,
    load_genesis,
    load_network,
    local_approvers,
)
from jinglian.consensus.tbft import compute_proposer
from jinglian.node.config import load_node_config
from jinglian.node.init import create_network
from jinglian.testing.netns import Links
from jinglian.testing.process import NODE_LOG_FILE, NodeProcess, NodeProcessError, find_free_ports
from jinglian.types import ConsensusParams
from jinglian.types.errors import JinglianError
from jinglian.types.validators import validator_set_of

__all__ = [
    "CHAIN_CHECK_TIMEOUT_S",
    "CLUSTER_VALIDATORS",
    "KV_CONTRACT",
    "TEST_CONSENSUS",
    "AckedTx",
    "Cluster",
    "ClusterNode",
    "LoadDriver",
    "NodeState",
    "compute_round0_proposer",
    "get_validator_names",
    "make_tbft_network",
]

_log = logging.getLogger("jinglian.testing.cluster")

CLUSTER_VALIDATORS = 4
"""Validators of a test cluster: 3f+1 with f = 1."""
TEST_CONSENSUS = ConsensusParams(
    type="tbft", timeout_propose_ms=1000, timeout_vote_ms=500, timeout_delta_ms=250
)
"""Shorter timeouts than the defaults, so a fault costs seconds, still far above a commit's
~0.1 s on a loaded two-core machine."""
KV_CONTRACT = "kv"
"""Name the load's key-value contract is deployed under."""
POLL_S = 0.2
"""Pause between polls of the nodes' APIs."""
HTTP_TIMEOUT_S = 5.0
"""Timeout of one checker request."""
CHAIN_CHECK_TIMEOUT_S = 120.0
"""Default bound of a checker's wait."""
VERIFY_TIMEOUT_S = 300.0
"""How long ``jinglian node verify`` may take for one node."""
LOAD_WORKERS = 3
"""Threads of a ``LoadDriver``; each has one transaction in flight."""
LOAD_WAIT_S = 8.0
"""How long a load worker waits for one commit (a stuck node holds it this long, plus slack)."""
LOAD_PAUSE_S = 0.05
"""Pause of a load worker after each transaction."""
LOAD_IDLE_S = 0.1
"""Pause of a load worker that has no node to send to."""
LOAD_DURATION_S_MAX = 600.0
"""A load driver stops by itself after this long."""
LOAD_TXS_MAX = 50_000
"""A load driver stops by itself after submitting this many transactions."""


# -- the network ----------------------------------------------------------------------------------


def make_tbft_network(
    parent: Path, name: str = "net", consensus: ConsensusParams = TEST_CONSENSUS
) -> Path:
    """Write a ``CLUSTER_VALIDATORS``-node ``tbft`` network in ``parent/name`` on free ports."""
    net_dir = parent / name
    first_port = find_free_ports(2 * CLUSTER_VALIDATORS)
    create_network(
        net_dir,
        CLUSTER_VALIDATORS,
        consensus="tbft",
        api_port=first_port,
        p2p_port=first_port + CLUSTER_VALIDATORS,
    )
    genesis_path = net_dir / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    genesis["consensus"] = dataclasses.asdict(consensus)
    genesis_path.write_text(json.dumps(genesis, indent=2) + "\n")
    return net_dir


def compute_round0_proposer(net_dir: Path, height: int) -> str:
    """Name of the validator that proposes round 0 of ``height`` (genesis validators)."""
    members = validator_set_of(load_genesis(net_dir / "genesis.json")).members
    proposer = compute_proposer({vid: m.power for vid, m in members.items()}, height, 0)
    return members[proposer].name


def get_validator_names(net_dir: Path) -> dict[str, str]:
    """Hex validator id (as block headers and commits show it) -> node name."""
    members = validator_set_of(load_genesis(net_dir / "genesis.json")).members
    return {vid.hex(): member.name for vid, member in members.items()}


# -- node processes -------------------------------------------------------------------------------


class NodeState(enum.Enum):
    """What the harness last did to a node."""

    UP = "up"
    """Started (or resumed) and not faulted since."""
    PAUSED = "paused"
    """Stopped with SIGSTOP."""
    DOWN = "down"
    """Killed, stopped or never started."""


ORPHAN_CHECK_S = 1.0
"""How often a node started by the harness checks that the test process still runs."""
_LAUNCHER = (
    "import os, runpy, signal, sys, threading, time\n"
    "parent = int(sys.argv[1])\n"
    "def watch():\n"
    "    while os.getppid() == parent:\n"
    f"        time.sleep({ORPHAN_CHECK_S})\n"
    "    os.kill(os.getpid(), signal.SIGKILL)\n"
    "threading.Thread(target=watch, name='orphan-watch', daemon=True).start()\n"
    "sys.argv = ['jinglian', *sys.argv[2:]]\n"
    "runpy.run_module('jinglian.cli', run_name='__main__', alter_sys=True)\n"
)
"""Runs ``jinglian ARGS`` in this process with a thread that SIGKILLs it once its parent (the
test process) is gone, so no node outlives a test run that was itself killed."""


class _ClusterNodeProcess(NodeProcess):
    """``NodeProcess`` launched behind a command prefix (``ip netns exec NS``), orphan-proof."""

    def __init__(self, node_dir: Path, prefix: Sequence[str]) -> None:
        super().__init__(node_dir)
        self._prefix = tuple(prefix)

    def _spawn(self) -> subprocess.Popen[bytes]:
        command = [
            *self._prefix,
            sys.executable,
            "-c",
            _LAUNCHER,
            str(os.getpid()),
            "node",
            "start",
            str(self.node_dir),
        ]
        with self.log_path.open("ab") as output:
            output.write(f"--- jinglian.testing: start #{self.starts} ---\n".encode())
            output.flush()
            return subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )


class ClusterNode:
    """One node of a ``Cluster``: its process, its API and what was done to it."""

    def __init__(self, name: str, node_dir: Path, prefix: Sequence[str]) -> None:
        self.name = name
        """Node name (``node1``...)."""
        self.node_dir = node_dir
        """The node directory."""
        self.process = _ClusterNodeProcess(node_dir, prefix)
        """The node's process."""
        self.state = NodeState.DOWN
        """What the harness last did to it."""
        config = load_node_config(node_dir)
        self.data_dir = config.path(config.data_dir)
        """The node's ledger directory (``wipe`` deletes it)."""

    @property
    def api_url(self) -> str:
        """Base URL of the node's REST API."""
        return self.process.api_url

    def note(self, text: str) -> None:
        """Log ``text`` here and append it to the node's log, so faults show up among its messages."""
        _log.info("%s: %s", self.name, text)
        with (self.node_dir / NODE_LOG_FILE).open("a") as output:
            output.write(f"--- jinglian.testing: {text} ---\n")

    def __repr__(self) -> str:
        return f"ClusterNode({self.name}, {self.state.value})"


class Cluster:
    """The node processes of one network directory, with faults by node name."""

    def __init__(self, net_dir: Path, links: Links | None = None) -> None:
        self.net_dir = net_dir
        """The network directory (``jinglian init`` layout)."""
        self.links = links
        """The network the nodes run on, if not this host's loopback."""
        manifest = json.loads((net_dir / "network.json").read_text())
        self.nodes: dict[str, ClusterNode] = {}
        """Nodes by name, in manifest order."""
        for entry in manifest["nodes"]:
            name = entry["name"]
            prefix = links.command_prefix(name) if links is not None else ()
            self.nodes[name] = ClusterNode(name, net_dir / entry["dir"], prefix)
        genesis = load_genesis(net_dir / "genesis.json")
        self.chain_id = genesis.chain_id
        """The chain id transactions are signed for."""

    @property
    def names(self) -> list[str]:
        """Node names in order."""
        return list(self.nodes)

    def node(self, name: str) -> ClusterNode:
        """The node called ``name``."""
        return self.nodes[name]

    def select(self, names: Iterable[str] | None = None) -> list[ClusterNode]:
        """The nodes called ``names`` (default: all)."""
        return [self.nodes[n] for n in (self.names if names is None else names)]

    def up(self) -> list[ClusterNode]:
        """The nodes last started or resumed and not faulted since."""
        return [n for n in self.nodes.values() if n.state is NodeState.UP]

    # -- lifecycle and faults --------------------------------------------------------------------

    def start_all(self) -> None:
        """Start every node that is down, all at once (each waits for its peers anyway)."""
        down = [n.name for n in self.nodes.values() if n.state is NodeState.DOWN]
        with ThreadPoolExecutor(max(1, len(down))) as pool:
            list(pool.map(self.start, down))

    def start(self, name: str) -> None:
        """Start a node that is down and wait until its API answers."""
        node = self.nodes[name]
        node.process.start()
        node.state = NodeState.UP
        _log.info("%s: started (start #%d)", name, node.process.starts)

    def kill(self, name: str) -> None:
        """SIGKILL a node: it stops at once, in the middle of whatever it was doing."""
        node = self.nodes[name]
        node.state = NodeState.DOWN
        node.note("SIGKILL")
        node.process.kill(signal.SIGKILL)

    def stop(self, name: str) -> int:
        """SIGTERM a node and wait for its clean exit; returns the exit code."""
        node = self.nodes[name]
        if node.state is NodeState.PAUSED:
            self.resume(name)
        node.state = NodeState.DOWN
        node.note("SIGTERM")
        return node.process.stop()

    def pause(self, name: str) -> None:
        """SIGSTOP a node: it holds its connections but does nothing until ``resume``."""
        node = self.nodes[name]
        node.state = NodeState.PAUSED
        node.note("SIGSTOP")
        node.process.kill(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        """SIGCONT a paused node."""
        node = self.nodes[name]
        node.process.kill(signal.SIGCONT)
        node.note("SIGCONT")
        node.state = NodeState.UP

    def wipe(self, name: str) -> None:
        """Delete a stopped node's ledger (``data/``, WAL included), leaving an empty directory."""
        node = self.nodes[name]
        if node.process.alive:
            raise NodeProcessError(f"{name} is running; stop it before wiping its data")
        node.note("data directory wiped")
        shutil.rmtree(node.data_dir)
        node.data_dir.mkdir()

    def restart(self, name: str, *, wipe: bool = False) -> None:
        """Stop the node if it runs, optionally wipe its data, and start it again."""
        node = self.nodes[name]
        if node.process.alive:
            self.stop(name)
        if wipe:
            self.wipe(name)
        self.start(name)

    def stop_all(self) -> dict[str, int]:
        """Stop every running node cleanly, all at once; their exit codes."""
        running = [n.name for n in self.nodes.values() if n.process.alive]
        with ThreadPoolExecutor(max(1, len(running))) as pool:
            return dict(zip(running, pool.map(self.stop, running), strict=True))

    def close(self) -> None:
        """Make sure no node runs (paused ones are resumed first); never raises."""
        for node in self.nodes.values():
            if node.state is NodeState.PAUSED:
                with contextlib.suppress(Exception):
                    node.process.kill(signal.SIGCONT)
            node.state = NodeState.DOWN
            node.process.close()

    # -- clients ---------------------------------------------------------------------------------

    def client(self, name: str | None = None, identity: str = "org1/admin") -> Client:
        """An SDK client of node ``name`` (default: the first up) acting as ``identity``."""
        node = self.nodes[name] if name is not None else self.up()[0]
        genesis = load_genesis(self.net_dir / "genesis.json")
        return Client(node.api_url, Identity.from_network(self.net_dir, identity), genesis)

    def deploy(self, contract: str, source: str, timeout_s: float = CHAIN_CHECK_TIMEOUT_S) -> int:
        """Deploy ``source`` as ``contract``; the height it committed at.

        org1's admin signs and the other organisations' admins endorse as the
        ``contract.deploy`` policy needs (the cluster holds every key).
        """
        approvers = local_approvers(load_network(self.net_dir), first_org="org1")
        with self.client() as client:
            outcome = invoke_governed(
                client,
                "contracts",
                "deploy",
                {"name": contract, "source": source},
                approvers=approvers,
                timeout=timeout_s,
            )
        assert outcome.result.height is not None
        return outcome.result.height

    def load(self, **options: Any) -> LoadDriver:
        """A (not yet started) load driver over this cluster, signing as org1's client."""
        identity = Identity.from_network(self.net_dir, "org1/client")
        return LoadDriver(self, identity, **options)

    def log_tails(self, lines: int = 30) -> str:
        """The last lines of every node's log, for failure messages."""
        return "\n".join(
            f"--- {n.name} ({n.state.value}) ---\n{n.process.log_tail(lines)}"
            for n in self.nodes.values()
        )

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- load -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class AckedTx:
    """A transaction a node acknowledged as committed."""

    tx_id: str
    """Hex transaction id."""
    height: int
    """Height of the block it committed in."""
    block_hash: str
    """Hex hash of that block."""
    node: str
    """The node that acknowledged it."""
    acked_at: float
    """``time.monotonic()`` when the acknowledgement arrived."""


class LoadDriver:
    """Worker threads that submit ``kv.set`` transactions and record the acknowledged commits.

    Each worker sends one transaction at a time (``POST /txs?wait=true``) to
    the next target in turn: by default the nodes the cluster reports up, or
    those given to ``aim``. A transaction whose wait ends in an error (a node
    killed, paused or cut off, a timeout) counts as failed, not acknowledged;
    it may still commit later. The driver stops by itself after
    ``LOAD_DURATION_S_MAX`` or ``LOAD_TXS_MAX`` transactions.
    """

    def __init__(
        self,
        cluster: Cluster,
        identity: Identity,
        *,
        workers: int = LOAD_WORKERS,
        wait_s: float = LOAD_WAIT_S,
        pause_s: float = LOAD_PAUSE_S,
        contract: str = KV_CONTRACT,
    ) -> None:
        self.cluster = cluster
        self._identity = identity
        self._workers = workers
        self._wait_s = wait_s
        self._pause_s = pause_s
        self._contract = contract
        self._lock = threading.Lock()
        self._acked: list[AckedTx] = []
        self._targets: tuple[str, ...] | None = None
        self._turn = 0
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deadline = 0.0
        self.submitted = 0
        """Transactions sent."""
        self.failed = 0
        """Transactions whose commit was not acknowledged."""
        self.errors: dict[str, int] = {}
        """Failures by exception class name."""

    def start(self) -> LoadDriver:
        """Start the workers."""
        self._deadline = time.monotonic() + LOAD_DURATION_S_MAX
        for worker in range(self._workers):
            thread = threading.Thread(
                target=self._run, args=(worker,), name=f"load-{worker}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop the workers and wait for their transactions in flight."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(self._wait_s + 2 * HTTP_TIMEOUT_S + 10)

    def aim(self, names: Iterable[str] | None) -> None:
        """Send only to ``names`` from now on (``None``: to the nodes that are up)."""
        with self._lock:
            self._targets = None if names is None else tuple(names)

    @property
    def acked(self) -> list[AckedTx]:
        """Every acknowledged commit so far, in order of acknowledgement."""
        with self._lock:
            return list(self._acked)

    def wait_for_acks(self, count: int, timeout_s: float = CHAIN_CHECK_TIMEOUT_S) -> None:
        """Wait until at least ``count`` more commits are acknowledged (progress as clients see it)."""
        target = len(self.acked) + count
        started = time.monotonic()
        deadline = started + timeout_s
        while len(self.acked) < target:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"only {len(self.acked)} of {target} acknowledged commits after "
                    f"{timeout_s:g} s; load {self.describe()}\n{self.cluster.log_tails()}"
                )
            time.sleep(POLL_S)
        _log.info("%d more commits acknowledged in %.1f s", count, time.monotonic() - started)

    def describe(self) -> str:
        """Counts for failure messages."""
        return (
            f"submitted={self.submitted} acked={len(self.acked)} failed={self.failed} "
            f"errors={self.errors}"
        )

    def _next_target(self) -> ClusterNode | None:
        with self._lock:
            if self._targets is None:
                nodes = self.cluster.up()
            else:
                nodes = [n for n in self.cluster.select(self._targets) if n.state is NodeState.UP]
            if not nodes:
                return None
            self._turn += 1
            return nodes[self._turn % len(nodes)]

    def _run(self, worker: int) -> None:
        with contextlib.ExitStack() as stack:
            clients: dict[str, Client] = {}
            for seq in itertools.count():
                if self._stopping.is_set() or not self._within_bounds():
                    return
                node = self._next_target()
                if node is None:
                    self._stopping.wait(LOAD_IDLE_S)
                    continue
                if node.name not in clients:
                    reader = Client(node.api_url, self._identity)
                    clients[node.name] = stack.enter_context(reader)
                self._send_one(clients[node.name], node.name, f"load-{worker}-{seq}", seq)
                self._stopping.wait(self._pause_s)

    def _within_bounds(self) -> bool:
        return time.monotonic() < self._deadline and self.submitted < LOAD_TXS_MAX

    def _send_one(self, client: Client, node: str, key: str, value: int) -> None:
        tx = self._identity.sign_tx(
            self.cluster.chain_id, self._contract, "set", {"key": key, "value": value}
        )
        with self._lock:
            self.submitted += 1
        try:
            result = client.submit_and_wait(tx, timeout=self._wait_s)
        except (httpx.HTTPError, JinglianError) as exc:
            with self._lock:
                self.failed += 1
                name = type(exc).__name__
                self.errors[name] = self.errors.get(name, 0) + 1
            return
        assert result.height is not None and result.block_hash is not None
        acked = AckedTx(result.id, result.height, result.block_hash, node, time.monotonic())
        with self._lock:
            self._acked.append(acked)

    def __enter__(self) -> LoadDriver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
