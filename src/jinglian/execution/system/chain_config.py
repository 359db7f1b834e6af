"""The ``chain_config`` system contract: the chain configuration as state.

The ledger writes the genesis document into this namespace (key ``config``)
when it creates the chain, so the configuration is part of the state root and
provable like any other value. In this version the configuration changes only
through a new genesis; governance methods that change it join later.

Methods:

- ``get()`` -- query: the whole configuration document.
- ``params()`` -- query: the chain parameters (limits and timings).
- ``orgs()`` -- query: the member organisations' ids and names.
"""

from __future__ import annotations

from jinglian.execution._context import Context
from jinglian.execution.native import NativeContract
from jinglian.execution.sdk import query
from jinglian.types.codec import Value

__all__ = ["CHAIN_CONFIG", "CHAIN_CONFIG_NAME", "CONFIG_KEY"]

CHAIN_CONFIG_NAME = "chain_config"
CONFIG_KEY = "config"


def _document(ctx: Context) -> dict[str, Value]:
    document = ctx.state.get(CONFIG_KEY)
    assert isinstance(document, dict), "the ledger writes the chain config at genesis"
    return document


@query
def get(ctx: Context) -> Value:
    """The whole chain configuration document."""
    return _document(ctx)


@query
def params(ctx: Context) -> Value:
    """The chain parameters."""
    return _document(ctx)["params"]


@query
def orgs(ctx: Context) -> Value:
    """Member organisations: ``[{"id", "name"}, ...]``."""
    members = _document(ctx)["orgs"]
    assert isinstance(members, list)
    return [{"id": org["id"], "name": org["name"]} for org in members if isinstance(org, dict)]


CHAIN_CONFIG = NativeContract(CHAIN_CONFIG_NAME, {"get": get, "params": params, "orgs": orgs})
"""The chain-config contract as the runtime runs it."""
