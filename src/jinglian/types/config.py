"""The chain configuration: what genesis fixes and governance may later change.

The genesis file is a JSON document holding ``ChainConfig.to_value()``; its
hash (the chain hash of the canonical CBOR encoding of that document) is the
genesis hash, which anchors every offline verification. Only strings, integers,
booleans, lists and maps appear, so the JSON and CBOR forms carry the same value.

Constants live in code, chain parameters here (changed by governance), node
settings in each node's own file (``node/config.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from jinglian.types import codec
from jinglian.types.errors import ConfigError, InvalidInput
from jinglian.types.policy import DEFAULT_POLICIES, RESOURCES, ROLES, Policy, parse_policy

__all__ = [
    "CONFIG_VERSION",
    "ROLES",
    "ChainConfig",
    "ChainParams",
    "ConsensusParams",
    "Org",
    "Policy",
    "ValidatorInfo",
    "compute_genesis_hash",
    "compute_validators_hash",
    "parse_chain_config",
]

CONFIG_VERSION = 2
ORGS_MAX = 256
VALIDATORS_MAX = 128
_ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class Org:
    """A member organisation."""

    id: str
    """Short identifier, also the ``O`` of its certificates' subjects."""
    name: str
    """Display name."""
    ca_cert: str
    """PEM certificate of the organisation's CA."""


@dataclass(frozen=True, slots=True)
class ValidatorInfo:
    """A consensus node and its voting power."""

    name: str
    """Node name (also its directory name)."""
    org: str
    """Organisation that runs it."""
    cert: str
    """PEM signing certificate; its certificate id is the validator id."""
    power: int = 1
    """Voting power."""


@dataclass(frozen=True, slots=True)
class ChainParams:
    """Limits and timings every node applies identically."""

    block_txs_max: int = 10_000
    """Most transactions in one block."""
    block_bytes_max: int = 16 * 1024 * 1024
    """Most bytes of transactions in one block."""
    block_interval_ms: int = 50
    """How long the proposer waits for more transactions before cutting a block."""
    empty_blocks: bool = False
    """Whether to produce blocks when no transaction waits."""
    tx_bytes_max: int = 64 * 1024
    """Largest accepted encoded transaction."""
    tx_expiry_ms_max: int = 10 * 60 * 1000
    """Longest allowed distance from a transaction's timestamp to its expiry."""
    clock_skew_ms_max: int = 60 * 1000
    """How far in the future a transaction's timestamp may be."""
    gas_tx_max: int = 10_000_000
    """Gas available to one transaction."""
    gas_query_max: int = 10_000_000
    """Gas available to one query."""
    contract_bytes_max: int = 256 * 1024
    """Largest contract source."""
    proposal_blocks_default: int = 100_000
    """Blocks a governance proposal stays open when its proposer names no expiry."""
    proposal_blocks_max: int = 1_000_000
    """Longest a governance proposal may stay open, in blocks."""


@dataclass(frozen=True, slots=True)
class ConsensusParams:
    """Consensus algorithm and its timing."""

    type: str = "solo"
    """``solo`` (one validator, development) or ``tbft``."""
    timeout_propose_ms: int = 3000
    """Round-0 wait for a proposal."""
    timeout_vote_ms: int = 1000
    """Round-0 wait for more votes after seeing 2f+1 of any kind."""
    timeout_delta_ms: int = 500
    """Added to each timeout per round."""


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """Everything the chain agrees on about itself."""

    chain_id: str
    """Name of the chain; every transaction and block carries it."""
    crypto: str
    """Crypto suite: ``default`` or ``gm``."""
    genesis_time_ms: int
    """Time of genesis; block 1 must be later."""
    orgs: tuple[Org, ...]
    """Member organisations."""
    validators: tuple[ValidatorInfo, ...]
    """Consensus nodes."""
    consensus: ConsensusParams = field(default_factory=ConsensusParams)
    """Consensus algorithm and timing."""
    params: ChainParams = field(default_factory=ChainParams)
    """Limits."""
    policies: tuple[tuple[str, Policy], ...] = tuple(sorted(DEFAULT_POLICIES.items()))
    """Permission policy of each chain-wide resource, sorted by resource name."""
    version: int = CONFIG_VERSION
    """Format version."""

    def to_value(self) -> dict[str, codec.Value]:
        """The JSON/CBOR document form (what the genesis file holds)."""
        return {
            "version": self.version,
            "chain_id": self.chain_id,
            "crypto": self.crypto,
            "genesis_time_ms": self.genesis_time_ms,
            "orgs": [_record(o) for o in self.orgs],
            "validators": [_record(v) for v in self.validators],
            "consensus": _record(self.consensus),
            "params": _record(self.params),
            "policies": {name: p.to_value() for name, p in self.policies},  # type: ignore[misc]
        }

    def policy(self, resource: str) -> Policy:
        """The policy in force for a chain-wide resource (its default if the config names none)."""
        for name, found in self.policies:
            if name == resource:
                return found
        return DEFAULT_POLICIES[resource]

    def member_ids(self) -> tuple[str, ...]:
        """Ids of the member organisations, in config order."""
        return tuple(o.id for o in self.orgs)

    def org(self, org_id: str) -> Org | None:
        """The organisation with this id, if it is a member."""
        return next((o for o in self.orgs if o.id == org_id), None)


def _record(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def parse_chain_config(value: object) -> ChainConfig:
    """Build a ``ChainConfig`` from its document form, raising ``ConfigError`` on anything wrong."""
    if not isinstance(value, dict):
        raise ConfigError("chain config must be a JSON object")
    try:
        codec.validate_value(value)
    except Exception as exc:
        raise ConfigError(f"chain config holds a value outside the data model: {exc}") from exc
    _require(
        value,
        {
            "version",
            "chain_id",
            "crypto",
            "genesis_time_ms",
            "orgs",
            "validators",
            "consensus",
            "params",
            "policies",
        },
        "chain config",
    )
    if value["version"] != CONFIG_VERSION:
        raise ConfigError(
            f"chain config version {value['version']!r} is not supported (this release reads "
            f"version {CONFIG_VERSION}); create the network again with 'jinglian init'"
        )
    config = ChainConfig(
        chain_id=_str(value, "chain_id"),
        crypto=_str(value, "crypto"),
        genesis_time_ms=_int(value, "genesis_time_ms"),
        orgs=tuple(_build(Org, o, "org") for o in _list(value, "orgs", ORGS_MAX)),
        validators=tuple(
            _build(ValidatorInfo, v, "validator")
            for v in _list(value, "validators", VALIDATORS_MAX)
        ),
        consensus=_build(ConsensusParams, value["consensus"], "consensus"),
        params=_build(ChainParams, value["params"], "params"),
        policies=_build_policies(value["policies"]),
    )
    _check_config(config)
    return config


def _check_config(config: ChainConfig) -> None:
    if config.crypto not in ("default", "gm"):
        raise ConfigError(f"crypto suite {config.crypto!r} is unknown; use 'default' or 'gm'")
    if config.consensus.type not in ("solo", "tbft"):
        raise ConfigError(f"consensus {config.consensus.type!r} is unknown; use 'solo' or 'tbft'")
    if not config.orgs:
        raise ConfigError("a chain needs at least one organisation")
    if not config.validators:
        raise ConfigError("a chain needs at least one validator")
    if config.consensus.type == "solo" and len(config.validators) != 1:
        raise ConfigError("solo consensus needs exactly one validator")
    org_ids = [o.id for o in config.orgs]
    if len(set(org_ids)) != len(org_ids):
        raise ConfigError("organisation ids must be unique")
    names = [v.name for v in config.validators]
    if len(set(names)) != len(names):
        raise ConfigError("validator names must be unique")
    if len({v.cert for v in config.validators}) != len(names):
        raise ConfigError("each validator needs its own certificate")
    for org_id in org_ids:
        if not _ID_RE.match(org_id):
            raise ConfigError(f"organisation id {org_id!r} must match {_ID_RE.pattern}")
    for validator in config.validators:
        if validator.org not in org_ids:
            raise ConfigError(
                f"validator {validator.name!r} belongs to unknown organisation {validator.org!r}"
            )
        if validator.power < 1:
            raise ConfigError(f"validator {validator.name!r} needs a voting power of at least 1")
    if not _ID_RE.match(config.chain_id):
        raise ConfigError(f"chain id {config.chain_id!r} must match {_ID_RE.pattern}")


_FIELD_TYPES: dict[str, type] = {"int": int, "str": str, "bool": bool, "tuple[str, ...]": tuple}


def _build(cls: Any, value: object, label: str) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{label} must be an object")
    known = {f.name: _FIELD_TYPES[str(f.type)] for f in fields(cls)}
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ConfigError(f"{label} has unknown fields {unknown}")
    for name, item in value.items():
        expected = known[name]
        if type(item) is not expected:
            raise ConfigError(f"{label} field {name!r} must be {expected.__name__}")
    try:
        return cls(**value)
    except TypeError as exc:
        raise ConfigError(f"{label} is missing fields: {exc}") from exc


def _build_policies(value: object) -> tuple[tuple[str, Policy], ...]:
    if not isinstance(value, dict):
        raise ConfigError("policies must be an object of resource name to policy")
    built = []
    for name, policy in value.items():
        if name not in RESOURCES:
            raise ConfigError(f"policies: unknown resource {name!r}; known: {', '.join(RESOURCES)}")
        try:
            built.append((name, parse_policy(policy)))
        except InvalidInput as exc:
            raise ConfigError(f"policies: {name}: {exc.message}") from None
    return tuple(sorted(built))


def _require(value: dict[str, Any], names: set[str], label: str) -> None:
    missing, extra = sorted(names - set(value)), sorted(set(value) - names)
    if missing or extra:
        raise ConfigError(f"{label}: missing fields {missing}, unexpected fields {extra}")


def _str(value: dict[str, Any], name: str) -> str:
    if not isinstance(value[name], str):
        raise ConfigError(f"{name!r} must be a string")
    return value[name]  # type: ignore[no-any-return]


def _int(value: dict[str, Any], name: str) -> int:
    if not isinstance(value[name], int) or isinstance(value[name], bool):
        raise ConfigError(f"{name!r} must be an integer")
    return value[name]  # type: ignore[no-any-return]


def _list(value: dict[str, Any], name: str, limit: int) -> list[Any]:
    if not isinstance(value[name], list) or len(value[name]) > limit:
        raise ConfigError(f"{name!r} must be a list of at most {limit} entries")
    return value[name]  # type: ignore[no-any-return]


def compute_genesis_hash(hash_fn: Callable[[bytes], bytes], config: ChainConfig) -> bytes:
    """The genesis hash: chain hash of the canonical encoding of the genesis document."""
    return hash_fn(codec.encode(config.to_value()))


def compute_validators_hash(
    hash_fn: Callable[[bytes], bytes], validators: Sequence[tuple[bytes, int]]
) -> bytes:
    """Hash of a validator set given as (validator id, voting power) pairs, in config order."""
    return hash_fn(codec.encode_trusted([[vid, power] for vid, power in validators]))
