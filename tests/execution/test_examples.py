"""The example contracts behave as documented."""

from __future__ import annotations

import pytest

from jinglian.execution.testing import ADMIN, CLIENT, ContractHarness
from jinglian.types.errors import ContractFailed

from .conftest import EXAMPLES


@pytest.fixture
def asset(chain: ContractHarness) -> ContractHarness:
    chain.deploy("asset", (EXAMPLES / "asset.py").read_text())
    return chain


def balance(chain: ContractHarness, account: str) -> int:
    value = chain.query("asset", "balance", {"account": account}).value
    assert isinstance(value, int)
    return value


def test_issue_and_transfer(asset: ContractHarness) -> None:
    me = CLIENT.cert_id.hex()
    issued = asset.invoke("asset", "issue", {"to": me, "amount": 100}, sender=ADMIN)
    assert [event.topic for event in issued.events] == ["issue"]
    moved = asset.invoke("asset", "transfer", {"to": "bob", "amount": 40})
    assert moved.events[0].data == {"from": me, "to": "bob", "amount": 40}
    assert (balance(asset, me), balance(asset, "bob")) == (60, 40)
    assert asset.query("asset", "supply").value == 100


def test_transfer_to_self_keeps_the_balance(asset: ContractHarness) -> None:
    me = CLIENT.cert_id.hex()
    asset.invoke("asset", "issue", {"to": me, "amount": 5}, sender=ADMIN)
    asset.invoke("asset", "transfer", {"to": me, "amount": 5})
    assert balance(asset, me) == 5


def test_insufficient_funds_fail_and_change_nothing(asset: ContractHarness) -> None:
    asset.invoke("asset", "issue", {"to": CLIENT.cert_id.hex(), "amount": 10}, sender=ADMIN)
    before = asset.state.snapshot()
    with pytest.raises(ContractFailed, match="insufficient funds: balance 10, transfer 11"):
        asset.invoke("asset", "transfer", {"to": "bob", "amount": 11})
    assert asset.state.snapshot() == before


@pytest.mark.parametrize(
    ("method", "args", "sender", "message"),
    [
        ("issue", {"to": "bob", "amount": 1}, CLIENT, "only an admin"),
        ("issue", {"to": "bob", "amount": 0}, ADMIN, "positive"),
        ("issue", {"to": "bob", "amount": True}, ADMIN, "positive"),
        ("issue", {"to": "", "amount": 1}, ADMIN, "account"),
        ("transfer", {"to": "bob", "amount": -5}, CLIENT, "positive"),
        ("transfer", {"to": 7, "amount": 1}, CLIENT, "account"),
    ],
)
def test_invalid_requests_fail(
    asset: ContractHarness, method: str, args: dict[str, object], sender: object, message: str
) -> None:
    with pytest.raises(ContractFailed, match=message):
        asset.invoke("asset", method, args, sender=sender)  # type: ignore[arg-type]


def test_supply_is_bounded(asset: ContractHarness) -> None:
    asset.invoke("asset", "issue", {"to": "a", "amount": 2**62}, sender=ADMIN)
    with pytest.raises(ContractFailed, match="supply limit"):
        asset.invoke("asset", "issue", {"to": "a", "amount": 1}, sender=ADMIN)
