"""What the indexer reads from a node: one block, its transactions and their events.

The node renders blocks and transaction records as JSON (``docs/api.md``);
``parse_block`` and ``parse_tx_record`` turn them into these frozen values
and check that they fit together (a transaction record names the block's
height, index and hash). Anything malformed raises ``DecodeError`` or
``InvalidBlock``, never ``KeyError``: a node's answer is input from outside.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinglian.client.records import field, parse_hex
from jinglian.types.errors import DecodeError, InvalidBlock

__all__ = [
    "BlockInfo",
    "EventInfo",
    "IndexedBlock",
    "TxInfo",
    "parse_block",
    "parse_tx_record",
]

HASH_HEX_CHARS = 64
"""Hex characters of a 32-byte hash or id (SHA-256 and SM3 alike)."""


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """A committed block's header fields the index keeps."""

    height: int
    """Block height, from 1."""
    hash: str
    """Hex header hash."""
    prev_hash: str
    """Hex hash of the block before (the genesis hash for block 1)."""
    time_ms: int
    """Proposer's time, Unix milliseconds."""
    tx_count: int
    """Transactions in the block."""
    proposer: str
    """Hex validator id of the proposer."""
    tx_ids: tuple[str, ...]
    """Hex transaction ids in block order."""


@dataclass(frozen=True, slots=True)
class EventInfo:
    """One contract event of a transaction's receipt."""

    number: int
    """Position of the event in its transaction's receipt, from 0."""
    contract: str
    """Contract that emitted it."""
    topic: str
    """Event topic."""
    data: Any
    """Event data in the codec's JSON form (byte strings as ``{"$bytes": ...}``)."""


@dataclass(frozen=True, slots=True)
class TxInfo:
    """One committed transaction with its receipt."""

    id: str
    """Hex transaction id."""
    height: int
    """Height of its block."""
    index: int
    """Position in its block, from 0."""
    contract: str
    """Contract called."""
    method: str
    """Method called."""
    sender: str
    """Hex certificate id of the sender."""
    status: str
    """``ok`` or the error code of the failure."""
    error: str
    """Failure message, empty on success."""
    gas_used: int
    """Gas the transaction used."""
    events: tuple[EventInfo, ...]
    """Events of the receipt, in order."""


@dataclass(frozen=True, slots=True)
class IndexedBlock:
    """A block with all its transactions, as written to the index in one transaction."""

    block: BlockInfo
    """The block."""
    txs: tuple[TxInfo, ...]
    """Its transactions in block order."""


def _hash(obj: Mapping[str, Any], name: str, where: str) -> str:
    text = field(obj, name, str, where)
    if len(text) != HASH_HEX_CHARS:
        raise DecodeError(f"{where}.{name} must be {HASH_HEX_CHARS} hex characters")
    parse_hex(text, f"{where}.{name}")
    return text.lower()


def parse_block(record: object, height: int) -> BlockInfo:
    """The block record ``GET /blocks/{height}`` answered, checked to be at ``height``."""
    where = f"block {height}"
    if not isinstance(record, Mapping):
        raise DecodeError(f"{where}: the node's answer is not a JSON object")
    header = field(record, "header", dict, where)
    tx_ids = field(record, "tx_ids", list, where)
    block = BlockInfo(
        height=field(header, "height", int, f"{where}.header"),
        hash=_hash(record, "hash", where),
        prev_hash=_hash(header, "prev_hash", f"{where}.header"),
        time_ms=field(header, "time_ms", int, f"{where}.header"),
        tx_count=field(header, "tx_count", int, f"{where}.header"),
        proposer=_hash(header, "proposer", f"{where}.header"),
        tx_ids=tuple(_hash({"id": t}, "id", f"{where}.tx_ids") for t in tx_ids),
    )
    if block.height != height or field(record, "height", int, where) != height:
        raise InvalidBlock(f"asked the node for block {height}, it sent block {block.height}")
    if block.tx_count != len(block.tx_ids):
        raise InvalidBlock(
            f"{where}: header counts {block.tx_count} transactions, the block lists "
            f"{len(block.tx_ids)}"
        )
    return block


def parse_tx_record(record: object, block: BlockInfo, index: int) -> TxInfo:
    """The record ``GET /txs/{id}`` answered for ``block``'s transaction at ``index``."""
    where = f"block {block.height} tx {index}"
    if not isinstance(record, Mapping):
        raise DecodeError(f"{where}: the node's answer is not a JSON object")
    body = field(record, "body", dict, where)
    receipt = field(record, "receipt", dict, where)
    tx = TxInfo(
        id=_hash(record, "id", where),
        height=field(record, "height", int, where),
        index=field(record, "index", int, where),
        contract=field(body, "contract", str, f"{where}.body"),
        method=field(body, "method", str, f"{where}.body"),
        sender=_hash(body, "sender", f"{where}.body"),
        status=field(receipt, "status", str, f"{where}.receipt"),
        error=field(receipt, "error", str, f"{where}.receipt"),
        gas_used=field(receipt, "gas_used", int, f"{where}.receipt"),
        events=tuple(
            _parse_event(e, n, f"{where}.receipt.events[{n}]")
            for n, e in enumerate(field(receipt, "events", list, f"{where}.receipt"))
        ),
    )
    placed = (tx.id, tx.height, tx.index, _hash(record, "block_hash", where))
    if placed != (block.tx_ids[index], block.height, index, block.hash):
        raise InvalidBlock(
            f"{where}: the node's transaction record does not match the block "
            f"(id {tx.id}, height {tx.height}, index {tx.index})"
        )
    return tx


def _parse_event(obj: object, number: int, where: str) -> EventInfo:
    if not isinstance(obj, Mapping):
        raise DecodeError(f"{where} must be a JSON object")
    if "data" not in obj:
        raise DecodeError(f"{where}: field 'data' is missing")
    return EventInfo(
        number=number,
        contract=field(obj, "contract", str, where),
        topic=field(obj, "topic", str, where),
        data=obj["data"],
    )
