"""Gas is counted, never timed: the same call uses the same gas, warm cache or cold."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import pytest

from jinglian.execution import get_gas_used
from jinglian.execution.gas import GAS_CONTRACT_LOAD, Meter
from jinglian.execution.limits import ARGS_BYTES_MAX
from jinglian.execution.testing import CLIENT, ContractHarness
from jinglian.types import Endorsement, TxBody, encode_tx_body, make_tx
from jinglian.types.errors import OutOfGas, TooLarge
from jinglian.types.tx import args_encoded_size

from .conftest import method

LOOP = method("total = 0\nfor i in range(n):\n    total = total + i\nreturn total", params="n")


def test_same_call_same_gas_on_warm_and_cold_runtimes(kv_source: str) -> None:
    warm = ContractHarness()
    warm.deploy("kv", kv_source)
    first = warm.invoke("kv", "set", {"key": "a", "value": 1}).gas_used
    second = warm.invoke("kv", "set", {"key": "a", "value": 1}).gas_used
    cold = ContractHarness()
    cold.state.apply(warm.state.snapshot())
    third = cold.invoke("kv", "set", {"key": "a", "value": 1}).gas_used
    assert first == second == third > GAS_CONTRACT_LOAD


def test_gas_grows_with_work(chain: ContractHarness) -> None:
    chain.deploy("t1", LOOP)
    small = chain.invoke("t1", "run", {"n": 10}).gas_used
    large = chain.invoke("t1", "run", {"n": 1000}).gas_used
    assert large - small > 990 * 2


def test_out_of_gas_uses_the_whole_limit_at_the_same_point(chain: ContractHarness) -> None:
    chain.deploy("t1", LOOP)
    needed = chain.invoke("t1", "run", {"n": 500}).gas_used
    chain.gas_limit = needed - 1
    before = chain.state.snapshot()
    with pytest.raises(OutOfGas) as caught:
        chain.invoke("t1", "run", {"n": 500})
    assert get_gas_used(caught.value) == needed - 1
    assert chain.state.snapshot() == before
    chain.gas_limit = needed
    assert chain.invoke("t1", "run", {"n": 500}).gas_used == needed


def test_straight_line_code_is_charged_by_size(chain: ContractHarness) -> None:
    short = method("x = 1\nreturn x")
    long = method("x = 1\n" + "x = x\n" * 400 + "return x")
    chain.deploy("short", short)
    chain.deploy("long", long)
    small = chain.invoke("short", "run").gas_used
    large = chain.invoke("long", "run").gas_used
    assert large - small >= 400 * 2 // 4


def test_meter_used_never_exceeds_limit() -> None:
    meter = Meter()
    meter.reset(10)
    with pytest.raises(OutOfGas):
        meter.charge(11)
    assert meter.used == 10


def test_kv_set_overhead_is_small(kv_source: str) -> None:
    """The hot path: one kv.set through the runtime, overlay and registry lookup included."""
    chain = ContractHarness()
    chain.deploy("kv", kv_source)
    runtime, state, ctx = chain.runtime, chain.state, chain.context(CLIENT)
    calls = [{"key": f"k{i}", "value": i} for i in range(3000)]
    for args in calls[:300]:
        runtime.invoke(state, ctx, "kv", "set", args, 1_000_000)
    started = time.perf_counter()
    for args in calls:
        runtime.invoke(state, ctx, "kv", "set", args, 1_000_000)
    per_call_us = (time.perf_counter() - started) / len(calls) * 1e6
    print(f"kv.set: {per_call_us:.1f} us per call")
    assert per_call_us < 500  # generous: shared CI machines; typical is 15-40 us


def test_gas_with_args_size_from_the_payload_is_unchanged(kv_source: str) -> None:
    """Transactions are charged by the size read off their payload (``args_encoded_size``)
    instead of a re-encode: the gas of every call, and the refusal of oversized
    arguments, is byte-for-byte what the re-encode gave."""
    chain = ContractHarness()
    chain.deploy("kv", kv_source)
    runtime, state, ctx = chain.runtime, chain.state, chain.context(CLIENT)
    calls: list[dict[str, Any]] = [
        {"key": "a", "value": 1},
        {"key": "k" * 20, "value": "v" * 32},
        {"key": "ключ", "value": "值" * 100},
        {"key": "big", "value": b"\x00" * 5_000},
        {"key": "n", "value": [1, -(2**63), 2**63 - 1, None, True, {"x": [b"y"]}]},
        {"key": "m", "value": {"z": 1, "a": 2, "mm": "three"}},
    ]
    for args in calls:
        tx = make_tx(
            lambda data: hashlib.sha256(data).digest(),
            encode_tx_body(
                TxBody(
                    chain_id="dev",
                    sender=b"\x01" * 32,
                    contract="kv",
                    method="set",
                    args=args,
                    nonce=b"n" * 16,
                    timestamp_ms=1_700_000_000_000,
                    expires_ms=1_700_000_060_000,
                )
            ),
            (Endorsement(signer=b"\x02" * 32, signature=b"s" * 70),),
        )
        encoded = runtime.invoke(state, ctx, "kv", "set", tx.body.args, 1_000_000)
        read_off = runtime.invoke(
            state, ctx, "kv", "set", tx.body.args, 1_000_000, args_size=args_encoded_size(tx)
        )
        assert read_off.gas_used == encoded.gas_used, args
        assert read_off.writes == encoded.writes
    with pytest.raises(TooLarge):
        runtime.invoke(
            state,
            ctx,
            "kv",
            "set",
            {"key": "a", "value": 1},
            1_000_000,
            args_size=ARGS_BYTES_MAX + 1,
        )
