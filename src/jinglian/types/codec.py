"""Canonical encoding of everything that is hashed or signed.

jinglian encodes values as CBOR (RFC 8949) in its canonical form: integers,
lengths and tags in their shortest form, definite lengths only, map keys
sorted by encoded length and then bytewise (RFC 7049 section 3.9, which is
what ``cbor2``'s ``canonical=True`` writes). Only these types exist in the
data model: ``None``, ``bool``, ``int`` (64-bit signed range), ``str``,
``bytes``, ``list`` and ``dict`` with ``str`` keys. Floats, tags, sets and
undefined are refused, so the same value always has exactly one encoding.

``decode`` accepts a byte string only if it is the canonical encoding of the
value it holds: anything non-canonical, oversized, too deep or followed by
trailing bytes raises ``DecodeError`` or ``TooLarge``. It checks this without
a canonical re-encode (which sorts every map again): the walk over the decoded
value checks that each map's keys came in canonical order, and the plain
re-encode, which keeps that order and writes every head in its shortest
form, must give back the input bytes.
"""

from __future__ import annotations

from typing import TypeAlias

import cbor2

from jinglian.types.errors import DecodeError, TooLarge

__all__ = [
    "DEPTH_MAX",
    "INT_MAX",
    "INT_MIN",
    "Value",
    "decode",
    "encode",
    "encode_trusted",
    "validate_value",
]

Value: TypeAlias = (
    bool | int | str | bytes | list["Value"] | tuple["Value", ...] | dict[str, "Value"] | None
)

INT_MAX = 2**63 - 1
INT_MIN = -(2**63)
DEPTH_MAX = 32
"""Nesting depth bound for decoded values (lists and maps)."""


def encode(value: Value) -> bytes:
    """Canonical CBOR bytes of ``value``; raises ``InvalidInput`` for a value outside the model."""
    validate_value(value)
    try:
        return cbor2.dumps(value, canonical=True)
    except (UnicodeEncodeError, ValueError) as exc:
        raise DecodeError(f"value cannot be encoded: {exc}") from exc


def encode_trusted(value: Value) -> bytes:
    """Canonical CBOR bytes of a value built by jinglian itself (no model walk)."""
    return cbor2.dumps(value, canonical=True)


def decode(data: bytes, max_bytes: int) -> Value:
    """Decode canonical CBOR of at most ``max_bytes`` bytes, refusing anything else."""
    if len(data) > max_bytes:
        raise TooLarge(f"encoded value is {len(data)} bytes, limit {max_bytes}")
    try:
        value = cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise DecodeError(f"not valid CBOR: {exc}") from exc
    _validate_decoded(value, 0)
    if cbor2.dumps(value) != data:
        raise DecodeError("encoding is not canonical or has trailing bytes")
    return value  # type: ignore[no-any-return]


def validate_value(value: object, depth: int = 0) -> None:
    """Raise ``DecodeError`` unless ``value`` lies in the data model described above."""
    if depth > DEPTH_MAX:
        raise DecodeError(f"value nested deeper than {DEPTH_MAX}")
    if value is None or isinstance(value, bool | str | bytes):
        return
    if isinstance(value, int):
        if not INT_MIN <= value <= INT_MAX:
            raise DecodeError("integer outside the signed 64-bit range")
        return
    if isinstance(value, list | tuple):
        for item in value:
            validate_value(item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise DecodeError("map keys must be text strings")
            validate_value(item, depth + 1)
        return
    raise DecodeError(f"type {type(value).__name__} is not part of the data model")


def _validate_decoded(value: object, depth: int) -> None:
    """``validate_value``, and every map's keys in canonical order (length first, then bytewise)."""
    if type(value) is dict:
        if depth > DEPTH_MAX:
            raise DecodeError(f"value nested deeper than {DEPTH_MAX}")
        previous = (-1, b"")
        for key, item in value.items():
            if type(key) is not str:
                raise DecodeError("map keys must be text strings")
            encoded = key.encode()
            order = (len(encoded), encoded)
            if order <= previous:
                raise DecodeError("map keys are not in canonical order")
            previous = order
            _validate_decoded(item, depth + 1)
        return
    if type(value) is list:
        if depth > DEPTH_MAX:
            raise DecodeError(f"value nested deeper than {DEPTH_MAX}")
        for item in value:
            _validate_decoded(item, depth + 1)
        return
    validate_value(value, depth)
