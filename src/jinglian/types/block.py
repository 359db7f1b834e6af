"""Blocks, headers, commits, receipts and events.

The block hash is the chain hash of the header's canonical encoding. A header
commits to its transactions (``tx_root``: RFC 6962 Merkle root over the
transactions' wire bytes), to their outcomes (``receipt_root``: the same over
encoded receipts), to the world state *after* the block (``state_root``: root
of the sparse Merkle state tree) and to the validator set that signs it
(``validators_hash``). A ``Commit`` is the set of precommit signatures over
``vote_sign_bytes``; 2f+1 of them (one for ``solo``) make the block final.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jinglian.types import codec
from jinglian.types.errors import DecodeError
from jinglian.types.tx import TX_BYTES_MAX, Tx, decode_tx

__all__ = [
    "BLOCK_BYTES_MAX",
    "BLOCK_TXS_MAX",
    "HASH_BYTES",
    "HEADER_VERSION",
    "Block",
    "Commit",
    "CommitSignature",
    "Event",
    "Header",
    "Receipt",
    "decode_block",
    "decode_commit",
    "decode_header",
    "decode_receipt",
    "encode_block",
    "encode_commit",
    "encode_header",
    "encode_receipt",
    "vote_sign_bytes",
]

HEADER_VERSION = 1
HASH_BYTES = 32
BLOCK_TXS_MAX = 20_000
"""Hard upper bound on transactions per block; the chain parameter may be lower."""
BLOCK_BYTES_MAX = 64 * 1024 * 1024
COMMIT_SIGNATURES_MAX = 1024
EVENTS_PER_RECEIPT_MAX = 256
RECEIPT_BYTES_MAX = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Header:
    """The part of a block that is hashed and signed."""

    chain_id: str
    """Chain the block belongs to."""
    height: int
    """1 for the first block after genesis."""
    time_ms: int
    """Block time (Unix ms) chosen by the proposer; strictly increasing."""
    prev_hash: bytes
    """Hash of the previous header; the genesis hash for height 1."""
    tx_root: bytes
    """RFC 6962 Merkle root over the transactions' wire bytes."""
    receipt_root: bytes
    """RFC 6962 Merkle root over the encoded receipts, in transaction order."""
    state_root: bytes
    """Root of the state tree after this block's transactions."""
    validators_hash: bytes
    """Hash of the validator set that must commit this block."""
    proposer: bytes
    """Validator id (certificate id) of the proposer."""
    tx_count: int
    """Number of transactions in the block."""
    version: int = HEADER_VERSION
    """Header format version."""

    def to_value(self) -> dict[str, codec.Value]:
        """The map whose canonical encoding is hashed."""
        return {
            "v": self.version,
            "chain_id": self.chain_id,
            "height": self.height,
            "time": self.time_ms,
            "prev": self.prev_hash,
            "tx_root": self.tx_root,
            "receipt_root": self.receipt_root,
            "state_root": self.state_root,
            "validators": self.validators_hash,
            "proposer": self.proposer,
            "tx_count": self.tx_count,
        }


@dataclass(frozen=True, slots=True)
class CommitSignature:
    """One validator's precommit signature."""

    validator: bytes
    """Validator id (certificate id of its signing certificate)."""
    signature: bytes
    """Signature over ``vote_sign_bytes`` for the committed block."""


@dataclass(frozen=True, slots=True)
class Commit:
    """Proof that the validators finalised a block."""

    height: int
    """Height of the committed block."""
    round: int
    """Consensus round in which it was committed (0 for ``solo``)."""
    block_hash: bytes
    """Hash of the committed header."""
    signatures: tuple[CommitSignature, ...]
    """Precommit signatures, sorted by validator id."""


@dataclass(frozen=True, slots=True)
class Block:
    """A header and the transactions it commits to."""

    header: Header
    """The block header."""
    txs: tuple[Tx, ...]
    """Transactions in execution order."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something a contract announced while executing."""

    contract: str
    """Emitting contract."""
    topic: str
    """Contract-chosen topic."""
    data: Any
    """Contract-chosen value in the codec's data model."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one transaction."""

    tx_id: bytes
    """Id of the transaction."""
    status: str
    """``"ok"`` or the error code of the failure (e.g. ``"out_of_gas"``)."""
    result: Any
    """The method's return value on success, ``None`` on failure."""
    error: str
    """Human-readable failure reason; empty on success."""
    gas_used: int
    """Gas the call consumed (also on failure)."""
    events: tuple[Event, ...]
    """Events emitted; empty on failure."""

    @property
    def ok(self) -> bool:
        """True if the transaction succeeded."""
        return self.status == "ok"


def vote_sign_bytes(
    chain_id: str, height: int, round_: int, block_hash: bytes, kind: str = "precommit"
) -> bytes:
    """The bytes a validator signs for a vote (a commit signature is a precommit)."""
    return codec.encode_trusted(
        {"type": kind, "chain_id": chain_id, "height": height, "round": round_, "block": block_hash}
    )


def encode_header(header: Header) -> bytes:
    """Canonical bytes of a header (hash these for the block hash)."""
    return codec.encode_trusted(header.to_value())


def decode_header(data: bytes | object) -> Header:
    """Parse a header from bytes or from an already decoded map."""
    value = codec.decode(data, 4096) if isinstance(data, bytes) else data
    if not isinstance(value, dict) or set(value) != set(_HEADER_TYPES):
        raise DecodeError("header fields are missing or unexpected")
    for name, kind in _HEADER_TYPES.items():
        if not isinstance(value[name], kind) or isinstance(value[name], bool):
            raise DecodeError(f"header field {name!r} must be {kind.__name__}")
    for name in ("prev", "tx_root", "receipt_root", "state_root", "validators"):
        if len(value[name]) != HASH_BYTES:
            raise DecodeError(f"header field {name!r} must be {HASH_BYTES} bytes")
    if value["v"] != HEADER_VERSION:
        raise DecodeError(f"header version {value['v']} is not supported")
    return Header(
        version=value["v"],
        chain_id=value["chain_id"],
        height=value["height"],
        time_ms=value["time"],
        prev_hash=value["prev"],
        tx_root=value["tx_root"],
        receipt_root=value["receipt_root"],
        state_root=value["state_root"],
        validators_hash=value["validators"],
        proposer=value["proposer"],
        tx_count=value["tx_count"],
    )


_HEADER_TYPES: dict[str, type] = {
    "v": int,
    "chain_id": str,
    "height": int,
    "time": int,
    "prev": bytes,
    "tx_root": bytes,
    "receipt_root": bytes,
    "state_root": bytes,
    "validators": bytes,
    "proposer": bytes,
    "tx_count": int,
}


def commit_to_value(commit: Commit) -> dict[str, codec.Value]:
    """The map form of a commit."""
    return {
        "height": commit.height,
        "round": commit.round,
        "block": commit.block_hash,
        "sigs": [[s.validator, s.signature] for s in commit.signatures],
    }


def encode_commit(commit: Commit) -> bytes:
    """Canonical bytes of a commit."""
    return codec.encode_trusted(commit_to_value(commit))


def decode_commit(data: bytes | object) -> Commit:
    """Parse a commit from bytes or from an already decoded map."""
    value = codec.decode(data, 256 * 1024) if isinstance(data, bytes) else data
    if not isinstance(value, dict) or set(value) != {"height", "round", "block", "sigs"}:
        raise DecodeError("commit fields are missing or unexpected")
    height, round_, block, sigs = value["height"], value["round"], value["block"], value["sigs"]
    if not (isinstance(height, int) and isinstance(round_, int) and isinstance(block, bytes)):
        raise DecodeError("commit height, round or block hash has the wrong type")
    if not isinstance(sigs, list) or len(sigs) > COMMIT_SIGNATURES_MAX:
        raise DecodeError("commit signatures must be a bounded list")
    signatures = []
    for item in sigs:
        if not (
            isinstance(item, list) and len(item) == 2 and all(isinstance(x, bytes) for x in item)
        ):
            raise DecodeError("a commit signature is [validator, signature]")
        signatures.append(CommitSignature(validator=item[0], signature=item[1]))
    return Commit(height=height, round=round_, block_hash=block, signatures=tuple(signatures))


def encode_block(block: Block) -> bytes:
    """Canonical bytes of a block: ``[header map, [tx wire bytes...]]``."""
    return codec.encode_trusted([block.header.to_value(), [tx.encoded for tx in block.txs]])


def decode_block(data: bytes, hash_fn: Callable[[bytes], bytes]) -> Block:
    """Parse a block, decoding and hashing every transaction."""
    value = codec.decode(data, BLOCK_BYTES_MAX)
    if not isinstance(value, list) or len(value) != 2 or not isinstance(value[1], list):
        raise DecodeError("a block is [header, [transactions]]")
    header = decode_header(value[0])
    if len(value[1]) > BLOCK_TXS_MAX or len(value[1]) != header.tx_count:
        raise DecodeError("block transaction count is wrong or over the limit")
    txs = []
    for raw in value[1]:
        if not isinstance(raw, bytes):
            raise DecodeError("block transactions must be byte strings")
        txs.append(decode_tx(raw, hash_fn, TX_BYTES_MAX))
    return Block(header=header, txs=tuple(txs))


def receipt_to_value(receipt: Receipt) -> dict[str, codec.Value]:
    """The map form of a receipt (its canonical encoding is the Merkle leaf)."""
    return {
        "tx": receipt.tx_id,
        "status": receipt.status,
        "result": receipt.result,
        "error": receipt.error,
        "gas": receipt.gas_used,
        "events": [[e.contract, e.topic, e.data] for e in receipt.events],
    }


def encode_receipt(receipt: Receipt) -> bytes:
    """Canonical bytes of a receipt."""
    return codec.encode_trusted(receipt_to_value(receipt))


def decode_receipt(data: bytes) -> Receipt:
    """Parse a receipt."""
    value = codec.decode(data, RECEIPT_BYTES_MAX)
    expected = {"tx", "status", "result", "error", "gas", "events"}
    if not isinstance(value, dict) or set(value) != expected:
        raise DecodeError("receipt fields are missing or unexpected")
    events = value["events"]
    if not isinstance(events, list) or len(events) > EVENTS_PER_RECEIPT_MAX:
        raise DecodeError("receipt events must be a bounded list")
    parsed = []
    for item in events:
        if not (
            isinstance(item, list)
            and len(item) == 3
            and isinstance(item[0], str)
            and isinstance(item[1], str)
        ):
            raise DecodeError("an event is [contract, topic, data]")
        parsed.append(Event(contract=item[0], topic=item[1], data=item[2]))
    if not (
        isinstance(value["tx"], bytes)
        and isinstance(value["status"], str)
        and isinstance(value["gas"], int)
    ):
        raise DecodeError("receipt tx, status or gas has the wrong type")
    if not isinstance(value["error"], str):
        raise DecodeError("receipt error must be text")
    return Receipt(
        tx_id=value["tx"],
        status=value["status"],
        result=value["result"],
        error=value["error"],
        gas_used=value["gas"],
        events=tuple(parsed),
    )
