"""The ``contracts`` system contract, code loading and native contracts."""

from __future__ import annotations

import hashlib

import pytest

from jinglian.execution import (
    DeployedContract,
    NativeContract,
    Runtime,
    make_code_loader,
)
from jinglian.execution.sdk import invoke, query
from jinglian.execution.testing import ADMIN, CLIENT, ContractHarness, sha256
from jinglian.types.errors import (
    ConfigError,
    ContractFailed,
    InvalidInput,
    PermissionDenied,
    SandboxViolation,
    UnknownContract,
)

from .conftest import contract, method

V1 = contract(
    """
    @invoke
    def put(ctx, value):
        ctx.state.set("value", value)

    @query
    def read(ctx):
        return ctx.state.get("value")
    """
)
V2 = contract(
    """
    @invoke
    def put(ctx, value):
        ctx.state.set("value", [value])

    @query
    def read(ctx):
        return ctx.state.get("value")

    @invoke
    def migrate(ctx):
        ctx.state.set("value", [ctx.state.get("value"), ctx.caller])
    """
)


def test_deploy_stores_metadata_and_source(chain: ContractHarness) -> None:
    result = chain.deploy("store", V1)
    meta = chain.query("contracts", "get", {"name": "store"}).value
    assert result.value == meta
    assert isinstance(meta, dict)
    assert meta["version"] == 1
    assert meta["code_hash"] == hashlib.sha256(V1.encode()).digest()
    assert meta["deployer"] == ADMIN.cert_id.hex()
    assert "source" not in meta
    assert chain.query("contracts", "code", {"name": "store"}).value == V1
    assert [event.topic for event in result.events] == ["deployed"]


def test_list_is_in_name_order(chain: ContractHarness) -> None:
    for name in ("zeta", "alpha", "mid_1"):
        chain.deploy(name, V1)
    assert chain.query("contracts", "list").value == ["alpha", "mid_1", "zeta"]


def test_deploy_needs_an_admin(chain: ContractHarness) -> None:
    with pytest.raises(PermissionDenied):
        chain.deploy("store", V1, sender=CLIENT)
    assert chain.state.snapshot() == ContractHarness().state.snapshot()


@pytest.mark.parametrize(
    "name", ["A", "a", "1abc", "with-dash", "x" * 33, "contracts", "chain_config", ""]
)
def test_invalid_names_are_refused(chain: ContractHarness, name: str) -> None:
    with pytest.raises(InvalidInput):
        chain.deploy(name, V1)


def test_deploy_twice_is_refused(chain: ContractHarness) -> None:
    chain.deploy("store", V1)
    with pytest.raises(ContractFailed, match="already exists"):
        chain.deploy("store", V1)


def test_invalid_source_is_refused_and_nothing_stored(chain: ContractHarness) -> None:
    with pytest.raises(SandboxViolation, match="Line 5"):
        chain.deploy("bad", method("import os"))
    assert chain.state.snapshot() == ContractHarness().state.snapshot()


def test_unknown_names(chain: ContractHarness) -> None:
    with pytest.raises(UnknownContract):
        chain.query("contracts", "get", {"name": "nope"})
    with pytest.raises(UnknownContract):
        chain.query("contracts", "code", {"name": "nope"})
    with pytest.raises(UnknownContract):
        chain.upgrade("nope", V1)


def test_upgrade_keeps_state_and_runs_migrate_once(chain: ContractHarness) -> None:
    chain.deploy("store", V1)
    chain.invoke("store", "put", {"value": 7})
    result = chain.upgrade("store", V2)
    assert isinstance(result.value, dict) and result.value["version"] == 2
    assert chain.query("store", "read").value == [7, "contracts"]
    chain.invoke("store", "put", {"value": 8})
    assert chain.query("store", "read").value == [8]
    assert chain.query("contracts", "code", {"name": "store"}).value == V2


def test_failed_migrate_reverts_the_upgrade(chain: ContractHarness) -> None:
    chain.deploy("store", V1)
    before = chain.state.snapshot()
    with pytest.raises(ContractFailed, match="no"):
        chain.upgrade("store", method("ctx.fail('no')", name="migrate"))
    assert chain.state.snapshot() == before


def test_upgrade_needs_a_direct_admin_call(chain: ContractHarness) -> None:
    chain.deploy("store", V1)
    with pytest.raises(PermissionDenied):
        chain.upgrade("store", V2, sender=CLIENT)
    chain.deploy(
        "proxy",
        method(
            'return ctx.call("contracts", "upgrade", {"name": "store", "source": s})', params="s"
        ),
    )
    with pytest.raises(PermissionDenied):
        chain.invoke("proxy", "run", {"s": V2}, sender=ADMIN)


def test_code_loader_over_a_state_view(chain: ContractHarness) -> None:
    chain.deploy("store", V1)
    load = make_code_loader(lambda: chain.state)
    found = load("store")
    assert found == DeployedContract("store", V1, hashlib.sha256(V1.encode()).digest())
    assert load("nope") is None
    runtime = Runtime(sha256, load_code=load)
    result = runtime.invoke(chain.state, chain.context(), "store", "put", {"value": 1}, 10**6)
    assert result.writes == {b"store\x00value": b"\x01"}


@invoke
def ping(ctx: object, times: int = 1) -> str:
    """A native method."""
    return "pong" * times


@query
def whoami(ctx: object) -> object:
    """A native query."""
    return getattr(ctx, "caller", None)


def test_native_contracts_share_the_context(chain: ContractHarness) -> None:
    native = NativeContract("system", {"ping": ping, "whoami": whoami})
    assert native.methods["ping"].params == ("times",)
    assert native.methods["ping"].required_params == ()
    chain.runtime = Runtime(sha256, natives=[native])
    assert chain.invoke("system", "ping", {"times": 2}).value == "pongpong"
    chain.deploy("caller", method('return ctx.call("system", "whoami")'))
    assert chain.invoke("caller", "run").value == "caller"


def test_compiled_modules_are_cached_with_a_bound(
    chain: ContractHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jinglian.execution.runtime.COMPILED_CACHE_ENTRIES_MAX", 2)
    for index in range(4):
        chain.deploy(f"c{index}", V1.replace('"value"', f'"value{index}"'))
        chain.invoke(f"c{index}", "put", {"value": index})
    assert len(chain.runtime._cache) == 2
    assert chain.query("c0", "read").value == 0


def test_runtime_refuses_an_interpreter_that_changes_outcomes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.get_int_max_str_digits", lambda: 640)
    with pytest.raises(ConfigError, match="PYTHONINTMAXSTRDIGITS"):
        Runtime(sha256)
