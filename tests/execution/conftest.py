"""Fixtures for the contract runtime tests: an in-memory chain and source helpers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jinglian.execution.testing import ContractHarness

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"

HEADER = "from jinglian.contract import invoke, query\n\n"


def contract(body: str) -> str:
    """A contract source: the SDK import, then ``body`` (dedented)."""
    return HEADER + textwrap.dedent(body)


def method(body: str, name: str = "run", params: str = "") -> str:
    """A contract with one ``@invoke`` method whose body is ``body``."""
    signature = f"ctx, {params}" if params else "ctx"
    indented = textwrap.indent(textwrap.dedent(body), "    ")
    return HEADER + f"@invoke\ndef {name}({signature}):\n{indented}"


@pytest.fixture
def chain() -> ContractHarness:
    """A fresh in-memory chain with a generous gas limit."""
    return ContractHarness(gas_limit=2_000_000)


@pytest.fixture
def kv_source() -> str:
    """The key-value example contract."""
    return (EXAMPLES / "kv.py").read_text()
