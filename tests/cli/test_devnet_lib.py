"""``jinglian.cli.devnet`` without real nodes: state file, lock, refusals, probes, stops, tx/s.

Where a node process is needed, a sleeping Python process stands in for it:
its command line holds ``jinglian``, ``start`` and the node directory, which
is all the devnet checks before it signals a process.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jinglian.cli import devnet as devnet_module
from jinglian.cli import devnet_cmds
from jinglian.cli.devnet import (
    LOCK_FILE,
    LOG_LINE_CHARS_MAX,
    STATE_FILE,
    Devnet,
    NodeProcesses,
    Stopped,
    TxRates,
    create_network,
    interrupt_on_signals,
    open_network,
)
from jinglian.node.init import create_network as init_network
from jinglian.types.errors import ConfigError

FAKE_NODE_CODE = "import time; print('ready', flush=True); time.sleep(60)"
STUBBORN_NODE_CODE = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)"
)
LOCK_WAIT_S = 0.3
SHORT_STOP_TIMEOUT_S = 0.5


@pytest.fixture()
def solo(tmp_path: Path, devnet_ports: tuple[int, int]) -> Devnet:
    """A one-node solo devnet on free ports, nothing running."""
    api_port, p2p_port = devnet_ports
    init_network(tmp_path / "net", 1, consensus="solo", api_port=api_port, p2p_port=p2p_port)
    return Devnet.load(tmp_path / "net")


@pytest.fixture()
def tbft(tmp_path: Path, devnet_ports: tuple[int, int]) -> Devnet:
    """A four-node tbft devnet on free ports, nothing running."""
    api_port, p2p_port = devnet_ports
    init_network(tmp_path / "net", 4, api_port=api_port, p2p_port=p2p_port)
    return Devnet.load(tmp_path / "net")


@pytest.fixture()
def spawn_fake() -> Iterator[Callable[[Path, str], subprocess.Popen[bytes]]]:
    """Start a stand-in for ``node start DIR``, running ``code``; all are killed afterwards."""
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(node_dir: Path, code: str = FAKE_NODE_CODE) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-c", code, "jinglian", "node", "start", str(node_dir)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE)
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        return proc

    yield spawn
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_all_is_sorted_and_resolves() -> None:
    for module in (devnet_module, devnet_cmds):
        exported = list(module.__all__)
        constants = sorted(m for m in exported if m.isupper())
        classes = sorted(m for m in exported if not m.isupper() and m[0].isupper())
        functions = sorted(m for m in exported if m[0].islower())
        assert exported in (sorted(exported), constants + classes + functions), module.__name__
        assert all(hasattr(module, m) for m in exported), module.__name__


# -- state file ----------------------------------------------------------------------------------


def test_state_file_round_trip(solo: Devnet) -> None:
    solo.save_pids({"node2": 12, "node1": 7})
    state = json.loads((solo.net_dir / STATE_FILE).read_text())
    assert list(state["pids"]) == ["node1", "node2"] and isinstance(state["updated_ms"], int)
    assert solo.is_recorded() and solo.load_pids() == {"node1": 7, "node2": 12}
    solo.save_pids({})
    assert not solo.is_recorded() and solo.load_pids() == {}


@pytest.mark.parametrize(
    "text", ["", "not json", "[]", '{"pids": 3}', '{"pids": {"node1": "x"}}', '{"other": {}}']
)
def test_invalid_state_file_reads_as_no_pids(solo: Devnet, text: str) -> None:
    (solo.net_dir / STATE_FILE).write_text(text)
    assert solo.load_pids() == {}
    assert solo.get_running_pids() == {}


def test_running_pids_are_only_node_processes_of_this_devnet(
    solo: Devnet, spawn_fake: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    other = spawn_fake(tmp_path / "elsewhere")
    mine = spawn_fake(solo.network.node("node1").dir)
    solo.save_pids({"node1": other.pid, "node9": mine.pid})
    assert solo.get_running_pids() == {}
    solo.save_pids({"node1": os.getpid()})
    assert solo.get_running_pids() == {}
    solo.save_pids({"node1": mine.pid})
    assert solo.get_running_pids() == {"node1": mine.pid}


# -- lock ----------------------------------------------------------------------------------------


def test_lock_refuses_a_second_holder_until_released(solo: Devnet) -> None:
    with (
        solo.lock(),
        (solo.net_dir / LOCK_FILE).open("a") as other,
        pytest.raises(BlockingIOError),
    ):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with (solo.net_dir / LOCK_FILE).open("a") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_UN)


def test_lock_makes_a_second_devnet_wait(solo: Devnet) -> None:
    acquired = threading.Event()

    def second() -> None:
        with Devnet.load(solo.net_dir).lock():
            acquired.set()

    with solo.lock():
        thread = threading.Thread(target=second)
        thread.start()
        assert not acquired.wait(LOCK_WAIT_S)
    thread.join(5)
    assert acquired.is_set()


# -- creating the network and starting nodes -----------------------------------------------------


def test_create_network_is_solo_for_one_node_and_tbft_for_more(tmp_path: Path) -> None:
    one = create_network(tmp_path / "one", 1, "default", 18601, None)
    assert (one.consensus, len(one.nodes), one.nodes[0].api_url) == (
        "solo",
        1,
        "http://127.0.0.1:18601",
    )
    four = create_network(tmp_path / "four", 4, "gm", None, 19701)
    assert (four.consensus, four.crypto, len(four.nodes)) == ("tbft", "gm", 4)
    assert four.nodes[3].p2p.endswith(":19704")


def test_invalid_options_for_an_existing_network(solo: Devnet) -> None:
    net_dir, api_port = solo.net_dir, solo.network.nodes[0].api_url.rpartition(":")[2]
    assert open_network(net_dir, 1, "default", int(api_port), None) == solo.network
    with pytest.raises(ConfigError, match="holds a 1-node solo network, not the 4 nodes"):
        open_network(net_dir, 4, None, None, None)
    with pytest.raises(ConfigError, match="holds a default network, not gm"):
        open_network(net_dir, None, "gm", None, None)
    with pytest.raises(ConfigError, match=f"created with --api-port {api_port}, not 1"):
        open_network(net_dir, None, None, 1, None)


@pytest.mark.parametrize("busy", ["api", "p2p"])
def test_invalid_start_on_a_port_in_use(solo: Devnet, busy: str) -> None:
    view = solo.get_node_statuses()[0]
    port = view.api_port if busy == "api" else view.p2p_port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        with pytest.raises(ConfigError, match=f"cannot start node1: port {port} on 127.0.0.1"):
            solo.start_down_nodes()
    assert not solo.is_recorded()
    assert not (solo.network.nodes[0].dir / "node.log").exists()


def test_invalid_start_when_a_node_exits_while_starting(solo: Devnet) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    with pytest.raises(
        ConfigError, match=r"node1 exited with code 3 while starting; .* \(no log\)"
    ):
        solo.wait_ready({"node1": proc})


# -- probes --------------------------------------------------------------------------------------


def test_status_of_a_network_with_no_processes(tbft: Devnet) -> None:
    views = tbft.get_node_statuses()
    first_api, first_p2p = views[0].api_port, views[0].p2p_port
    assert [v.name for v in views] == ["node1", "node2", "node3", "node4"]
    for i, view in enumerate(views):
        assert (view.state, view.pid, view.height, view.peers, view.round) == (
            "down",
            None,
            None,
            None,
            None,
        )
        assert (view.api_port, view.p2p_port) == (first_api + i, first_p2p + i)
        assert view.last_log == "(no log)" and view.log.endswith(f"node{i + 1}/node.log")


def test_status_of_a_down_node_shows_the_end_of_its_log(solo: Devnet) -> None:
    log = solo.network.nodes[0].dir / "node.log"
    log.write_text("")
    assert solo.get_node_statuses()[0].last_log == "(empty log)"
    log.write_text("first\n  last words  \n\n")
    assert solo.get_node_statuses()[0].last_log == "last words"
    log.write_text("x" * 10_000 + "\n")
    assert solo.get_node_statuses()[0].last_log == "x" * LOG_LINE_CHARS_MAX


def test_status_of_a_recorded_pid_that_is_not_a_node_is_down(solo: Devnet) -> None:
    solo.save_pids({"node1": os.getpid()})
    assert solo.get_node_statuses()[0].state == "down"


def test_watch_shows_a_silent_process_as_starting_until_the_state_file_goes(
    solo: Devnet,
    spawn_fake: Callable[..., subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(devnet_module, "REFRESH_S", 0.0)
    proc = spawn_fake(solo.network.nodes[0].dir)
    solo.save_pids({"node1": proc.pid})
    refreshes = []
    for refresh in solo.watch({}):
        refreshes.append(refresh)
        solo.save_pids({})
    assert len(refreshes) == 1
    (view,) = refreshes[0].views
    assert (view.state, view.pid) == ("starting", proc.pid)
    assert refreshes[0].rates == {"node1": None}


# -- stopping ------------------------------------------------------------------------------------


def test_stop_all_sends_sigterm_and_clears_the_state(
    tbft: Devnet, spawn_fake: Callable[..., subprocess.Popen[bytes]]
) -> None:
    procs: NodeProcesses = {n.name: spawn_fake(n.dir) for n in tbft.network.nodes[:2]}
    tbft.save_pids({name: p.pid for name, p in procs.items()})
    assert tbft.stop_all(procs) == Stopped(names=("node1", "node2"), killed=())
    assert [p.returncode for p in procs.values()] == [-signal.SIGTERM] * 2
    assert not tbft.is_recorded()


def test_stop_started_leaves_the_other_nodes_running(
    tbft: Devnet, spawn_fake: Callable[..., subprocess.Popen[bytes]]
) -> None:
    node1, node2 = (spawn_fake(n.dir) for n in tbft.network.nodes[:2])
    tbft.save_pids({"node1": node1.pid, "node2": node2.pid})
    assert tbft.stop_started({"node2": node2}) == Stopped(names=("node2",), killed=())
    assert node1.poll() is None and node2.returncode == -signal.SIGTERM
    assert tbft.load_pids() == {"node1": node1.pid}


def test_stop_kills_a_node_that_ignores_sigterm(
    solo: Devnet,
    spawn_fake: Callable[..., subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(devnet_module, "STOP_TIMEOUT_S", SHORT_STOP_TIMEOUT_S)
    proc = spawn_fake(solo.network.nodes[0].dir, STUBBORN_NODE_CODE)
    solo.save_pids({"node1": proc.pid})
    assert solo.stop_all({"node1": proc}) == Stopped(names=("node1",), killed=("node1",))
    assert proc.returncode == -signal.SIGKILL


def test_down_stops_what_runs_and_removes_the_state_file(
    solo: Devnet, spawn_fake: Callable[..., subprocess.Popen[bytes]]
) -> None:
    solo.save_pids({"node1": os.getpid()})
    assert solo.down() == Stopped(names=(), killed=())
    assert not solo.is_recorded()
    proc = spawn_fake(solo.network.nodes[0].dir)
    solo.save_pids({"node1": proc.pid})
    assert solo.down() == Stopped(names=("node1",), killed=())
    assert proc.wait(5) == -signal.SIGTERM and not solo.is_recorded()


def test_sighup_interrupts_like_ctrl_c_inside_the_block_only() -> None:
    before = signal.getsignal(signal.SIGHUP)
    with pytest.raises(KeyboardInterrupt), interrupt_on_signals():
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(5)  # the handler runs as soon as the interpreter looks, cutting this short
    assert signal.getsignal(signal.SIGHUP) is before


# -- tx/s ----------------------------------------------------------------------------------------


def test_tx_rate_needs_two_samples_at_different_times() -> None:
    rates = TxRates()
    assert rates.observe("node1", 5.0, 100) is None
    assert rates.observe("node1", 5.0, 100) is None
    assert rates.observe("node1", 6.0, 104) == 4.0
    assert rates.observe("node2", 6.0, 0) is None


def test_tx_rate_forgets_a_node_without_a_counter() -> None:
    rates = TxRates()
    rates.observe("node1", 0.0, 10)
    assert rates.observe("node1", 1.0, None) is None
    assert rates.observe("node1", 2.0, 30) is None
    assert rates.observe("node1", 4.0, 40) == 5.0


def test_tx_rate_spans_about_the_window() -> None:
    rates = TxRates()
    for t in range(20):
        rate = rates.observe("node1", float(t), t * t)
    # Samples older than RATE_WINDOW_S (5 s) have been dropped: 19² - 14² over 5 s.
    assert rate == (19 * 19 - 14 * 14) / 5


def test_two_or_three_nodes_are_refused_not_silently_four(tmp_path: Path) -> None:
    for nodes in (2, 3):
        with pytest.raises(ConfigError, match="at least 4"):
            devnet_module.create_network(tmp_path / f"n{nodes}", nodes, "default", None, None)
        assert not (tmp_path / f"n{nodes}").exists()
