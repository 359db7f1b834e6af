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


def make_tx(
    hash_fn: Callable[[bytes], bytes], payload: bytes, endorsements: tuple[Endorsement, ...]
) -> Tx:
    """Assemble a transaction from payload bytes and endorsements (used by signers)."""
    wire: list[codec.Value] = [payload, [[e.signer, e.signature] for e in endorsements]]
    return decode_tx(codec.encode_trusted(wire), hash_fn)


def decode_tx(data: bytes, hash_fn: Callable[[bytes], bytes], max_bytes: int = TX_BYTES_MAX) -> Tx:
    """Parse wire bytes into a ``Tx``; anything malformed raises ``InvalidInput``."""
    value = codec.decode(data, max_bytes)
    if not isinstance(value, list) or len(value) != 2:
        raise DecodeError("a transaction is a list [payload, endorsements]")
    payload, raw_endorsements = value
    if not isinstance(payload, bytes):
        raise DecodeError("transaction payload must be a byte string")
    body = _decode_body(payload)
    endorsements = _decode_endorsements(raw_endorsements)
    return Tx(
        payload=payload, body=body, endorsements=endorsements, id=hash_fn(payload), encoded=data
    )


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


def _decode_endorsements(raw: object) -> tuple[Endorsement, ...]:
    if not isinstance(raw, list) or not raw:
        raise DecodeError("a transaction needs at least one endorsement")
    if len(raw) > ENDORSEMENTS_MAX:
        raise TooLarge(f"{len(raw)} endorsements, limit {ENDORSEMENTS_MAX}")
    result = []
    for item in raw:
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(x, bytes) for x in item)
        ):
            raise DecodeError("an endorsement is a list [signer, signature] of byte strings")
        signer, signature = item
        if (
            not signer
            or len(signer) > CERT_BYTES_MAX
            or not signature
            or len(signature) > SIGNATURE_BYTES_MAX
        ):
            raise DecodeError("endorsement signer or signature has an impossible size")
        result.append(Endorsement(signer=signer, signature=signature))
    return tuple(result)
