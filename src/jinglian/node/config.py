"""A node's own settings: its file, ``node.toml``, in the node's directory.

Node settings are local choices (ports, paths, peers); chain parameters live
in genesis and change through governance; constants live in code. Paths in the
file are relative to the node directory. Example::

    name = "node1"
    org = "org1"
    genesis = "../../genesis.json"
    sign_key = "sign.key"
    sign_cert = "sign.pem"
    tls_key = "tls.key"
    tls_cert = "tls.pem"
    data_dir = "data"
    api_host = "127.0.0.1"
    api_port = 8601
    p2p_host = "127.0.0.1"
    p2p_port = 9601
    peers = ["127.0.0.1:9602"]
    log_level = "info"
    index_db = "sqlite:///../../index.sqlite"

``index_db`` (optional, empty by default) is the SQLAlchemy URL of the SQL
index that ``jinglian indexer run`` writes (``sqlite:///FILE``, a relative
FILE taken from the node directory, or ``postgresql://...``). The node only
reads it: the directory's search, department and report routes answer from
it, and without it they answer 503 ``unavailable`` (``docs/api.md``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from jinglian.types.errors import ConfigError

__all__ = ["NODE_CONFIG_FILE", "NodeConfig", "load_node_config", "save_node_config"]

NODE_CONFIG_FILE = "node.toml"
CONFIG_BYTES_MAX = 64 * 1024
INDEX_URL_CHARS_MAX = 1000
"""Longest ``index_db`` URL."""
SQLITE_URL_PREFIX = "sqlite:///"
INDEX_URL_PREFIXES = (SQLITE_URL_PREFIX, "postgresql://", "postgresql+psycopg://")
"""The index databases a node reads: an SQLite file or a PostgreSQL server."""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Settings of one node; ``root`` is the node directory all paths are relative to."""

    root: Path
    """Directory holding ``node.toml``."""
    name: str
    """Node name, unique in the network."""
    org: str
    """Organisation that runs the node."""
    genesis: str = "../../genesis.json"
    """Path of the genesis file."""
    sign_key: str = "sign.key"
    """PEM private key the node signs blocks and votes with."""
    sign_cert: str = "sign.pem"
    """Certificate of ``sign_key`` (role consensus or common)."""
    tls_key: str = "tls.key"
    """PEM private key for mutual TLS between nodes."""
    tls_cert: str = "tls.pem"
    """TLS certificate."""
    data_dir: str = "data"
    """Where the node keeps its ledger."""
    api_host: str = "127.0.0.1"
    """Address the REST API listens on."""
    api_port: int = 8601
    """Port of the REST API."""
    p2p_host: str = "127.0.0.1"
    """Address the peer network listens on."""
    p2p_port: int = 9601
    """Port of the peer network."""
    peers: tuple[str, ...] = field(default_factory=tuple)
    """``host:port`` of the other nodes."""
    log_level: str = "info"
    """``debug``, ``info``, ``warning`` or ``error``."""
    index_db: str = ""
    """SQLAlchemy URL of the SQL index the node's app routes read (empty: none)."""

    def path(self, relative: str) -> Path:
        """Resolve a path setting against the node directory."""
        return (self.root / relative).resolve()

    def index_url(self) -> str | None:
        """``index_db`` with a relative SQLite file resolved against the node directory, or None."""
        if not self.index_db:
            return None
        if self.index_db.startswith(SQLITE_URL_PREFIX) and not self.index_db.startswith(
            SQLITE_URL_PREFIX + "/"
        ):
            return SQLITE_URL_PREFIX + str(self.path(self.index_db[len(SQLITE_URL_PREFIX) :]))
        return self.index_db


def load_node_config(node_dir: Path) -> NodeConfig:
    """Read ``node.toml`` from ``node_dir``; raises ``ConfigError`` with the reason."""
    path = node_dir / NODE_CONFIG_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}; is this a node directory?") from exc
    if len(raw) > CONFIG_BYTES_MAX:
        raise ConfigError(f"{path} is larger than {CONFIG_BYTES_MAX} bytes")
    try:
        data = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return _from_dict(node_dir, data, path)


def _from_dict(node_dir: Path, data: dict[str, Any], path: Path) -> NodeConfig:
    known = {f.name: f for f in fields(NodeConfig) if f.name != "root"}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{path}: unknown settings {unknown}")
    for name in ("name", "org"):
        if not isinstance(data.get(name), str):
            raise ConfigError(f"{path}: setting {name!r} is required and must be a string")
    if "peers" in data:
        if not isinstance(data["peers"], list) or not all(
            isinstance(p, str) for p in data["peers"]
        ):
            raise ConfigError(f"{path}: 'peers' must be a list of host:port strings")
        data = {**data, "peers": tuple(data["peers"])}
    for name in ("api_port", "p2p_port"):
        if name in data and (not isinstance(data[name], int) or not 0 <= data[name] <= 65535):
            raise ConfigError(f"{path}: {name!r} must be a port number")
    if "index_db" in data:
        _check_index_url(data["index_db"], path)
    return NodeConfig(root=node_dir.resolve(), **data)


def _check_index_url(value: object, path: Path) -> None:
    if not isinstance(value, str) or len(value) > INDEX_URL_CHARS_MAX:
        raise ConfigError(
            f"{path}: 'index_db' must be a URL of at most {INDEX_URL_CHARS_MAX} chars"
        )
    if value and (
        not value.startswith(INDEX_URL_PREFIXES)
        or any(c.isspace() for c in value)
        or value in INDEX_URL_PREFIXES
    ):
        raise ConfigError(
            f"{path}: 'index_db' must be sqlite:///FILE or postgresql://USER@HOST:PORT/DB "
            f"(or empty for none), not {value!r}"
        )


def save_node_config(config: NodeConfig) -> Path:
    """Write ``node.toml`` into ``config.root`` and return its path."""
    lines = []
    for f in fields(config):
        if f.name == "root":
            continue
        value = getattr(config, f.name)
        lines.append(f"{f.name} = {_toml_value(value)}")
    path = config.root / NODE_CONFIG_FILE
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
