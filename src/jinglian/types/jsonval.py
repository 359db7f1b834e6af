"""JSON form of codec values, for the REST API, the CLI and files.

Codec values are JSON values except for byte strings, which JSON lacks: a byte
string is written as ``{"$bytes": "<base64>"}``. Everything else maps one to
one. ``from_json`` refuses floats and anything outside the data model.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from jinglian.types import codec
from jinglian.types.errors import InvalidInput

__all__ = ["BYTES_TAG", "from_json", "to_json"]

BYTES_TAG = "$bytes"


def to_json(value: Any) -> Any:
    """Render a codec value as a JSON-compatible value."""
    if isinstance(value, bytes):
        return {BYTES_TAG: base64.b64encode(value).decode()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def from_json(value: Any, depth: int = 0) -> Any:
    """Parse a JSON value into a codec value; raises ``InvalidInput`` on floats and the like."""
    if depth > codec.DEPTH_MAX:
        raise InvalidInput(f"value nested deeper than {codec.DEPTH_MAX}")
    if isinstance(value, dict):
        if set(value) == {BYTES_TAG}:
            return _decode_b64(value[BYTES_TAG])
        return {str(k): from_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v, depth + 1) for v in value]
    if isinstance(value, float):
        raise InvalidInput("floating-point numbers are not allowed; use integers or strings")
    try:
        codec.validate_value(value)
    except InvalidInput as exc:
        raise InvalidInput(str(exc)) from exc
    return value


def _decode_b64(text: object) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput(f"{BYTES_TAG} must hold a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise InvalidInput(f"{BYTES_TAG} is not valid base64: {exc}") from exc
