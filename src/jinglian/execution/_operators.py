"""Guards for binary operators and comparisons in contract code.

The policy rewrites ``a + b`` to ``_op_add_(a, b)``, ``a < b`` to
``_cmp_lt_(a, b)`` and so on. Each guard charges gas and bounds the result
*before* computing it where the result could be large: integers stay within
``INT_BITS_MAX`` bits, sequences within ``SEQUENCE_LEN_MAX`` items. Operators
that would build a set (``-``, ``&``, ``^``, ``|`` on dict views) are refused:
set order depends on the hash seed. ``%`` on text is refused (no
printf-style formatting).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinglian.execution._values import (
    INT_TOO_LARGE,
    SCALAR_TYPES,
    charge_deep,
    check_int,
    check_key,
    check_len,
    materialize,
)
from jinglian.execution.gas import GAS_ITEM, GAS_STEP, Meter, compute_bytes_gas, compute_int_gas
from jinglian.execution.limits import INT_BITS_MAX
from jinglian.types.errors import SandboxViolation

__all__ = ["Operators"]

INT_TYPES = frozenset({int, bool})
TEXT_TYPES = frozenset({str, bytes})
SEQUENCE_TYPES = frozenset({str, bytes, list, tuple})
DictKeys: type = type({}.keys())
DictItems: type = type({}.items())
DictValues: type = type({}.values())


def _sequence_gas(value: Any, length: int) -> int:
    """Gas for building ``length`` items of the same kind as ``value``."""
    if type(value) in TEXT_TYPES:
        return compute_bytes_gas(length)
    return GAS_ITEM * length


class Operators:
    """The operator guards of one runtime, charging its meter."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def globals(self) -> dict[str, Callable[..., Any]]:
        """Guard name -> guard, as the rewritten code calls them."""
        names = ("add", "sub", "mul", "floordiv", "mod", "pow", "lshift", "rshift", "or", "and")
        guards: dict[str, Callable[..., Any]] = {
            f"_op_{n}_": getattr(self, f"op_{n}") for n in names
        }
        guards["_op_xor_"] = self.op_xor
        for name in ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"):
            guards[f"_cmp_{name}_"] = getattr(self, f"cmp_{name}")
        guards["_inplacevar_"] = self.inplacevar
        return guards

    def _step(self) -> None:
        meter = self.meter
        meter.remaining -= GAS_STEP
        if meter.remaining < 0:
            meter.charge(0)

    # Arithmetic

    def op_add(self, a: Any, b: Any) -> Any:
        """``a + b``: integers bounded, sequences bounded and charged per item."""
        self._step()
        if type(a) in INT_TYPES and type(b) in INT_TYPES:
            return check_int(a + b)
        if type(a) in SEQUENCE_TYPES and type(a) is type(b):
            length = len(a) + len(b)
            check_len(length)
            self.meter.charge(_sequence_gas(a, length))
        return a + b

    def op_sub(self, a: Any, b: Any) -> Any:
        """``a - b`` on integers only."""
        self._require_ints("-", a, b)
        return check_int(a - b)

    def op_mul(self, a: Any, b: Any) -> Any:
        """``a * b``: integers bounded before multiplying, repeats bounded before building."""
        self._step()
        if type(a) in INT_TYPES and type(b) in INT_TYPES:
            if a.bit_length() + b.bit_length() > INT_BITS_MAX + 1:
                raise SandboxViolation(INT_TOO_LARGE)
            self.meter.charge(compute_int_gas(a, b))
            return check_int(a * b)
        sequence, count = (a, b) if type(b) in INT_TYPES else (b, a)
        if type(sequence) in SEQUENCE_TYPES and type(count) in INT_TYPES:
            length = len(sequence) * max(count, 0)
            check_len(length)
            self.meter.charge(_sequence_gas(sequence, length))
        return a * b

    def op_floordiv(self, a: Any, b: Any) -> Any:
        """``a // b`` on integers, charged by operand size."""
        self._require_ints("//", a, b)
        self.meter.charge(compute_int_gas(a, b))
        return a // b

    def op_mod(self, a: Any, b: Any) -> Any:
        """``a % b`` on integers; %-formatting of text is refused."""
        self._require_ints("%", a, b)
        self.meter.charge(compute_int_gas(a, b))
        return a % b

    def op_pow(self, a: Any, b: Any) -> Any:
        """``a ** b`` with ``b >= 0``, refused before computing when the result is too large."""
        self._require_ints("**", a, b)
        if b < 0:
            raise SandboxViolation("negative exponents are not allowed: they give fractions")
        if abs(a) > 1 and (a.bit_length() - 1) * b > INT_BITS_MAX:
            raise SandboxViolation(INT_TOO_LARGE)
        result = a**b
        self.meter.charge(compute_int_gas(result, result))
        return check_int(result)

    def op_lshift(self, a: Any, b: Any) -> Any:
        """``a << b``, refused before shifting when the result is too large."""
        self._require_ints("<<", a, b)
        if a and b > 0 and a.bit_length() + b > INT_BITS_MAX:
            raise SandboxViolation(INT_TOO_LARGE)
        return a << b

    def op_rshift(self, a: Any, b: Any) -> Any:
        """``a >> b`` on integers."""
        self._require_ints(">>", a, b)
        return a >> b

    def op_or(self, a: Any, b: Any) -> Any:
        """``a | b`` on integers, or merging two dicts (bounded, charged per item)."""
        if type(a) is dict and type(b) is dict:
            self._step()
            check_len(len(a) + len(b))
            self.meter.charge(GAS_ITEM * (len(a) + len(b)))
            return a | b
        self._require_ints("|", a, b)
        return a | b

    def op_and(self, a: Any, b: Any) -> Any:
        """``a & b`` on integers only."""
        self._require_ints("&", a, b)
        return a & b

    def op_xor(self, a: Any, b: Any) -> Any:
        """``a ^ b`` on integers only."""
        self._require_ints("^", a, b)
        return a ^ b

    def _require_ints(self, symbol: str, a: Any, b: Any) -> None:
        self._step()
        if type(a) not in INT_TYPES or type(b) not in INT_TYPES:
            if symbol == "%" and type(a) in TEXT_TYPES:
                raise SandboxViolation("%-formatting is not allowed: use f-strings")
            raise SandboxViolation(f"{symbol!r} works on integers only")

    def inplacevar(self, op: str, a: Any, b: Any) -> Any:
        """``a op= b``: lists and dicts change in place (as in Python), the rest rebinds."""
        if op == "+=" and type(a) is list:
            items = materialize(self.meter, b)
            check_len(len(a) + len(items))
            a.extend(items)
            return a
        if op == "|=" and type(a) is dict:
            a.update(self.op_or(a, b))
            return a
        if op == "*=" and type(a) is list:
            a[:] = self.op_mul(a, b)
            return a
        guard: Callable[[Any, Any], Any] = getattr(self, INPLACE_GUARDS[op])
        return guard(a, b)

    # Comparisons

    def _charge_compare(self, a: Any, b: Any) -> None:
        if type(a) in SCALAR_TYPES and type(b) in SCALAR_TYPES:
            self._step()
            return
        self._step()
        charge_deep(self.meter, a)
        charge_deep(self.meter, b)

    def cmp_eq(self, a: Any, b: Any) -> bool:
        """``a == b``, charged by the size of both sides."""
        self._charge_compare(a, b)
        return bool(a == b)

    def cmp_ne(self, a: Any, b: Any) -> bool:
        """``a != b``, charged by the size of both sides."""
        self._charge_compare(a, b)
        return bool(a != b)

    def cmp_lt(self, a: Any, b: Any) -> bool:
        """``a < b``, charged by the size of both sides."""
        self._charge_compare(a, b)
        return bool(a < b)

    def cmp_le(self, a: Any, b: Any) -> bool:
        """``a <= b``, charged by the size of both sides."""
        self._charge_compare(a, b)
        return bool(a <= b)

    def cmp_gt(self, a: Any, b: Any) -> bool:
        """``a > b``, charged by the size of both sides."""
        self._charge_compare(a, b)
        return bool(a > b)

    def cmp_ge(self, a: Any, b: Any) -> bool:
        """``a >= b``, charged by the size of both sides."""
        self._charge_compare(a, b)
        return bool(a >= b)

    def cmp_in(self, item: Any, container: Any) -> bool:
        """``item in container``: hashed lookups need flat keys, scans are charged."""
        self._step()
        kind = type(container)
        if kind is dict or kind is DictKeys:
            check_key(item)
            return item in container
        if kind is range:
            return type(item) in INT_TYPES and item in container
        if kind in TEXT_TYPES:
            size = len(item) if type(item) in TEXT_TYPES else 0
            self.meter.charge(compute_bytes_gas(len(container) + size))
            return bool(item in container)
        if kind in (list, tuple, DictValues, DictItems):
            if kind is DictItems and type(item) is tuple and len(item) == 2:
                check_key(item[0])
            charge_deep(self.meter, container)
            charge_deep(self.meter, item)
            return item in container
        raise SandboxViolation(f"`in` does not work on {kind.__name__}")

    def cmp_not_in(self, item: Any, container: Any) -> bool:
        """``item not in container``."""
        return not self.cmp_in(item, container)


INPLACE_GUARDS = {
    "+=": "op_add",
    "-=": "op_sub",
    "*=": "op_mul",
    "//=": "op_floordiv",
    "%=": "op_mod",
    "**=": "op_pow",
    "<<=": "op_lshift",
    ">>=": "op_rshift",
    "|=": "op_or",
    "&=": "op_and",
    "^=": "op_xor",
}
