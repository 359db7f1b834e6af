"""Real node processes for tests: start, kill, restart and stop ``jinglian node start``.

``make_solo_network(tmp_path)`` writes a one-organisation solo network whose
ports are free on this machine; ``NodeProcess(node_dir)`` runs its node as a
child process (``python -m jinglian.cli node start DIR``, output appended to
``DIR/node.log``) and waits until its API answers ``/api/v1/health``. Use it as
a context manager, or call ``close`` from a fixture finalizer, so no node
outlives its test; a process still running when the ``NodeProcess`` is
garbage-collected or the interpreter exits is killed as a last resort.

Every wait is bounded and a failure to start or stop raises
``NodeProcessError`` carrying the tail of the node's log.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx

from jinglian.node.config import load_node_config
from jinglian.node.init import create_network

__all__ = [
    "LOG_TAIL_LINES",
    "NODE_LOG_FILE",
    "NODE_START_TIMEOUT_S",
    "NODE_STOP_TIMEOUT_S",
    "NodeProcess",
    "NodeProcessError",
    "cli_argv_with_ctrl_c",
    "detached_devnet",
    "devnet_pids",
    "find_free_port",
    "find_free_ports",
    "make_solo_network",
]

NODE_LOG_FILE = "node.log"
"""File in the node directory that receives the node's stdout and stderr (appended)."""
NODE_START_TIMEOUT_S = 60.0
"""How long ``start`` waits for the API to answer."""
NODE_STOP_TIMEOUT_S = 30.0
"""How long ``stop`` waits for the node to exit after SIGTERM."""
LOG_TAIL_LINES = 40
"""Lines of the node's log a failure message carries."""
HEALTH_POLL_S = 0.05
"""Pause between health probes while a node starts."""
HEALTH_PROBE_TIMEOUT_S = 1.0
"""HTTP timeout of one health probe."""
PORT_RANGE = (20_000, 32_000)
"""Where ``find_free_port`` looks: below Linux's ephemeral range (32768+), so outgoing
connections of other tests do not take the port between the choice and the bind."""
PORT_ATTEMPTS_MAX = 200


class NodeProcessError(RuntimeError):
    """A node process did not start or stop as asked; the message ends with its log tail."""


def find_free_port(rng: random.Random | None = None) -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (chosen at random in ``PORT_RANGE``)."""
    rng = rng or random.Random()
    for _ in range(PORT_ATTEMPTS_MAX):
        port = rng.randrange(*PORT_RANGE)
        if _is_bindable(port):
            return port
    raise NodeProcessError(f"no free port found in {PORT_RANGE} after {PORT_ATTEMPTS_MAX} tries")


def find_free_ports(count: int, rng: random.Random | None = None) -> int:
    """The first of ``count`` consecutive free ports (for ``create_network``'s port bases)."""
    rng = rng or random.Random()
    for _ in range(PORT_ATTEMPTS_MAX):
        base = rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - count)
        if all(_is_bindable(base + i) for i in range(count)):
            return base
    raise NodeProcessError(f"no {count} consecutive free ports found in {PORT_RANGE}")


def _is_bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def make_solo_network(tmp_path: Path, crypto: str = "default", name: str = "net") -> Path:
    """Write a one-organisation solo network in ``tmp_path/name`` on free ports; return its path."""
    net_dir = tmp_path / name
    create_network(
        net_dir,
        1,
        crypto=crypto,
        consensus="solo",
        api_port=find_free_port(),
        p2p_port=find_free_port(),
    )
    return net_dir


class NodeProcess:
    """One node of a network directory, run as a child process; restartable."""

    def __init__(self, node_dir: Path, module: str = "jinglian.cli") -> None:
        self.node_dir = node_dir.resolve()
        """The node directory (holds ``node.toml``)."""
        self.module = module
        """Module run with ``python -m``: the CLI (``node start``) or a test variant of the node
        taking the node directory (``jinglian.testing.byzantine``)."""
        config = load_node_config(self.node_dir)
        self.api_url = f"http://{config.api_host}:{config.api_port}"
        """Base URL of the node's REST API."""
        self.log_path = self.node_dir / NODE_LOG_FILE
        """Where the node's output goes."""
        self.starts = 0
        """How many times ``start`` has spawned the node."""
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], NodeProcess] | None = None

    @property
    def alive(self) -> bool:
        """Whether the node process runs now."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """Process id of the current (or last) node process."""
        return None if self._proc is None else self._proc.pid

    def start(self, timeout_s: float = NODE_START_TIMEOUT_S) -> None:
        """Spawn the node and wait until ``/api/v1/health`` answers 200."""
        if self.alive:
            raise NodeProcessError(f"node in {self.node_dir} is already running (pid {self.pid})")
        self.starts += 1
        if self._finalizer is not None:
            self._finalizer.detach()
        self._proc = self._spawn()
        self._finalizer = weakref.finalize(self, _kill_quietly, self._proc)
        try:
            self._wait_healthy(timeout_s)
        except BaseException:
            self.kill()
            raise

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            log.write(f"--- jinglian.testing: start #{self.starts} ---\n".encode())
            log.flush()
            command = ["node", "start"] if self.module == "jinglian.cli" else []
            return subprocess.Popen(
                [sys.executable, "-m", self.module, *command, str(self.node_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )

    def _wait_healthy(self, timeout_s: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.api_url, timeout=HEALTH_PROBE_TIMEOUT_S) as http:
            while True:
                if self._proc.poll() is not None:
                    raise NodeProcessError(
                        f"node exited with code {self._proc.returncode} while starting"
                        + self._log_suffix()
                    )
                if _answers_health(http) and self._proc.poll() is None:
                    return
                if time.monotonic() > deadline:
                    raise NodeProcessError(
                        f"node API at {self.api_url} did not answer within {timeout_s:g} s"
                        + self._log_suffix()
                    )
                time.sleep(HEALTH_POLL_S)

    def kill(self, sig: int = signal.SIGKILL) -> int | None:
        """Send ``sig`` (default SIGKILL) and, for SIGKILL, reap the process; returns its exit code."""
        if self._proc is None or self._proc.poll() is not None:
            return None if self._proc is None else self._proc.returncode
        self._proc.send_signal(sig)
        if sig != signal.SIGKILL:
            return None
        return self._proc.wait(NODE_STOP_TIMEOUT_S)

    def stop(self, timeout_s: float = NODE_STOP_TIMEOUT_S) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit code.

        A node that does not exit in ``timeout_s`` is killed and
        ``NodeProcessError`` raised, since a hang on shutdown is a bug.
        """
        if self._proc is None:
            raise NodeProcessError(f"node in {self.node_dir} was never started")
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
                raise NodeProcessError(
                    f"node did not exit within {timeout_s:g} s of SIGTERM" + self._log_suffix()
                ) from None
        return self._proc.returncode

    def close(self) -> None:
        """Make sure the node is not running (SIGTERM, then SIGKILL); never raises."""
        if self.alive:
            with contextlib.suppress(NodeProcessError):
                self.stop(timeout_s=NODE_STOP_TIMEOUT_S / 3)
        if self._finalizer is not None:
            self._finalizer.detach()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the node's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def _log_suffix(self) -> str:
        return f"; last lines of {self.log_path}:\n{self.log_tail()}"

    def __enter__(self) -> NodeProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _answers_health(http: httpx.Client) -> bool:
    try:
        return http.get("/api/v1/health").status_code == 200
    except httpx.HTTPError:
        return False


def _kill_quietly(proc: subprocess.Popen[bytes]) -> None:
    """Last-resort cleanup: SIGKILL a node process that is still running."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()


JINGLIAN_CLI = [sys.executable, "-m", "jinglian.cli"]
DEVNET_TIMEOUT_S = 180.0


@contextlib.contextmanager
def detached_devnet(
    net_dir: Path, nodes: int = 4, crypto: str = "default", *, keep: bool = False
) -> Iterator[Path]:
    """``jinglian devnet up --detach`` in ``net_dir`` on free ports; ``devnet down`` on exit
    unless ``keep``.

    Raises ``NodeProcessError`` with the command's stderr if the network does not come up.
    """
    api, p2p = find_free_ports(nodes), find_free_ports(nodes)
    up = [*JINGLIAN_CLI, "devnet", "up", "--nodes", str(nodes), "--dir", str(net_dir)]
    up += ["--detach", "--crypto", crypto, "--api-port", str(api), "--p2p-port", str(p2p)]
    done = subprocess.run(up, capture_output=True, text=True, timeout=DEVNET_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise NodeProcessError(f"devnet up failed: {done.stderr.strip()[-2000:]}")
    try:
        yield net_dir
    finally:
        if not keep:
            down = [*JINGLIAN_CLI, "devnet", "down", "--dir", str(net_dir)]
            subprocess.run(down, capture_output=True, timeout=DEVNET_TIMEOUT_S, check=False)


def devnet_pids(net_dir: Path) -> dict[str, int]:
    """Node name -> process id of the devnet nodes running in ``net_dir`` (none if no devnet)."""
    from jinglian.cli.devnet import Devnet  # the CLI imports benchmarks that import this module

    return Devnet.load(net_dir).get_running_pids()


_CLI_WITH_CTRL_C = (
    "import runpy, signal, sys; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv[0] = 'jinglian'; "
    "runpy.run_module('jinglian.cli', run_name='__main__', alter_sys=True)"
)


def cli_argv_with_ctrl_c(*args: str) -> list[str]:
    """The argv of ``python -m jinglian.cli ARGS`` for a child a test stops with SIGINT.

    A shell starts background jobs with SIGINT ignored and a child inherits that across
    ``exec``, so Python would install no ``KeyboardInterrupt`` handler and the test's Ctrl-C
    would do nothing (a suite run as ``make test &`` failed for that alone); this child
    handles SIGINT whatever it inherited.
    """
    return [sys.executable, "-c", _CLI_WITH_CTRL_C, *args]
