"""The methods a contract may call on data values, each metered.

``_getattr_`` looks a method up here by the value's exact type; anything not
listed is refused. Methods that scan their input are charged by its size;
methods that can amplify memory (``replace``, ``join``, ``ljust``, ``encode``,
``hex``, ``to_bytes``, ``append``...) have the size of their result checked
against ``SEQUENCE_LEN_MAX`` before it is built. Methods that compare items
(``index``, ``count``, ``remove``, ``sort``) walk the items first, like the
comparison guards. Text codecs are limited to UTF-8 and ASCII, so no codec
module is ever imported at run time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from jinglian.execution._values import (
    charge_deep,
    check_int,
    check_key,
    check_len,
    materialize,
)
from jinglian.execution.gas import GAS_ITEM, GAS_STEP, Meter, compute_bytes_gas
from jinglian.execution.limits import INT_BITS_MAX, SEQUENCE_LEN_MAX
from jinglian.types.errors import SandboxViolation

__all__ = [
    "ENCODINGS",
    "Methods",
    "build_dict",
    "bytes_fromhex",
    "check_encoding",
    "compute_keys",
    "int_from_bytes",
    "pick_extreme",
    "sort_items",
]

ENCODINGS = frozenset({"utf-8", "utf8", "ascii"})
"""Text encodings a contract may name."""

_STR_SCAN = [
    "capitalize",
    "casefold",
    "count",
    "endswith",
    "find",
    "index",
    "isalnum",
    "isalpha",
    "isdecimal",
    "isdigit",
    "islower",
    "isspace",
    "isupper",
    "lower",
    "lstrip",
    "partition",
    "removeprefix",
    "removesuffix",
    "rfind",
    "rindex",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "splitlines",
    "startswith",
    "strip",
    "swapcase",
    "title",
    "upper",
]
_BYTES_SCAN = [
    "count",
    "endswith",
    "find",
    "index",
    "lower",
    "lstrip",
    "partition",
    "removeprefix",
    "removesuffix",
    "rfind",
    "rindex",
    "rpartition",
    "rsplit",
    "rstrip",
    "split",
    "startswith",
    "strip",
    "upper",
]

TABLE: dict[type, dict[str, str]] = {
    str: {
        **dict.fromkeys(_STR_SCAN, "scan"),
        **dict.fromkeys(("ljust", "rjust", "center", "zfill"), "pad"),
        "replace": "replace",
        "join": "join",
        "encode": "encode",
    },
    bytes: {
        **dict.fromkeys(_BYTES_SCAN, "scan"),
        "replace": "replace",
        "join": "join",
        "decode": "decode",
        "hex": "hex",
    },
    list: {
        "append": "append",
        "extend": "extend",
        "insert": "insert",
        "pop": "linear",
        "reverse": "linear",
        "copy": "linear",
        "clear": "linear",
        "index": "deep",
        "count": "deep",
        "remove": "deep",
        "sort": "sort",
    },
    tuple: {"index": "deep", "count": "deep"},
    dict: {
        **dict.fromkeys(("keys", "values", "items", "popitem"), "cheap"),
        **dict.fromkeys(("get", "pop", "setdefault"), "keyed"),
        "update": "update",
        "copy": "linear",
        "clear": "linear",
    },
    int: {"bit_length": "cheap", "to_bytes": "to_bytes"},
    bool: {"bit_length": "cheap"},
}
"""Type -> method name -> how it is metered."""


def compute_keys(meter: Meter, items: list[Any], key: Callable[[Any], Any] | None) -> list[Any]:
    """The sort keys of ``items`` (the items themselves without ``key``), walked and charged."""
    keys = items if key is None else [key(item) for item in items]
    charge_deep(meter, keys)
    return keys


def sort_items(meter: Meter, items: list[Any], key: Any = None, reverse: Any = False) -> None:
    """Sort ``items`` in place like ``list.sort``, with keys computed and walked first."""
    keys = compute_keys(meter, items, key)
    count = len(items)
    meter.charge(GAS_ITEM * count * max(1, count.bit_length()))
    if key is None:
        items.sort(reverse=reverse)
        return
    order = sorted(range(count), key=keys.__getitem__, reverse=reverse)
    items[:] = [items[index] for index in order]


def pick_extreme(meter: Meter, chooser: Callable[..., int], items: list[Any], key: Any) -> Any:
    """The first smallest (``min``) or largest (``max``) of ``items``, keys walked first."""
    keys = compute_keys(meter, items, key)
    meter.charge(GAS_ITEM * len(items))
    return items[chooser(range(len(items)), key=keys.__getitem__)]


def check_encoding(encoding: object, errors: object) -> None:
    """Refuse any codec but UTF-8 and ASCII, and any error handler but strict."""
    if encoding not in ENCODINGS or errors != "strict":
        raise SandboxViolation(
            "only the utf-8 and ascii encodings, with strict errors, are allowed"
        )


class Methods:
    """Binds allowed methods of data values to metered callables."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def bind(self, obj: Any, name: str) -> Callable[..., Any] | None:
        """The metered method ``name`` of ``obj``, or None if it is not allowed."""
        handlers = TABLE.get(type(obj))
        handler = handlers.get(name) if handlers is not None else None
        if handler is None:
            return None
        if handler in ("scan", "pad", "linear", "deep", "cheap"):
            return partial(getattr(self, handler), getattr(obj, name), obj)
        if handler == "keyed":
            return partial(self.keyed, obj, name)
        return partial(getattr(self, handler), obj)

    def _charge_result(self, result: Any) -> Any:
        kind = type(result)
        if kind is str or kind is bytes:
            check_len(len(result))
            self.meter.charge(compute_bytes_gas(len(result)))
        elif kind is list or kind is tuple:
            check_len(len(result))
            self.meter.charge(GAS_ITEM * len(result))
        return result

    # Generic handlers: (bound method, its owner, call arguments)

    def scan(self, method: Callable[..., Any], obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A text method that reads its input once: charged by input and result size."""
        self.meter.charge(GAS_STEP + compute_bytes_gas(len(obj)))
        charge_deep(self.meter, args)
        charge_deep(self.meter, kwargs)
        return self._charge_result(method(*args, **kwargs))

    def pad(self, method: Callable[..., Any], obj: str, width: Any, *args: Any) -> Any:
        """``ljust``/``rjust``/``center``/``zfill``: the width is bounded before padding."""
        if type(width) in (int, bool):
            check_len(width)
        self.meter.charge(GAS_STEP)
        return self._charge_result(method(width, *args))

    def linear(self, method: Callable[..., Any], obj: Any, *args: Any) -> Any:
        """A container method that moves every item once (copy, clear, reverse, pop)."""
        self.meter.charge(GAS_STEP + GAS_ITEM * len(obj))
        return method(*args)

    def deep(self, method: Callable[..., Any], obj: Any, *args: Any) -> Any:
        """``index``/``count``/``remove``: compares items, so both sides are walked first."""
        self.meter.charge(GAS_STEP)
        charge_deep(self.meter, obj)
        charge_deep(self.meter, args)
        return method(*args)

    def cheap(self, method: Callable[..., Any], obj: Any, *args: Any) -> Any:
        """A method whose cost does not depend on sizes (dict views, ``bit_length``)."""
        self.meter.charge(GAS_STEP)
        return method(*args)

    # Text

    def replace(self, text: Any, old: Any, new: Any, count: Any = -1) -> Any:
        """``replace``: the result length is computed and bounded before replacing."""
        self.meter.charge(GAS_STEP + compute_bytes_gas(len(text)))
        if type(old) is type(text) and type(new) is type(text) and type(count) is int:
            hits = text.count(old) if old else len(text) + 1
            hits = hits if count < 0 else min(hits, count)
            check_len(len(text) + hits * (len(new) - len(old)))
        return self._charge_result(text.replace(old, new, count))

    def join(self, separator: Any, iterable: Any) -> Any:
        """``join``: every part must be text; the total length is bounded before joining."""
        parts = list(materialize(self.meter, iterable))
        if any(type(part) is not type(separator) for part in parts):
            raise SandboxViolation(f"join takes {type(separator).__name__} parts only")
        check_len(sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0))
        return self._charge_result(separator.join(parts))

    def encode(self, text: str, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
        """``str.encode`` in UTF-8 or ASCII."""
        check_encoding(encoding, errors)
        self.meter.charge(GAS_STEP + compute_bytes_gas(len(text)))
        return self._charge_result(text.encode(encoding, errors))  # type: ignore[no-any-return]

    def decode(self, data: bytes, encoding: Any = "utf-8", errors: Any = "strict") -> str:
        """``bytes.decode`` from UTF-8 or ASCII."""
        check_encoding(encoding, errors)
        self.meter.charge(GAS_STEP + compute_bytes_gas(len(data)))
        return self._charge_result(data.decode(encoding, errors))  # type: ignore[no-any-return]

    def hex(self, data: bytes) -> str:
        """``bytes.hex()`` (no separator)."""
        check_len(2 * len(data))
        return self._charge_result(data.hex())  # type: ignore[no-any-return]

    # Lists

    def append(self, items: list[Any], item: Any) -> None:
        """``list.append``, refusing to grow past ``SEQUENCE_LEN_MAX``."""
        self.meter.charge(GAS_STEP)
        if len(items) >= SEQUENCE_LEN_MAX:
            check_len(len(items) + 1)
        items.append(item)

    def extend(self, items: list[Any], iterable: Any) -> None:
        """``list.extend``, bounded and charged per item."""
        more = materialize(self.meter, iterable)
        check_len(len(items) + len(more))
        items.extend(more)

    def insert(self, items: list[Any], index: Any, item: Any) -> None:
        """``list.insert``: moves the items after ``index``."""
        check_len(len(items) + 1)
        self.meter.charge(GAS_STEP + GAS_ITEM * len(items))
        items.insert(index, item)

    def sort(self, items: list[Any], *, key: Any = None, reverse: Any = False) -> None:
        """``list.sort``."""
        sort_items(self.meter, items, key, reverse)

    # Dicts

    def keyed(self, mapping: dict[Any, Any], name: str, key: Any, *args: Any) -> Any:
        """``get``/``pop``/``setdefault``: the key must be flat."""
        check_key(key)
        if name == "setdefault" and key not in mapping:
            check_len(len(mapping) + 1)
        self.meter.charge(GAS_STEP + compute_bytes_gas(len(key) if type(key) is str else 0))
        return getattr(mapping, name)(key, *args)

    def update(self, mapping: dict[Any, Any], other: Any = (), **kwargs: Any) -> None:
        """``dict.update``: keys checked, size bounded, charged per item."""
        pairs = build_dict(self.meter, other, kwargs)
        check_len(len(mapping) + len(pairs))
        mapping.update(pairs)

    # Integers

    def to_bytes(self, value: int, length: Any = 1, byteorder: Any = "big", **kwargs: Any) -> bytes:
        """``int.to_bytes``: the length is bounded before the bytes are built."""
        if type(length) is int:
            check_len(length)
        self.meter.charge(GAS_STEP + compute_bytes_gas(length if type(length) is int else 0))
        return value.to_bytes(length, byteorder, **kwargs)


def build_dict(meter: Meter, source: Any, extra: dict[str, Any]) -> dict[Any, Any]:
    """What ``dict(source, **extra)`` builds, with every key checked and every item charged."""
    if type(source) is dict:
        meter.charge(GAS_ITEM * len(source))
        result = dict(source)
    else:
        result = {}
        for pair in materialize(meter, source):
            if type(pair) not in (tuple, list) or len(pair) != 2:
                raise SandboxViolation("dict() takes (key, value) pairs")
            check_key(pair[0])
            result[pair[0]] = pair[1]
    meter.charge(GAS_ITEM * len(extra))
    result.update(extra)
    check_len(len(result))
    return result


def int_from_bytes(meter: Meter, data: Any, byteorder: Any = "big", **kwargs: Any) -> int:
    """``int.from_bytes`` of at most ``INT_BITS_MAX`` bits of bytes."""
    if type(data) is not bytes or 8 * len(data) > INT_BITS_MAX:
        raise SandboxViolation(f"int.from_bytes takes bytes of at most {INT_BITS_MAX // 8} bytes")
    meter.charge(GAS_STEP + compute_bytes_gas(len(data)))
    return check_int(int.from_bytes(data, byteorder, **kwargs))


def bytes_fromhex(meter: Meter, text: Any) -> bytes:
    """``bytes.fromhex`` of bounded text."""
    if type(text) is not str:
        raise SandboxViolation("bytes.fromhex takes a str")
    check_len(len(text) // 2)
    meter.charge(GAS_STEP + compute_bytes_gas(len(text)))
    return bytes.fromhex(text)
