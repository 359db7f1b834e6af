"""The public API of ``jinglian.execution`` is small, sorted and real."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_MODULES = [
    "jinglian.contract",
    "jinglian.execution",
    "jinglian.execution.gas",
    "jinglian.execution.limits",
    "jinglian.execution.memory",
    "jinglian.execution.native",
    "jinglian.execution.runtime",
    "jinglian.execution.sandbox",
    "jinglian.execution.sdk",
    "jinglian.execution.system.contracts",
    "jinglian.execution.testing",
]


def isort_key(name: str) -> tuple[int, str]:
    """Ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported, key=isort_key)
    for member in exported:
        assert hasattr(module, member), member


def test_contracts_see_only_the_decorators() -> None:
    import jinglian.contract

    assert jinglian.contract.__all__ == ["invoke", "query"]


def test_runtime_api_names() -> None:
    import jinglian.execution as execution

    assert {"CallContext", "CallResult", "Event", "Runtime", "Sender", "StateView"} <= set(
        execution.__all__
    )
