"""What member nodes say to each other: the message types of the peer wire.

Each frame (see :mod:`~jinglian.network.framing`) carries one message: a type
byte and a canonical CBOR payload. Decoders check structure and bounds and
raise ``DecodeError`` or ``TooLarge``; a node drops a message that fails, logs
why and keeps the connection's peer in good standing only while it stays well
formed.

========  =================  ================================================
type      name               payload
========  =================  ================================================
1         ``STATUS``         ``{"height", "hash", "round"}``: the sender's
                             committed head and its consensus round
2         ``TXS``            ``[tx wire bytes, ...]``: transactions to gossip
3         ``PROPOSAL``       ``{"proposal", "header", "tx_ids"}``: a signed
                             proposal, its block header and the ids of the
                             block's transactions (the body goes by reference)
4         ``VOTE``           a signed prevote or precommit
5         ``GET_BLOCK``      ``{"hash"}``: send me the proposed block in full
6         ``BLOCK``          ``{"block"}``: a proposed block in full
7         ``SYNC_REQUEST``   ``{"from", "count"}``: committed blocks, please
8         ``SYNC_BLOCKS``    ``[[block, commit], ...]``: committed blocks
9         ``EVIDENCE``       ``[message, message]``: two conflicting signed
                             votes (or proposals) of one validator
========  =================  ================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from jinglian.types import (
    Block,
    Commit,
    Header,
    Tx,
    codec,
    decode_block,
    decode_commit,
    decode_header,
    decode_tx,
    encode_block,
    encode_commit,
)
from jinglian.types.block import BLOCK_BYTES_MAX, BLOCK_TXS_MAX, HASH_BYTES
from jinglian.types.consensus import (
    MESSAGE_BYTES_MAX,
    Proposal,
    Vote,
    decode_proposal,
    decode_vote,
    encode_proposal,
    encode_vote,
)
from jinglian.types.errors import DecodeError, TooLarge

__all__ = [
    "SYNC_BATCH_BYTES_MAX",
    "SYNC_BLOCKS_MAX",
    "TXS_BATCH_MAX",
    "BlockBody",
    "Evidence",
    "GetBlock",
    "MessageType",
    "ProposalMessage",
    "Status",
    "SyncBlocks",
    "SyncRequest",
    "decode_block_body",
    "decode_evidence",
    "decode_get_block",
    "decode_proposal_message",
    "decode_status",
    "decode_sync_blocks",
    "decode_sync_request",
    "decode_txs",
    "decode_vote_message",
    "encode_block_body",
    "encode_evidence",
    "encode_get_block",
    "encode_proposal_message",
    "encode_status",
    "encode_sync_blocks",
    "encode_sync_request",
    "encode_txs",
    "encode_vote_message",
]

TXS_BATCH_MAX = 2_000
"""The most transactions one ``TXS`` message carries."""
SYNC_BLOCKS_MAX = 64
"""The most blocks one ``SYNC_BLOCKS`` message carries (and one request asks for)."""
SYNC_BATCH_BYTES_MAX = 12 * 1024 * 1024
"""A sender stops adding blocks to a ``SYNC_BLOCKS`` message past this size."""
PAYLOAD_BYTES_MAX = 16 * 1024 * 1024 - 1
"""The most a payload can be (the frame bound)."""
SMALL_BYTES_MAX = 256
"""Bound of the small fixed messages (status, get-block, sync request)."""


class MessageType(IntEnum):
    """The type byte of a peer frame."""

    STATUS = 1
    TXS = 2
    PROPOSAL = 3
    VOTE = 4
    GET_BLOCK = 5
    BLOCK = 6
    SYNC_REQUEST = 7
    SYNC_BLOCKS = 8
    EVIDENCE = 9


@dataclass(frozen=True, slots=True)
class Status:
    """A node's committed head and consensus round, sent now and then and on change."""

    height: int
    hash: bytes
    round: int


@dataclass(frozen=True, slots=True)
class ProposalMessage:
    """A signed proposal with its header and the ids of its transactions."""

    proposal: Proposal
    header: Header
    tx_ids: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class GetBlock:
    """A request for a proposed block's full body."""

    block_hash: bytes


@dataclass(frozen=True, slots=True)
class SyncRequest:
    """A request for committed blocks ``from_height .. from_height + count - 1``."""

    from_height: int
    count: int


@dataclass(frozen=True, slots=True)
class SyncBlocks:
    """Committed blocks with their commit certificates, in height order."""

    blocks: tuple[tuple[Block, Commit], ...]


@dataclass(frozen=True, slots=True)
class Evidence:
    """Two conflicting signed messages of one validator."""

    first: Proposal | Vote
    second: Proposal | Vote


BlockBody = Block


# -- status --------------------------------------------------------------------------------------


def encode_status(status: Status) -> bytes:
    """Payload of a ``STATUS`` message."""
    return codec.encode_trusted(
        {"height": status.height, "hash": status.hash, "round": status.round}
    )


def decode_status(payload: bytes) -> Status:
    """Parse a ``STATUS`` payload."""
    value = _map(payload, SMALL_BYTES_MAX, {"height": int, "hash": bytes, "round": int}, "status")
    if value["height"] < 0 or value["round"] < 0 or len(value["hash"]) != HASH_BYTES:
        raise DecodeError("status height, round or hash is out of range")
    return Status(value["height"], value["hash"], value["round"])


# -- transactions -------------------------------------------------------------------------------


def encode_txs(txs: list[Tx]) -> bytes:
    """Payload of a ``TXS`` message (at most ``TXS_BATCH_MAX``)."""
    assert len(txs) <= TXS_BATCH_MAX, "split transaction batches"
    return codec.encode_trusted([tx.encoded for tx in txs])


def decode_txs(payload: bytes, hash_fn: Callable[[bytes], bytes]) -> list[Tx]:
    """Parse a ``TXS`` payload; every transaction is decoded (signatures are checked later)."""
    value = codec.decode(payload, PAYLOAD_BYTES_MAX)
    if not isinstance(value, list):
        raise DecodeError("a transaction batch is a list of byte strings")
    if len(value) > TXS_BATCH_MAX:
        raise TooLarge(f"a transaction batch holds at most {TXS_BATCH_MAX}")
    txs = []
    for raw in value:
        if not isinstance(raw, bytes):
            raise DecodeError("a transaction batch is a list of byte strings")
        txs.append(decode_tx(raw, hash_fn))
    return txs


# -- proposals and votes ------------------------------------------------------------------------


def encode_proposal_message(message: ProposalMessage) -> bytes:
    """Payload of a ``PROPOSAL`` message."""
    return codec.encode_trusted(
        {
            "proposal": encode_proposal(message.proposal),
            "header": message.header.to_value(),
            "tx_ids": list(message.tx_ids),
        }
    )


def decode_proposal_message(payload: bytes) -> ProposalMessage:
    """Parse a ``PROPOSAL`` payload."""
    value = _map(
        payload,
        BLOCK_TXS_MAX * (HASH_BYTES + 3) + 8192,
        {"proposal": bytes, "header": dict, "tx_ids": list},
        "proposal message",
    )
    if len(value["proposal"]) > MESSAGE_BYTES_MAX:
        raise TooLarge("proposal is over its size bound")
    header = decode_header(value["header"])
    tx_ids = value["tx_ids"]
    if len(tx_ids) != header.tx_count or len(tx_ids) > BLOCK_TXS_MAX:
        raise DecodeError("proposal transaction ids do not match the header's count")
    if not all(isinstance(i, bytes) and len(i) == HASH_BYTES for i in tx_ids):
        raise DecodeError("proposal transaction ids must be hashes")
    return ProposalMessage(decode_proposal(value["proposal"]), header, tuple(tx_ids))


def encode_vote_message(vote: Vote) -> bytes:
    """Payload of a ``VOTE`` message."""
    return encode_vote(vote)


def decode_vote_message(payload: bytes) -> Vote:
    """Parse a ``VOTE`` payload."""
    if len(payload) > MESSAGE_BYTES_MAX:
        raise TooLarge("vote is over its size bound")
    return decode_vote(payload)


# -- block bodies -------------------------------------------------------------------------------


def encode_get_block(request: GetBlock) -> bytes:
    """Payload of a ``GET_BLOCK`` message."""
    return codec.encode_trusted({"hash": request.block_hash})


def decode_get_block(payload: bytes) -> GetBlock:
    """Parse a ``GET_BLOCK`` payload."""
    value = _map(payload, SMALL_BYTES_MAX, {"hash": bytes}, "block request")
    if len(value["hash"]) != HASH_BYTES:
        raise DecodeError("block request hash has the wrong length")
    return GetBlock(value["hash"])


def encode_block_body(block: Block) -> bytes:
    """Payload of a ``BLOCK`` message."""
    return encode_block(block)


def decode_block_body(payload: bytes, hash_fn: Callable[[bytes], bytes]) -> Block:
    """Parse a ``BLOCK`` payload."""
    if len(payload) > BLOCK_BYTES_MAX:
        raise TooLarge("block is over its size bound")
    return decode_block(payload, hash_fn)


# -- block sync ---------------------------------------------------------------------------------


def encode_sync_request(request: SyncRequest) -> bytes:
    """Payload of a ``SYNC_REQUEST`` message."""
    return codec.encode_trusted({"from": request.from_height, "count": request.count})


def decode_sync_request(payload: bytes) -> SyncRequest:
    """Parse a ``SYNC_REQUEST`` payload."""
    value = _map(payload, SMALL_BYTES_MAX, {"from": int, "count": int}, "sync request")
    if value["from"] < 1 or not 1 <= value["count"] <= SYNC_BLOCKS_MAX:
        raise DecodeError(f"sync request must ask for 1..{SYNC_BLOCKS_MAX} blocks from height 1")
    return SyncRequest(value["from"], value["count"])


def encode_sync_blocks(blocks: list[tuple[bytes, Commit]]) -> bytes:
    """Payload of a ``SYNC_BLOCKS`` message from already encoded blocks."""
    return codec.encode_trusted([[block, encode_commit(commit)] for block, commit in blocks])


def decode_sync_blocks(payload: bytes, hash_fn: Callable[[bytes], bytes]) -> SyncBlocks:
    """Parse a ``SYNC_BLOCKS`` payload."""
    value = codec.decode(payload, PAYLOAD_BYTES_MAX)
    if not isinstance(value, list) or len(value) > SYNC_BLOCKS_MAX:
        raise DecodeError(f"synced blocks are a list of at most {SYNC_BLOCKS_MAX}")
    blocks = []
    for item in value:
        if not isinstance(item, list) or len(item) != 2:
            raise DecodeError("a synced block is [block, commit]")
        block, commit = item
        if not isinstance(block, bytes) or not isinstance(commit, bytes):
            raise DecodeError("a synced block is [block, commit] as byte strings")
        blocks.append((decode_block(block, hash_fn), decode_commit(commit)))
    return SyncBlocks(tuple(blocks))


# -- evidence -----------------------------------------------------------------------------------


def encode_evidence(evidence: Evidence) -> bytes:
    """Payload of an ``EVIDENCE`` message."""
    return codec.encode_trusted([_encode_signed(evidence.first), _encode_signed(evidence.second)])


def decode_evidence(payload: bytes) -> Evidence:
    """Parse an ``EVIDENCE`` payload."""
    value = codec.decode(payload, 4 * MESSAGE_BYTES_MAX)
    if not isinstance(value, list) or len(value) != 2:
        raise DecodeError("evidence is two signed messages")
    first, second = (_decode_signed(item) for item in value)
    return Evidence(first, second)


def _encode_signed(message: Proposal | Vote) -> list[codec.Value]:
    if isinstance(message, Proposal):
        return ["proposal", encode_proposal(message)]
    return ["vote", encode_vote(message)]


def _decode_signed(item: object) -> Proposal | Vote:
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], bytes)):
        raise DecodeError("an evidence message is [kind, bytes]")
    if item[0] == "proposal":
        return decode_proposal(item[1])
    if item[0] == "vote":
        return decode_vote(item[1])
    raise DecodeError("an evidence message is a proposal or a vote")


def _map(payload: bytes, max_bytes: int, types: dict[str, type], what: str) -> dict[str, Any]:
    if len(payload) > max_bytes:
        raise TooLarge(f"{what} is over {max_bytes} bytes")
    value = codec.decode(payload, max_bytes)
    if not isinstance(value, dict) or set(value) != set(types):
        raise DecodeError(f"{what} fields are missing or unexpected")
    for name, kind in types.items():
        if not isinstance(value[name], kind) or isinstance(value[name], bool):
            raise DecodeError(f"{what} field {name!r} must be {kind.__name__}")
    return value
