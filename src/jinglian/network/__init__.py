"""jinglian.network: the peer transport between nodes.

Frames (:mod:`jinglian.network.framing`): a 4-byte big-endian length, one
byte of message type, the payload; bounded by ``FRAME_BYTES_MAX``.
"""

from __future__ import annotations

from jinglian.network.framing import (
    FRAME_BYTES_MAX,
    Frame,
    decode_frame,
    encode_frame,
    read_frame,
    write_frame,
)

__all__ = [
    "FRAME_BYTES_MAX",
    "Frame",
    "decode_frame",
    "encode_frame",
    "read_frame",
    "write_frame",
]
