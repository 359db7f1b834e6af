"""Parse the API's JSON records back into jinglian values, and the SDK's result types.

The node renders records as JSON (``docs/api.md``); these functions rebuild
the exact values (``Header``, ``Commit``, ``Receipt``, ``TxBody``) so the
client can re-hash and re-verify them. Anything malformed raises
``DecodeError`` naming the field, never ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from jinglian.types import Commit, Event, Header, Receipt, TxBody, decode_commit, decode_header
from jinglian.types.errors import DecodeError, InvalidInput
from jinglian.types.jsonval import from_json

__all__ = [
    "QueryResponse",
    "StateValue",
    "TxResult",
    "field",
    "parse_b64",
    "parse_commit",
    "parse_header",
    "parse_hex",
    "parse_receipt",
    "parse_tx_body",
]

T = TypeVar("T")


def field(obj: Any, name: str, kind: type[T], where: str) -> T:
    """``obj[name]`` if it is a ``kind``, else ``DecodeError`` naming ``where.name``."""
    if not isinstance(obj, Mapping) or name not in obj:
        raise DecodeError(f"{where}: field {name!r} is missing")
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DecodeError(f"{where}.{name} must be {kind.__name__}")
    return value


def parse_hex(text: object, where: str) -> bytes:
    """Bytes from hex text."""
    if not isinstance(text, str):
        raise DecodeError(f"{where} must be hex text")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise DecodeError(f"{where} is not valid hex") from exc


def parse_b64(text: object, where: str) -> bytes:
    """Bytes from standard base64 text."""
    if not isinstance(text, str):
        raise DecodeError(f"{where} must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"{where} is not valid base64") from exc


def _codec_value(value: Any, where: str) -> Any:
    try:
        return from_json(value)
    except InvalidInput as exc:
        raise DecodeError(f"{where}: {exc}") from exc


def parse_header(obj: object) -> Header:
    """The header a ``render_header`` JSON object describes."""
    w = "header"
    value = {
        "v": field(obj, "version", int, w),
        "chain_id": field(obj, "chain_id", str, w),
        "height": field(obj, "height", int, w),
        "time": field(obj, "time_ms", int, w),
        "prev": parse_hex(field(obj, "prev_hash", str, w), "header.prev_hash"),
        "tx_root": parse_hex(field(obj, "tx_root", str, w), "header.tx_root"),
        "receipt_root": parse_hex(field(obj, "receipt_root", str, w), "header.receipt_root"),
        "state_root": parse_hex(field(obj, "state_root", str, w), "header.state_root"),
        "validators": parse_hex(field(obj, "validators_hash", str, w), "header.validators_hash"),
        "proposer": parse_hex(field(obj, "proposer", str, w), "header.proposer"),
        "tx_count": field(obj, "tx_count", int, w),
    }
    return decode_header(value)


def parse_commit(obj: object) -> Commit:
    """The commit a ``render_commit`` JSON object describes."""
    w = "commit"
    signatures = field(obj, "signatures", list, w)
    value = {
        "height": field(obj, "height", int, w),
        "round": field(obj, "round", int, w),
        "block": parse_hex(field(obj, "block_hash", str, w), "commit.block_hash"),
        "sigs": [
            [
                parse_hex(field(s, "validator", str, "commit.signatures"), "validator"),
                parse_b64(field(s, "signature", str, "commit.signatures"), "signature"),
            ]
            for s in signatures
        ],
    }
    return decode_commit(value)


def parse_receipt(obj: object) -> Receipt:
    """The receipt a ``render_receipt`` JSON object describes."""
    w = "receipt"
    events = [
        Event(
            contract=field(e, "contract", str, "receipt.events"),
            topic=field(e, "topic", str, "receipt.events"),
            data=_codec_value(e.get("data") if isinstance(e, Mapping) else None, "event data"),
        )
        for e in field(obj, "events", list, w)
    ]
    assert isinstance(obj, Mapping)
    return Receipt(
        tx_id=parse_hex(field(obj, "tx_id", str, w), "receipt.tx_id"),
        status=field(obj, "status", str, w),
        result=_codec_value(obj.get("result"), "receipt.result"),
        error=field(obj, "error", str, w),
        gas_used=field(obj, "gas_used", int, w),
        events=tuple(events),
    )


def parse_tx_body(obj: object) -> TxBody:
    """The body a ``render_tx_body`` JSON object describes."""
    w = "body"
    return TxBody(
        version=field(obj, "version", int, w),
        chain_id=field(obj, "chain_id", str, w),
        sender=parse_hex(field(obj, "sender", str, w), "body.sender"),
        contract=field(obj, "contract", str, w),
        method=field(obj, "method", str, w),
        args=_codec_value(field(obj, "args", dict, w), "body.args"),
        nonce=parse_hex(field(obj, "nonce", str, w), "body.nonce"),
        timestamp_ms=field(obj, "ts", int, w),
        expires_ms=field(obj, "exp", int, w),
    )


def _optional(obj: Mapping[str, Any], name: str, parse: Callable[[Any], T]) -> T | None:
    value = obj.get(name)
    return None if value is None else parse(value)


@dataclass(frozen=True, slots=True)
class TxResult:
    """A transaction's outcome as the SDK returns it."""

    id: str
    """Hex transaction id."""
    status: str
    """``ok``, an error code such as ``contract_failed``, or ``pending`` if not waited for."""
    result: Any
    """The method's return value (codec value) on success."""
    error: str
    """Failure reason; empty on success."""
    gas_used: int
    """Gas the call consumed."""
    events: tuple[Event, ...]
    """Events the call emitted."""
    height: int | None
    """Block height, None while pending."""
    index: int | None
    """Position in the block, None while pending."""
    block_hash: str | None
    """Hex hash of the block, None while pending."""
    record: Mapping[str, Any] | None
    """The full JSON record (with proofs) from the node."""
    verified: bool = False
    """True if the record was verified against the genesis file."""

    @property
    def ok(self) -> bool:
        """True if the transaction committed successfully."""
        return self.status == "ok"

    @classmethod
    def pending(cls, tx_id: str) -> TxResult:
        """A submitted transaction not waited for."""
        return cls(tx_id, "pending", None, "", 0, (), None, None, None, None)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], verified: bool = False) -> TxResult:
        """Build from a ``GET /txs/{id}`` JSON record."""
        receipt = parse_receipt(field(record, "receipt", dict, "record"))
        return cls(
            id=field(record, "id", str, "record"),
            status=receipt.status,
            result=receipt.result,
            error=receipt.error,
            gas_used=receipt.gas_used,
            events=receipt.events,
            height=field(record, "height", int, "record"),
            index=field(record, "index", int, "record"),
            block_hash=field(record, "block_hash", str, "record"),
            record=record,
            verified=verified,
        )


@dataclass(frozen=True, slots=True)
class QueryResponse:
    """A query's value."""

    value: Any
    """The returned codec value."""
    height: int
    """The height whose state was read."""
    gas_used: int
    """Gas the query consumed."""
    record: Mapping[str, Any]
    """The full JSON response (with reads and proofs when asked)."""
    verified: bool = False
    """True if every read was verified against the genesis file."""

    @classmethod
    def from_record(cls, record: Mapping[str, Any], verified: bool = False) -> QueryResponse:
        """Build from a ``POST /query`` JSON response."""
        return cls(
            value=_codec_value(record.get("value"), "value"),
            height=field(record, "height", int, "query"),
            gas_used=field(record, "gas_used", int, "query"),
            record=record,
            verified=verified,
        )


@dataclass(frozen=True, slots=True)
class StateValue:
    """One contract state entry."""

    contract: str
    """The contract owning the entry."""
    key: str
    """The contract's key."""
    value: Any
    """The stored codec value, None if absent."""
    raw: bytes | None
    """The stored canonical CBOR bytes, None if absent."""
    height: int
    """The height whose state was read."""
    record: Mapping[str, Any]
    """The full JSON response (with proof, header and commit)."""
    verified: bool = False
    """True if the proof was verified against the genesis file."""

    @property
    def exists(self) -> bool:
        """True if the key holds a value."""
        return self.raw is not None

    @classmethod
    def from_record(cls, record: Mapping[str, Any], verified: bool = False) -> StateValue:
        """Build from a ``GET /state/{contract}/{key}`` JSON response."""
        return cls(
            contract=field(record, "contract", str, "state"),
            key=field(record, "key", str, "state"),
            value=_codec_value(record.get("decoded"), "state.decoded"),
            raw=_optional(record, "value", lambda v: parse_b64(v, "state.value")),
            height=field(record, "height", int, "state"),
            record=record,
            verified=verified,
        )
