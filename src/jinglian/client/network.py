"""The network manifest ``network.json`` that ``jinglian init`` writes.

It tells clients where a network's nodes listen, which identities exist and
where the genesis file is, so a command run inside (or pointed at) a network
directory needs no other flags. Paths in it are relative to its directory::

    {
      "version": 1,
      "chain_id": "jinglian",
      "crypto": "default",
      "consensus": "tbft",
      "genesis": "genesis.json",
      "nodes": [{"name": "node1", "org": "org1", "validator": true,
                 "dir": "nodes/node1", "api_url": "http://127.0.0.1:8601",
                 "p2p": "127.0.0.1:9601"}, ...],
      "identities": {"org1/admin": {"org": "org1", "role": "admin",
                     "cert": "orgs/org1/users/admin/cert.pem",
                     "key": "orgs/org1/users/admin/key.pem"}, ...},
      "default_identity": "org1/admin",
      "devnet": true
    }

``devnet`` is present (and true) only in a network ``jinglian devnet`` created:
one directory holding every organisation's keys, where governed CLI commands
gather the approvals a policy needs from the local admin identities.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinglian.client.records import field
from jinglian.types import ChainConfig, parse_chain_config
from jinglian.types.errors import ConfigError, DecodeError

__all__ = [
    "NETWORK_ENV",
    "NETWORK_FILE",
    "IdentityEntry",
    "Network",
    "NodeEntry",
    "find_network_dir",
    "load_genesis",
    "load_network",
]

NETWORK_FILE = "network.json"
NETWORK_ENV = "JINGLIAN_NET"
"""Environment variable naming the network directory."""
MANIFEST_BYTES_MAX = 4 * 1024 * 1024
NODE_PROBE_TIMEOUT_S = 0.5
"""How long choosing a node waits for one node's API port to accept a connection."""
GENESIS_BYTES_MAX = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """One node of the network."""

    name: str
    """Node name, e.g. ``node1``."""
    org: str
    """Organisation running it."""
    api_url: str
    """Base URL of its REST API."""
    p2p: str
    """``host:port`` of its peer endpoint."""
    validator: bool
    """Whether it is a genesis validator."""
    dir: Path
    """Its node directory (absolute)."""


@dataclass(frozen=True, slots=True)
class IdentityEntry:
    """A certificate and key a client can act as."""

    name: str
    """``org/role``, e.g. ``org1/admin``."""
    org: str
    """Organisation that issued the certificate."""
    role: str
    """Certificate role."""
    cert: Path
    """PEM certificate path (absolute)."""
    key: Path
    """PEM private key path (absolute)."""


@dataclass(frozen=True, slots=True)
class Network:
    """A parsed ``network.json``."""

    root: Path
    """Directory holding the manifest."""
    chain_id: str
    """Chain id."""
    crypto: str
    """Crypto suite name."""
    consensus: str
    """Consensus type."""
    genesis_path: Path
    """Path of ``genesis.json`` (absolute)."""
    nodes: tuple[NodeEntry, ...]
    """Nodes in manifest order."""
    identities: dict[str, IdentityEntry]
    """Identities by ``org/role`` name."""
    default_identity: str
    """Identity used when none is named."""
    devnet: bool = False
    """Whether ``jinglian devnet`` created it (local auto-approval of governed commands)."""

    def node(self, name: str | None = None) -> NodeEntry:
        """The named node; ``ConfigError`` if unknown.

        Unnamed, the first node whose API port accepts a connection (the first
        node if none does), so commands keep working while node1 is down.
        """
        if name is None:
            return _first_reachable(self.nodes)
        for node in self.nodes:
            if node.name == name:
                return node
        known = ", ".join(n.name for n in self.nodes)
        raise ConfigError(f"no node {name!r} in {self.root}; known nodes: {known}")

    def identity(self, name: str | None = None) -> IdentityEntry:
        """The named identity, or the default one; ``ConfigError`` if unknown."""
        key = name or self.default_identity
        if key not in self.identities:
            known = ", ".join(sorted(self.identities))
            raise ConfigError(f"no identity {key!r} in {self.root}; known identities: {known}")
        return self.identities[key]

    def load_genesis(self) -> ChainConfig:
        """The chain configuration from the genesis file."""
        return load_genesis(self.genesis_path)


def _first_reachable(nodes: tuple[NodeEntry, ...]) -> NodeEntry:
    if len(nodes) == 1:
        return nodes[0]
    for node in nodes:
        if _accepts_connections(node.api_url):
            return node
    return nodes[0]


def _accepts_connections(api_url: str) -> bool:
    try:
        url = urlsplit(api_url)
        port = url.port or (443 if url.scheme == "https" else 80)
        address = (url.hostname or "127.0.0.1", port)
        with socket.create_connection(address, timeout=NODE_PROBE_TIMEOUT_S):
            return True
    except (OSError, ValueError):
        return False


def load_genesis(path: Path | str) -> ChainConfig:
    """Read and parse a genesis file; ``ConfigError`` with the reason otherwise."""
    return parse_chain_config(_read_json(Path(path), GENESIS_BYTES_MAX))


def _read_json(path: Path, limit: int) -> Any:
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(raw) > limit:
        raise ConfigError(f"{path} is larger than {limit} bytes")
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc


def load_network(net_dir: Path) -> Network:
    """Parse ``net_dir/network.json``; ``ConfigError`` with the reason otherwise."""
    root = net_dir.resolve()
    path = root / NETWORK_FILE
    if not path.is_file():
        raise ConfigError(
            f"{net_dir} is not a network directory (no {NETWORK_FILE}); "
            "create one with `jinglian init DIR --orgs 4`"
        )
    try:
        return _parse_manifest(root, _read_json(path, MANIFEST_BYTES_MAX))
    except DecodeError as exc:
        raise ConfigError(f"{path} is malformed: {exc}") from exc


def _parse_manifest(root: Path, value: Any) -> Network:
    w = NETWORK_FILE
    nodes = tuple(_parse_node(root, n) for n in field(value, "nodes", list, w))
    if not nodes:
        raise ConfigError(f"{root / NETWORK_FILE} lists no nodes")
    identities = {
        name: _parse_identity(root, name, entry)
        for name, entry in field(value, "identities", dict, w).items()
    }
    return Network(
        root=root,
        chain_id=field(value, "chain_id", str, w),
        crypto=field(value, "crypto", str, w),
        consensus=field(value, "consensus", str, w),
        genesis_path=root / field(value, "genesis", str, w),
        nodes=nodes,
        identities=identities,
        default_identity=field(value, "default_identity", str, w),
        devnet=_optional_flag(value, "devnet", w),
    )


def _optional_flag(value: Any, name: str, where: str) -> bool:
    if not isinstance(value, dict) or name not in value:
        return False
    return field(value, name, bool, where)


def _parse_node(root: Path, value: Any) -> NodeEntry:
    w = "node"
    return NodeEntry(
        name=field(value, "name", str, w),
        org=field(value, "org", str, w),
        api_url=field(value, "api_url", str, w),
        p2p=field(value, "p2p", str, w),
        validator=field(value, "validator", bool, w),
        dir=root / field(value, "dir", str, w),
    )


def _parse_identity(root: Path, name: str, value: Any) -> IdentityEntry:
    w = f"identity {name}"
    return IdentityEntry(
        name=name,
        org=field(value, "org", str, w),
        role=field(value, "role", str, w),
        cert=root / field(value, "cert", str, w),
        key=root / field(value, "key", str, w),
    )


def find_network_dir(explicit: Path | None = None, start: Path | None = None) -> Path | None:
    """The network directory: ``explicit``, else ``$JINGLIAN_NET``, else the nearest
    directory holding ``network.json`` from ``start`` (default: cwd) upwards."""
    if explicit is not None:
        return explicit
    env = os.environ.get(NETWORK_ENV)
    if env:
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / NETWORK_FILE).is_file():
            return directory
    return None
