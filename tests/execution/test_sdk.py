"""The contract SDK as a contract sees it: state, events, calls, failures, arguments."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from jinglian.execution import get_gas_used
from jinglian.execution.limits import EVENTS_PER_CALL_MAX, RESULT_BYTES_MAX, STATE_KEY_BYTES_MAX
from jinglian.execution.testing import ADMIN, ContractHarness
from jinglian.types.codec import decode, encode
from jinglian.types.errors import (
    ContractFailed,
    InvalidInput,
    PermissionDenied,
    ReadOnlyViolation,
    SandboxViolation,
    TooLarge,
    UnknownContract,
    UnknownMethod,
)

from .conftest import contract, method

STORE = contract(
    """
    @invoke
    def put(ctx, key, value):
        ctx.state.set(key, value)

    @invoke
    def remove(ctx, key):
        ctx.state.delete(key)

    @query
    def read(ctx, key, default=None):
        return ctx.state.get(key, default)

    @query
    def exists(ctx, key):
        return ctx.state.has(key)

    @query
    def scan(ctx, prefix="", limit=100):
        return ctx.state.items(prefix, limit)

    @invoke
    def sneaky_write(ctx):
        return helper(ctx)

    def helper(ctx):
        return 1

    @query
    def query_that_writes(ctx):
        ctx.state.set("x", 1)

    @query
    def query_that_emits(ctx):
        ctx.emit("x", 1)
    """
)


@pytest.fixture
def store(chain: ContractHarness) -> ContractHarness:
    chain.deploy("store", STORE)
    return chain


def test_kv_set_then_get(chain: ContractHarness, kv_source: str) -> None:
    chain.deploy("kv", kv_source)
    result = chain.invoke("kv", "set", {"key": "a", "value": {"n": [1, b"x", None, True]}})
    assert result.writes == {b"kv\x00a": encode({"n": [1, b"x", None, True]})}
    assert [(e.contract, e.topic, e.data) for e in result.events] == [("kv", "set", {"key": "a"})]
    assert chain.query("kv", "get", {"key": "a"}).value == {"n": [1, b"x", None, True]}
    assert chain.query("kv", "get", {"key": "missing"}).value is None


def test_get_default_has_and_delete(store: ContractHarness) -> None:
    store.invoke("store", "put", {"key": "k", "value": 5})
    assert store.query("store", "read", {"key": "nope", "default": 7}).value == 7
    assert store.query("store", "exists", {"key": "k"}).value is True
    result = store.invoke("store", "remove", {"key": "k"})
    assert result.writes == {b"store\x00k": None}
    assert store.query("store", "exists", {"key": "k"}).value is False


def test_items_are_in_key_order_with_prefix_and_limit(store: ContractHarness) -> None:
    for key in ["b2", "a1", "b1", "c", "b3"]:
        store.invoke("store", "put", {"key": key, "value": key.upper()})
    assert store.query("store", "scan", {"prefix": "b"}).value == [
        ["b1", "B1"],
        ["b2", "B2"],
        ["b3", "B3"],
    ]
    assert store.query("store", "scan", {"limit": 2}).value == [["a1", "A1"], ["b1", "B1"]]
    with pytest.raises(ContractFailed, match="limit"):
        store.query("store", "scan", {"limit": 10**6})


def test_items_see_writes_of_the_same_call(chain: ContractHarness) -> None:
    chain.deploy(
        "t1",
        method(
            """
            ctx.state.set("b", 1)
            ctx.state.set("a", 2)
            ctx.state.set("c", 3)
            ctx.state.delete("b")
            return ctx.state.items()
            """
        ),
    )
    chain.invoke("t1", "run")
    result = chain.invoke("t1", "run")
    assert result.value == [["a", 2], ["c", 3]]
    assert list(result.writes) == [b"t1\x00b", b"t1\x00a", b"t1\x00c"]


def test_writes_keep_first_write_order(chain: ContractHarness) -> None:
    chain.deploy(
        "t1",
        method(
            """
            ctx.state.set("z", 1)
            ctx.state.set("a", 1)
            ctx.state.set("z", 2)
            """
        ),
    )
    result = chain.invoke("t1", "run")
    assert list(result.writes) == [b"t1\x00z", b"t1\x00a"]
    assert decode(result.writes[b"t1\x00z"] or b"", 100) == 2


def test_context_fields(chain: ContractHarness) -> None:
    chain.deploy(
        "t1",
        method(
            """
            s = ctx.sender
            return [s.org, s.role, s.id, s.common_name, ctx.tx_id, ctx.block_height,
                    ctx.block_time, ctx.contract, ctx.caller, ctx.hash("abc"), ctx.hash(b"abc")]
            """
        ),
    )
    height = chain.height
    value = chain.invoke("t1", "run", sender=ADMIN).value
    digest = hashlib.sha256(b"abc").digest()
    assert value[:4] == ["org1", "admin", ADMIN.cert_id.hex(), "admin@org1"]
    assert value[4] == hashlib.sha256(b"tx%d" % height).hexdigest()
    assert value[5:] == [height, 1_700_000_000_000 + height * 1000, "t1", None, digest, digest]


def test_sender_division(chain: ContractHarness) -> None:
    chain.deploy(
        "t1",
        method("return [ctx.sender.division, [e.division for e in ctx.endorsers]]"),
    )
    member = dataclasses.replace(ADMIN, division="flood")
    assert chain.invoke("t1", "run", sender=member).value == ["flood", ["flood"]]
    assert chain.invoke("t1", "run", sender=ADMIN).value == ["", [""]]


def test_events_in_order_and_bounded(chain: ContractHarness) -> None:
    chain.deploy(
        "t1",
        method(
            """
            for i in range(n):
                ctx.emit("tick", {"i": i})
            """,
            params="n",
        ),
    )
    result = chain.invoke("t1", "run", {"n": 3})
    assert [event.data for event in result.events] == [{"i": 0}, {"i": 1}, {"i": 2}]
    with pytest.raises(TooLarge, match="events"):
        chain.invoke("t1", "run", {"n": EVENTS_PER_CALL_MAX + 1})


def test_event_topic_and_data_are_checked(chain: ContractHarness) -> None:
    chain.deploy("t1", method('ctx.emit(topic, "x")', params="topic"))
    with pytest.raises(TooLarge):
        chain.invoke("t1", "run", {"topic": "t" * 65})
    with pytest.raises(ContractFailed):
        chain.invoke("t1", "run", {"topic": 5})


CALLER = contract(
    """
    @invoke
    def run(ctx, fail):
        ctx.state.set("mine", 1)
        seen = ctx.call("callee", "work", {"items": [1, 2]})
        if fail:
            ctx.fail("changed my mind")
        return seen

    @query
    def ask(ctx):
        return ctx.call("callee", "work", {"items": []})
    """
)
CALLEE = contract(
    """
    @invoke
    def work(ctx, items):
        ctx.state.set("theirs", len(items))
        ctx.emit("worked", len(items))
        return {"caller": ctx.caller, "contract": ctx.contract, "sender": ctx.sender.role}
    """
)


def test_call_between_contracts(chain: ContractHarness) -> None:
    chain.deploy("caller", CALLER)
    chain.deploy("callee", CALLEE)
    result = chain.invoke("caller", "run", {"fail": False})
    assert result.value == {"caller": "caller", "contract": "callee", "sender": "client"}
    assert list(result.writes) == [b"caller\x00mine", b"callee\x00theirs"]
    assert [event.contract for event in result.events] == ["callee"]


def test_fail_reverts_every_write_including_callees(chain: ContractHarness) -> None:
    chain.deploy("caller", CALLER)
    chain.deploy("callee", CALLEE)
    before = chain.state.snapshot()
    with pytest.raises(ContractFailed, match="changed my mind") as failure:
        chain.invoke("caller", "run", {"fail": True})
    assert chain.state.snapshot() == before
    assert 0 < get_gas_used(failure.value) == failure.value.gas_used  # type: ignore[attr-defined]


def test_query_calling_an_invoke_cannot_write(chain: ContractHarness) -> None:
    chain.deploy("caller", CALLER)
    chain.deploy("callee", CALLEE)
    with pytest.raises(ReadOnlyViolation):
        chain.invoke("caller", "ask")


def test_queries_cannot_write_or_emit(store: ContractHarness) -> None:
    with pytest.raises(ReadOnlyViolation):
        store.query("store", "put", {"key": "a", "value": 1})
    with pytest.raises(ReadOnlyViolation):
        store.invoke("store", "query_that_writes")
    with pytest.raises(ReadOnlyViolation):
        store.invoke("store", "query_that_emits")
    assert store.query("store", "read", {"key": "a"}).writes == {}


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"key": "a"}, "missing"),
        ({"key": "a", "value": 1, "extra": 2}, "unknown"),
        ({}, "missing"),
    ],
)
def test_invalid_arguments(store: ContractHarness, args: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        store.invoke("store", "put", args)  # type: ignore[arg-type]


def test_invalid_argument_values(store: ContractHarness) -> None:
    with pytest.raises(InvalidInput, match="codec"):
        store.invoke("store", "put", {"key": "a", "value": 1.5})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="codec"):
        store.invoke("store", "put", {"key": "a", "value": 2**70})


def test_arguments_are_copied(chain: ContractHarness) -> None:
    chain.deploy("t1", method("items.append(4)\nreturn items", params="items"))
    items = [1, 2]
    assert chain.invoke("t1", "run", {"items": items}).value == [1, 2, 4]
    assert items == [1, 2]


def test_unknown_contract_and_method(store: ContractHarness) -> None:
    with pytest.raises(UnknownContract):
        store.invoke("nothing", "run")
    with pytest.raises(UnknownMethod):
        store.invoke("store", "nothing")
    with pytest.raises(UnknownMethod):
        store.invoke("store", "helper")
    assert store.invoke("store", "sneaky_write").value == 1


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('return "a" * (RESULT + 1)', TooLarge),
        ("return 2 ** 64", ContractFailed),
        ("return ctx", ContractFailed),
        ('ctx.state.set("k", "a" * 70000)', TooLarge),
        ('ctx.state.set("k" * (KEYMAX + 1), 1)', TooLarge),
        ("ctx.state.set(5, 1)", ContractFailed),
        ('ctx.state.set("k", ctx.state)', ContractFailed),
        ("ctx.call(5, 6)", ContractFailed),
        ('ctx.call("t1", "run", [1])', ContractFailed),
        ("ctx.hash(5)", ContractFailed),
    ],
)
def test_values_crossing_the_boundary_are_checked(
    chain: ContractHarness, body: str, error: type[Exception]
) -> None:
    source = method(body).replace("RESULT", str(RESULT_BYTES_MAX))
    chain.deploy("t1", source.replace("KEYMAX", str(STATE_KEY_BYTES_MAX)))
    with pytest.raises(error):
        chain.invoke("t1", "run")


def test_nested_calls_are_bounded(chain: ContractHarness) -> None:
    chain.deploy("t1", method('return ctx.call("t1", "run")'))
    with pytest.raises(SandboxViolation, match="nested contract calls"):
        chain.invoke("t1", "run")


def test_migrate_is_only_for_the_registry(chain: ContractHarness) -> None:
    chain.deploy("t1", method("return 1", name="migrate"))
    with pytest.raises(PermissionDenied):
        chain.invoke("t1", "migrate")


def test_invalid_gas_limit(store: ContractHarness) -> None:
    with pytest.raises(InvalidInput):
        store.runtime.invoke(store.state, store.context(), "store", "read", {"key": "a"}, -1)


def test_python_errors_become_contract_failed_with_line(chain: ContractHarness) -> None:
    chain.deploy("t1", method("x = {}\nreturn x['missing']"))
    with pytest.raises(ContractFailed, match=r"KeyError: 'missing' \(line 6\)"):
        chain.invoke("t1", "run")


def test_assert_fails_the_call(chain: ContractHarness) -> None:
    chain.deploy("t1", method("assert n > 0, 'n must be positive'\nreturn n", params="n"))
    assert chain.invoke("t1", "run", {"n": 1}).value == 1
    with pytest.raises(ContractFailed, match="n must be positive"):
        chain.invoke("t1", "run", {"n": 0})
