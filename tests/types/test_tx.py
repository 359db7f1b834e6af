from __future__ import annotations

import hashlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinglian.types import Endorsement, TxBody, codec, decode_tx, encode_tx_body, make_tx
from jinglian.types import tx as tx_module
from jinglian.types.errors import DecodeError, JinglianError, TooLarge
from jinglian.types.tx import ENDORSEMENTS_MAX, TX_BYTES_MAX, args_encoded_size


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def body(**changes: object) -> TxBody:
    fields: dict[str, object] = {
        "chain_id": "dev",
        "sender": b"\x01" * 32,
        "contract": "kv",
        "method": "set",
        "args": {"key": "k", "value": b"v"},
        "nonce": b"n" * 16,
        "timestamp_ms": 1000,
        "expires_ms": 2000,
    }
    fields.update(changes)
    return TxBody(**fields)  # type: ignore[arg-type]


def test_round_trip_and_id() -> None:
    payload = encode_tx_body(body())
    tx = make_tx(sha256, payload, (Endorsement(signer=b"\x02" * 32, signature=b"sig"),))
    again = decode_tx(tx.encoded, sha256)
    assert again == tx
    assert tx.id == sha256(payload)
    assert tx.body == body()


def test_same_call_with_other_nonce_has_other_id() -> None:
    a = sha256(encode_tx_body(body()))
    b = sha256(encode_tx_body(body(nonce=b"m" * 16)))
    assert a != b


def wire(payload: object, endorsements: object) -> bytes:
    return codec.encode([payload, endorsements])  # type: ignore[list-item]


GOOD_PAYLOAD = encode_tx_body(body())
GOOD_END = [[b"\x02" * 32, b"sig"]]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00garbage",
        codec.encode([GOOD_PAYLOAD]),
        wire("text", GOOD_END),
        wire(GOOD_PAYLOAD, []),
        wire(GOOD_PAYLOAD, [[b"", b"sig"]]),
        wire(GOOD_PAYLOAD, [[b"\x02" * 32]]),
        wire(GOOD_PAYLOAD, [[b"\x02" * 32, b"s"]] * 33),
        wire(codec.encode({"v": 1}), GOOD_END),
        wire(codec.encode({**body().to_value(), "extra": 1}), GOOD_END),
        wire(codec.encode({**body().to_value(), "sender": b"short"}), GOOD_END),
        wire(codec.encode({**body().to_value(), "ts": "1000"}), GOOD_END),
        wire(codec.encode({**body().to_value(), "ts": True}), GOOD_END),
        wire(codec.encode({**body().to_value(), "contract": ""}), GOOD_END),
        wire(codec.encode({**body().to_value(), "nonce": b"n" * 33}), GOOD_END),
        wire(codec.encode({**body().to_value(), "v": 2}), GOOD_END),
        wire(codec.encode({**body().to_value(), "exp": 10}), GOOD_END),
        wire(codec.encode({**body().to_value(), "args": {"v": "x" * 70_000}}), GOOD_END),
        wire(GOOD_PAYLOAD + b"\x00", GOOD_END),
    ],
)
def test_invalid_transactions_are_refused(data: bytes) -> None:
    with pytest.raises(JinglianError):
        decode_tx(data, sha256)


def test_invalid_oversized_transaction() -> None:
    data = wire(GOOD_PAYLOAD, [[b"\x02" * 32, b"s" * 100]])
    with pytest.raises(TooLarge):
        decode_tx(data, sha256, max_bytes=len(data) - 1)


def test_invalid_non_canonical_wire() -> None:
    data = bytearray(wire(GOOD_PAYLOAD, GOOD_END))
    data[0] = 0x9F  # indefinite-length list header instead of a 2-element list
    with pytest.raises(DecodeError):
        decode_tx(bytes(data) + b"\xff", sha256)


# -- the outer parser accepts exactly the canonical encoding ------------------------------------


def reference_parse(data: bytes) -> tuple[bytes, list[list[bytes]]] | None:
    """The outer shape as the generic codec reads it (decode, walk, re-encode, compare)."""
    try:
        value = codec.decode(data, TX_BYTES_MAX)
    except JinglianError:
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], bytes)):
        return None
    payload, endorsements = value
    if not isinstance(endorsements, list) or len(endorsements) > ENDORSEMENTS_MAX:
        return None
    for item in endorsements:
        if not (isinstance(item, list) and len(item) == 2):
            return None
        if not all(isinstance(x, bytes) for x in item):
            return None
    return payload, endorsements  # type: ignore[return-value]


def lean_parse(data: bytes) -> tuple[bytes, list[list[bytes]]] | None:
    try:
        return tx_module._parse_wire(data)
    except JinglianError:
        return None


GOOD_WIRE = wire(GOOD_PAYLOAD, GOOD_END)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("array head in 1-byte form", b"\x98\x02" + GOOD_WIRE[1:]),
        (
            "payload length in 4-byte form",
            b"\x82\x5a"
            + len(GOOD_PAYLOAD).to_bytes(4, "big")
            + GOOD_PAYLOAD
            + GOOD_WIRE[3 + len(GOOD_PAYLOAD) :],
        ),
        ("indefinite payload", b"\x82\x5f" + GOOD_WIRE[1:] + b"\xff"),
        (
            "indefinite endorsements",
            GOOD_WIRE[: 3 + len(GOOD_PAYLOAD)]
            + b"\x9f"
            + GOOD_WIRE[4 + len(GOOD_PAYLOAD) :]
            + b"\xff",
        ),
        ("signature length in 1-byte form", GOOD_WIRE[:-4] + b"\x58\x03sig"),
        ("tagged transaction", b"\xd8\x18" + GOOD_WIRE),
        ("trailing byte", GOOD_WIRE + b"\x00"),
        ("truncated", GOOD_WIRE[:-1]),
        ("three elements", b"\x83" + GOOD_WIRE[1:] + b"\x00"),
        ("payload as text", wire("text", GOOD_END)),
        ("endorsement as map", wire(GOOD_PAYLOAD, [{"a": b"b"}])),
        ("signer as integer", wire(GOOD_PAYLOAD, [[1, b"sig"]])),
    ],
)
def test_invalid_non_canonical_or_misshapen_outer_encodings(name: str, data: bytes) -> None:
    assert reference_parse(data) is None, name
    with pytest.raises(JinglianError):
        decode_tx(data, sha256)


def test_the_lean_parser_reads_what_the_codec_reads() -> None:
    assert GOOD_WIRE[1] == 0x58 or GOOD_WIRE[1] == 0x59  # the payload length is in a long form
    assert lean_parse(GOOD_WIRE) == reference_parse(GOOD_WIRE) is not None


edits = st.lists(
    st.tuples(
        st.sampled_from(["set", "insert", "delete"]), st.integers(0, 10_000), st.integers(0, 255)
    ),
    min_size=1,
    max_size=3,
)


@given(edits=edits, cert_bytes=st.sampled_from([32, 458, 300]), signers=st.integers(1, 3))
@settings(max_examples=400, deadline=None)
def test_mutated_wires_are_accepted_exactly_when_the_codec_accepts_them(
    edits: list[tuple[str, int, int]], cert_bytes: int, signers: int
) -> None:
    data = bytearray(wire(GOOD_PAYLOAD, [[b"\x02" * cert_bytes, b"s" * 71]] * signers))
    for op, where, byte in edits:
        at = where % (len(data) + 1)
        if op == "insert":
            data.insert(at, byte)
        elif data and op == "set":
            data[at % len(data)] = byte
        elif data:
            del data[at % len(data)]
    assert lean_parse(bytes(data)) == reference_parse(bytes(data))


@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**63 - 1)
        | st.binary(max_size=30)
        | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3),
        max_leaves=8,
    ),
    canonical=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_any_other_cbor_value_is_refused_like_the_codec_refuses_it(
    value: object, canonical: bool
) -> None:
    data = cbor2.dumps(value, canonical=canonical)
    assert lean_parse(data) == reference_parse(data)


codec_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.binary(max_size=300)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    args=st.dictionaries(st.text(min_size=1, max_size=30), codec_values, max_size=6),
    names=st.tuples(
        st.text(min_size=1, max_size=64),
        st.text(min_size=1, max_size=64),
        st.text(min_size=1, max_size=64),
    ),
    nonce=st.binary(max_size=32),
    times=st.tuples(st.integers(-(2**63), 2**62), st.integers(0, 2**62)),
)
@settings(max_examples=500, deadline=None)
def test_args_size_read_off_the_payload_is_the_size_of_their_encoding(
    args: dict[str, object], names: tuple[str, str, str], nonce: bytes, times: tuple[int, int]
) -> None:
    """Gas is charged by this size: it must equal ``len(codec.encode(args))`` byte for byte."""
    chain_id, contract, method_name = names
    timestamp_ms, window_ms = times
    tx = make_tx(
        sha256,
        encode_tx_body(
            body(
                chain_id=chain_id,
                contract=contract,
                method=method_name,
                args=args,
                nonce=nonce,
                timestamp_ms=timestamp_ms,
                expires_ms=min(timestamp_ms + window_ms, 2**63 - 1),
            )
        ),
        (Endorsement(signer=b"\x02" * 32, signature=b"s" * 70),),
    )
    assert args_encoded_size(tx) == len(codec.encode(tx.body.args))


def test_args_size_of_large_arguments() -> None:
    """Argument maps of every head length up to the limit (the 1-, 2-, 3- and 5-byte heads)."""
    for size in (0, 10, 23, 24, 255, 256, 65_535, 65_536):
        args: dict[str, codec.Value] = {
            "blob": b"x" * size,
            "many": list(range(30)),
            "text": "é" * (size % 100),
        }
        tx = make_tx(
            sha256,
            encode_tx_body(body(args=args, timestamp_ms=2**40, expires_ms=2**40 + 5)),
            (Endorsement(signer=b"\x02" * 32, signature=b"s" * 70),),
        )
        assert args_encoded_size(tx) == len(codec.encode(args))
