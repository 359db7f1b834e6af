"""The cuttable networks of ``jinglian.testing.netns``, without nodes.

``Links.partition`` cuts exactly the pairs across sides; the proxies forward
bytes until their link is cut and again once it is healed; namespaces, their
blackhole routes and the bridge exist while in use and are gone after
``close``, and those of a test process killed before it could clean up are
removed by the next one.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jinglian.node.config import NodeConfig, load_node_config, save_node_config
from jinglian.testing.netns import (
    Links,
    NamespaceLinks,
    ProxyLinks,
    namespaces_unavailable_reason,
)

NAMES = ("a", "b", "c", "d")


class RecordingLinks(Links):
    """Links that only record what they were asked to block."""

    kind = "recording"

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__(names)
        self.blocked: set[frozenset[str]] = set()

    def configure(self, net_dir: Path) -> None:
        pass

    def command_prefix(self, name: str) -> tuple[str, ...]:
        return ()

    def close(self) -> None:
        pass

    def _block(self, a: str, b: str) -> None:
        self.blocked.add(frozenset((a, b)))

    def _unblock(self, a: str, b: str) -> None:
        self.blocked.remove(frozenset((a, b)))


def pairs(*items: str) -> set[frozenset[str]]:
    return {frozenset(item) for item in items}


def test_partition_cuts_exactly_the_pairs_across_sides() -> None:
    links = RecordingLinks(NAMES)
    links.partition(["a", "b"], ["c", "d"])
    assert links.blocked == links.cut_pairs == pairs("ac", "ad", "bc", "bd")
    links.partition(["a"])
    assert links.blocked == pairs("ab", "ac", "ad")
    links.isolate("d")
    assert links.blocked == pairs("ad", "bd", "cd")
    links.heal_all()
    assert links.blocked == links.cut_pairs == set()


def test_invalid_partition_and_link_are_refused() -> None:
    links = RecordingLinks(NAMES)
    with pytest.raises(ValueError, match="two groups"):
        links.partition(["a", "b"], ["b", "c"])
    with pytest.raises(ValueError, match="no link"):
        links.cut("a", "a")
    with pytest.raises(ValueError, match="no link"):
        links.cut("a", "z")
    assert links.blocked == set()


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture()
def echo_port() -> Iterator[int]:
    """A TCP echo server on 127.0.0.1 standing in for a node's peer port."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1]
        server.shutdown()


def _write_nodes(net_dir: Path, p2p_port: int) -> None:
    for name in ("a", "b"):
        root = net_dir / "nodes" / name
        root.mkdir(parents=True)
        save_node_config(NodeConfig(root=root, name=name, org="org1", p2p_port=p2p_port))


def _echoes(port: int) -> bool:
    """Whether a connection to ``port`` carries a message there and back."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"ping")
            return sock.recv(4) == b"ping"
    except OSError:
        return False


def _is_closed(sock: socket.socket) -> bool:
    """Whether the other end closed ``sock`` (no echo comes back)."""
    try:
        sock.sendall(b"ping")
        return sock.recv(4) == b""
    except OSError:
        return True


def test_proxy_forwards_until_cut_and_again_after_heal(tmp_path: Path, echo_port: int) -> None:
    _write_nodes(tmp_path, echo_port)
    with ProxyLinks(["a", "b"]) as links:
        links.configure(tmp_path)
        peers = load_node_config(tmp_path / "nodes" / "a").peers
        port = links.ports["a", "b"]
        assert peers == (f"b@127.0.0.1:{port}",)
        assert _echoes(port)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as open_before_cut:
            open_before_cut.sendall(b"ping")
            assert open_before_cut.recv(4) == b"ping"
            links.cut("a", "b")
            assert _is_closed(open_before_cut)
        assert not _echoes(port)
        assert not _echoes(links.ports["b", "a"])
        links.heal("a", "b")
        assert _echoes(port)


def _ip_names(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=True).stdout


def test_namespaces_exist_while_open_and_are_gone_after_close() -> None:
    reason = namespaces_unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces are not available here: {reason}")
    links = NamespaceLinks(["a", "b"])
    try:
        namespaces = _ip_names("netns", "list")
        assert links.namespace("a") in namespaces and links.namespace("b") in namespaces
        assert links.bridge in _ip_names("link", "show", links.bridge)
        links.cut("a", "b")
        routes = _ip_names("-n", links.namespace("a"), "route", "show", "type", "blackhole")
        assert links.address("b") in routes
        links.heal("a", "b")
        routes = _ip_names("-n", links.namespace("a"), "route", "show", "type", "blackhole")
        assert routes.strip() == ""
    finally:
        links.close()
    assert links.namespace("a") not in _ip_names("netns", "list")
    assert links.bridge not in _ip_names("link", "show")


def test_namespaces_of_a_killed_test_process_are_swept_by_the_next_claim() -> None:
    reason = namespaces_unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces are not available here: {reason}")
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from jinglian.testing.netns import NamespaceLinks\n"
            "links = NamespaceLinks(['a', 'b'])\n"
            "print(links.subnet, links.namespace('b'), flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        subnet, left_behind = owner.stdout.readline().split()
    finally:
        owner.kill()
        owner.wait()
    assert left_behind in _ip_names("netns", "list")
    with NamespaceLinks(["a"]) as links:
        assert left_behind not in _ip_names("netns", "list")
        bridges = json.loads(_ip_names("-j", "link", "show", "type", "bridge"))
        stale = f"jl{subnet}br"
        for bridge in bridges:
            if bridge["ifname"] == stale:
                assert links.bridge == stale
                assert bridge["ifalias"].endswith(f" {os.getpid()}")
