"""Frames: round trips, and refusal of truncated, empty and oversized input."""

from __future__ import annotations

import asyncio
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jinglian.network.framing import (
    FRAME_BYTES_MAX,
    Frame,
    decode_frame,
    encode_frame,
    read_frame,
)
from jinglian.types.errors import InvalidInput, TooLarge

message_types = st.integers(min_value=0, max_value=255)
payloads = st.binary(max_size=4096)


def _read_all(data: bytes) -> list[Frame]:
    async def run() -> list[Frame]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        frames = []
        while (frame := await read_frame(reader)) is not None:
            frames.append(frame)
        return frames

    return asyncio.run(run())


@given(message_types, payloads)
def test_encode_decode_round_trip(message_type: int, payload: bytes) -> None:
    assert decode_frame(encode_frame(message_type, payload)) == Frame(message_type, payload)


@given(st.lists(st.tuples(message_types, payloads), max_size=8))
def test_read_frame_round_trip_over_a_stream(frames: list[tuple[int, bytes]]) -> None:
    data = b"".join(encode_frame(t, p) for t, p in frames)
    assert _read_all(data) == [Frame(t, p) for t, p in frames]


@given(message_types, payloads, st.data())
def test_invalid_truncated_stream(message_type: int, payload: bytes, data: st.DataObject) -> None:
    encoded = encode_frame(message_type, payload)
    cut = data.draw(st.integers(min_value=1, max_value=len(encoded) - 1))
    with pytest.raises(InvalidInput):
        _read_all(encoded[:cut])
    with pytest.raises(InvalidInput):
        decode_frame(encoded[:cut])


def test_invalid_oversized_length_refused_before_body() -> None:
    header = struct.pack(">I", FRAME_BYTES_MAX + 1)
    # Only the header is there: the bound must fire without waiting for the body.
    with pytest.raises(TooLarge):
        _read_all(header + b"\x01")
    with pytest.raises(TooLarge):
        decode_frame(header + b"\x01")


def test_invalid_max_length_header() -> None:
    with pytest.raises(TooLarge):
        _read_all(b"\xff\xff\xff\xff")


def test_invalid_zero_length() -> None:
    with pytest.raises(InvalidInput):
        _read_all(struct.pack(">I", 0))


def test_invalid_trailing_bytes() -> None:
    with pytest.raises(InvalidInput):
        decode_frame(encode_frame(1, b"x") + b"junk")


def test_invalid_encode_bounds() -> None:
    with pytest.raises(InvalidInput):
        encode_frame(256, b"")
    with pytest.raises(InvalidInput):
        encode_frame(-1, b"")
    with pytest.raises(TooLarge):
        encode_frame(1, bytes(FRAME_BYTES_MAX))


def test_largest_frame_fits() -> None:
    payload = bytes(FRAME_BYTES_MAX - 1)
    assert decode_frame(encode_frame(7, payload)) == Frame(7, payload)


def test_empty_stream_is_clean_end() -> None:
    assert _read_all(b"") == []
