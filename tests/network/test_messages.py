"""The peer message codecs: round trips, and typed refusals of malformed or oversized payloads."""

from __future__ import annotations

import hashlib

import pytest

from jinglian.network.messages import (
    SYNC_BLOCKS_MAX,
    TXS_BATCH_MAX,
    Evidence,
    GetBlock,
    ProposalMessage,
    Status,
    SyncRequest,
    decode_block_body,
    decode_evidence,
    decode_get_block,
    decode_proposal_message,
    decode_status,
    decode_sync_blocks,
    decode_sync_request,
    decode_txs,
    decode_vote_message,
    encode_block_body,
    encode_evidence,
    encode_get_block,
    encode_proposal_message,
    encode_status,
    encode_sync_blocks,
    encode_sync_request,
    encode_vote_message,
)
from jinglian.types import Block, Commit, CommitSignature, Header, codec, encode_block
from jinglian.types.consensus import Proposal, Vote
from jinglian.types.errors import DecodeError, InvalidInput, TooLarge


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


HEADER = Header(
    chain_id="c",
    height=3,
    time_ms=1,
    prev_hash=b"\x01" * 32,
    tx_root=b"\x02" * 32,
    receipt_root=b"\x03" * 32,
    state_root=b"\x04" * 32,
    validators_hash=b"\x05" * 32,
    proposer=b"\x06" * 32,
    tx_count=0,
)
PROPOSAL = Proposal(3, 0, b"\x07" * 32, -1, b"\x06" * 32, b"sig")
VOTE = Vote("prevote", 3, 1, b"\x07" * 32, b"\x06" * 32, b"sig")


def test_round_trips() -> None:
    status = Status(5, b"\x09" * 32, 2)
    assert decode_status(encode_status(status)) == status
    message = ProposalMessage(PROPOSAL, HEADER, ())
    assert decode_proposal_message(encode_proposal_message(message)) == message
    assert decode_vote_message(encode_vote_message(VOTE)) == VOTE
    assert decode_get_block(encode_get_block(GetBlock(b"\x01" * 32))) == GetBlock(b"\x01" * 32)
    request = SyncRequest(10, SYNC_BLOCKS_MAX)
    assert decode_sync_request(encode_sync_request(request)) == request
    block = Block(header=HEADER, txs=())
    assert decode_block_body(encode_block_body(block), sha) == block
    commit = Commit(3, 0, b"\x07" * 32, (CommitSignature(b"\x06" * 32, b"s"),))
    synced = decode_sync_blocks(encode_sync_blocks([(encode_block(block), commit)]), sha)
    assert synced.blocks == ((block, commit),)
    evidence = Evidence(VOTE, Vote("prevote", 3, 1, b"\x08" * 32, b"\x06" * 32, b"sig"))
    assert decode_evidence(encode_evidence(evidence)) == evidence
    assert decode_txs(codec.encode_trusted([]), sha) == []


BAD = [
    (decode_status, codec.encode_trusted({"height": 1})),
    (decode_status, codec.encode_trusted({"height": -1, "hash": b"\x00" * 32, "round": 0})),
    (decode_status, codec.encode_trusted({"height": 1, "hash": b"\x00" * 3, "round": 0})),
    (decode_status, codec.encode_trusted({"height": True, "hash": b"\x00" * 32, "round": 0})),
    (decode_status, b"\x00" * 1000),
    (decode_status, b"\xff"),
    (decode_get_block, codec.encode_trusted({"hash": b"\x00"})),
    (decode_sync_request, codec.encode_trusted({"from": 0, "count": 1})),
    (decode_sync_request, codec.encode_trusted({"from": 1, "count": SYNC_BLOCKS_MAX + 1})),
    (decode_vote_message, b"\x00" * 5000),
    (decode_vote_message, codec.encode_trusted({"kind": "prevote"})),
    (decode_proposal_message, codec.encode_trusted({"proposal": b"", "header": {}, "tx_ids": []})),
    (
        decode_proposal_message,
        codec.encode_trusted(
            {
                "proposal": encode_proposal_message(ProposalMessage(PROPOSAL, HEADER, ()))[:10],
                "header": HEADER.to_value(),
                "tx_ids": [],
            }
        ),
    ),
    (decode_evidence, codec.encode_trusted([["vote", b"x"]])),
    (decode_evidence, codec.encode_trusted([["gossip", b"x"], ["vote", b"y"]])),
]


@pytest.mark.parametrize(("decode", "payload"), BAD)
def test_malformed_payloads_are_refused(decode, payload) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((DecodeError, InvalidInput, TooLarge)):
        decode(payload)


def test_proposal_ids_must_match_the_header_count() -> None:
    header = Header(
        chain_id="c",
        height=3,
        time_ms=1,
        prev_hash=b"\x01" * 32,
        tx_root=b"\x02" * 32,
        receipt_root=b"\x03" * 32,
        state_root=b"\x04" * 32,
        validators_hash=b"\x05" * 32,
        proposer=b"\x06" * 32,
        tx_count=2,
    )
    payload = encode_proposal_message(ProposalMessage(PROPOSAL, header, (b"\x01" * 32,)))
    with pytest.raises(DecodeError):
        decode_proposal_message(payload)


def test_batches_are_bounded() -> None:
    with pytest.raises(TooLarge):
        decode_txs(codec.encode_trusted([b""] * (TXS_BATCH_MAX + 1)), sha)
    too_many = codec.encode_trusted([[b"a", b"b"]] * (SYNC_BLOCKS_MAX + 1))
    with pytest.raises(DecodeError):
        decode_sync_blocks(too_many, sha)
    with pytest.raises((DecodeError, InvalidInput)):
        decode_txs(codec.encode_trusted([b"not a transaction"]), sha)
