"""Tbft: the upon-rules of Algorithm 1 driven by hand, one node at a time."""

from __future__ import annotations

import hashlib

from jinglian.consensus.tbft import (
    FUTURE_VOTES_MAX,
    ROUNDS_AHEAD_MAX,
    Broadcast,
    Decide,
    ProposeBlock,
    ReportMisbehaviour,
    ScheduleTimeout,
    Step,
    Tbft,
    compute_proposer,
)
from jinglian.consensus.tbft.actions import Action
from jinglian.types import ConsensusParams
from jinglian.types.consensus import (
    NIL,
    Proposal,
    Vote,
    VoteKind,
    proposal_sign_bytes,
    vote_sign_bytes_of,
)

CHAIN = "test-chain"
IDS = [b"v0", b"v1", b"v2", b"v3"]
POWERS = dict.fromkeys(IDS, 1)
PARAMS = ConsensusParams(
    type="tbft", timeout_propose_ms=300, timeout_vote_ms=100, timeout_delta_ms=50
)
A, B = b"\xaa" * 32, b"\xbb" * 32


def fake_sign(validator: bytes, message: bytes) -> bytes:
    return hashlib.sha256(validator + message).digest()


def fake_verify(validator: bytes, message: bytes, signature: bytes) -> bool:
    return signature == fake_sign(validator, message)


def node(me: bytes, height: int = 1) -> tuple[Tbft, list[Action]]:
    """A machine of validator ``me`` started at ``height`` (0: not started)."""
    machine = Tbft(CHAIN, me, POWERS, PARAMS, lambda m: fake_sign(me, m), fake_verify)
    return machine, machine.on_start(height) if height else []


def vote(kind: VoteKind, who: bytes, block: bytes, round_: int = 0, height: int = 1) -> Vote:
    unsigned = Vote(kind, height, round_, block, who, b"")
    return Vote(
        kind, height, round_, block, who, fake_sign(who, vote_sign_bytes_of(CHAIN, unsigned))
    )


def proposal(round_: int, block: bytes, pol_round: int = -1, height: int = 1) -> Proposal:
    who = compute_proposer(POWERS, height, round_)
    unsigned = Proposal(height, round_, block, pol_round, who, b"")
    return Proposal(
        height, round_, block, pol_round, who, fake_sign(who, proposal_sign_bytes(CHAIN, unsigned))
    )


def my_votes(actions: list[Action]) -> list[tuple[str, bytes]]:
    return [
        (a.message.kind, a.message.block_hash)
        for a in actions
        if isinstance(a, Broadcast) and isinstance(a.message, Vote)
    ]


def replica(round_: int = 0) -> bytes:
    """A validator that is not the proposer of ``round_`` at height 1."""
    return next(v for v in IDS if v != compute_proposer(POWERS, 1, round_))


def others(me: bytes) -> list[bytes]:
    return [v for v in IDS if v != me]


def test_proposer_rotates_by_weight_and_is_deterministic() -> None:
    powers = {b"a": 2, b"b": 1}
    picks = [compute_proposer(powers, h, 0) for h in range(300)]
    assert picks.count(b"a") == 200 and picks.count(b"b") == 100
    assert compute_proposer(POWERS, 1, 0) != compute_proposer(POWERS, 1, 1)


def test_proposer_is_asked_for_a_block_then_broadcasts_a_signed_proposal() -> None:
    proposer = compute_proposer(POWERS, 1, 0)
    machine, actions = node(proposer)
    assert ProposeBlock(1, 0) in actions
    actions = machine.on_block_built(1, 0, A)
    sent = [a.message for a in actions if isinstance(a, Broadcast)]
    assert isinstance(sent[0], Proposal) and fake_verify(
        proposer, proposal_sign_bytes(CHAIN, sent[0]), sent[0].signature
    )
    assert my_votes(actions) == [("prevote", A)]
    assert machine.on_block_built(1, 0, B) == []


def test_replica_schedules_propose_timeout_with_round_delta() -> None:
    machine, actions = node(replica())
    assert ScheduleTimeout("propose", 1, 0, 300) in actions
    assert machine.get_timeout_ms("propose", 2) == 400
    assert machine.get_timeout_ms("prevote", 3) == 250


def test_full_round_decides_with_sorted_commit() -> None:
    me = replica()
    machine, _ = node(me)
    assert my_votes(machine.on_proposal(proposal(0, A), True)) == [("prevote", A)]
    actions: list[Action] = []
    for who in others(me)[:2]:
        actions += machine.on_vote(vote("prevote", who, A))
    assert my_votes(actions) == [("precommit", A)]
    assert machine.locked == (A, 0) and machine.valid == (A, 0)
    for who in others(me)[:2]:
        actions = machine.on_vote(vote("precommit", who, A))
    decide = [a for a in actions if isinstance(a, Decide)]
    assert len(decide) == 1 and decide[0].block_hash == A
    validators = [s.validator for s in decide[0].commit.signatures]
    assert validators == sorted(validators) and len(validators) == 3
    assert machine.on_vote(vote("precommit", others(me)[2], A)) == []


def test_invalid_block_gets_a_nil_prevote() -> None:
    machine, _ = node(replica())
    assert my_votes(machine.on_proposal(proposal(0, A), False)) == [("prevote", NIL)]


def test_timeouts_walk_through_nil_votes_to_the_next_round() -> None:
    me = replica()
    machine, _ = node(me)
    assert my_votes(machine.on_timeout("propose", 1, 0)) == [("prevote", NIL)]
    assert machine.on_timeout("propose", 1, 0) == []
    for who in others(me)[:2]:
        actions = machine.on_vote(vote("prevote", who, B))
    assert ScheduleTimeout("prevote", 1, 0, 100) in actions
    assert my_votes(machine.on_timeout("prevote", 1, 0)) == [("precommit", NIL)]
    for who in others(me)[:2]:
        actions = machine.on_vote(vote("precommit", who, B))
    assert ScheduleTimeout("precommit", 1, 0, 100) in actions
    machine.on_timeout("precommit", 1, 0)
    assert (machine.round, machine.step) == (1, Step.PROPOSE)


def test_two_thirds_nil_prevotes_precommit_nil() -> None:
    me = replica()
    machine, _ = node(me)
    machine.on_timeout("propose", 1, 0)
    actions = []
    for who in others(me)[:2]:
        actions += machine.on_vote(vote("prevote", who, NIL))
    assert ("precommit", NIL) in my_votes(actions)


def lock_on_a_in_round_0(me: bytes) -> Tbft:
    machine, _ = node(me)
    machine.on_proposal(proposal(0, A), True)
    for who in others(me)[:2]:
        machine.on_vote(vote("prevote", who, A))
    assert machine.locked == (A, 0)
    for who in others(me)[:2]:
        machine.on_vote(vote("precommit", who, NIL))
    machine.on_timeout("precommit", 1, 0)
    return machine


def test_locked_node_prevotes_nil_for_another_fresh_block() -> None:
    me = next(
        v for v in IDS if v not in (compute_proposer(POWERS, 1, 0), compute_proposer(POWERS, 1, 1))
    )
    machine = lock_on_a_in_round_0(me)
    assert my_votes(machine.on_proposal(proposal(1, B), True)) == [("prevote", NIL)]


def test_locked_node_accepts_a_reproposal_with_a_newer_proof_of_lock() -> None:
    me = next(
        v
        for v in IDS
        if v
        not in (
            compute_proposer(POWERS, 1, 0),
            compute_proposer(POWERS, 1, 1),
            compute_proposer(POWERS, 1, 2),
        )
    )
    machine = lock_on_a_in_round_0(me)
    # Round 1: B gets 2f+1 prevotes elsewhere, but not in time for us.
    machine.on_timeout("propose", 1, 1)
    for who in others(me):
        machine.on_vote(vote("prevote", who, B, round_=1))
    machine.on_timeout("prevote", 1, 1) if machine.step == Step.PREVOTE else None
    for who in others(me)[:2]:
        machine.on_vote(vote("precommit", who, NIL, round_=1))
    machine.on_timeout("precommit", 1, 1)
    assert machine.round == 2
    # Round 2: B re-proposed with pol_round 1 > locked_round 0.
    assert my_votes(machine.on_proposal(proposal(2, B, pol_round=1), True)) == [("prevote", B)]


def test_reproposal_waits_for_its_proof_of_lock() -> None:
    me = replica(1)
    machine, _ = node(me)
    machine.on_timeout("propose", 1, 0)
    for who in others(me)[:2]:
        machine.on_vote(vote("precommit", who, NIL))
    machine.on_timeout("precommit", 1, 0)
    assert my_votes(machine.on_proposal(proposal(1, B, pol_round=0), True)) == []
    actions: list[Action] = []
    for who in others(me)[:3]:
        actions += machine.on_vote(vote("prevote", who, B, round_=0))
    assert ("prevote", B) in my_votes(actions)


def test_f_plus_one_messages_of_a_later_round_skip_to_it() -> None:
    me = replica()
    machine, _ = node(me)
    machine.on_vote(vote("prevote", others(me)[0], NIL, round_=5))
    assert machine.round == 0
    machine.on_vote(vote("precommit", others(me)[1], NIL, round_=5))
    assert machine.round == 5


def test_decides_in_an_earlier_round_when_its_precommits_arrive() -> None:
    me = replica()
    machine, _ = node(me)
    machine.on_proposal(proposal(0, A), True)
    machine.on_vote(vote("prevote", others(me)[0], NIL, round_=3))
    machine.on_vote(vote("prevote", others(me)[1], NIL, round_=3))
    assert machine.round == 3
    actions: list[Action] = []
    for who in others(me):
        actions += machine.on_vote(vote("precommit", who, A, round_=0))
    assert [a.round for a in actions if isinstance(a, Decide)] == [0]


def test_invalid_messages_are_dropped() -> None:
    me = replica()
    machine, _ = node(me)
    good = vote("prevote", others(me)[0], A)
    bad_sig = Vote("prevote", 1, 0, A, others(me)[0], b"x" * 32)
    unsigned = Vote("prevote", 1, 0, A, others(me)[0], b"")
    stranger = Vote("prevote", 1, 0, A, b"zz", fake_sign(b"zz", vote_sign_bytes_of(CHAIN, good)))
    short_hash = vote("prevote", others(me)[0], b"\x01" * 5)
    for message in (bad_sig, unsigned, stranger, short_hash):
        assert machine.on_vote(message) == []
    far = vote("prevote", others(me)[0], A, round_=10_000)
    old = vote("prevote", others(me)[0], A, height=0)
    assert machine.on_vote(far) == [] and machine.on_vote(old) == []
    wrong_proposer = Proposal(
        1, 0, A, -1, me, fake_sign(me, proposal_sign_bytes(CHAIN, Proposal(1, 0, A, -1, me, b"")))
    )
    assert machine.on_proposal(wrong_proposer, True) == []
    forged = proposal(0, A)
    assert machine.on_proposal(Proposal(1, 0, B, -1, forged.proposer, forged.signature), True) == []
    assert machine.step == Step.PROPOSE


def test_votes_for_the_next_height_are_buffered_and_replayed() -> None:
    me = replica()
    machine, _ = node(me)
    for who in others(me):
        assert machine.on_vote(vote("prevote", who, NIL, height=2)) == []
    machine.on_start(2)
    # The three buffered nil prevotes are counted: once this node prevotes, it precommits nil.
    assert my_votes(machine.on_timeout("propose", 2, 0)) == [("prevote", NIL), ("precommit", NIL)]


def test_invalid_future_votes_take_no_room_and_one_sender_cannot_fill_the_buffer() -> None:
    me = replica()
    machine, _ = node(me)
    flooder, *honest = others(me)
    for i in range(FUTURE_VOTES_MAX):
        forged = Vote("prevote", 2, 0, NIL, honest[i % 2], b"x" * 32)
        machine.on_vote(forged)
    for round_ in range(ROUNDS_AHEAD_MAX):
        machine.on_vote(vote("precommit", flooder, NIL, round_=round_, height=2))
    for who in honest:
        machine.on_vote(vote("prevote", who, NIL, height=2))
    machine.on_start(2)
    # Both honest nil prevotes were kept: with this node's own, a nil quorum.
    assert my_votes(machine.on_timeout("propose", 2, 0)) == [("prevote", NIL), ("precommit", NIL)]


def test_double_vote_is_reported_and_not_counted() -> None:
    me = replica()
    machine, _ = node(me)
    who = others(me)[0]
    machine.on_vote(vote("prevote", who, A))
    actions = machine.on_vote(vote("prevote", who, B))
    assert any(isinstance(a, ReportMisbehaviour) for a in actions)


def test_conflicting_proposal_is_reported_and_kept_only_with_votes() -> None:
    me = replica()
    machine, _ = node(me)
    machine.on_proposal(proposal(0, A), True)
    actions = machine.on_proposal(proposal(0, B), True)
    assert any(isinstance(a, ReportMisbehaviour) for a in actions)
    # B gathers 2f+1 precommits; once its proposal comes again the node decides B.
    for who in others(me):
        machine.on_vote(vote("precommit", who, B))
    actions = machine.on_proposal(proposal(0, B), True)
    assert [a.block_hash for a in actions if isinstance(a, Decide)] == [B]


def test_cluster_of_four_decides_one_block_per_height() -> None:
    machines = {v: node(v, height=0)[0] for v in IDS}
    queue: list[tuple[bytes, Action]] = []
    for height in (1, 2, 3):
        for v, m in machines.items():
            queue += [(v, a) for a in m.on_start(height)]
        decided: dict[bytes, bytes] = {}
        while queue:
            source, action = queue.pop(0)
            if isinstance(action, ProposeBlock):
                queue += [
                    (source, a)
                    for a in machines[source].on_block_built(
                        action.height, action.round, bytes([height]) * 32
                    )
                ]
            elif isinstance(action, Broadcast):
                for v, m in machines.items():
                    if v == source:
                        continue
                    msg = action.message
                    out = m.on_proposal(msg, True) if isinstance(msg, Proposal) else m.on_vote(msg)
                    queue += [(v, a) for a in out]
            elif isinstance(action, Decide):
                decided[source] = action.block_hash
        assert decided == dict.fromkeys(IDS, bytes([height]) * 32)
