from __future__ import annotations

import copy
import json

import pytest

from jinglian.types import ChainConfig, Org, ValidatorInfo, parse_chain_config
from jinglian.types.errors import ConfigError

CONFIG = ChainConfig(
    chain_id="dev",
    crypto="default",
    genesis_time_ms=1,
    orgs=(Org("org1", "Org 1", "pem"),),
    validators=(ValidatorInfo("node1", "org1", "pem"),),
)


def test_round_trip_through_json() -> None:
    assert parse_chain_config(json.loads(json.dumps(CONFIG.to_value()))) == CONFIG


def _broken(path: list[object], value: object) -> dict[str, object]:
    doc = copy.deepcopy(CONFIG.to_value())
    target: object = doc
    for part in path[:-1]:
        target = target[part]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return doc


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        (["crypto"], "rsa", "crypto suite"),
        (["consensus", "type"], "pow", "consensus"),
        (["orgs"], [], "at least one organisation"),
        (["validators", 0, "org"], "org9", "unknown organisation"),
        (["validators", 0, "power"], 0, "voting power"),
        (["params", "block_txs_max"], "many", "must be int"),
        (["params", "surprise"], 1, "unknown fields"),
        (["chain_id"], "Bad Id!", "chain id"),
        (["version"], 7, "version"),
        (["params", "block_interval_ms"], 1.5, "data model"),
        (["policies", "tx.submit", "roles"], ["root"], "roles"),
        (["policies", "tx.submit", "rule"], "SOME", "rule"),
        (["policies", "no.such"], {"rule": "ANY"}, "unknown resource"),
    ],
)
def test_invalid_configs_name_the_problem(path: list[object], value: object, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_chain_config(_broken(path, value))


def test_invalid_not_an_object() -> None:
    with pytest.raises(ConfigError):
        parse_chain_config([1, 2])
