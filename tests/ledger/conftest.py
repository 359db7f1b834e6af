from __future__ import annotations

from collections.abc import Mapping

import pytest

from jinglian.ledger import Ledger, Outcome, Signer
from jinglian.ledger.keys import state_key
from jinglian.ledger.state import StateView
from jinglian.storage.kv import MemoryKV
from jinglian.testing import TestNetwork, make_test_network
from jinglian.types import Event, Tx, codec


class FakeExecutor:
    """A stand-in contract runtime: ``kv.set`` writes, ``kv.fail`` fails, ``kv.get`` reads."""

    def execute(
        self,
        state: StateView,
        tx: Tx,
        signers: tuple[Signer, ...],
        height: int,
        time_ms: int,
        gas_limit: int,
    ) -> Outcome:
        body = tx.body
        if body.method == "set":
            writes: Mapping[bytes, bytes | None] = {
                state_key("kv", body.args["key"]): codec.encode(body.args["value"])
            }
            events = (Event("kv", "set", {"key": body.args["key"]}),)
            return Outcome("ok", None, "", 10, writes, events)
        if body.method == "get":
            raw = state.get(state_key("kv", body.args["key"]))
            return Outcome("ok", None if raw is None else codec.decode(raw, 1 << 20), "", 5, {}, ())
        return Outcome("contract_failed", None, "asked to fail", 3, {}, ())


@pytest.fixture(scope="session")
def network() -> TestNetwork:
    return make_test_network()


@pytest.fixture
def ledger(network: TestNetwork) -> Ledger:
    return Ledger(MemoryKV(), network.genesis, FakeExecutor())
