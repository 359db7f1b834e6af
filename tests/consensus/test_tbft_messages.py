"""Proposal and Vote: canonical round trips, sign bytes, and invalid encodings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jinglian.types import codec, vote_sign_bytes
from jinglian.types.consensus import (
    MESSAGE_BYTES_MAX,
    ROUND_MAX,
    SIGNATURE_BYTES_MAX,
    VALIDATOR_ID_BYTES_MAX,
    Proposal,
    Vote,
    decode_proposal,
    decode_vote,
    encode_proposal,
    encode_vote,
    proposal_sign_bytes,
    vote_sign_bytes_of,
)
from jinglian.types.errors import DecodeError, InvalidInput

heights = st.integers(min_value=1, max_value=2**63 - 1)
rounds = st.integers(min_value=0, max_value=ROUND_MAX)
hashes = st.binary(min_size=32, max_size=32)
ids = st.binary(min_size=1, max_size=VALIDATOR_ID_BYTES_MAX)
sigs = st.binary(max_size=SIGNATURE_BYTES_MAX)


@st.composite
def proposals(draw: st.DrawFn) -> Proposal:
    round_ = draw(rounds)
    return Proposal(
        height=draw(heights),
        round=round_,
        block_hash=draw(hashes),
        pol_round=draw(st.integers(min_value=-1, max_value=round_ - 1)),
        proposer=draw(ids),
        signature=draw(sigs),
    )


votes = st.builds(
    Vote,
    kind=st.sampled_from(["prevote", "precommit"]),
    height=heights,
    round=rounds,
    block_hash=st.one_of(st.just(b""), hashes),
    validator=ids,
    signature=sigs,
)


@given(proposals())
def test_proposal_round_trips(proposal: Proposal) -> None:
    data = encode_proposal(proposal)
    assert len(data) <= MESSAGE_BYTES_MAX
    assert decode_proposal(data) == proposal


@given(votes)
def test_vote_round_trips(vote: Vote) -> None:
    data = encode_vote(vote)
    assert len(data) <= MESSAGE_BYTES_MAX
    assert decode_vote(data) == vote


def test_precommit_sign_bytes_are_commit_sign_bytes() -> None:
    vote = Vote("precommit", 5, 2, b"\x01" * 32, b"v1", b"")
    assert vote_sign_bytes_of("c", vote) == vote_sign_bytes("c", 5, 2, b"\x01" * 32)
    prevote = Vote("prevote", 5, 2, b"\x01" * 32, b"v1", b"")
    assert vote_sign_bytes_of("c", prevote) != vote_sign_bytes_of("c", vote)


def test_proposal_sign_bytes_depend_on_chain_and_content() -> None:
    p = Proposal(1, 0, b"\x02" * 32, -1, b"v1", b"")
    q = Proposal(1, 1, b"\x02" * 32, 0, b"v1", b"")
    assert proposal_sign_bytes("a", p) != proposal_sign_bytes("b", p)
    assert proposal_sign_bytes("a", p) != proposal_sign_bytes("a", q)
    # The signature itself is not signed.
    assert proposal_sign_bytes("a", p) == proposal_sign_bytes(
        "a", Proposal(1, 0, b"\x02" * 32, -1, b"v1", b"sig")
    )


def _vote_map(**changes: object) -> bytes:
    value: dict[str, object] = {
        "type": "prevote",
        "height": 1,
        "round": 0,
        "block": b"\x00" * 32,
        "validator": b"v",
        "sig": b"s",
    }
    value.update(changes)
    return codec.encode({k: v for k, v in value.items() if v is not _DROP})  # type: ignore[arg-type]


def _proposal_map(**changes: object) -> bytes:
    value: dict[str, object] = {
        "type": "proposal",
        "height": 1,
        "round": 1,
        "block": b"\x00" * 32,
        "pol_round": 0,
        "proposer": b"v",
        "sig": b"s",
    }
    value.update(changes)
    return codec.encode({k: v for k, v in value.items() if v is not _DROP})  # type: ignore[arg-type]


_DROP = object()


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "vote"},
        {"type": "proposal"},
        {"height": 0},
        {"height": "1"},
        {"height": True},
        {"round": -1},
        {"round": ROUND_MAX + 1},
        {"block": b"\x00" * 31},
        {"block": b"\x00" * 33},
        {"validator": b""},
        {"validator": b"v" * (VALIDATOR_ID_BYTES_MAX + 1)},
        {"sig": b"s" * (SIGNATURE_BYTES_MAX + 1)},
        {"sig": "s"},
        {"sig": _DROP},
        {"extra": 1},
    ],
)
def test_invalid_vote_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        decode_vote(_vote_map(**changes))


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "prevote"},
        {"height": 0},
        {"round": -1},
        {"pol_round": 1},
        {"pol_round": -2},
        {"block": b""},
        {"block": b"\x00" * 31},
        {"proposer": b""},
        {"sig": None},
        {"pol_round": _DROP},
    ],
)
def test_invalid_proposal_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        decode_proposal(_proposal_map(**changes))


@pytest.mark.parametrize("data", [b"", b"\xff", b"\x80", codec.encode([1, 2]), b"\x00" * 2000])
def test_invalid_bytes_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput):
        decode_vote(data)
    with pytest.raises(InvalidInput):
        decode_proposal(data)


def test_non_canonical_encoding_is_refused() -> None:
    data = _vote_map()
    with pytest.raises(DecodeError):
        decode_vote(data + b"\x00")
