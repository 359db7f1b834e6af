"""Measuring and checking the values a contract handles, charging gas as we go.

Native operations on containers (``==``, ``in``, ``sorted``, ``str()``) run in C
without metering and recurse into nested values. Before the sandbox lets one
run it walks the operands with an explicit stack, charging ``GAS_ITEM`` per
item and ``compute_bytes_gas`` per str/bytes, and refusing nesting deeper than
``VALUE_DEPTH_MAX``: the walk costs what the operation will cost, stops at the
gas limit however large the value is (aliasing included), and keeps the C
recursion shallow whatever the interpreter's stack depth.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from itertools import repeat
from typing import Any

from jinglian.execution.gas import GAS_ITEM, Meter, compute_bytes_gas
from jinglian.execution.limits import INT_BITS_MAX, SEQUENCE_LEN_MAX, VALUE_DEPTH_MAX
from jinglian.types.errors import SandboxViolation

__all__ = [
    "CONTAINER_TYPES",
    "INT_LIMIT",
    "INT_TOO_LARGE",
    "KEY_TYPES",
    "SCALAR_TYPES",
    "SIZED_TYPES",
    "charge_deep",
    "check_int",
    "check_key",
    "check_len",
    "materialize",
]

INT_LIMIT = 1 << INT_BITS_MAX
"""Every integer a contract holds lies strictly between -INT_LIMIT and INT_LIMIT."""

INT_TOO_LARGE = f"an integer over {INT_BITS_MAX} bits is not allowed"

NoneType = type(None)
DictKeys: type = type({}.keys())
DictValues: type = type({}.values())
DictItems: type = type({}.items())

SCALAR_TYPES = frozenset({int, bool, NoneType})
"""Types whose comparison costs one step."""

KEY_TYPES = frozenset({str, int, bytes, bool, NoneType})
"""Types a dict key may have: hashing them is flat and cached or cheap."""

CONTAINER_TYPES = frozenset({list, tuple, dict, DictKeys, DictValues, DictItems})
"""Types whose items a deep walk visits."""

SIZED_TYPES = frozenset({list, tuple, str, bytes, dict, range, DictKeys, DictValues, DictItems})
"""Iterables whose length is known before iterating them."""

DATA_TYPES = frozenset({str, bytes}) | SCALAR_TYPES
"""Leaf types that may be formatted as text."""


def check_len(length: int) -> None:
    """Refuse building a str, bytes or container of ``length`` items over ``SEQUENCE_LEN_MAX``."""
    if length > SEQUENCE_LEN_MAX:
        raise SandboxViolation(f"a value of {length} items is over the limit of {SEQUENCE_LEN_MAX}")


def check_int(value: int) -> int:
    """Return ``value`` if it fits in ``INT_BITS_MAX`` bits; refuse it otherwise."""
    if -INT_LIMIT < value < INT_LIMIT:
        return value
    raise SandboxViolation(INT_TOO_LARGE)


def check_key(key: object) -> None:
    """Refuse a dict key that is not a str, int, bytes, bool or None."""
    if type(key) not in KEY_TYPES:
        name = type(key).__name__
        raise SandboxViolation(f"dict keys must be str, int, bytes, bool or None, not {name}")


def charge_deep(meter: Meter, value: object, *, strict: bool = False) -> None:
    """Charge for visiting every item of ``value``; refuse deep nesting.

    Items that are all int, bool or None are charged with their container and
    not visited one by one (the charge is the same, the walk much faster).

    With ``strict`` only data (None, bool, int, str, bytes, list, tuple, dict)
    is accepted: that is what may be turned into text, since the text of any
    other object may hold a memory address.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str or kind is bytes:
            meter.charge(compute_bytes_gas(len(item)))
        elif kind in CONTAINER_TYPES:
            if depth >= VALUE_DEPTH_MAX:
                raise SandboxViolation(f"a value nested deeper than {VALUE_DEPTH_MAX} levels")
            meter.charge(GAS_ITEM * (1 + len(item)))
            for part in (item.keys(), item.values()) if kind is dict else (item,):
                if not SCALAR_TYPES.issuperset(map(type, part)):
                    stack.extend(zip(part, repeat(depth + 1)))
        elif strict and kind not in DATA_TYPES:
            raise SandboxViolation(f"a {kind.__name__} cannot be turned into text")


def materialize(meter: Meter, iterable: Iterable[Any]) -> Collection[Any]:
    """``iterable`` itself if its length is known, else its items in a list.

    Either way the caller may then hand it to a native function that consumes
    it: its length was checked and ``GAS_ITEM`` charged per item.
    """
    if type(iterable) in SIZED_TYPES:
        length = len(iterable)  # type: ignore[arg-type]
        check_len(length)
        meter.charge(GAS_ITEM * length)
        return iterable  # type: ignore[return-value]
    items: list[Any] = []
    for item in iterable:
        meter.charge(GAS_ITEM)
        items.append(item)
        if len(items) > SEQUENCE_LEN_MAX:
            check_len(len(items))
    return items
