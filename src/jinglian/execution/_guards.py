"""The run-time half of the sandbox: the functions rewritten contract code calls.

``_policy`` rewrites attribute reads to ``_getattr_(obj, name)``, item access
to ``_getitem_``/``_setitem_``/``_delitem_``, iteration to ``_getiter_``,
function entry to ``_enter_``/``_leave_``, ``while`` passes to ``_tick_``,
operators to ``_op_*_``/``_cmp_*_`` and f-string parts to ``_fmt_``.
``Guards.globals()`` provides all of them, bound to one meter, plus the
restricted ``__builtins__``. The meter is shared by every module a runtime
loads and reset per transaction; a runtime is used by one thread at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import MethodType
from typing import Any

from jinglian.execution._builtins import Builtins
from jinglian.execution._context import Context, ContractState, SenderView
from jinglian.execution._methods import Methods
from jinglian.execution._operators import Operators
from jinglian.execution._policy import GUARD_NAMES
from jinglian.execution._values import (
    charge_deep,
    check_key,
    check_len,
    materialize,
)
from jinglian.execution.gas import GAS_CALL, GAS_ITEM, GAS_STEP, Meter, compute_bytes_gas
from jinglian.execution.limits import CALL_DEPTH_MAX, ERROR_MESSAGE_CHARS_MAX
from jinglian.types.errors import ContractFailed, SandboxViolation

__all__ = ["SDK_ATTRIBUTES", "Guards"]

SDK_ATTRIBUTES: dict[type, frozenset[str]] = {
    Context: Context.PUBLIC,
    ContractState: ContractState.PUBLIC,
    SenderView: SenderView.PUBLIC,
}
"""SDK object type -> the attributes a contract may read."""

INDEXABLE = frozenset({list, tuple, str, bytes, range})
CONVERSIONS: dict[int, Callable[[Any], str]] = {-1: str, 115: str, 114: repr, 97: ascii}
"""f-string conversions: none, ``!s``, ``!r``, ``!a``."""


def _unchanged(fn: Any) -> Any:
    """``@invoke``/``@query`` inside the sandbox: methods are found in the source, not tagged.

    Tagging would let contract code set attributes on function objects that
    outlive the transaction.
    """
    return fn


class Guards:
    """Every guard of one runtime, charging its meter."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.methods = Methods(meter)
        self.operators = Operators(meter)
        self.builtins = Builtins(meter)

    def globals(self) -> dict[str, Any]:
        """The globals every contract module starts from."""
        namespace: dict[str, Any] = {
            "__builtins__": dict(self.builtins.namespace),
            "_getattr_": self.getattr,
            "_getitem_": self.getitem,
            "_setitem_": self.setitem,
            "_delitem_": self.delitem,
            "_getiter_": self.getiter,
            "_iter_unpack_sequence_": self.iter_unpack_sequence,
            "_unpack_sequence_": self.unpack_sequence,
            "_enter_": self.enter,
            "_leave_": self.leave,
            "_tick_": self.tick,
            "_key_": self.key,
            "_fmt_": self.fmt,
            "_fail_": self.fail,
            "_sdk_invoke_": _unchanged,
            "_sdk_query_": _unchanged,
            **self.operators.globals(),
        }
        assert set(namespace) - {"__builtins__"} == GUARD_NAMES
        return namespace

    def _step(self) -> None:
        meter = self.meter
        meter.remaining -= GAS_STEP
        if meter.remaining < 0:
            meter.charge(0)

    # Frames

    def enter(self, gas: int) -> None:
        """A contract function starts: charge the call and its first block, bound the depth."""
        meter = self.meter
        meter.call_depth += 1
        if meter.call_depth > CALL_DEPTH_MAX:
            raise SandboxViolation(f"more than {CALL_DEPTH_MAX} nested function calls")
        meter.remaining -= GAS_CALL + gas
        if meter.remaining < 0:
            meter.charge(0)

    def leave(self) -> None:
        """A contract function returns (or fails)."""
        self.meter.call_depth -= 1

    def tick(self, gas: int) -> None:
        """A block of statements starts (a branch, a loop pass): charge its size."""
        meter = self.meter
        meter.remaining -= gas
        if meter.remaining < 0:
            meter.charge(0)

    # Attributes and items

    def getattr(self, obj: Any, name: str) -> Any:
        """``obj.name``: SDK attributes, allowed data methods, ``int.from_bytes``, nothing else."""
        kind = type(obj)
        public = SDK_ATTRIBUTES.get(kind)
        if public is not None:
            if name in public:
                return getattr(obj, name)
        else:
            bound = self.methods.bind(obj, name)
            if bound is not None:
                return bound
            if kind is MethodType and obj in self.builtins.attributes:
                static = self.builtins.attributes[obj].get(name)
                if static is not None:
                    return static
        raise SandboxViolation(f"attribute {name!r} of {kind.__name__} is not allowed")

    def getitem(self, obj: Any, key: Any) -> Any:
        """``obj[key]`` on data; slices are charged by their length."""
        kind = type(obj)
        self._step()
        if kind is dict:
            check_key(key)
            return obj[key]
        if kind not in INDEXABLE:
            raise SandboxViolation(f"{kind.__name__} values cannot be indexed")
        result = obj[key]
        if type(key) is slice and kind is not range:
            size = len(result)
            self.meter.charge(compute_bytes_gas(size) if kind in (str, bytes) else GAS_ITEM * size)
        return result

    def setitem(self, value: Any, obj: Any, key: Any) -> None:
        """``obj[key] = value`` on a list or dict (arguments in Python's evaluation order)."""
        self._step()
        kind = type(obj)
        if kind is dict:
            check_key(key)
            if key not in obj:
                check_len(len(obj) + 1)
            obj[key] = value
        elif kind is list:
            if type(key) is slice:
                value = materialize(self.meter, value)
                check_len(len(obj) + len(value))
                self.meter.charge(GAS_ITEM * len(obj))
            obj[key] = value
        else:
            raise SandboxViolation(f"items of {kind.__name__} cannot be assigned")

    def delitem(self, obj: Any, key: Any) -> None:
        """``del obj[key]`` on a list or dict."""
        self._step()
        kind = type(obj)
        if kind is dict:
            check_key(key)
        elif kind is list:
            self.meter.charge(GAS_ITEM * len(obj))
        else:
            raise SandboxViolation(f"items of {kind.__name__} cannot be deleted")
        del obj[key]

    def key(self, key: Any) -> Any:
        """A computed key of a dict display or comprehension."""
        check_key(key)
        return key

    # Iteration

    def getiter(self, iterable: Any, gas: int = GAS_STEP) -> Iterator[Any]:
        """``for x in iterable``: ``gas`` per item (a comprehension's element size)."""
        meter = self.meter
        for item in iterable:
            meter.remaining -= gas
            if meter.remaining < 0:
                meter.charge(0)
            yield item

    def unpack_sequence(self, iterable: Any, spec: dict[str, Any], _getiter: Any) -> list[Any]:
        """``a, (b, c) = value``: take at most one item more than the targets need."""
        wanted = spec["min_len"]
        items: list[Any] = []
        for item in self.getiter(iterable):
            items.append(item)
            if len(items) > wanted:
                break
        if len(items) == wanted:
            for index, child in spec["childs"]:
                items[index] = self.unpack_sequence(items[index], child, _getiter)
        return items

    def iter_unpack_sequence(
        self, iterable: Any, spec: dict[str, Any], _getiter: Any, gas: int = GAS_STEP
    ) -> Iterator[list[Any]]:
        """``for a, b in pairs``."""
        for item in self.getiter(iterable, gas):
            yield self.unpack_sequence(item, spec, _getiter)

    # Text and failure

    def fmt(self, value: Any, conversion: int) -> str:
        """One ``{value}`` of an f-string: data only, bounded, charged by length."""
        if type(value) is str and conversion in (-1, ord("s")):
            self._step()
            return value
        charge_deep(self.meter, value, strict=True)
        convert: Callable[[Any], str] = CONVERSIONS[conversion]
        text = convert(value)
        check_len(len(text))
        self.meter.charge(GAS_STEP + compute_bytes_gas(len(text)))
        return text

    def fail(self, message: Any) -> None:
        """A failed ``assert``."""
        if type(message) is not str:
            message = self.fmt(message, -1)
        raise ContractFailed(message[:ERROR_MESSAGE_CHARS_MAX])
