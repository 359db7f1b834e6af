from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinglian.types import codec
from jinglian.types.errors import DecodeError, TooLarge

values = st.recursive(
    st.none() | st.booleans() | st.integers(codec.INT_MIN, codec.INT_MAX) | st.text() | st.binary(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@given(values)
def test_round_trip(value: object) -> None:
    data = codec.encode(value)  # type: ignore[arg-type]
    assert codec.decode(data, len(data)) == value


@given(values)
def test_encoding_is_unique(value: object) -> None:
    assert codec.encode(value) == codec.encode(codec.decode(codec.encode(value), 1 << 20))  # type: ignore[arg-type]


def test_map_keys_sorted_length_first() -> None:
    assert codec.encode({"bb": 1, "a": 2, "c": 3}) == bytes.fromhex("a361610261630362626201")


@pytest.mark.parametrize(
    "data",
    [
        bytes.fromhex("1b0000000000000001"),  # 1 in a non-minimal 8-byte form
        bytes.fromhex("a2616202616101"),  # map keys out of canonical order
        bytes.fromhex("0102"),  # trailing byte
        bytes.fromhex("9f01ff"),  # indefinite-length list
        bytes.fromhex("f93c00"),  # half-precision float 1.0
        bytes.fromhex("c11a514b67b0"),  # tagged value (epoch time)
        bytes.fromhex("a10101"),  # integer map key
        bytes.fromhex("1bffffffffffffffff"),  # integer over 64-bit signed range
        bytes.fromhex("5f41014102ff"),  # indefinite byte string
        b"",
        bytes.fromhex("ff"),
        bytes.fromhex("7a7fffffff"),  # text length far beyond the data
    ],
)
def test_invalid_encodings_are_refused(data: bytes) -> None:
    with pytest.raises(DecodeError):
        codec.decode(data, 1024)


def test_invalid_oversized() -> None:
    with pytest.raises(TooLarge):
        codec.decode(codec.encode(b"x" * 100), 50)


def test_invalid_too_deep() -> None:
    value: object = 1
    for _ in range(codec.DEPTH_MAX + 2):
        value = [value]
    with pytest.raises(DecodeError):
        codec.decode(cbor2.dumps(value, canonical=True), 1024)


@pytest.mark.parametrize("value", [1.5, {1: 2}, {"a": {1, 2}}, 2**64, "\ud800", {"\udfff": 1}])
def test_invalid_values_are_refused_on_encode(value: object) -> None:
    with pytest.raises(DecodeError):
        codec.encode(value)  # type: ignore[arg-type]


def reference_accepts(data: bytes) -> bool:
    """The canonical rule stated directly: decode, check the model, re-encode canonically."""
    try:
        value = cbor2.loads(data)
        codec.validate_value(value)
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError):
        return False
    except DecodeError:
        return False
    return cbor2.dumps(value, canonical=True) == data


@st.composite
def any_order_encodings(draw: st.DrawFn) -> bytes:
    """Encodings of model values with map keys in any order, sometimes mutated."""
    value = draw(values)

    def shuffle(v: object) -> object:
        if isinstance(v, dict):
            keys = draw(st.permutations(list(v)))
            return {k: shuffle(v[k]) for k in keys}
        if isinstance(v, list):
            return [shuffle(x) for x in v]
        return v

    data = bytearray(cbor2.dumps(shuffle(value)))
    for at, byte in draw(
        st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 255)), max_size=2)
    ):
        if data:
            data[at % len(data)] = byte
    return bytes(data)


@given(any_order_encodings())
@settings(max_examples=300, deadline=None)
def test_decode_accepts_exactly_the_canonical_encodings(data: bytes) -> None:
    try:
        value = codec.decode(data, 1 << 20)
    except DecodeError:
        assert not reference_accepts(data)
    else:
        assert reference_accepts(data)
        assert codec.encode(value) == data


def test_invalid_map_keys_out_of_order_or_repeated() -> None:
    for data in (
        bytes.fromhex("a2616101616201"),  # fine: a, b
        bytes.fromhex("a2616201616101"),  # b before a
        bytes.fromhex("a262616101616202"),  # "aa" before "b": the longer key first
        bytes.fromhex("a2616101616102"),  # "a" twice
        bytes.fromhex("81a2616201616101"),  # out of order inside a list
    ):
        accepted = True
        try:
            codec.decode(data, 1024)
        except DecodeError:
            accepted = False
        assert accepted == (data == bytes.fromhex("a2616101616201"))
