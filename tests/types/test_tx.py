from __future__ import annotations

import hashlib

import pytest

from jinglian.types import Endorsement, TxBody, codec, decode_tx, encode_tx_body, make_tx
from jinglian.types.errors import DecodeError, JinglianError, TooLarge


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
