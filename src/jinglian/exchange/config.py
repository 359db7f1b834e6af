"""The exchange service's configuration file (``exchange.toml``; ``docs/exchange.md``).

Example::

    net = "/srv/chain/mynet"           # network directory (network.json, genesis.json)
    identity = "org1/admin"            # acts for the department: reads, deliver, set_exchange
    # node = "node1"                   # which node of network.json to use (default: first up)
    # contract = "directory"
    host = "127.0.0.1"                 # listen address
    port = 8650
    url = "https://127.0.0.1:8650"     # what set_exchange publishes
    tls_cert = "tls/exchange.pem"      # member certificate issued by the org's CA (SANs!)
    tls_key = "tls/exchange.key"
    state_dir = "state"                # sealed responses, kept until confirmed
    # skew_ms = 300000                 # accepted clock difference of a request's time
    # payload_bytes_max = 268435456

    [sources."301001/000001"]          # a catalog code
    file = "data/landuse.csv"
    format = "csv"                     # csv | json | bytes

    [sources."301001/000002"]
    url = "postgresql://planning@db:5432/plans"
    query = "SELECT parcel_id, land_use, area_m2 FROM parcels"
    format = "csv"                     # csv | json

Relative paths are taken from the file's directory. Tabular sources (csv,
json, every SQL source) are cut to the granted items: a column's name is its
data item code. ``bytes`` serves the file unchanged (only for catalogs whose
grant covers the whole file).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jinglian.types.errors import ConfigError

__all__ = [
    "CONFIG_BYTES_MAX",
    "CONFIG_FILE",
    "FILE_FORMATS",
    "PAYLOAD_BYTES_MAX_DEFAULT",
    "SKEW_MS_DEFAULT",
    "SQL_FORMATS",
    "ExchangeConfig",
    "Source",
    "load_config",
    "render_config",
]

CONFIG_FILE: Final = "exchange.toml"
"""The default config file name (in the current directory)."""

CONFIG_BYTES_MAX: Final = 1024 * 1024
"""The largest config file read."""

SKEW_MS_DEFAULT: Final = 300_000
"""A request's time may differ from the service's clock by at most this much (5 minutes)."""

PAYLOAD_BYTES_MAX_DEFAULT: Final = 256 * 1024 * 1024
"""The largest payload served unless the config says otherwise."""

PAYLOAD_BYTES_MAX_LIMIT: Final = 1 << 30
"""The largest ``payload_bytes_max`` accepted (the envelope's own bound)."""

FILE_FORMATS: Final = ("csv", "json", "bytes")
SQL_FORMATS: Final = ("csv", "json")
SOURCES_MAX: Final = 10_000
_KEYS: Final = {
    "net",
    "identity",
    "node",
    "contract",
    "host",
    "port",
    "url",
    "tls_cert",
    "tls_key",
    "state_dir",
    "skew_ms",
    "payload_bytes_max",
    "sources",
}


@dataclass(frozen=True, slots=True)
class Source:
    """Where a catalog's data comes from: a file, or an SQL query against a database URL."""

    catalog: str
    format: str
    """``csv``, ``json`` or (files only) ``bytes``."""
    file: Path | None = None
    url: str | None = None
    query: str | None = None

    @property
    def tabular(self) -> bool:
        """Whether rows are cut to the granted items (every format but ``bytes``)."""
        return self.format != "bytes"


@dataclass(frozen=True, slots=True)
class ExchangeConfig:
    """A parsed ``exchange.toml``; every path absolute."""

    path: Path
    net: Path
    identity: str
    host: str
    port: int
    url: str
    tls_cert: Path
    tls_key: Path
    state_dir: Path
    node: str | None = None
    contract: str = "directory"
    skew_ms: int = SKEW_MS_DEFAULT
    payload_bytes_max: int = PAYLOAD_BYTES_MAX_DEFAULT
    sources: dict[str, Source] = field(default_factory=dict)

    @property
    def org(self) -> str:
        """The department: the organisation of ``identity``."""
        return self.identity.split("/", 1)[0]


def load_config(path: Path | str) -> ExchangeConfig:
    """Read and check an ``exchange.toml``; ``ConfigError`` naming the bad key."""
    path = Path(path).resolve()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read exchange config {path}: {exc.strerror}") from None
    if len(raw) > CONFIG_BYTES_MAX:
        raise ConfigError(f"exchange config {path} is over {CONFIG_BYTES_MAX} bytes")
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"exchange config {path} is not TOML: {exc}") from None
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise ConfigError(f"exchange config {path}: unknown key {unknown[0]!r}")
    base = path.parent
    identity = _text(doc, "identity", path)
    if identity.count("/") != 1:
        raise ConfigError(f"exchange config {path}: identity must be org/role, e.g. org1/admin")
    url = _text(doc, "url", path)
    if not url.startswith("https://"):
        raise ConfigError(f"exchange config {path}: url must start with https://")
    port = doc.get("port")
    if type(port) is not int or not 0 < port < 65536:
        raise ConfigError(f"exchange config {path}: port must be an integer from 1 to 65535")
    skew_ms = doc.get("skew_ms", SKEW_MS_DEFAULT)
    if type(skew_ms) is not int or not 1_000 <= skew_ms <= 3_600_000:
        raise ConfigError(f"exchange config {path}: skew_ms must be from 1000 to 3600000")
    payload_max = doc.get("payload_bytes_max", PAYLOAD_BYTES_MAX_DEFAULT)
    if type(payload_max) is not int or not 0 < payload_max <= PAYLOAD_BYTES_MAX_LIMIT:
        raise ConfigError(
            f"exchange config {path}: payload_bytes_max must be from 1 to {PAYLOAD_BYTES_MAX_LIMIT}"
        )
    node = doc.get("node")
    if node is not None and not isinstance(node, str):
        raise ConfigError(f"exchange config {path}: node must be a node name")
    return ExchangeConfig(
        path=path,
        net=base / _text(doc, "net", path),
        identity=identity,
        host=_text(doc, "host", path),
        port=port,
        url=url,
        tls_cert=base / _text(doc, "tls_cert", path),
        tls_key=base / _text(doc, "tls_key", path),
        state_dir=base / _text(doc, "state_dir", path),
        node=node,
        contract=str(doc.get("contract", "directory")),
        skew_ms=skew_ms,
        payload_bytes_max=payload_max,
        sources=_sources(doc.get("sources", {}), base, path),
    )


def _text(doc: dict[str, Any], key: str, path: Path) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"exchange config {path}: {key} must be non-empty text")
    return value


def _sources(table: Any, base: Path, path: Path) -> dict[str, Source]:
    if not isinstance(table, dict) or len(table) > SOURCES_MAX:
        raise ConfigError(f"exchange config {path}: sources must be a table of catalog codes")
    found: dict[str, Source] = {}
    for catalog, entry in table.items():
        where = f"exchange config {path}: sources.{catalog!r}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(entry) - {"file", "url", "query", "format"})
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
        fmt = entry.get("format", "csv")
        if "file" in entry:
            if "url" in entry or "query" in entry:
                raise ConfigError(f"{where}: give file, or url and query, not both")
            if fmt not in FILE_FORMATS:
                raise ConfigError(f"{where}: format must be one of {', '.join(FILE_FORMATS)}")
            if not isinstance(entry["file"], str) or not entry["file"]:
                raise ConfigError(f"{where}: file must be a path")
            found[catalog] = Source(catalog, fmt, file=base / entry["file"])
        elif isinstance(entry.get("url"), str) and isinstance(entry.get("query"), str):
            if fmt not in SQL_FORMATS:
                raise ConfigError(f"{where}: format must be one of {', '.join(SQL_FORMATS)}")
            found[catalog] = Source(catalog, fmt, url=entry["url"], query=entry["query"])
        else:
            raise ConfigError(f"{where}: needs file, or url and query")
    return found


def render_config(values: dict[str, Any], sources: dict[str, dict[str, str]]) -> str:
    """TOML text for ``values`` (text and integers) and ``sources`` (as ``load_config`` reads)."""
    lines = [f"{key} = {_toml(value)}" for key, value in values.items() if value is not None]
    for catalog, entry in sources.items():
        lines += ["", f"[sources.{_toml(catalog)}]"]
        lines += [f"{key} = {_toml(value)}" for key, value in entry.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"cannot write {value!r} into the exchange config")
    if isinstance(value, int):
        return str(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    if any(ord(char) < 0x20 for char in escaped):
        raise ConfigError(f"config text {value!r} holds control characters")
    return f'"{escaped}"'
