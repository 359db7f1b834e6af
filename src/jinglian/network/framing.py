"""Length-prefixed frames: the unit every peer connection carries.

A frame is a 4-byte big-endian length, then that many bytes: one byte of
message type and the payload. The length counts the type byte, so it is at
least 1 and at most :data:`FRAME_BYTES_MAX`; the bound is checked before the
body is read, so a peer cannot make us buffer more than one bounded frame.
A malformed or oversized frame raises :class:`~jinglian.types.errors.InvalidInput`
(or its subclass ``TooLarge``); the caller closes that connection, because
after a bad length the stream has no frame boundary left to resynchronise on.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass
from typing import Final

from jinglian.types.errors import InvalidInput, TooLarge

__all__ = [
    "FRAME_BYTES_MAX",
    "FRAME_HEADER_BYTES",
    "MESSAGE_TYPE_MAX",
    "Frame",
    "decode_frame",
    "encode_frame",
    "read_frame",
    "write_frame",
]

FRAME_BYTES_MAX: Final = 16 * 1024 * 1024
"""The largest frame body (type byte + payload) a peer may send or we may write."""

FRAME_HEADER_BYTES: Final = 4
"""The length prefix: an unsigned 32-bit big-endian integer."""

MESSAGE_TYPE_MAX: Final = 255
"""Message types are one byte."""

_LENGTH: Final = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class Frame:
    """One received frame."""

    type: int
    """The message type, 0..255; its meaning belongs to the layer above."""
    payload: bytes
    """The message bytes, at most ``FRAME_BYTES_MAX - 1`` long."""


def encode_frame(message_type: int, payload: bytes) -> bytes:
    """The bytes of one frame; ``InvalidInput``/``TooLarge`` if it cannot be sent."""
    if not 0 <= message_type <= MESSAGE_TYPE_MAX:
        raise InvalidInput(f"message type {message_type} is not one byte")
    body_bytes = 1 + len(payload)
    if body_bytes > FRAME_BYTES_MAX:
        raise TooLarge(f"frame of {body_bytes} bytes is over FRAME_BYTES_MAX={FRAME_BYTES_MAX}")
    return _LENGTH.pack(body_bytes) + bytes((message_type,)) + payload


def decode_frame(data: bytes) -> Frame:
    """Decode exactly one frame from ``data`` (no bytes before or after it)."""
    if len(data) < FRAME_HEADER_BYTES:
        raise InvalidInput("truncated frame header")
    body_bytes = _check_length(data[:FRAME_HEADER_BYTES])
    body = data[FRAME_HEADER_BYTES:]
    if len(body) != body_bytes:
        raise InvalidInput(f"frame says {body_bytes} bytes but {len(body)} follow")
    return Frame(body[0], body[1:])


async def read_frame(reader: asyncio.StreamReader) -> Frame | None:
    """The next frame, or None if the stream ended cleanly between frames.

    Raises ``TooLarge`` for a length over :data:`FRAME_BYTES_MAX` (before
    reading the body) and ``InvalidInput`` for a zero length or a stream that
    ends inside a frame.
    """
    try:
        header = await reader.readexactly(FRAME_HEADER_BYTES)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise InvalidInput("stream ended inside a frame header") from None
    body_bytes = _check_length(header)
    try:
        body = await reader.readexactly(body_bytes)
    except asyncio.IncompleteReadError as exc:
        raise InvalidInput(
            f"stream ended after {len(exc.partial)} of {body_bytes} frame bytes"
        ) from None
    return Frame(body[0], body[1:])


async def write_frame(writer: asyncio.StreamWriter, message_type: int, payload: bytes) -> None:
    """Write one frame and wait until the transport's buffer drains."""
    writer.write(encode_frame(message_type, payload))
    await writer.drain()


def _check_length(header: bytes) -> int:
    (body_bytes,) = _LENGTH.unpack(header)
    if body_bytes == 0:
        raise InvalidInput("frame of length 0 has no message type")
    if body_bytes > FRAME_BYTES_MAX:
        raise TooLarge(f"frame of {body_bytes} bytes is over FRAME_BYTES_MAX={FRAME_BYTES_MAX}")
    return int(body_bytes)
