"""Transactions: the signed payload, its endorsements and its id.

A transaction on the wire is the canonical encoding of ``[payload, endorsements]``
where ``payload`` is itself the canonical encoding of a ``TxBody`` map (the exact
bytes every signature covers) and each endorsement is ``[signer, signature]``.
The transaction id is the chain hash of the payload bytes, so the id binds the
sender, the call, the nonce and the validity window; replaying the same bytes
yields the same id and is refused as a duplicate.

``signer`` is either a 32-byte certificate id (the hash of a certificate the
chain already holds) or the DER certificate itself. The first endorsement is
the sender's and must match ``TxBody.sender``.

``decode_tx`` reads the fixed outer shape with a small parser that accepts
only shortest-form heads of the expected types (so exactly the canonical
encoding, as ``codec.decode`` would) instead of decoding, walking and
re-encoding the whole transaction; the payload, whose contents vary, still
goes through ``codec.decode``. Every node decodes every transaction once
(from a client or a peer), so this is on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinglian.types import codec
from jinglian.types.errors import DecodeError, InvalidTransaction, TooLarge

__all__ = [
    "ARGS_BYTES_MAX",
    "CERT_ID_BYTES",
    "ENDORSEMENTS_MAX",
    "NAME_CHARS_MAX",
    "NONCE_BYTES_MAX",
    "TX_BYTES_MAX",
    "TX_VERSION",
    "Endorsement",
    "Tx",
    "TxBody",
    "args_encoded_size",
    "decode_tx",
    "encode_tx_body",
    "make_tx",
]

TX_VERSION = 1
TX_BYTES_MAX = 128 * 1024
"""Hard upper bound on an encoded transaction; the chain parameter may be lower."""
ARGS_BYTES_MAX = 64 * 1024
NONCE_BYTES_MAX = 32
NAME_CHARS_MAX = 64
ENDORSEMENTS_MAX = 32
CERT_ID_BYTES = 32
SIGNATURE_BYTES_MAX = 160
CERT_BYTES_MAX = 16 * 1024


@dataclass(frozen=True, slots=True)
class TxBody:
    """What the sender asks for; its canonical encoding is what gets signed."""

    chain_id: str
    """The chain this transaction is for; other chains refuse it."""
    sender: bytes
    """Certificate id (chain hash of the DER certificate) of the sender."""
    contract: str
    """Name of the contract to call."""
    method: str
    """Name of the contract method to call."""
    args: dict[str, Any]
    """Named arguments, values in the codec's data model."""
    nonce: bytes
    """Up to 32 client-chosen bytes that make otherwise equal calls distinct."""
    timestamp_ms: int
    """When the client created the transaction (Unix ms)."""
    expires_ms: int
    """The last block time (Unix ms) at which the transaction may be included."""
    version: int = TX_VERSION
    """Format version of the body."""

    def to_value(self) -> dict[str, codec.Value]:
        """The map that is canonically encoded and signed."""
        return {
            "v": self.version,
            "chain_id": self.chain_id,
            "sender": self.sender,
            "contract": self.contract,
            "method": self.method,
            "args": self.args,
            "nonce": self.nonce,
            "ts": self.timestamp_ms,
            "exp": self.expires_ms,
        }


@dataclass(frozen=True, slots=True)
class Endorsement:
    """One signature over the payload bytes."""

    signer: bytes
    """A 32-byte certificate id of a registered certificate, or a DER certificate."""
    signature: bytes
    """The signer's signature (DER ECDSA or SM2) over the payload bytes."""

    @property
    def is_cert_id(self) -> bool:
        """True if ``signer`` names a registered certificate by id."""
        return len(self.signer) == CERT_ID_BYTES


@dataclass(frozen=True, slots=True)
class Tx:
    """A transaction as received: the signed bytes, the parsed body, the id."""

    payload: bytes
    """The exact bytes every endorsement signs (canonical encoding of ``body``)."""
    body: TxBody
    """The decoded payload."""
    endorsements: tuple[Endorsement, ...]
    """The sender's signature first, then any co-signers'."""
    id: bytes
    """Chain hash of ``payload``."""
    encoded: bytes
    """The canonical wire encoding of the whole transaction."""


def encode_tx_body(body: TxBody) -> bytes:
    """Canonical payload bytes of ``body`` (validates argument types and sizes)."""
    payload = codec.encode(body.to_value())
    _check_payload_limits(body, payload)
    return payload


_BODY_KEYS_BYTES = 1 + sum(
    1 + len(key)
    for key in ("v", "chain_id", "sender", "contract", "method", "args", "nonce", "ts", "exp")
)
"""The payload map's head (9 entries: one byte) and its 9 keys (text of under 24 bytes: one head
byte each), in bytes."""


def args_encoded_size(tx: Tx) -> int:
    """Bytes of the canonical encoding of ``tx.body.args``, read off the payload, not re-encoded.

    ``tx.payload`` is the canonical encoding of ``tx.body.to_value()``
    (``decode_tx`` accepts nothing else, and every ``Tx`` comes from it), a
    map of exactly nine known keys whose other values are small ints, text and
    byte strings: the args take the payload's length minus the map head, the
    keys and those values, each sized from its length alone. Contract
    execution charges gas by this size, so it must be, and is tested to be,
    byte-exact with ``len(codec.encode(tx.body.args))``.
    """
    body = tx.body
    return (
        len(tx.payload)
        - _BODY_KEYS_BYTES
        - _int_bytes(body.version)
        - _int_bytes(body.timestamp_ms)
        - _int_bytes(body.expires_ms)
        - _string_bytes(len(body.chain_id.encode("utf-8")))
        - _string_bytes(len(body.contract.encode("utf-8")))
        - _string_bytes(len(body.method.encode("utf-8")))
        - _string_bytes(len(body.sender))
        - _string_bytes(len(body.nonce))
    )


def _head_bytes(argument: int) -> int:
    """Length of a canonical CBOR head carrying ``argument`` (0 to 2**64 - 1)."""
    if argument < 24:
        return 1
    if argument < 1 << 8:
        return 2
    if argument < 1 << 16:
        return 3
    if argument < 1 << 32:
        return 5
    return 9


def _int_bytes(value: int) -> int:
    """Encoded length of an int the payload holds (negative ones carry ``-1 - value``)."""
    return _head_bytes(value if value >= 0 else -1 - value)


def _string_bytes(length: int) -> int:
    """Encoded length of a text or byte string of ``length`` bytes."""
    return _head_bytes(length) + length


def make_tx(
    hash_fn: Callable[[bytes], bytes], payload: bytes, endorsements: tuple[Endorsement, ...]
) -> Tx:
    """Assemble a transaction from payload bytes and endorsements (used by signers)."""
    wire: list[codec.Value] = [payload, [[e.signer, e.signature] for e in endorsements]]
    return decode_tx(codec.encode_trusted(wire), hash_fn)


def decode_tx(data: bytes, hash_fn: Callable[[bytes], bytes], max_bytes: int = TX_BYTES_MAX) -> Tx:
    """Parse wire bytes into a ``Tx``; anything malformed raises ``InvalidInput``.

    Only the canonical encoding of ``[payload, [[signer, signature], ...]]``
    is accepted: the same bytes ``codec.decode`` accepts for that shape.
    """
    if len(data) > max_bytes:
        raise TooLarge(f"encoded value is {len(data)} bytes, limit {max_bytes}")
    payload, raw_endorsements = _parse_wire(data)
    body = _decode_body(payload)
    endorsements = _decode_endorsements(raw_endorsements)
    return Tx(
        payload=payload, body=body, endorsements=endorsements, id=hash_fn(payload), encoded=data
    )


_MAJOR_BYTES = 2
_MAJOR_ARRAY = 4
_HEAD_VALUE_MIN = {24: 24, 25: 1 << 8, 26: 1 << 16, 27: 1 << 32}
"""Smallest value each long head form may carry (smaller ones have a shorter, canonical form)."""


def _parse_wire(data: bytes) -> tuple[bytes, list[list[bytes]]]:
    """``(payload, [[signer, signature], ...])`` from the outer canonical CBOR, or ``DecodeError``."""
    count, pos = _read_head(data, 0, _MAJOR_ARRAY)
    if count != 2:
        raise DecodeError("a transaction is a list [payload, endorsements]")
    payload, pos = _read_bytes(data, pos, "transaction payload must be a byte string")
    count, pos = _read_head(data, pos, _MAJOR_ARRAY, "a transaction needs at least one endorsement")
    if count > ENDORSEMENTS_MAX:
        raise TooLarge(f"{count} endorsements, limit {ENDORSEMENTS_MAX}")
    shape = "an endorsement is a list [signer, signature] of byte strings"
    endorsements = []
    for _ in range(count):
        pair, pos = _read_head(data, pos, _MAJOR_ARRAY, shape)
        if pair != 2:
            raise DecodeError(shape)
        signer, pos = _read_bytes(data, pos, shape)
        signature, pos = _read_bytes(data, pos, shape)
        endorsements.append([signer, signature])
    if pos != len(data):
        raise DecodeError("encoding is not canonical or has trailing bytes")
    return payload, endorsements


def _read_head(
    data: bytes, pos: int, major: int, wrong_type: str = "not a canonical transaction"
) -> tuple[int, int]:
    """The argument of the CBOR head at ``pos`` (of type ``major``) and the position after it."""
    if pos >= len(data):
        raise DecodeError("not valid CBOR: the transaction ends early")
    initial = data[pos]
    if initial >> 5 != major:
        raise DecodeError(wrong_type)
    info = initial & 0x1F
    if info < 24:
        return info, pos + 1
    if info > 27:
        raise DecodeError("encoding is not canonical (indefinite length or reserved head)")
    end = pos + 1 + (1 << (info - 24))
    if end > len(data):
        raise DecodeError("not valid CBOR: the transaction ends early")
    value = int.from_bytes(data[pos + 1 : end], "big")
    if value < _HEAD_VALUE_MIN[info]:
        raise DecodeError("encoding is not canonical (a length in a longer form than needed)")
    return value, end


def _read_bytes(data: bytes, pos: int, wrong_type: str) -> tuple[bytes, int]:
    """The byte string at ``pos`` and the position after it."""
    length, pos = _read_head(data, pos, _MAJOR_BYTES, wrong_type)
    end = pos + length
    if end > len(data):
        raise DecodeError("not valid CBOR: the transaction ends early")
    return data[pos:end], end


def _decode_body(payload: bytes) -> TxBody:
    value = codec.decode(payload, TX_BYTES_MAX)
    if not isinstance(value, dict):
        raise DecodeError("transaction body must be a map")
    expected = {"v", "chain_id", "sender", "contract", "method", "args", "nonce", "ts", "exp"}
    if set(value) != expected:
        missing, extra = sorted(expected - set(value)), sorted(set(value) - expected)
        raise DecodeError(f"transaction body fields wrong: missing {missing}, unexpected {extra}")
    body = TxBody(
        version=_field(value, "v", int),
        chain_id=_field(value, "chain_id", str),
        sender=_field(value, "sender", bytes),
        contract=_field(value, "contract", str),
        method=_field(value, "method", str),
        args=_field(value, "args", dict),
        nonce=_field(value, "nonce", bytes),
        timestamp_ms=_field(value, "ts", int),
        expires_ms=_field(value, "exp", int),
    )
    _check_payload_limits(body, payload)
    return body


def _field(value: dict[str, Any], name: str, kind: type) -> Any:
    item = value[name]
    if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
        raise DecodeError(f"transaction field {name!r} must be {kind.__name__}")
    return item


def _check_payload_limits(body: TxBody, payload: bytes) -> None:
    if body.version != TX_VERSION:
        raise InvalidTransaction(f"transaction version {body.version} is not supported")
    if len(body.sender) != CERT_ID_BYTES:
        raise DecodeError("sender must be a 32-byte certificate id")
    for label, name in (
        ("chain id", body.chain_id),
        ("contract", body.contract),
        ("method", body.method),
    ):
        if not name or len(name) > NAME_CHARS_MAX:
            raise DecodeError(f"{label} must be 1 to {NAME_CHARS_MAX} characters")
    if len(body.nonce) > NONCE_BYTES_MAX:
        raise TooLarge(f"nonce is {len(body.nonce)} bytes, limit {NONCE_BYTES_MAX}")
    if len(payload) > ARGS_BYTES_MAX + 1024:
        raise TooLarge(
            f"transaction payload is {len(payload)} bytes, limit {ARGS_BYTES_MAX + 1024}"
        )
    if body.expires_ms < body.timestamp_ms:
        raise InvalidTransaction("transaction expires before it was created")


def _decode_endorsements(raw: list[list[bytes]]) -> tuple[Endorsement, ...]:
    if not raw:
        raise DecodeError("a transaction needs at least one endorsement")
    result = []
    for signer, signature in raw:
        if (
            not signer
            or len(signer) > CERT_BYTES_MAX
            or not signature
            or len(signature) > SIGNATURE_BYTES_MAX
        ):
            raise DecodeError("endorsement signer or signature has an impossible size")
        result.append(Endorsement(signer=signer, signature=signature))
    return tuple(result)
