"""jinglian.execution: the contract runtime.

Runs Python smart contracts in a sandbox with deterministic gas metering, and
hosts the native system contracts (the contract registry ``contracts``).

Main types: ``Runtime`` (``invoke``/``query`` a method against a
``StateView``, returning a ``CallResult`` of value, writes, events and gas),
``CallContext`` and ``Sender`` (the transaction a call runs in),
``NativeContract`` (trusted system contracts), ``validate_source`` and
``compile_contract`` (the sandbox's deploy-time check). Contract authors
import only ``jinglian.contract``.

Ordering rules: writes come back in first-write order, events in emit order,
``ctx.state.items`` in key order; nothing a contract sees depends on the hash
seed. Bounds are in ``limits``, gas prices in ``gas``; ADR 0006 explains the
sandbox.
"""

from __future__ import annotations

from jinglian.execution.native import NativeContract
from jinglian.execution.runtime import (
    GAS_USED_ATTRIBUTE,
    CallContext,
    CallResult,
    CompiledContract,
    Contract,
    DeployedContract,
    Event,
    MethodInfo,
    Runtime,
    Sender,
    StateView,
    compile_contract,
    get_gas_used,
    make_code_loader,
    validate_source,
)

__all__ = [
    "GAS_USED_ATTRIBUTE",
    "CallContext",
    "CallResult",
    "CompiledContract",
    "Contract",
    "DeployedContract",
    "Event",
    "MethodInfo",
    "NativeContract",
    "Runtime",
    "Sender",
    "StateView",
    "compile_contract",
    "get_gas_used",
    "make_code_loader",
    "validate_source",
]
