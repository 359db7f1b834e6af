"""The Tendermint consensus state machine for one validator.

This is Algorithm 1 of Buchman, Kwon and Milosevic, "The latest gossip on BFT
consensus" (2018), written as one event-driven state machine. Line numbers in
comments refer to that algorithm. Inputs are the ``on_*`` handlers; each
returns the list of ``actions`` its owner must carry out (broadcast, schedule a
timeout, build a block, commit). The machine has no clock, no I/O and no
randomness, so a whole cluster of them runs deterministically in a simulation.

Ordering rules:

- Block validity (the paper's ``valid(v)``) is decided outside, by the
  Application: the proposer executes the block it proposes, replicas re-execute
  it; ``on_proposal`` receives the verdict as ``block_is_valid``.
- Messages are verified here with the ``verify`` callable; anything invalid,
  unsigned, from a non-validator, for another height or too far ahead in rounds
  is dropped, never raised on. Votes for ``height + 1`` are buffered (at most
  ``FUTURE_VOTES_MAX``) and replayed by ``on_start(height + 1)``. Proposals for
  ``height + 1`` are dropped: their blocks can only be judged once ``height`` is
  committed, so the owner re-delivers them.
- After ``Decide`` the machine ignores its height; the owner commits the block
  and calls ``on_start(height + 1)``.
- Memory per height is bounded: one ``VoteSet`` per (kind, round) for rounds up
  to ``round + ROUNDS_AHEAD_MAX``, each bounded by the validator set, and few
  proposals per round (see ``on_proposal``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import IntEnum

from jinglian.consensus.tbft._vote_set import Equivocation, VoteSet
from jinglian.consensus.tbft.actions import (
    Action,
    Broadcast,
    ConflictingProposals,
    Decide,
    ProposeBlock,
    ReportMisbehaviour,
    ScheduleTimeout,
    TimeoutKind,
)
from jinglian.types import Commit, CommitSignature, ConsensusParams
from jinglian.types.block import HASH_BYTES
from jinglian.types.consensus import (
    NIL,
    VOTE_KINDS,
    Proposal,
    Vote,
    VoteKind,
    proposal_sign_bytes,
    vote_sign_bytes_of,
)

__all__ = [
    "FUTURE_VOTES_MAX",
    "ROUNDS_AHEAD_MAX",
    "Step",
    "Tbft",
    "compute_proposer",
]

ROUNDS_AHEAD_MAX = 64
"""Messages for rounds further than this ahead of the current round are dropped."""
FUTURE_VOTES_MAX = 4096
"""Votes for the next height kept until it starts; later ones are dropped."""


class Step(IntEnum):
    """The step of the current round (``step_p`` in the paper)."""

    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


def compute_proposer(validators: Mapping[bytes, int], height: int, round_: int) -> bytes:
    """The proposer of (height, round): weighted round robin over sorted validator ids.

    Slot ``(height + round) mod total_power`` falls in the cumulative power of
    exactly one validator, so each validator proposes in proportion to its power
    and every node computes the same proposer.
    """
    total = sum(validators.values())
    slot = (height + round_) % total
    for validator in sorted(validators):
        slot -= validators[validator]
        if slot < 0:
            return validator
    raise AssertionError("the slot lies within the total power")


class Tbft:
    """One validator's consensus state for the current height."""

    def __init__(
        self,
        chain_id: str,
        validator_id: bytes,
        validators: Mapping[bytes, int],
        params: ConsensusParams,
        sign: Callable[[bytes], bytes],
        verify: Callable[[bytes, bytes, bytes], bool],
    ) -> None:
        assert validators and all(p > 0 for p in validators.values()), "need positive powers"
        self._chain_id = chain_id
        self._me = validator_id
        self._validators = dict(validators)
        self._total_power = sum(self._validators.values())
        self._params = params
        self._sign = sign
        self._verify = verify
        self._future_votes: list[Vote] = []
        self._actions: list[Action] = []
        self.height = 0
        self.round = 0
        self.step = Step.PROPOSE
        self._reset_height(0)

    # Inputs -------------------------------------------------------------------------

    def on_start(self, height: int) -> list[Action]:
        """Start deciding ``height`` (after the previous height is committed).

        Triggers: node start (height after the last committed block), or the
        owner having committed the block of a ``Decide``.
        """
        assert height > self.height, "heights only grow"
        self._reset_height(height)
        self._start_round(0)
        buffered, self._future_votes = self._future_votes, []
        for vote in buffered:
            if vote.height == height:
                self._accept_vote(vote)
        return self._take_actions()

    def on_block_built(self, height: int, round_: int, block_hash: bytes) -> list[Action]:
        """Sign and broadcast the proposal of the block the Application built and executed.

        Triggers: the owner's answer to ``ProposeBlock(height, round)``. Stale
        answers (another height or round, a proposal already made) are dropped.
        """
        if (height, round_) != (self.height, self.round) or self.decision is not None:
            return []
        if self._proposer(round_) != self._me or self._proposals.get(round_):
            return []
        if len(block_hash) != HASH_BYTES:
            return []
        self._send_proposal(block_hash, -1)
        self._process(round_)
        return self._take_actions()

    def on_proposal(self, proposal: Proposal, block_is_valid: bool) -> list[Action]:
        """Take a proposal from the network, with the Application's verdict on its block.

        Triggers: a proposal received from a peer (or re-gossiped). Dropped
        unless it is for this height, within the round window, from the round's
        proposer, well formed and correctly signed. The first proposal of a
        round is the round's proposal; a conflicting one is reported and kept
        only if more than 1/3 of the power already voted for its block in that
        round (so a round keeps at most a handful of proposals, and a node that
        saw the "wrong" one of an equivocating proposer can still decide).
        """
        if not self._is_current(proposal.height, proposal.round):
            return []
        if not self._is_well_formed_proposal(proposal):
            return []
        round_ = proposal.round
        known = self._proposals.setdefault(round_, {})
        if proposal.block_hash in known:
            return []
        if known:
            first = next(iter(known.values()))[0]
            self._report(ConflictingProposals(first=first, second=proposal))
            if not self._has_one_third_for(round_, proposal.block_hash):
                return self._take_actions()
        known[proposal.block_hash] = (proposal, block_is_valid)
        self._note_sender(round_, proposal.proposer)
        self._process(round_)
        return self._take_actions()

    def on_vote(self, vote: Vote) -> list[Action]:
        """Count a prevote or precommit from the network.

        Triggers: a vote received from a peer. Votes for the next height are
        buffered; others are dropped unless they are for this height, within
        the round window, from a validator, well formed and correctly signed.
        """
        if vote.height == self.height + 1:
            if len(self._future_votes) < FUTURE_VOTES_MAX:
                self._future_votes.append(vote)
            return []
        if not self._is_current(vote.height, vote.round):
            return []
        self._accept_vote(vote)
        return self._take_actions()

    def on_timeout(self, kind: TimeoutKind, height: int, round_: int) -> list[Action]:
        """A timeout scheduled by ``ScheduleTimeout`` fired.

        Triggers: the owner's clock. Stale timeouts (another height, round or
        step) do nothing.
        """
        if height != self.height or round_ != self.round or self.decision is not None:
            return []
        if kind == "propose" and self.step == Step.PROPOSE:
            # Line 57: OnTimeoutPropose.
            self._cast("prevote", NIL)
            self.step = Step.PREVOTE
        elif kind == "prevote" and self.step == Step.PREVOTE:
            # Line 61: OnTimeoutPrevote.
            self._cast("precommit", NIL)
            self.step = Step.PRECOMMIT
        elif kind == "precommit":
            # Line 65: OnTimeoutPrecommit.
            self._start_round(round_ + 1)
        else:
            return []
        self._process(self.round)
        return self._take_actions()

    # Reads --------------------------------------------------------------------------

    @property
    def locked(self) -> tuple[bytes | None, int]:
        """``(locked_value, locked_round)``; ``(None, -1)`` when unlocked."""
        return self._locked_value, self._locked_round

    @property
    def valid(self) -> tuple[bytes | None, int]:
        """``(valid_value, valid_round)``; ``(None, -1)`` when none."""
        return self._valid_value, self._valid_round

    def get_proposer(self, round_: int) -> bytes:
        """The proposer of ``round_`` at the current height."""
        return self._proposer(round_)

    def get_timeout_ms(self, kind: TimeoutKind, round_: int) -> int:
        """``base + round * delta``: propose uses ``timeout_propose_ms``, votes ``timeout_vote_ms``."""
        base = (
            self._params.timeout_propose_ms if kind == "propose" else self._params.timeout_vote_ms
        )
        return base + round_ * self._params.timeout_delta_ms

    # Round changes ------------------------------------------------------------------

    def _reset_height(self, height: int) -> None:
        self.height = height
        self.round = 0
        self.step = Step.PROPOSE
        self.decision: bytes | None = None
        self._locked_value: bytes | None = None
        self._locked_round = -1
        self._valid_value: bytes | None = None
        self._valid_round = -1
        self._proposals: dict[int, dict[bytes, tuple[Proposal, bool]]] = {}
        self._votes: dict[tuple[VoteKind, int], VoteSet] = {}
        self._senders: dict[int, set[bytes]] = {}
        self._fired: set[tuple[str, int]] = set()

    def _start_round(self, round_: int) -> None:
        # Line 11: StartRound. Triggers: on_start (round 0), the precommit
        # timeout (round + 1), f+1 messages of a later round (line 55).
        self.round = round_
        self.step = Step.PROPOSE
        if self._proposer(round_) == self._me and not self._proposals.get(round_):
            if self._valid_value is not None:
                self._send_proposal(self._valid_value, self._valid_round)
            else:
                self._actions.append(ProposeBlock(self.height, round_))
        self._schedule("propose", round_)

    def _send_proposal(self, block_hash: bytes, pol_round: int) -> None:
        unsigned = Proposal(self.height, self.round, block_hash, pol_round, self._me, b"")
        signature = self._sign(proposal_sign_bytes(self._chain_id, unsigned))
        proposal = Proposal(self.height, self.round, block_hash, pol_round, self._me, signature)
        self._actions.append(Broadcast(proposal))
        self._proposals.setdefault(self.round, {})[block_hash] = (proposal, True)
        self._note_sender(self.round, self._me)

    def _cast(self, kind: VoteKind, block_hash: bytes) -> None:
        if self._me not in self._validators:
            return
        unsigned = Vote(kind, self.height, self.round, block_hash, self._me, b"")
        signature = self._sign(vote_sign_bytes_of(self._chain_id, unsigned))
        vote = Vote(kind, self.height, self.round, block_hash, self._me, signature)
        self._actions.append(Broadcast(vote))
        self._get_votes(kind, self.round).add(vote)
        self._note_sender(self.round, self._me)

    # The upon-rules -----------------------------------------------------------------

    def _process(self, message_round: int) -> None:
        """Apply the upon-rules until none fires (a fixed point)."""
        while self.decision is None:
            if self._try_decide(message_round) or self._try_decide(self.round):
                return
            if self._try_skip_to(message_round):
                continue
            if not self._try_current_round_rules():
                return

    def _try_current_round_rules(self) -> bool:
        return (
            self._try_prevote_fresh()
            or self._try_prevote_locked()
            or self._try_schedule_prevote_timeout()
            or self._try_lock()
            or self._try_precommit_nil()
            or self._try_schedule_precommit_timeout()
        )

    def _try_prevote_fresh(self) -> bool:
        # Line 22: upon PROPOSAL(h, round, v, -1) from proposer while step = propose.
        proposal = self._first_proposal(self.round)
        if self.step != Step.PROPOSE or proposal is None or proposal[0].pol_round != -1:
            return False
        value, is_valid = proposal[0].block_hash, proposal[1]
        can_vote = is_valid and (self._locked_round == -1 or self._locked_value == value)
        self._cast("prevote", value if can_vote else NIL)
        self.step = Step.PREVOTE
        return True

    def _try_prevote_locked(self) -> bool:
        # Line 28: upon PROPOSAL(h, round, v, vr) and 2f+1 PREVOTE(h, vr, id(v))
        # while step = propose and 0 <= vr < round.
        proposal = self._first_proposal(self.round)
        if self.step != Step.PROPOSE or proposal is None or proposal[0].pol_round < 0:
            return False
        value, valid_round = proposal[0].block_hash, proposal[0].pol_round
        if not self._get_votes("prevote", valid_round).has_two_thirds_for(value):
            return False
        can_vote = proposal[1] and (
            self._locked_round <= valid_round or self._locked_value == value
        )
        self._cast("prevote", value if can_vote else NIL)
        self.step = Step.PREVOTE
        return True

    def _try_schedule_prevote_timeout(self) -> bool:
        # Line 34: upon 2f+1 PREVOTE(h, round, *) while step = prevote, first time.
        if self.step != Step.PREVOTE or ("prevote", self.round) in self._fired:
            return False
        if not self._get_votes("prevote", self.round).has_two_thirds_any():
            return False
        self._fired.add(("prevote", self.round))
        self._schedule("prevote", self.round)
        return True

    def _try_lock(self) -> bool:
        # Line 36: upon PROPOSAL(h, round, v, *) and 2f+1 PREVOTE(h, round, id(v))
        # while valid(v) and step >= prevote, first time.
        if self.step < Step.PREVOTE or ("lock", self.round) in self._fired:
            return False
        value = self._get_votes("prevote", self.round).has_two_thirds_majority()
        if value is None or value == NIL or not self._is_valid_proposal(self.round, value):
            return False
        self._fired.add(("lock", self.round))
        if self.step == Step.PREVOTE:
            self._locked_value, self._locked_round = value, self.round
            self._cast("precommit", value)
            self.step = Step.PRECOMMIT
        self._valid_value, self._valid_round = value, self.round
        return True

    def _try_precommit_nil(self) -> bool:
        # Line 44: upon 2f+1 PREVOTE(h, round, nil) while step = prevote.
        if self.step != Step.PREVOTE:
            return False
        if self._get_votes("prevote", self.round).has_two_thirds_majority() != NIL:
            return False
        self._cast("precommit", NIL)
        self.step = Step.PRECOMMIT
        return True

    def _try_schedule_precommit_timeout(self) -> bool:
        # Line 47: upon 2f+1 PRECOMMIT(h, round, *), first time.
        if ("precommit", self.round) in self._fired:
            return False
        if not self._get_votes("precommit", self.round).has_two_thirds_any():
            return False
        self._fired.add(("precommit", self.round))
        self._schedule("precommit", self.round)
        return True

    def _try_decide(self, round_: int) -> bool:
        # Line 49: upon PROPOSAL(h, r, v, *) and 2f+1 PRECOMMIT(h, r, id(v))
        # while decision = nil and valid(v); any round r.
        precommits = self._votes.get(("precommit", round_))
        value = precommits.has_two_thirds_majority() if precommits else None
        if precommits is None or value is None or value == NIL:
            return False
        if not self._is_valid_proposal(round_, value):
            return False
        signatures = tuple(
            CommitSignature(validator=v.validator, signature=v.signature)
            for v in precommits.get_votes_for(value)
        )
        commit = Commit(self.height, round_, value, signatures)
        self.decision = value
        self._actions.append(Decide(self.height, round_, value, commit))
        return True

    def _try_skip_to(self, round_: int) -> bool:
        # Line 55: upon f+1 messages (h, r, *) with r > round.
        if round_ <= self.round:
            return False
        power = sum(self._validators[v] for v in self._senders.get(round_, ()))
        if power * 3 <= self._total_power:
            return False
        self._start_round(round_)
        return True

    # Helpers ------------------------------------------------------------------------

    def _accept_vote(self, vote: Vote) -> None:
        if not self._is_well_formed_vote(vote):
            return
        evidence = self._get_votes(vote.kind, vote.round).add(vote)
        if evidence is not None:
            self._report(evidence)
            return
        self._note_sender(vote.round, vote.validator)
        self._process(vote.round)

    def _is_current(self, height: int, round_: int) -> bool:
        return (
            height == self.height
            and self.decision is None
            and 0 <= round_ <= self.round + ROUNDS_AHEAD_MAX
        )

    def _is_well_formed_proposal(self, proposal: Proposal) -> bool:
        if proposal.proposer != self._proposer(proposal.round):
            return False
        if len(proposal.block_hash) != HASH_BYTES:
            return False
        if not -1 <= proposal.pol_round < proposal.round:
            return False
        message = proposal_sign_bytes(self._chain_id, proposal)
        return bool(proposal.signature) and self._verify(
            proposal.proposer, message, proposal.signature
        )

    def _is_well_formed_vote(self, vote: Vote) -> bool:
        if vote.validator not in self._validators or vote.kind not in VOTE_KINDS:
            return False
        if len(vote.block_hash) not in (0, HASH_BYTES):
            return False
        message = vote_sign_bytes_of(self._chain_id, vote)
        return bool(vote.signature) and self._verify(vote.validator, message, vote.signature)

    def _first_proposal(self, round_: int) -> tuple[Proposal, bool] | None:
        known = self._proposals.get(round_)
        return next(iter(known.values())) if known else None

    def _is_valid_proposal(self, round_: int, block_hash: bytes) -> bool:
        entry = self._proposals.get(round_, {}).get(block_hash)
        return entry is not None and entry[1]

    def _has_one_third_for(self, round_: int, block_hash: bytes) -> bool:
        return any(
            self._get_votes(kind, round_).get_power_for(block_hash) * 3 > self._total_power
            for kind in VOTE_KINDS
        )

    def _get_votes(self, kind: VoteKind, round_: int) -> VoteSet:
        key = (kind, round_)
        if key not in self._votes:
            self._votes[key] = VoteSet(self.height, round_, kind, self._validators)
        return self._votes[key]

    def _note_sender(self, round_: int, validator: bytes) -> None:
        self._senders.setdefault(round_, set()).add(validator)

    def _proposer(self, round_: int) -> bytes:
        return compute_proposer(self._validators, self.height, round_)

    def _schedule(self, kind: TimeoutKind, round_: int) -> None:
        delay = self.get_timeout_ms(kind, round_)
        self._actions.append(ScheduleTimeout(kind, self.height, round_, delay))

    def _report(self, evidence: Equivocation | ConflictingProposals) -> None:
        self._actions.append(ReportMisbehaviour(evidence))

    def _take_actions(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions
