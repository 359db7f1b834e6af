"""The contract registry: the ``contracts`` system contract.

Methods (``ctx`` first, as for any contract):

- ``deploy(name, source)`` -- admin only, called by a transaction (not by
  another contract). Checks the name and the source, stores the source and
  its metadata at version 1. Returns the metadata.
- ``upgrade(name, source)`` -- admin only, direct. Replaces the source,
  keeps the contract's state, bumps the version and, if the new code has an
  ``@invoke def migrate(ctx)``, runs it once (it sees ``ctx.caller ==
  "contracts"``; nobody else may call ``migrate``). Returns the metadata.
- ``get(name)`` -- query: the metadata (no source).
- ``code(name)`` -- query: the source.
- ``list()`` -- query: deployed names in order (at most
  ``STATE_ITEMS_LIMIT_MAX``).

State, in the ``contracts`` namespace: ``meta:<name>`` holds the metadata
(``name``, ``version``, ``code_hash``, ``source_bytes``, ``deployer``,
``deployed_height``, ``updater``, ``updated_height``) and ``source:<name>``
the source. The runtime reads ``meta:<name>`` on every call to find the code
hash; it reads the source only to compile code it has not cached.

The governance flow that lets organisations approve a deployment sits in
front of this contract; in this version an admin certificate is enough.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from jinglian.execution._context import Context
from jinglian.execution._model import DeployedContract, StateView
from jinglian.execution.limits import STATE_ITEMS_LIMIT_MAX
from jinglian.execution.native import NativeContract
from jinglian.execution.sandbox import check_contract
from jinglian.execution.sdk import invoke, query
from jinglian.types.codec import Value, decode
from jinglian.types.errors import ContractFailed, InvalidInput, PermissionDenied, UnknownContract

__all__ = [
    "ADMIN_ROLE",
    "MIGRATE_METHOD",
    "REGISTRY",
    "REGISTRY_NAME",
    "RESERVED_NAMES",
    "ContractEntry",
    "decode_entry",
    "entry_key",
    "is_valid_name",
    "make_code_loader",
    "read_entry",
    "read_source",
]

REGISTRY_NAME = "contracts"
ADMIN_ROLE = "admin"
MIGRATE_METHOD = "migrate"
RESERVED_NAMES = frozenset(
    {REGISTRY_NAME, "chain_config", "consensus", "governance", "identity", "permissions", "system"}
)
"""Names kept for native system contracts: no deployed contract may take one."""

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,31}")
META_PREFIX = "meta:"
SOURCE_PREFIX = "source:"
RAW_PREFIX = REGISTRY_NAME.encode() + b"\x00"

RawGet = Callable[[bytes], "bytes | None"]


class ContractEntry:
    """What the runtime needs from a registry entry."""

    __slots__ = ("code_hash", "source_bytes")

    def __init__(self, code_hash: bytes, source_bytes: int) -> None:
        self.code_hash = code_hash
        """Hash of the current source."""
        self.source_bytes = source_bytes
        """Size of the current source, UTF-8 bytes (load gas is charged by it)."""


def is_valid_name(name: object) -> bool:
    """Whether ``name`` may be given to a deployed contract."""
    return (
        type(name) is str
        and NAME_PATTERN.fullmatch(name) is not None
        and name not in RESERVED_NAMES
    )


def entry_key(name: str) -> bytes:
    """The raw state key of contract ``name``'s registry metadata."""
    return RAW_PREFIX + (META_PREFIX + name).encode()


def read_entry(get_raw: RawGet, name: str) -> ContractEntry | None:
    """The registry entry of ``name`` read through ``get_raw`` (raw state access), or None."""
    data = get_raw(entry_key(name))
    return None if data is None else decode_entry(data)


def decode_entry(data: bytes) -> ContractEntry:
    """The parts of stored registry metadata the runtime needs."""
    meta = decode(data, len(data))
    assert isinstance(meta, dict), "registry metadata is a map"
    code_hash, size = meta["code_hash"], meta["source_bytes"]
    assert isinstance(code_hash, bytes) and isinstance(size, int)
    return ContractEntry(code_hash, size)


def read_source(get_raw: RawGet, name: str) -> str:
    """The source of deployed contract ``name`` (which must exist)."""
    data = get_raw(RAW_PREFIX + (SOURCE_PREFIX + name).encode())
    assert data is not None, f"registry has metadata but no source for {name}"
    source = decode(data, len(data))
    assert isinstance(source, str)
    return source


def make_code_loader(
    state_view_factory: Callable[[], StateView],
) -> Callable[[str], DeployedContract | None]:
    """A ``load_code`` for ``Runtime`` that reads the registry from ``state_view_factory()``.

    The runtime's default (``load_code=None``) reads the registry through the
    transaction's own state instead, which also sees contracts deployed earlier
    in the same transaction; prefer it. This helper suits tools that hold a
    view of committed state.
    """

    def load_code(name: str) -> DeployedContract | None:
        view = state_view_factory()
        entry = read_entry(view.get, name)
        if entry is None:
            return None
        return DeployedContract(name, read_source(view.get, name), entry.code_hash)

    return load_code


def _require_admin(ctx: Context) -> None:
    if ctx.caller is not None:
        raise PermissionDenied("contracts are deployed by transactions, not by other contracts")
    if ctx.sender.role != ADMIN_ROLE:
        raise PermissionDenied(f"only an {ADMIN_ROLE} may deploy or upgrade contracts")


def _require_text(name: object, source: object) -> None:
    if type(name) is not str or type(source) is not str:
        raise InvalidInput("name and source must be text")


def _load_meta(ctx: Context, name: object) -> dict[str, Value]:
    if type(name) is not str:
        raise InvalidInput("name must be text")
    meta = ctx.state.get(META_PREFIX + name)
    if meta is None:
        raise UnknownContract(f"no contract named {name!r}")
    assert isinstance(meta, dict)
    return meta


def _store(ctx: Context, name: str, source: str, meta: dict[str, Value]) -> None:
    ctx.state.set(META_PREFIX + name, meta)
    ctx.state.set(SOURCE_PREFIX + name, source)


@invoke
def deploy(ctx: Context, name: object, source: object) -> Value:
    """Register a new contract ``name`` with ``source``."""
    _require_admin(ctx)
    _require_text(name, source)
    assert isinstance(name, str) and isinstance(source, str)
    if not is_valid_name(name):
        raise InvalidInput(
            f"contract names match {NAME_PATTERN.pattern} and are not {sorted(RESERVED_NAMES)}"
        )
    if ctx.state.has(META_PREFIX + name):
        raise ContractFailed(f"contract {name!r} already exists: use upgrade")
    check_contract(name, source)
    signer, height = ctx.sender.id, ctx.block_height
    meta: dict[str, Value] = {
        "name": name,
        "version": 1,
        "code_hash": ctx.hash(source),
        "source_bytes": len(source.encode()),
        "deployer": signer,
        "deployed_height": height,
        "updater": signer,
        "updated_height": height,
    }
    _store(ctx, name, source, meta)
    ctx.emit("deployed", {"name": name, "version": 1})
    return meta


@invoke
def upgrade(ctx: Context, name: object, source: object) -> Value:
    """Replace the code of contract ``name`` (state kept); run its ``migrate`` if any."""
    _require_admin(ctx)
    _require_text(name, source)
    assert isinstance(name, str) and isinstance(source, str)
    meta = _load_meta(ctx, name)
    compiled = check_contract(name, source)
    version = meta["version"]
    assert isinstance(version, int)
    meta.update(
        version=version + 1,
        code_hash=ctx.hash(source),
        source_bytes=len(source.encode()),
        updater=ctx.sender.id,
        updated_height=ctx.block_height,
    )
    _store(ctx, name, source, meta)
    ctx.emit("upgraded", {"name": name, "version": version + 1})
    migrate = compiled.methods.get(MIGRATE_METHOD)
    if migrate is not None and migrate.kind == "invoke":
        ctx.call(name, MIGRATE_METHOD, {})
    return meta


@query
def get(ctx: Context, name: object) -> Value:
    """The metadata of contract ``name``."""
    return _load_meta(ctx, name)


@query
def code(ctx: Context, name: object) -> Value:
    """The source of contract ``name``."""
    _load_meta(ctx, name)
    return ctx.state.get(SOURCE_PREFIX + str(name))


@query
def list_contracts(ctx: Context) -> Value:
    """Names of deployed contracts, in order (at most ``STATE_ITEMS_LIMIT_MAX``)."""
    entries = ctx.state.items(META_PREFIX, STATE_ITEMS_LIMIT_MAX)
    return [key[len(META_PREFIX) :] for key, _ in entries]


REGISTRY = NativeContract(
    REGISTRY_NAME,
    {"deploy": deploy, "upgrade": upgrade, "get": get, "code": code, "list": list_contracts},
)
"""The registry as the runtime runs it."""
