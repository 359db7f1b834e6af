"""Networks between node processes that a test can cut: a namespace per node, or a proxy per link.

Both kinds share one interface, ``Links``: ``configure(net_dir)`` rewrites the
nodes' ``node.toml`` (and ``network.json``) to use the network, ``command_prefix``
says how to launch a node inside it, and ``cut``/``heal``, ``partition``,
``isolate`` and ``heal_all`` change which pairs of nodes can talk. Cut links
are symmetric: a cut pair exchanges nothing in either direction.

- ``NamespaceLinks`` (needs root and ``ip``): node ``i`` lives in its own
  network namespace ``jl<S>n<i>`` with one interface, a veth whose other end
  is enslaved to the bridge ``jl<S>br`` in the root namespace. Node ``i`` has
  address ``10.77.<S>.<i>``, the bridge ``10.77.<S>.254`` so the test process
  reaches every node's API. ``S`` is claimed under a file lock by creating the
  bridge with the owner's pid as its alias, so concurrent test processes get
  distinct subnets, and a claim first removes the subnets of owners that died
  without cleaning up (a test run killed by SIGKILL). A cut is a pair of
  ``blackhole`` routes, one in each namespace: packets between the two are
  dropped silently, as on a partitioned network (an established TCP
  connection just stops hearing back; a new one is refused locally).
  Namespaces have no default route: a node reaches nothing but its subnet.
- ``ProxyLinks`` (the fallback): nodes stay on 127.0.0.1 and each node reaches
  each peer through a forwarder of its own, run by the test process on an
  asyncio thread. A cut closes the pair's forwarded connections and closes
  new ones at once (a reset, not a silent drop).

``open_links(names)`` makes namespaces where it can and otherwise says why
(``fallback_reason``) and makes proxies; ``JINGLIAN_TEST_LINKS=proxy`` forces
the fallback. Every ``Links`` is a context manager: ``close`` deletes what it
made (namespaces, veths, bridge; forwarders), also at interpreter exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import itertools
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import weakref
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from jinglian.node.config import load_node_config, save_node_config

_log = logging.getLogger("jinglian.testing.netns")

__all__ = [
    "LINKS_ENV",
    "PROXY_CONNECTIONS_MAX",
    "SUBNETS",
    "Links",
    "LinksError",
    "NamespaceLinks",
    "ProxyLinks",
    "namespaces_unavailable_reason",
    "open_links",
]

LINKS_ENV = "JINGLIAN_TEST_LINKS"
"""Set to ``proxy`` to use ``ProxyLinks`` even where namespaces could be made."""
SUBNETS = range(1, 250)
"""Values of ``S`` in ``10.77.<S>.0/24`` that ``NamespaceLinks`` may claim."""
BRIDGE_HOST = 254
"""Host part of the bridge's (the test process's) address in each subnet."""
NODES_MAX = 200
"""Most nodes one ``NamespaceLinks`` holds (host parts 1..NODES_MAX)."""
OWNER_ALIAS = "jinglian-test pid "
"""Start of the alias of a bridge ``NamespaceLinks`` made; the owner's pid follows."""
CLAIM_LOCK_FILE = Path(tempfile.gettempdir()) / "jinglian-testing-netns.lock"
"""Held while a subnet is swept or claimed."""
IP_TIMEOUT_S = 10.0
"""How long one ``ip`` command may take."""
PROXY_CONNECTIONS_MAX = 64
"""Connections one proxied link holds at once; more are closed on arrival."""
PROXY_CHUNK_BYTES = 64 * 1024
"""Bytes a forwarder reads at once."""
PROXY_CALL_TIMEOUT_S = 10.0
"""How long a cut, heal or close on the proxies' thread may take."""


T = TypeVar("T")


class LinksError(RuntimeError):
    """The test network could not be built or changed."""


class Links(ABC):
    """The network between the nodes ``names`` of one network directory."""

    kind: str
    """``netns`` or ``proxy``."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        """Node names, as ``jinglian init`` wrote them (``node1``...)."""
        self.fallback_reason: str | None = None
        """Why namespaces were not used (set by ``open_links``), else None."""
        self._cut: set[frozenset[str]] = set()

    @abstractmethod
    def configure(self, net_dir: Path) -> None:
        """Point every node's listeners and peers at this network (before the first start)."""

    @abstractmethod
    def command_prefix(self, name: str) -> tuple[str, ...]:
        """Words to put before a command so that it runs on node ``name``'s host."""

    @abstractmethod
    def close(self) -> None:
        """Remove everything this network made; never raises."""

    @abstractmethod
    def _block(self, a: str, b: str) -> None: ...

    @abstractmethod
    def _unblock(self, a: str, b: str) -> None: ...

    @property
    def cut_pairs(self) -> set[frozenset[str]]:
        """The pairs that cannot talk now."""
        return set(self._cut)

    def cut(self, a: str, b: str) -> None:
        """Stop all traffic between nodes ``a`` and ``b`` (both ways)."""
        pair = self._pair(a, b)
        if pair not in self._cut:
            self._block(a, b)
            self._cut.add(pair)
            _log.info("%s link %s-%s cut", self.kind, a, b)

    def heal(self, a: str, b: str) -> None:
        """Let ``a`` and ``b`` talk again."""
        pair = self._pair(a, b)
        if pair in self._cut:
            self._unblock(a, b)
            self._cut.discard(pair)
            _log.info("%s link %s-%s healed", self.kind, a, b)

    def partition(self, *groups: Iterable[str]) -> None:
        """Exactly these groups: pairs across groups are cut, pairs within one are healed.

        Nodes named in no group form one more group.
        """
        sides = [set(group) for group in groups]
        rest = set(self.names) - set().union(*sides)
        if rest:
            sides.append(rest)
        side_of = {name: index for index, side in enumerate(sides) for name in side}
        if len(side_of) != sum(len(side) for side in sides):
            raise ValueError(f"a node is in two groups: {groups}")
        for a, b in itertools.combinations(self.names, 2):
            if side_of[a] == side_of[b]:
                self.heal(a, b)
            else:
                self.cut(a, b)

    def isolate(self, name: str) -> None:
        """Cut ``name`` off from every other node (and heal every other pair)."""
        self.partition([name])

    def heal_all(self) -> None:
        """Restore every link."""
        for pair in sorted(self._cut, key=sorted):
            a, b = sorted(pair)
            self.heal(a, b)

    def _pair(self, a: str, b: str) -> frozenset[str]:
        if a == b or a not in self.names or b not in self.names:
            raise ValueError(f"no link between {a!r} and {b!r} among {self.names}")
        return frozenset((a, b))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_links(names: Sequence[str]) -> Links:
    """Namespaces if this process can make them, else proxies with ``fallback_reason`` set."""
    reason = namespaces_unavailable_reason()
    if os.environ.get(LINKS_ENV) == "proxy":
        reason = f"{LINKS_ENV}=proxy"
    if reason is None:
        return NamespaceLinks(names)
    links = ProxyLinks(names)
    links.fallback_reason = reason
    return links


def namespaces_unavailable_reason() -> str | None:
    """Why this process cannot make network namespaces, or None if it can."""
    if os.geteuid() != 0:
        return "not running as root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    probe = f"jlprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except LinksError as exc:
        return f"cannot create a network namespace: {exc}"
    with contextlib.suppress(LinksError):
        _ip("netns", "del", probe)
    return None


def _ip(*args: str) -> str:
    """Run one ``ip`` command; ``LinksError`` with its message if it fails."""
    try:
        done = subprocess.run(
            ["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LinksError(f"ip {' '.join(args)}: {exc}") from exc
    if done.returncode != 0:
        raise LinksError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _rewrite_manifest(net_dir: Path, api_urls: dict[str, str], p2p: dict[str, str]) -> None:
    """Keep ``network.json`` (what clients and the CLI read) in step with the nodes' addresses."""
    path = net_dir / "network.json"
    manifest = json.loads(path.read_text())
    for entry in manifest["nodes"]:
        entry["api_url"] = api_urls.get(entry["name"], entry["api_url"])
        entry["p2p"] = p2p.get(entry["name"], entry["p2p"])
    path.write_text(json.dumps(manifest, indent=2) + "\n")


# -- namespaces -----------------------------------------------------------------------------------


class NamespaceLinks(Links):
    """One network namespace per node, bridged in the root namespace; cuts are blackhole routes."""

    kind = "netns"

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(names)
        if not 0 < len(self.names) <= NODES_MAX:
            raise LinksError(f"between 1 and {NODES_MAX} nodes, not {len(self.names)}")
        self.subnet = self._claim_subnet()
        """``S`` of ``10.77.<S>.0/24``."""
        self._finalizer = weakref.finalize(self, _delete_subnet, self.subnet)
        atexit.register(self._finalizer)
        try:
            for index, name in enumerate(self.names, start=1):
                self._add_host(index, name)
        except BaseException:
            self.close()
            raise

    @property
    def bridge(self) -> str:
        """The bridge in the root namespace."""
        return _bridge_name(self.subnet)

    def namespace(self, name: str) -> str:
        """The network namespace node ``name`` runs in."""
        return _namespace_name(self.subnet, self._index(name))

    def address(self, name: str) -> str:
        """Node ``name``'s IPv4 address."""
        return f"10.77.{self.subnet}.{self._index(name)}"

    def veth(self, name: str) -> str:
        """The root-namespace end of node ``name``'s link to the bridge."""
        return _veth_name(self.subnet, self._index(name))

    def set_link(self, name: str, up: bool) -> None:
        """Take node ``name``'s only link down (it drops off the network, API included) or up."""
        _ip("link", "set", self.veth(name), "up" if up else "down")

    def configure(self, net_dir: Path) -> None:
        """Each node listens on its own address and dials peers as ``name@address:port``."""
        node_dirs = {name: net_dir / "nodes" / name for name in self.names}
        configs = {name: load_node_config(path) for name, path in node_dirs.items()}
        for name, config in configs.items():
            peers = tuple(
                f"{other}@{self.address(other)}:{configs[other].p2p_port}"
                for other in self.names
                if other != name
            )
            host = self.address(name)
            save_node_config(replace(config, api_host=host, p2p_host=host, peers=peers))
        _rewrite_manifest(
            net_dir,
            {n: f"http://{self.address(n)}:{c.api_port}" for n, c in configs.items()},
            {n: f"{self.address(n)}:{c.p2p_port}" for n, c in configs.items()},
        )

    def command_prefix(self, name: str) -> tuple[str, ...]:
        """``ip netns exec NS`` (which execs the command: the child's pid is the command's)."""
        return ("ip", "netns", "exec", self.namespace(name))

    def close(self) -> None:
        """Delete the namespaces (their veth ends go with them) and the bridge."""
        self._finalizer()

    def _block(self, a: str, b: str) -> None:
        _ip("-n", self.namespace(a), "route", "add", "blackhole", f"{self.address(b)}/32")
        _ip("-n", self.namespace(b), "route", "add", "blackhole", f"{self.address(a)}/32")

    def _unblock(self, a: str, b: str) -> None:
        _ip("-n", self.namespace(a), "route", "del", "blackhole", f"{self.address(b)}/32")
        _ip("-n", self.namespace(b), "route", "del", "blackhole", f"{self.address(a)}/32")

    def _index(self, name: str) -> int:
        try:
            return self.names.index(name) + 1
        except ValueError:
            raise ValueError(f"no node {name!r} among {self.names}") from None

    @staticmethod
    def _claim_subnet() -> int:
        """Create the first free bridge ``jl<S>br``, named after this process; it claims ``S``.

        Under a file lock, so that subnets whose owner process is gone (a test
        run killed before it could clean up) are swept first without racing
        another process's claim.
        """
        with _claim_lock():
            owners = _bridge_owners()
            live = {s for s, owner in owners.items() if owner is not None and _is_alive(owner)}
            for stale in sorted((set(owners) | _namespace_subnets()) - live):
                _delete_subnet(stale)
            subnet = next((s for s in SUBNETS if s not in live), None)
            if subnet is None:
                raise LinksError(f"every subnet 10.77.{SUBNETS}.0/24 is in use")
            bridge = _bridge_name(subnet)
            _ip("link", "add", bridge, "type", "bridge")
            try:
                _ip("link", "set", bridge, "alias", f"{OWNER_ALIAS}{os.getpid()}")
                _ip("addr", "add", f"10.77.{subnet}.{BRIDGE_HOST}/24", "dev", bridge)
                _ip("link", "set", bridge, "up")
            except LinksError:
                _delete_subnet(subnet)
                raise
            return subnet

    def _add_host(self, index: int, name: str) -> None:
        namespace = _namespace_name(self.subnet, index)
        veth = _veth_name(self.subnet, index)
        _ip("netns", "add", namespace)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("link", "set", veth, "master", self.bridge, "up")
        _ip("-n", namespace, "addr", "add", f"{self.address(name)}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")


_BRIDGE_RE = re.compile(r"^jl(\d+)br$")
_NAMESPACE_RE = re.compile(r"^jl(\d+)n\d+$")
_VETH_RE = re.compile(r"^jl(\d+)v\d+$")


def _bridge_name(subnet: int) -> str:
    return f"jl{subnet}br"


def _namespace_name(subnet: int, index: int) -> str:
    return f"jl{subnet}n{index}"


def _veth_name(subnet: int, index: int) -> str:
    return f"jl{subnet}v{index}"


def _delete_subnet(subnet: int) -> None:
    """Remove the veths, namespaces and bridge of subnet ``subnet``.

    The veths go first, by name: deleting a namespace also deletes the veths
    in it, but only later, in the background, while a new claim of the subnet
    may already want their names.
    """
    for link in json.loads(_ip("-j", "link", "show", "type", "veth") or "[]"):
        match = _VETH_RE.match(link["ifname"])
        if match is not None and int(match[1]) == subnet:
            with contextlib.suppress(LinksError):
                _ip("link", "del", link["ifname"])
    for namespace, of_subnet in _namespaces():
        if of_subnet == subnet:
            with contextlib.suppress(LinksError):
                _ip("netns", "del", namespace)
    with contextlib.suppress(LinksError):
        _ip("link", "del", _bridge_name(subnet))


def _namespaces() -> list[tuple[str, int]]:
    """Every namespace named like ours, with its subnet."""
    found = []
    for entry in json.loads(_ip("-j", "netns", "list") or "[]"):
        match = _NAMESPACE_RE.match(entry["name"])
        if match is not None:
            found.append((entry["name"], int(match[1])))
    return found


def _namespace_subnets() -> set[int]:
    return {subnet for _, subnet in _namespaces()}


def _bridge_owners() -> dict[int, int | None]:
    """Subnet -> pid of the process that made its bridge (None if not made by one)."""
    owners: dict[int, int | None] = {}
    for link in json.loads(_ip("-j", "link", "show", "type", "bridge") or "[]"):
        match = _BRIDGE_RE.match(link["ifname"])
        if match is None:
            continue
        alias = link.get("ifalias", "")
        owner = alias.removeprefix(OWNER_ALIAS)
        owners[int(match[1])] = (
            int(owner) if alias.startswith(OWNER_ALIAS) and owner.isdigit() else None
        )
    return owners


def _is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _claim_lock() -> Iterator[None]:
    """Exclusive among the processes of this machine (an advisory lock on a file)."""
    with CLAIM_LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- proxies --------------------------------------------------------------------------------------


class ProxyLinks(Links):
    """A TCP forwarder on 127.0.0.1 for each ordered pair of nodes; cuts close them."""

    kind = "proxy"

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(names)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="links", daemon=True)
        self._thread.start()
        self._servers: dict[tuple[str, str], asyncio.Server] = {}
        self._streams: dict[tuple[str, str], set[asyncio.StreamWriter]] = {}
        self._blocked: set[frozenset[str]] = set()
        self.ports: dict[tuple[str, str], int] = {}
        """(dialler, peer) -> port of the forwarder the dialler uses to reach the peer."""

    def configure(self, net_dir: Path) -> None:
        """Node ``a`` dials peer ``b`` as ``b@127.0.0.1:<port of forwarder (a, b)>``."""
        configs = {name: load_node_config(net_dir / "nodes" / name) for name in self.names}
        for a, b in itertools.permutations(self.names, 2):
            target = (configs[b].p2p_host, configs[b].p2p_port)
            self.ports[a, b] = self._call(self._serve(a, b, target))
        for name, config in configs.items():
            peers = tuple(
                f"{other}@127.0.0.1:{self.ports[name, other]}"
                for other in self.names
                if other != name
            )
            save_node_config(replace(config, peers=peers))

    def command_prefix(self, name: str) -> tuple[str, ...]:
        """Nothing: every node runs on this host."""
        return ()

    def close(self) -> None:
        """Stop every forwarder and the thread."""
        if not self._loop.is_closed() and self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._call(self._close_all())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(PROXY_CALL_TIMEOUT_S)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    def _block(self, a: str, b: str) -> None:
        self._call(self._set_blocked(frozenset((a, b)), True))

    def _unblock(self, a: str, b: str) -> None:
        self._call(self._set_blocked(frozenset((a, b)), False))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(PROXY_CALL_TIMEOUT_S)

    # -- on the proxies' thread --------------------------------------------------------------------

    async def _serve(self, a: str, b: str, target: tuple[str, int]) -> int:
        link = (a, b)
        self._streams[link] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._forward(link, target, reader, writer)

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        self._servers[link] = server
        port: int = server.sockets[0].getsockname()[1]
        return port

    async def _forward(
        self,
        link: tuple[str, str],
        target: tuple[str, int],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        streams = self._streams[link]
        if frozenset(link) in self._blocked or len(streams) >= PROXY_CONNECTIONS_MAX:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        streams.update((writer, up_writer))
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            streams.difference_update((writer, up_writer))
            writer.close()
            up_writer.close()

    async def _set_blocked(self, pair: frozenset[str], blocked: bool) -> None:
        if not blocked:
            self._blocked.discard(pair)
            return
        self._blocked.add(pair)
        for link, streams in self._streams.items():
            if frozenset(link) == pair:
                for writer in list(streams):
                    writer.transport.abort()

    async def _close_all(self) -> None:
        for server in self._servers.values():
            server.close()
        for streams in self._streams.values():
            for writer in list(streams):
                writer.transport.abort()
        for server in self._servers.values():
            await server.wait_closed()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes one way until either side closes."""
    try:
        while chunk := await reader.read(PROXY_CHUNK_BYTES):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()
