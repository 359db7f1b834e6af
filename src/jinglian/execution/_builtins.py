"""The builtins a contract may call, metered.

``len``, ``abs`` and ``bool`` are the real builtins: their cost never depends
on the size of their argument. Every other allowed builtin is a wrapper that
charges for the items it consumes (all of them, up front: ``any(range(10**9))``
is refused even though Python would stop early) and bounds what it builds.
Builtins that would expose hash order, object identity, floats or the
interpreter are simply absent (and refused at deploy, see ``_policy``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

from jinglian.execution._methods import (
    build_dict,
    bytes_fromhex,
    check_encoding,
    int_from_bytes,
    pick_extreme,
    sort_items,
)
from jinglian.execution._policy import BUILTIN_NAMES
from jinglian.execution._values import charge_deep, check_int, check_len, materialize
from jinglian.execution.gas import GAS_STEP, Meter, compute_bytes_gas
from jinglian.execution.limits import INT_DIGITS_MAX
from jinglian.types.errors import SandboxViolation

__all__ = ["Builtins"]

INT_TYPES = (int, bool)
_MISSING = object()


class Builtins:
    """The builtins of one runtime, charging its meter."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter
        self.namespace: dict[str, Any] = {
            "abs": abs,
            "all": self.all_,
            "any": self.any_,
            "bool": bool,
            "bytes": self.bytes_,
            "dict": self.dict_,
            "enumerate": self.enumerate_,
            "int": self.int_,
            "isinstance": self.isinstance_,
            "len": len,
            "list": self.list_,
            "max": self.max_,
            "min": self.min_,
            "range": self.range_,
            "reversed": self.reversed_,
            "sorted": self.sorted_,
            "str": self.str_,
            "sum": self.sum_,
            "tuple": self.tuple_,
            "zip": self.zip_,
        }
        """Name -> what a contract gets for it (``__builtins__`` of every contract module)."""
        assert set(self.namespace) == BUILTIN_NAMES
        self.types: dict[Any, type] = {bool: bool}
        """What ``isinstance`` accepts -> the type it stands for."""
        for name in ("bytes", "dict", "int", "list", "str", "tuple"):
            self.types[self.namespace[name]] = getattr(builtins, name)
        self.attributes: dict[Any, dict[str, Callable[..., Any]]] = {
            self.namespace["int"]: {"from_bytes": self.int_from_bytes},
            self.namespace["bytes"]: {"fromhex": self.bytes_fromhex},
        }
        """Attributes of the wrappers themselves: ``int.from_bytes``, ``bytes.fromhex``."""

    def _step(self) -> None:
        self.meter.charge(GAS_STEP)

    def range_(self, *args: Any) -> range:
        """``range``: lazy; its iteration is metered where it is consumed."""
        self._step()
        return range(*args)

    def list_(self, iterable: Any = ()) -> list[Any]:
        """``list(iterable)``."""
        self._step()
        return list(materialize(self.meter, iterable))

    def tuple_(self, iterable: Any = ()) -> tuple[Any, ...]:
        """``tuple(iterable)``."""
        self._step()
        return tuple(materialize(self.meter, iterable))

    def dict_(self, source: Any = (), **kwargs: Any) -> dict[Any, Any]:
        """``dict(pairs_or_mapping, **kwargs)`` with flat keys only."""
        self._step()
        return build_dict(self.meter, source, kwargs)

    def str_(self, value: Any = "") -> str:
        """``str(value)`` of data only (the text of other objects may hold an address)."""
        self._step()
        if type(value) is str:
            return value
        charge_deep(self.meter, value, strict=True)
        text = str(value)
        check_len(len(text))
        self.meter.charge(compute_bytes_gas(len(text)))
        return text

    def int_(self, value: Any = 0, base: Any = _MISSING) -> int:
        """``int(value[, base])``; text of at most ``INT_DIGITS_MAX`` characters."""
        self._step()
        if type(value) in (str, bytes):
            if len(value) > INT_DIGITS_MAX:
                raise SandboxViolation(f"int() takes at most {INT_DIGITS_MAX} characters")
            self.meter.charge(compute_bytes_gas(len(value)))
            return check_int(int(value) if base is _MISSING else int(value, base))
        return int(value) if base is _MISSING else int(value, base)

    def bytes_(self, source: Any = b"", encoding: Any = _MISSING) -> bytes:
        """``bytes(n)``, ``bytes(iterable_of_ints)``, ``bytes(text, "utf-8")``."""
        self._step()
        kind = type(source)
        if kind in INT_TYPES:
            check_len(source)
            self.meter.charge(compute_bytes_gas(source))
            return bytes(source)
        if kind is str:
            if encoding is _MISSING:
                raise TypeError("string argument without an encoding")
            check_encoding(encoding, "strict")
            self.meter.charge(compute_bytes_gas(len(source)))
            data = source.encode(encoding)
            check_len(len(data))
            return data  # type: ignore[no-any-return]
        if kind is bytes:
            return source  # type: ignore[no-any-return]
        return bytes(materialize(self.meter, source))

    def sorted_(self, iterable: Any, *, key: Any = None, reverse: Any = False) -> list[Any]:
        """``sorted``: keys computed and walked before the native sort."""
        self._step()
        items = list(materialize(self.meter, iterable))
        sort_items(self.meter, items, key, reverse)
        return items

    def sum_(self, iterable: Any, start: Any = 0) -> int:
        """``sum`` of integers."""
        self._step()
        items = materialize(self.meter, iterable)
        if type(start) not in INT_TYPES or any(type(item) not in INT_TYPES for item in items):
            raise SandboxViolation("sum() adds integers only")
        return check_int(sum(items, start))

    def min_(self, *args: Any, key: Any = None, default: Any = _MISSING) -> Any:
        """``min(iterable)`` or ``min(a, b, ...)``."""
        return self._extreme(builtins.min, args, key, default)

    def max_(self, *args: Any, key: Any = None, default: Any = _MISSING) -> Any:
        """``max(iterable)`` or ``max(a, b, ...)``."""
        return self._extreme(builtins.max, args, key, default)

    def _extreme(self, chooser: Callable[..., int], args: Any, key: Any, default: Any) -> Any:
        self._step()
        if not args:
            raise TypeError("expected at least 1 argument, got 0")
        items = list(materialize(self.meter, args[0])) if len(args) == 1 else list(args)
        if not items:
            if default is not _MISSING:
                return default
            raise ValueError("arg is an empty sequence")
        return pick_extreme(self.meter, chooser, items, key)

    def any_(self, iterable: Any) -> bool:
        """``any``."""
        self._step()
        return any(materialize(self.meter, iterable))

    def all_(self, iterable: Any) -> bool:
        """``all``."""
        self._step()
        return all(materialize(self.meter, iterable))

    def enumerate_(self, iterable: Any, start: Any = 0) -> enumerate[Any]:
        """``enumerate``: lazy."""
        self._step()
        return enumerate(iterable, check_int(start) if type(start) is int else start)

    def zip_(self, *iterables: Any, strict: Any = False) -> zip[Any]:
        """``zip``: lazy."""
        self._step()
        return zip(*iterables, strict=strict)

    def reversed_(self, sequence: Any) -> Any:
        """``reversed``: lazy."""
        self._step()
        return reversed(sequence)

    def isinstance_(self, value: Any, types: Any) -> bool:
        """``isinstance`` against int, str, bytes, bool, list, dict, tuple (or a tuple of them)."""
        self._step()
        candidates = types if type(types) is tuple else (types,)
        try:
            resolved = tuple(self.types[candidate] for candidate in candidates)
        except (KeyError, TypeError):
            raise SandboxViolation(
                "isinstance works with int, str, bytes, bool, list, dict and tuple"
            ) from None
        return isinstance(value, resolved)

    def int_from_bytes(self, data: Any, byteorder: Any = "big", **kwargs: Any) -> int:
        """``int.from_bytes``."""
        return int_from_bytes(self.meter, data, byteorder, **kwargs)

    def bytes_fromhex(self, text: Any) -> bytes:
        """``bytes.fromhex``."""
        return bytes_fromhex(self.meter, text)
