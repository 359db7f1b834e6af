"""The contract registry: the ``contracts`` system contract, and the contract lifecycle.

Every change here is governed (``_govern.authorize``): the transaction's
endorsements meet the resource's policy, or a governance proposal's votes did.

- ``deploy(name, source, policies=None)`` [contract.deploy]: checks the name
  and the source, stores the source and its metadata at version 1, with
  optional per-method policies ``{method: {rule, roles, orgs}}``.
- ``upgrade(name, source)`` [contract.upgrade]: replaces the source (which
  must pass the sandbox check, or the old version stays), keeps the state,
  bumps the version and, if the new code has an ``@invoke def migrate(ctx)``,
  runs it once (it sees ``ctx.caller == "contracts"``).
- ``freeze(name)``, ``unfreeze(name)`` [contract.freeze / contract.unfreeze]:
  a frozen contract refuses invocations; its queries still answer.
- ``revoke(name)`` [contract.revoke]: for good; it refuses invocations and
  cannot be unfrozen or upgraded.
- ``set_policy(name, method, policy)`` [contract.set_policy, by default an
  admin of the deployer's organisation]: the policy a call of ``method`` must
  meet with the transaction's endorsements; ``policy=None`` removes it.
- ``get(name)``, ``code(name)``, ``list()``: queries.

State, in the ``contracts`` namespace: ``meta:<name>`` holds the metadata
(``name``, ``version``, ``code_hash``, ``source_bytes``, ``deployer``,
``deployer_org``, ``deployed_height``, ``updater``, ``updated_height``,
``status``, ``policies``) and ``source:<name>`` the source. The runtime reads
``meta:<name>`` on every call for the code hash, the status and the method
policies; it reads the source only to compile code it has not cached.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from jinglian.execution._context import Context
from jinglian.execution._model import DeployedContract, StateView
from jinglian.execution.limits import STATE_ITEMS_LIMIT_MAX
from jinglian.execution.native import NativeContract
from jinglian.execution.sandbox import check_contract
from jinglian.execution.sdk import invoke, query
from jinglian.execution.system._govern import authorize, initiator, record_action
from jinglian.types.codec import Value, decode
from jinglian.types.errors import (
    ContractFailed,
    ContractFrozen,
    InvalidInput,
    NotFound,
    TooLarge,
    UnknownContract,
)
from jinglian.types.policy import Policy, parse_policy

__all__ = [
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
MIGRATE_METHOD = "migrate"
RESERVED_NAMES = frozenset(
    {REGISTRY_NAME, "chain_config", "consensus", "governance", "identity", "permissions", "system"}
)
"""Names kept for native system contracts: no deployed contract may take one."""

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{1,31}")
ACTIVE, FROZEN, REVOKED = "active", "frozen", "revoked"
METHOD_POLICIES_MAX = 64
META_PREFIX = "meta:"
SOURCE_PREFIX = "source:"
RAW_PREFIX = REGISTRY_NAME.encode() + b"\x00"

RawGet = Callable[[bytes], "bytes | None"]


class ContractEntry:
    """What the runtime needs from a registry entry."""

    __slots__ = ("code_hash", "deployer_org", "policies", "source_bytes", "status")

    def __init__(
        self,
        code_hash: bytes,
        source_bytes: int,
        status: str = ACTIVE,
        policies: dict[str, Policy] | None = None,
        deployer_org: str = "",
    ) -> None:
        self.code_hash = code_hash
        """Hash of the current source."""
        self.source_bytes = source_bytes
        """Size of the current source, UTF-8 bytes (load gas is charged by it)."""
        self.status = status
        """``active``, ``frozen`` or ``revoked``."""
        self.policies = policies or {}
        """Per-method policies the transaction's endorsements must meet."""
        self.deployer_org = deployer_org
        """The deployer's organisation (``SELF`` in its method policies)."""


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
    stored = meta.get("policies") or {}
    assert isinstance(stored, dict)
    policies = {str(method): parse_policy(rule) for method, rule in stored.items()}
    return ContractEntry(
        code_hash,
        size,
        str(meta.get("status", ACTIVE)),
        policies,
        str(meta.get("deployer_org", "")),
    )


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


def _require_text(name: object, source: object) -> None:
    if type(name) is not str or type(source) is not str:
        raise InvalidInput("name and source must be text")


def _check_size(ctx: Context, source: str) -> None:
    document: Any = ctx.system_get("chain_config", "config")
    limit = document["params"]["contract_bytes_max"]
    size = len(source.encode())
    if size > limit:
        raise TooLarge(f"the contract source is {size} bytes; the chain allows {limit}")


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


def _method_policies(compiled_methods: dict[str, Any], policies: object) -> dict[str, Value]:
    if policies is None:
        return {}
    if not isinstance(policies, dict) or len(policies) > METHOD_POLICIES_MAX:
        raise InvalidInput(f"policies must be a map of at most {METHOD_POLICIES_MAX} methods")
    checked: dict[str, Value] = {}
    for method, rule in policies.items():
        info = compiled_methods.get(method)
        if info is None or info.kind != "invoke":
            raise InvalidInput(f"the contract has no invoke method {method!r} to set a policy on")
        checked[method] = parse_policy(rule).to_value()  # type: ignore[assignment]
    return checked


@invoke
def deploy(ctx: Context, name: object, source: object, policies: object = None) -> Value:
    """Register a new contract ``name`` with ``source`` (and optional method policies)."""
    _require_text(name, source)
    assert isinstance(name, str) and isinstance(source, str)
    approvals = authorize(ctx, "contract.deploy")
    if not is_valid_name(name):
        raise InvalidInput(
            f"contract names match {NAME_PATTERN.pattern} and are not {sorted(RESERVED_NAMES)}"
        )
    if ctx.state.has(META_PREFIX + name):
        raise ContractFailed(f"contract {name!r} already exists: use upgrade")
    _check_size(ctx, source)
    compiled = check_contract(name, source)
    org, signer = initiator(ctx)
    height = ctx.block_height
    meta: dict[str, Value] = {
        "name": name,
        "version": 1,
        "code_hash": ctx.hash(source),
        "source_bytes": len(source.encode()),
        "deployer": signer,
        "deployer_org": org,
        "deployed_height": height,
        "updater": signer,
        "updated_height": height,
        "status": ACTIVE,
        "policies": _method_policies(dict(compiled.methods), policies),
    }
    _store(ctx, name, source, meta)
    ctx.emit("deployed", {"name": name, "version": 1})
    record_action(ctx, "contract.deploy", _summary(ctx, name, source), approvals)
    return meta


def _summary(ctx: Context, name: str, source: str) -> dict[str, Value]:
    return {"name": name, "source": {"bytes": len(source.encode()), "hash": ctx.hash(source).hex()}}


@invoke
def upgrade(ctx: Context, name: object, source: object) -> Value:
    """Replace the code of contract ``name`` (state kept); run its ``migrate`` if any."""
    _require_text(name, source)
    assert isinstance(name, str) and isinstance(source, str)
    approvals = authorize(ctx, "contract.upgrade")
    meta = _load_meta(ctx, name)
    if meta.get("status") == REVOKED:
        raise ContractFrozen(f"contract {name!r} is revoked; it cannot be upgraded")
    _check_size(ctx, source)
    compiled = check_contract(name, source)
    version = meta["version"]
    assert isinstance(version, int)
    kept = meta.get("policies") or {}
    assert isinstance(kept, dict)
    meta.update(
        version=version + 1,
        code_hash=ctx.hash(source),
        source_bytes=len(source.encode()),
        updater=initiator(ctx)[1],
        updated_height=ctx.block_height,
        policies={m: p for m, p in kept.items() if m in compiled.methods},
    )
    _store(ctx, name, source, meta)
    ctx.emit("upgraded", {"name": name, "version": version + 1})
    record_action(ctx, "contract.upgrade", _summary(ctx, name, source), approvals)
    migrate = compiled.methods.get(MIGRATE_METHOD)
    if migrate is not None and migrate.kind == "invoke":
        ctx.call(name, MIGRATE_METHOD, {})
    return meta


def _set_status(ctx: Context, name: object, resource: str, status: str) -> Value:
    approvals = authorize(ctx, resource)
    meta = _load_meta(ctx, name)
    if meta.get("status") == REVOKED:
        raise ContractFrozen(f"contract {name!r} is revoked for good")
    if meta.get("status") == status:
        raise InvalidInput(f"contract {name!r} is already {status}")
    meta["status"] = status
    ctx.state.set(META_PREFIX + str(name), meta)
    ctx.emit(status, {"name": str(name)})
    record_action(ctx, resource, {"name": name}, approvals)
    return meta


@invoke
def freeze(ctx: Context, name: object) -> Value:
    """Stop invocations of ``name`` until it is unfrozen (queries still answer)."""
    return _set_status(ctx, name, "contract.freeze", FROZEN)


@invoke
def unfreeze(ctx: Context, name: object) -> Value:
    """Let a frozen contract be invoked again."""
    meta = _load_meta(ctx, name)
    if meta.get("status") == ACTIVE:
        raise InvalidInput(f"contract {name!r} is not frozen")
    return _set_status(ctx, name, "contract.unfreeze", ACTIVE)


@invoke
def revoke(ctx: Context, name: object) -> Value:
    """Retire ``name`` for good: no invocation, upgrade or unfreeze afterwards."""
    return _set_status(ctx, name, "contract.revoke", REVOKED)


@invoke
def set_policy(ctx: Context, name: object, method: object, policy: object = None) -> Value:
    """Set (or with ``policy=None`` remove) the policy a call of ``name.method`` must meet."""
    meta = _load_meta(ctx, name)
    owner = meta.get("deployer_org")
    approvals = authorize(ctx, "contract.set_policy", owner if type(owner) is str else None)
    if type(method) is not str:
        raise InvalidInput("method must be text")
    assert isinstance(name, str)
    stored: Any = meta.get("policies") or {}
    policies = dict(stored)
    if policy is None:
        if method not in policies:
            raise NotFound(f"{name}.{method} has no policy to remove")
        del policies[method]
    else:
        source = ctx.state.get(SOURCE_PREFIX + name)
        assert isinstance(source, str)
        policies.update(
            _method_policies(dict(check_contract(name, source).methods), {method: policy})
        )
    meta["policies"] = policies
    ctx.state.set(META_PREFIX + name, meta)
    ctx.emit("policy_set", {"name": name, "method": method})
    record_action(
        ctx, "contract.set_policy", {"name": name, "method": method, "policy": policy}, approvals
    )
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
    {
        "deploy": deploy,
        "upgrade": upgrade,
        "freeze": freeze,
        "unfreeze": unfreeze,
        "revoke": revoke,
        "set_policy": set_policy,
        "get": get,
        "code": code,
        "list": list_contracts,
    },
)
"""The registry as the runtime runs it."""
