"""The contract SDK: what a contract module imports, through ``jinglian.contract``.

A contract marks its public methods with ``@invoke`` (may write state) or
``@query`` (read-only); everything else in the module is private. The same
decorators mark the methods of native system contracts, so system contracts
are written against the same SDK a third party uses.

The decorators only tag the function; the runtime reads the tags (native
contracts) or the decorator names in the source (sandboxed contracts).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeAlias, TypeVar

__all__ = [
    "METHOD_KIND_ATTRIBUTE",
    "SDK_EXPORTS",
    "MethodKind",
    "get_method_kind",
    "invoke",
    "query",
]

MethodKind: TypeAlias = Literal["invoke", "query"]

METHOD_KIND_ATTRIBUTE = "jinglian_method_kind"
"""Attribute the decorators set on a function: its ``MethodKind``."""

SDK_EXPORTS = ("invoke", "query")
"""Names a contract may import from ``jinglian.contract``."""

_F = TypeVar("_F", bound=Callable[..., object])


def invoke(fn: _F) -> _F:
    """Mark ``fn`` as a public method that may write state and emit events."""
    setattr(fn, METHOD_KIND_ATTRIBUTE, "invoke")
    return fn


def query(fn: _F) -> _F:
    """Mark ``fn`` as a public read-only method: its writes raise ``ReadOnlyViolation``."""
    setattr(fn, METHOD_KIND_ATTRIBUTE, "query")
    return fn


def get_method_kind(fn: object) -> MethodKind | None:
    """The kind ``@invoke``/``@query`` gave ``fn``, or None for a private function."""
    kind = getattr(fn, METHOD_KIND_ATTRIBUTE, None)
    if kind == "invoke":
        return "invoke"
    if kind == "query":
        return "query"
    return None
