"""Native contracts: trusted Python run without the sandbox, with the same ``ctx``.

System contracts (the contract registry, chain configuration, governance)
are plain functions decorated with the SDK's ``@invoke``/``@query``, gathered
into a ``NativeContract`` under a name. They get the same ``Context`` a
sandboxed contract gets, so their state access, events and nested calls are
metered and buffered the same way; only their own Python runs unmetered, so
native code must do bounded work. Their state values may be larger
(``SYSTEM_STATE_VALUE_BYTES_MAX``): the registry stores sources.

An exception from native code that is not a ``JinglianError`` is a bug and is
not caught: it reaches the ledger, which stops.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from jinglian.execution.sandbox import MethodInfo
from jinglian.execution.sdk import get_method_kind

__all__ = ["NativeContract"]


class NativeContract:
    """A named set of native methods."""

    __slots__ = ("functions", "methods", "name")

    def __init__(self, name: str, functions: Mapping[str, Callable[..., Any]]) -> None:
        """Gather ``functions`` (method name -> decorated function taking ``ctx`` first)."""
        self.name = name
        """The contract's name (reserved: no deployed contract may take it)."""
        infos: dict[str, MethodInfo] = {}
        for method, fn in functions.items():
            infos[method] = _describe(method, fn)
        self.functions: Mapping[str, Callable[..., Any]] = MappingProxyType(dict(functions))
        """Method name -> function."""
        self.methods: Mapping[str, MethodInfo] = MappingProxyType(infos)
        """Method name -> what callers may pass."""


def _describe(method: str, fn: Callable[..., Any]) -> MethodInfo:
    kind = get_method_kind(fn)
    assert kind is not None, f"native method {method} must be decorated with @invoke or @query"
    parameters = list(inspect.signature(fn).parameters.values())
    assert parameters and parameters[0].name == "ctx", f"native method {method} must take ctx"
    names = tuple(p.name for p in parameters[1:])
    required = sum(1 for p in parameters[1:] if p.default is inspect.Parameter.empty)
    return MethodInfo(kind, names, required)
