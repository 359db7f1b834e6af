"""The ``chain_config`` system contract: the chain configuration as state, changed by governance.

The ledger writes the genesis document into this namespace (key ``config``)
when it creates the chain, so the configuration is part of the state root and
provable like any other value. Each governed method below changes that one
document, after the organisations approved it (``_govern.authorize``: the
transaction's endorsements meet the resource's policy, or a proposal's votes
did). The new document must still be a valid configuration and pass the
safety rules, or nothing changes. The ledger applies a committed change from
the next block on; a validator-set change from the block after that (ADR 0013).

Queries: ``get()``, ``params()``, ``orgs()``, ``policy(resource, self_org)``.

Governed methods (resource in brackets): ``add_org(id, name, ca_cert)``
[org.add], ``update_org_ca(id, ca_cert)`` [org.update_ca], ``remove_org(id)``
[org.remove], ``add_validator(name, org, cert, power)`` [validator.add],
``remove_validator(name)`` [validator.remove], ``set_validator_power(name,
power)`` [validator.power], ``set_params(params)`` [params.set],
``set_policy(resource, policy)`` [policy.set].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any

from jinglian.crypto import Certificate, load_certificate, validate_certificate
from jinglian.execution._context import Context
from jinglian.execution.native import NativeContract
from jinglian.execution.sdk import invoke, query
from jinglian.execution.system._govern import (
    CHAIN_CONFIG_NAME,
    CONFIG_KEY,
    authorize,
    config_document,
    config_hash,
    member_ids,
    policy_in_force,
    record_action,
)
from jinglian.types.codec import Value
from jinglian.types.config import ChainParams, parse_chain_config
from jinglian.types.errors import (
    ConfigError,
    CryptoError,
    InvalidInput,
    NotFound,
    UnsafeChange,
)
from jinglian.types.policy import RESOURCES, orgs_needed, parse_policy
from jinglian.types.tx import TX_BYTES_MAX

__all__ = [
    "CHAIN_CONFIG",
    "CHAIN_CONFIG_NAME",
    "CONFIG_KEY",
    "MIN_FAULT_TOLERANT_VALIDATORS",
    "PARAM_LIMITS",
    "VALIDATOR_POWER_MAX",
]

MIN_FAULT_TOLERANT_VALIDATORS = 4
"""The smallest BFT validator set that survives one faulty validator (3f + 1, f = 1)."""
VALIDATOR_POWER_MAX = 1_000_000
NAME_CHARS_MAX = 128
CA_PEM_CHARS_MAX = 16 * 1024

PARAM_LIMITS: dict[str, tuple[int, int]] = {
    "block_txs_max": (1, 100_000),
    "block_bytes_max": (64 * 1024, 64 * 1024 * 1024),
    "block_interval_ms": (1, 60_000),
    "tx_bytes_max": (1024, TX_BYTES_MAX),
    "tx_expiry_ms_max": (1000, 7 * 24 * 3600 * 1000),
    "clock_skew_ms_max": (0, 3600 * 1000),
    "gas_tx_max": (10_000, 1_000_000_000),
    "gas_query_max": (10_000, 1_000_000_000),
    "contract_bytes_max": (1024, 1024 * 1024),
    "proposal_blocks_default": (1, 10_000_000),
    "proposal_blocks_max": (1, 10_000_000),
}
"""Bounds a governed parameter change must stay within (whole-chain safety, not taste)."""


# -- queries ---------------------------------------------------------------------------------


@query
def get(ctx: Context) -> Value:
    """The whole chain configuration document."""
    return config_document(ctx)


@query
def params(ctx: Context) -> Value:
    """The chain parameters."""
    return config_document(ctx)["params"]  # type: ignore[no-any-return]


@query
def orgs(ctx: Context) -> Value:
    """Member organisations: ``[{"id", "name"}, ...]``."""
    return [{"id": org["id"], "name": org["name"]} for org in config_document(ctx)["orgs"]]


@query
def policy(ctx: Context, resource: object, self_org: object = None) -> Value:
    """The policy of ``resource`` and how many organisations it needs now."""
    if resource not in RESOURCES:
        raise InvalidInput(f"unknown resource {resource!r}; known: {', '.join(RESOURCES)}")
    if self_org is not None and type(self_org) is not str:
        raise InvalidInput("self_org must be an organisation id")
    assert isinstance(resource, str)
    document = config_document(ctx)
    found = policy_in_force(document, resource)
    members = member_ids(document)
    answer: dict[str, Any] = {
        "resource": resource,
        **found.to_value(),
        "needed": orgs_needed(found, members, self_org),
        "members": members,
    }
    return answer


# -- governed changes ------------------------------------------------------------------------


def _change(
    ctx: Context,
    resource: str,
    args: dict[str, Any],
    edit: Callable[[dict[str, Any]], None],
) -> Value:
    """Authorize, apply ``edit`` to a copy of the config, check it, store it, record it."""
    approvals = authorize(ctx, resource)
    document = config_document(ctx)
    before = _parse(document)
    edit(document)
    after = _parse(document)
    _check_validator_change(before.consensus.type, _powers(before), _powers(after))
    ctx.state.set(CONFIG_KEY, document)
    digest = config_hash(ctx, document)
    ctx.emit("config_changed", {"action": resource, "config_hash": digest})
    record_action(ctx, resource, args, approvals, digest)
    return {"action": resource, "config_hash": digest}


def _parse(document: dict[str, Any]) -> Any:
    try:
        return parse_chain_config(document)
    except ConfigError as exc:
        raise UnsafeChange(
            f"the change would make the chain config invalid: {exc.message}"
        ) from None


def _powers(config: Any) -> dict[str, int]:
    return {v.name: v.power for v in config.validators}


def _check_validator_change(consensus: str, old: dict[str, int], new: dict[str, int]) -> None:
    if old == new:
        return
    if consensus == "solo":
        raise UnsafeChange("a solo chain has exactly one validator; its set cannot change")
    if len(old) >= MIN_FAULT_TOLERANT_VALIDATORS > len(new):
        raise UnsafeChange(
            f"the change would leave {len(new)} validators, which cannot tolerate a faulty one; "
            f"keep at least {MIN_FAULT_TOLERANT_VALIDATORS}"
        )
    total = sum(old.values())
    moved = sum(abs(new.get(n, 0) - old.get(n, 0)) for n in set(old) | set(new))
    if 3 * moved >= total:
        raise UnsafeChange(
            f"the change moves {moved} of {total} voting power at once; move less than a third "
            "per change so the old and new quorums overlap"
        )


def _text(value: object, what: str, limit: int = NAME_CHARS_MAX) -> str:
    if type(value) is not str or not value or len(value) > limit:
        raise InvalidInput(f"{what} must be non-empty text of at most {limit} characters")
    return value


def _load_ca(ca_cert: object, org_id: str, document: dict[str, Any]) -> Certificate:
    pem = _text(ca_cert, "ca_cert", CA_PEM_CHARS_MAX)
    try:
        ca = load_certificate(pem.encode())
    except CryptoError as exc:
        raise InvalidInput(f"ca_cert cannot be read: {exc.message}") from None
    if not ca.is_ca:
        raise InvalidInput("ca_cert is not a CA certificate")
    if ca.suite_name != document["crypto"]:
        raise InvalidInput(f"ca_cert uses {ca.suite_name}; this chain uses {document['crypto']}")
    if ca.org_id != org_id:
        raise InvalidInput(
            f"the CA's subject names organisation {ca.org_id!r}, not {org_id!r}; "
            "an organisation's CA must name that organisation"
        )
    return ca


def _org(document: dict[str, Any], org_id: object) -> dict[str, Any]:
    for org in document["orgs"]:
        if org["id"] == org_id:
            return org  # type: ignore[no-any-return]
    raise NotFound(f"organisation {org_id!r} is not a member")


def _validator(document: dict[str, Any], name: object) -> dict[str, Any]:
    for validator in document["validators"]:
        if validator["name"] == name:
            return validator  # type: ignore[no-any-return]
    raise NotFound(f"no validator named {name!r}")


def _power(value: object) -> int:
    if type(value) is not int or not 1 <= value <= VALIDATOR_POWER_MAX:
        raise InvalidInput(f"power must be an integer from 1 to {VALIDATOR_POWER_MAX}")
    return value


@invoke
def add_org(ctx: Context, id: object, name: object, ca_cert: object) -> Value:
    """Admit an organisation with its CA certificate (PEM)."""

    def edit(document: dict[str, Any]) -> None:
        org_id = _text(id, "id")
        if org_id in member_ids(document):
            raise InvalidInput(f"organisation {org_id!r} is already a member")
        ca = _load_ca(ca_cert, org_id, document)
        document["orgs"].append({"id": org_id, "name": _text(name, "name"), "ca_cert": ca.pem})

    return _change(ctx, "org.add", {"id": id, "name": name}, edit)


@invoke
def update_org_ca(ctx: Context, id: object, ca_cert: object) -> Value:
    """Replace an organisation's CA certificate (its old certificates stop chaining)."""

    def edit(document: dict[str, Any]) -> None:
        org = _org(document, id)
        org["ca_cert"] = _load_ca(ca_cert, org["id"], document).pem

    return _change(ctx, "org.update_ca", {"id": id}, edit)


@invoke
def remove_org(ctx: Context, id: object) -> Value:
    """Remove an organisation (not the last one, nor one that still runs validators)."""

    def edit(document: dict[str, Any]) -> None:
        org = _org(document, id)
        if len(document["orgs"]) == 1:
            raise UnsafeChange("the last organisation cannot be removed")
        running = [v["name"] for v in document["validators"] if v["org"] == org["id"]]
        if running:
            raise UnsafeChange(
                f"organisation {org['id']!r} runs validators {running}; remove them first"
            )
        document["orgs"].remove(org)

    return _change(ctx, "org.remove", {"id": id}, edit)


@invoke
def add_validator(
    ctx: Context, name: object, org: object, cert: object, power: object = 1
) -> Value:
    """Add a consensus node (its signing certificate, PEM) with a voting power."""

    def edit(document: dict[str, Any]) -> None:
        node = _text(name, "name")
        if any(v["name"] == node for v in document["validators"]):
            raise InvalidInput(f"validator {node!r} already exists")
        member = _org(document, org)
        pem = _text(cert, "cert", CA_PEM_CHARS_MAX)
        try:
            signing = load_certificate(pem.encode())
            ca = load_certificate(member["ca_cert"].encode())
            validate_certificate(signing, ca, at_ms=ctx.block_time)
        except CryptoError as exc:
            raise InvalidInput(f"cert is not usable: {exc.message}") from None
        if signing.role != "consensus":
            raise InvalidInput(f"a validator's certificate has role consensus, not {signing.role}")
        document["validators"].append(
            {"name": node, "org": member["id"], "cert": signing.pem, "power": _power(power)}
        )

    return _change(ctx, "validator.add", {"name": name, "org": org, "power": power}, edit)


@invoke
def remove_validator(ctx: Context, name: object) -> Value:
    """Remove a consensus node (the set must stay fault tolerant)."""

    def edit(document: dict[str, Any]) -> None:
        document["validators"].remove(_validator(document, name))

    return _change(ctx, "validator.remove", {"name": name}, edit)


@invoke
def set_validator_power(ctx: Context, name: object, power: object) -> Value:
    """Change a validator's voting power."""

    def edit(document: dict[str, Any]) -> None:
        _validator(document, name)["power"] = _power(power)

    return _change(ctx, "validator.power", {"name": name, "power": power}, edit)


@invoke
def set_params(ctx: Context, params: object) -> Value:
    """Change chain parameters: ``{"block_interval_ms": 100, ...}``."""
    if not isinstance(params, dict) or not params:
        raise InvalidInput("params must be a non-empty map of parameter names to values")
    known = {f.name for f in fields(ChainParams)}

    def edit(document: dict[str, Any]) -> None:
        for key, value in params.items():
            if key not in known:
                raise InvalidInput(f"unknown parameter {key!r}; known: {', '.join(sorted(known))}")
            if key == "empty_blocks":
                if type(value) is not bool:
                    raise InvalidInput("parameter 'empty_blocks' takes true or false")
            else:
                low, high = PARAM_LIMITS[key]
                if type(value) is not int or not low <= value <= high:
                    raise InvalidInput(f"parameter {key!r} must be an integer from {low} to {high}")
            document["params"][key] = value
        merged = document["params"]
        if merged["proposal_blocks_default"] > merged["proposal_blocks_max"]:
            raise InvalidInput("proposal_blocks_default may not exceed proposal_blocks_max")

    return _change(ctx, "params.set", {"params": params}, edit)


@invoke
def set_policy(ctx: Context, resource: object, policy: object) -> Value:
    """Set the policy of a chain-wide resource: ``{"rule": "2/3", "roles": ["admin"]}``."""
    if resource not in RESOURCES:
        raise InvalidInput(f"unknown resource {resource!r}; known: {', '.join(RESOURCES)}")
    assert isinstance(resource, str)
    parsed = parse_policy(policy)

    def edit(document: dict[str, Any]) -> None:
        if resource == "policy.set" and orgs_needed(parsed, member_ids(document), None) is None:
            raise UnsafeChange(
                "policy.set must stay satisfiable by the members, or no policy could change again"
            )
        document.setdefault("policies", {})[resource] = parsed.to_value()

    return _change(ctx, "policy.set", {"resource": resource, "policy": parsed.to_value()}, edit)


CHAIN_CONFIG = NativeContract(
    CHAIN_CONFIG_NAME,
    {
        "get": get,
        "params": params,
        "orgs": orgs,
        "policy": policy,
        "add_org": add_org,
        "update_org_ca": update_org_ca,
        "remove_org": remove_org,
        "add_validator": add_validator,
        "remove_validator": remove_validator,
        "set_validator_power": set_validator_power,
        "set_params": set_params,
        "set_policy": set_policy,
    },
)
"""The chain-config contract as the runtime runs it."""
