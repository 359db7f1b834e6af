"""Tbft after a restart: WAL entries restored, nothing signed twice; per-height validator sets."""

from __future__ import annotations

import pytest

from jinglian.consensus.tbft import (
    Broadcast,
    Decide,
    ProposeBlock,
    ScheduleTimeout,
    Step,
    Tbft,
    compute_proposer,
)
from jinglian.consensus.tbft.actions import Action
from jinglian.consensus.wal import (
    EnteredStep,
    MemoryWAL,
    SignedProposal,
    SignedVote,
    WalEntry,
    decode_wal_entry,
    encode_wal_entry,
)
from jinglian.types.consensus import NIL, Proposal, Vote, proposal_sign_bytes
from jinglian.types.errors import ConfigError
from tests.consensus.test_tbft_state import (
    CHAIN,
    IDS,
    PARAMS,
    POWERS,
    A,
    B,
    fake_sign,
    fake_verify,
    my_votes,
    others,
    proposal,
    replica,
    vote,
)


def fresh(me: bytes, powers: dict[bytes, int] = POWERS) -> Tbft:
    return Tbft(CHAIN, me, powers, PARAMS, lambda m: fake_sign(me, m), fake_verify)


def write_wal(wal: MemoryWAL, actions: list[Action]) -> list[Action]:
    """The owner's rule: every message it sends goes into the WAL first."""
    for action in actions:
        if isinstance(action, Broadcast):
            message = action.message
            entry = (
                SignedProposal(message) if isinstance(message, Proposal) else SignedVote(message)
            )
            wal.append(encode_wal_entry(entry))
    return actions


def restart(me: bytes, wal: MemoryWAL, height: int = 1) -> tuple[Tbft, list[Action]]:
    """Discard the machine; start a new one from the WAL as a restarted node does."""
    entries = [decode_wal_entry(record) for record in wal.reopened().records()]
    machine = fresh(me)
    return machine, write_wal(wal, machine.on_start(height, signed=entries))


def sent(actions: list[Action]) -> list[Proposal | Vote]:
    return [a.message for a in actions if isinstance(a, Broadcast)]


def prevote(me: bytes, block: bytes) -> tuple[Tbft, MemoryWAL]:
    """Round 0 up to this validator's prevote for ``block``."""
    wal = MemoryWAL()
    machine = fresh(me)
    write_wal(wal, machine.on_start(1))
    actions = write_wal(wal, machine.on_proposal(proposal(0, block), True))
    assert my_votes(actions) == [("prevote", block)]
    return machine, wal


def precommit(me: bytes, block: bytes) -> MemoryWAL:
    """Round 0 up to this validator's precommit for ``block``."""
    machine, wal = prevote(me, block)
    actions: list[Action] = []
    for who in others(me)[:2]:
        actions += write_wal(wal, machine.on_vote(vote("prevote", who, block)))
    assert my_votes(actions) == [("precommit", block)]
    return wal


def test_restart_after_prevote_resends_it_and_never_prevotes_nil() -> None:
    me = replica()
    before, wal = prevote(me, A)
    machine, actions = restart(me, wal)
    assert sent(actions) == list(before.signed_messages)
    assert my_votes(actions) == [("prevote", A)]
    assert (machine.round, machine.step) == (0, Step.PREVOTE)
    actions = machine.on_timeout("propose", 1, 0)
    for who in others(me)[:2]:
        actions += machine.on_vote(vote("prevote", who, NIL))
    actions += machine.on_timeout("prevote", 1, 0)
    # Its own prevote for A is counted: with two nil prevotes there is no nil quorum yet.
    assert ("prevote", NIL) not in my_votes(actions)
    assert my_votes(actions) == [("precommit", NIL)]


def test_restart_counts_its_restored_prevote_toward_a_quorum() -> None:
    me = replica()
    _, wal = prevote(me, A)
    machine, _ = restart(me, wal)
    machine.on_proposal(proposal(0, A), True)
    actions: list[Action] = []
    for who in others(me)[:2]:
        actions += machine.on_vote(vote("prevote", who, A))
    assert my_votes(actions) == [("precommit", A)]


def test_restart_after_precommit_keeps_the_lock_and_never_prevotes_another_block() -> None:
    me = next(v for v in IDS if compute_proposer(POWERS, 1, 2) == v)
    assert me not in (compute_proposer(POWERS, 1, 0), compute_proposer(POWERS, 1, 1))
    wal = precommit(me, A)
    machine, actions = restart(me, wal)
    assert machine.locked == (A, 0) and machine.valid == (A, 0)
    assert my_votes(actions) == [("prevote", A), ("precommit", A)]
    assert (machine.round, machine.step) == (0, Step.PRECOMMIT)
    for who in others(me)[:2]:
        actions += machine.on_vote(vote("precommit", who, NIL))
    actions += machine.on_timeout("precommit", 1, 0)
    assert machine.round == 1
    # Round 1: a fresh B from the round's proposer gets a nil prevote.
    round_1 = machine.on_proposal(proposal(1, B), True)
    assert my_votes(round_1) == [("prevote", NIL)]
    actions += round_1 + machine.on_timeout("prevote", 1, 1)
    for who in others(me)[:2]:
        actions += machine.on_vote(vote("precommit", who, NIL, round_=1))
    actions += machine.on_timeout("precommit", 1, 1)
    # Round 2: this validator proposes its locked A with proof-of-lock round 0.
    proposals = [m for m in sent(actions) if isinstance(m, Proposal)]
    assert [(p.round, p.block_hash, p.pol_round) for p in proposals] == [(2, A, 0)]
    assert ProposeBlock(1, 2) not in actions
    # Once it sees the proof of lock again (its peers' round-0 prevotes), it prevotes A.
    round_2: list[Action] = []
    for who in others(me)[:2]:
        round_2 += machine.on_vote(vote("prevote", who, A))
    assert my_votes(round_2) == [("prevote", A)]
    actions += round_2
    assert B not in {m.block_hash for m in sent(actions)}


def test_restored_own_proposal_is_resent_not_rebuilt() -> None:
    me = compute_proposer(POWERS, 1, 0)
    wal = MemoryWAL()
    machine = fresh(me)
    assert ProposeBlock(1, 0) in machine.on_start(1)
    first = sent(write_wal(wal, machine.on_block_built(1, 0, A)))[0]
    assert isinstance(first, Proposal)
    # Crash right after the proposal was written, before the prevote was.
    wal = MemoryWAL([encode_wal_entry(SignedProposal(first))])
    machine, actions = restart(me, wal)
    assert not any(isinstance(a, ProposeBlock) for a in actions)
    assert [(type(m), m.block_hash) for m in sent(actions)] == [(Proposal, A)]
    assert machine.on_block_built(1, 0, B) == []
    # Its block's validity is unknown until the owner re-delivers the proposal.
    own = sent(actions)[0]
    assert isinstance(own, Proposal)
    assert machine.on_proposal(own, False) == []
    assert my_votes(machine.on_proposal(own, True)) == [("prevote", A)]
    assert machine.on_proposal(own, True) == []


def test_restart_resumes_at_the_round_an_entered_step_names() -> None:
    me = replica(3)
    entries: list[WalEntry] = [EnteredStep(1, 3, "propose"), EnteredStep(7, 9, "precommit")]
    machine = fresh(me)
    actions = machine.on_start(1, signed=entries)
    assert (machine.round, machine.step) == (3, Step.PROPOSE)
    assert ScheduleTimeout("propose", 1, 3, machine.get_timeout_ms("propose", 3)) in actions


def test_restart_ignores_messages_of_other_heights() -> None:
    me = replica()
    old = vote("prevote", me, B, height=1)
    machine = fresh(me)
    actions = machine.on_start(2, signed=[SignedVote(old)])
    assert sent(actions) == [] and machine.signed_messages == ()
    assert my_votes(machine.on_proposal(proposal(0, A, height=2), True)) == [("prevote", A)]


def test_invalid_wal_of_another_validator_is_refused() -> None:
    me = replica()
    theirs = vote("prevote", others(me)[0], A)
    with pytest.raises(ConfigError, match="another node's WAL"):
        fresh(me).on_start(1, signed=[SignedVote(theirs)])


def test_signed_messages_lists_what_was_signed_in_order() -> None:
    me = replica()
    machine = fresh(me)
    machine.on_start(1)
    machine.on_proposal(proposal(0, A), True)
    for who in others(me)[:2]:
        machine.on_vote(vote("prevote", who, A))
    assert [(m.kind, m.block_hash) for m in machine.signed_messages if isinstance(m, Vote)] == [
        ("prevote", A),
        ("precommit", A),
    ]


def test_validator_set_change_at_on_start() -> None:
    me, removed, added = IDS[1], IDS[0], b"v4"
    new_set = {**{v: 1 for v in IDS if v != removed}, added: 1}
    machine = fresh(me)
    machine.on_start(1)
    # Votes for height 2 arrive early and wait for it; one is from a removed validator.
    for who in (removed, added):
        machine.on_vote(vote("prevote", who, NIL, height=2))
    machine.on_start(2, validators=new_set)
    assert machine.get_proposer(0) == compute_proposer(new_set, 2, 0)
    assert my_votes(machine.on_timeout("propose", 2, 0)) == [("prevote", NIL)]
    # Counted: this node and the added validator (2 of 4); the removed one is dropped.
    assert machine.on_vote(vote("prevote", removed, NIL, height=2)) == []
    actions = machine.on_vote(vote("prevote", IDS[2], NIL, height=2))
    assert ("precommit", NIL) in my_votes(actions)


def test_votes_of_a_new_validator_make_a_commit() -> None:
    me, removed, added = IDS[1], IDS[0], b"v4"
    new_set = {**{v: 1 for v in IDS if v != removed}, added: 1}
    machine = fresh(me)
    machine.on_start(1)
    machine.on_start(2, validators=new_set)
    proposer = compute_proposer(new_set, 2, 0)
    unsigned = Proposal(2, 0, A, -1, proposer, b"")
    signature = fake_sign(proposer, proposal_sign_bytes(CHAIN, unsigned))
    machine.on_proposal(Proposal(2, 0, A, -1, proposer, signature), True)
    actions: list[Action] = []
    for kind in ("prevote", "precommit"):
        for who in (removed, added, IDS[2]):
            actions += machine.on_vote(vote(kind, who, A, height=2))
    decided = [a for a in actions if isinstance(a, Decide)]
    assert [sorted(s.validator for s in d.commit.signatures) for d in decided] == [
        sorted([me, added, IDS[2]])
    ]
