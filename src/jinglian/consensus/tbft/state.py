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
  ``FUTURE_VOTES_MAX``, ``FUTURE_VOTES_PER_VALIDATOR_MAX`` per validator id,
  signatures checked first so that forgeries take no room) and replayed by
  ``on_start(height + 1)``, which checks them against that height's validator
  set. Proposals for
  ``height + 1`` are dropped: their blocks can only be judged once ``height`` is
  committed, so the owner re-delivers them.
- After ``Decide`` the machine ignores its height; the owner commits the block
  and calls ``on_start(height + 1, validators)``. The validator set changes only
  there, at a height boundary: ``validators`` is the set of the new height.
- This validator never signs two different proposals, or two different votes
  of one kind, in one round of a height. Everything it signs at the current
  height is kept by (round, kind) (``signed_messages``); when a rule would sign
  again for a (round, kind) already signed, the recorded message is sent (and
  counted) again instead, whatever block the rule chose now.
- Restart: the owner writes every message this validator signs to its WAL
  before sending it (``jinglian.consensus.wal``) and, after a crash, passes the
  entries back as ``on_start(height, signed=entries)``. The machine restores
  what it signed at ``height``: those messages are re-broadcast at once and
  counted as its own. A restored proposal counts as one whose block is not
  known to be valid, so the owner should re-deliver it (``on_proposal`` with
  its verdict) right after ``on_start``; it is never built again. The lock is
  the highest-round non-nil precommit (``lock_of``), and so is the valid value.
  The machine resumes at the highest round it signed in or an ``EnteredStep``
  names, in the step its own votes of that round show (prevote or precommit
  sent: that step; nothing sent: propose, where the timeout leads on as usual).
- Memory per height is bounded: one ``VoteSet`` per (kind, round) for rounds up
  to ``round + ROUNDS_AHEAD_MAX``, each bounded by the validator set, and few
  proposals per round (see ``on_proposal``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum
from typing import TypeAlias

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
from jinglian.consensus.wal import (
    EnteredStep,
    SignedKind,
    SignedProposal,
    WalEntry,
    lock_of,
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
from jinglian.types.errors import ConfigError

__all__ = [
    "FUTURE_VOTES_MAX",
    "FUTURE_VOTES_PER_VALIDATOR_MAX",
    "ROUNDS_AHEAD_MAX",
    "Step",
    "Tbft",
    "compute_proposer",
]

ROUNDS_AHEAD_MAX = 64
"""Messages for rounds further than this ahead of the current round are dropped."""
FUTURE_VOTES_MAX = 4096
"""Votes for the next height kept until it starts; later ones are dropped."""
FUTURE_VOTES_PER_VALIDATOR_MAX = 16
"""Of those, the most kept per validator id, so that one sender cannot push out the others."""

_SignedKey: TypeAlias = tuple[int, SignedKind]
"""(round, kind) of a message this validator signed."""


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
        self._chain_id = chain_id
        self._me = validator_id
        self._set_validators(validators)
        self._params = params
        self._sign = sign
        self._verify = verify
        self._future_votes: list[Vote] = []
        self._future_votes_by: dict[bytes, int] = {}
        self._actions: list[Action] = []
        self.height = 0
        self.round = 0
        self.step = Step.PROPOSE
        self._reset_height(0)

    # Inputs -------------------------------------------------------------------------

    def on_start(
        self,
        height: int,
        validators: Mapping[bytes, int] | None = None,
        signed: Sequence[WalEntry] = (),
    ) -> list[Action]:
        """Start deciding ``height``: after the previous height is committed, or after a restart.

        Triggers: node start or restart (the height after the last committed
        block), or the owner having committed the block of a ``Decide``.

        ``validators``, if given, is the validator set of ``height`` and stays in
        force until the next call that gives one; votes buffered for ``height``
        are checked against it. ``signed`` is this validator's WAL after a
        restart (entries of other heights are ignored): the machine re-sends
        what it signed at ``height``, takes back its lock and resumes in the
        round it had reached (see the module docstring). Raises ``ConfigError``
        if an entry of ``height`` was signed by another validator (the WAL of
        another node).
        """
        assert height > self.height, "heights only grow"
        if validators is not None:
            self._set_validators(validators)
        self._reset_height(height)
        resume_round = self._restore(signed)
        self._start_round(resume_round)
        if self._resume_step():
            # Its own votes may already be a quorum (a validator holding over 2/3 of
            # the power: lines 34, 44, 47). In the propose step there is nothing to
            # do yet: a restored proposal waits for the owner's verdict on its block.
            self._process(self.round)
        buffered, self._future_votes = self._future_votes, []
        self._future_votes_by.clear()
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
            # A duplicate, unless it now brings the verdict "valid" for a block
            # whose validity was unknown (a restored own proposal, re-delivered).
            if known[proposal.block_hash][1] or not block_is_valid:
                return []
        elif known:
            first = next(iter(known.values()))[0]
            self._report(ConflictingProposals(first=first, second=proposal))
            if not self._has_one_third_for(round_, proposal.block_hash):
                return self._take_actions()
        self._keep_proposal(proposal, block_is_valid)
        self._note_sender(round_, proposal.proposer)
        self._process(round_)
        return self._take_actions()

    def on_vote(self, vote: Vote) -> list[Action]:
        """Count a prevote or precommit from the network.

        Triggers: a vote received from a peer. Correctly signed votes for the
        next height are buffered, within bounds; others are dropped unless they
        are for this height, within the round window, from a validator, well
        formed and correctly signed.
        """
        if vote.height == self.height + 1:
            self._buffer_future_vote(vote)
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
    def signed_messages(self) -> tuple[Proposal | Vote, ...]:
        """What this validator signed at the current height (restored ones first), in order."""
        return tuple(self._signed.values())

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

    def _set_validators(self, validators: Mapping[bytes, int]) -> None:
        assert validators and all(p > 0 for p in validators.values()), "need positive powers"
        self._validators = dict(validators)
        self._total_power = sum(self._validators.values())

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
        self._signed: dict[_SignedKey, Proposal | Vote] = {}

    def _restore(self, entries: Sequence[WalEntry]) -> int:
        """Take back what this validator signed at this height before a restart; return the round to resume.

        Every message of the height is recorded as signed, re-broadcast (peers
        may never have got it) and counted as this validator's own; a proposal's
        block validity is unknown until the owner re-delivers it. The lock (and
        the valid value) is the highest-round non-nil precommit (line 36 locks
        exactly when it precommits). The round to resume is the highest one
        signed in or named by an ``EnteredStep``.
        """
        resume_round = 0
        for entry in entries:
            if isinstance(entry, EnteredStep):
                if entry.height == self.height:
                    resume_round = max(resume_round, entry.round)
                continue
            message = entry.proposal if isinstance(entry, SignedProposal) else entry.vote
            if message.height != self.height:
                continue
            self._validate_own(message)
            self._signed[_signed_key(message)] = message
            resume_round = max(resume_round, message.round)
        self._locked_value, self._locked_round = lock_of(entries, self.height)
        self._valid_value, self._valid_round = self._locked_value, self._locked_round
        for message in self._signed.values():
            self._actions.append(Broadcast(message))
            self._count_own(message, is_valid=False)
        return resume_round

    def _validate_own(self, message: Proposal | Vote) -> None:
        signer = message.proposer if isinstance(message, Proposal) else message.validator
        if signer != self._me:
            raise ConfigError(
                f"the WAL holds a message of height {message.height} signed by {signer.hex()}, "
                f"not by this validator {self._me.hex()}: is it another node's WAL?"
            )

    def _resume_step(self) -> bool:
        """Move to the step this validator's own votes of the round show it had reached; True if moved."""
        # Its prevote (precommit) of the resumed round shows that line 22, 28 or
        # 57 (36, 44 or 61) had already run.
        if (self.round, "precommit") in self._signed:
            self.step = Step.PRECOMMIT
        elif (self.round, "prevote") in self._signed:
            self.step = Step.PREVOTE
        return self.step != Step.PROPOSE

    def _start_round(self, round_: int) -> None:
        # Line 11: StartRound. Triggers: on_start (round 0, or after a restart the
        # round it had reached), the precommit timeout (round + 1), f+1 messages
        # of a later round (line 55).
        self.round = round_
        self.step = Step.PROPOSE
        if self._proposer(round_) == self._me and not self._proposals.get(round_):
            if self._valid_value is not None and self._valid_round < round_:
                self._send_proposal(self._valid_value, self._valid_round)
            else:
                self._actions.append(ProposeBlock(self.height, round_))
        self._schedule("propose", round_)

    def _send_proposal(self, block_hash: bytes, pol_round: int) -> None:
        """Sign and send the proposal of the current round for a block known to be valid.

        If a proposal of this round was already signed (before a restart), that
        one is sent again instead: a second one would be equivocation.
        """
        proposal = self._signed.get((self.round, "proposal"))
        if proposal is None:
            unsigned = Proposal(self.height, self.round, block_hash, pol_round, self._me, b"")
            signature = self._sign(proposal_sign_bytes(self._chain_id, unsigned))
            proposal = Proposal(self.height, self.round, block_hash, pol_round, self._me, signature)
            self._signed[(self.round, "proposal")] = proposal
        assert isinstance(proposal, Proposal), "a proposal is recorded under 'proposal'"
        self._actions.append(Broadcast(proposal))
        self._count_own(proposal, is_valid=proposal.block_hash == block_hash)

    def _cast(self, kind: VoteKind, block_hash: bytes) -> bytes:
        """Sign and send this validator's vote of ``kind`` in the current round; return its block hash.

        If a vote of this (round, kind) was already signed (before a restart),
        that one is sent and counted again instead, whatever ``block_hash`` is:
        a second, different vote would be equivocation.
        """
        if self._me not in self._validators:
            return block_hash
        vote = self._signed.get((self.round, kind))
        if vote is None:
            unsigned = Vote(kind, self.height, self.round, block_hash, self._me, b"")
            signature = self._sign(vote_sign_bytes_of(self._chain_id, unsigned))
            vote = Vote(kind, self.height, self.round, block_hash, self._me, signature)
            self._signed[(self.round, kind)] = vote
        assert isinstance(vote, Vote), "a vote is recorded under a vote kind"
        self._actions.append(Broadcast(vote))
        self._count_own(vote, is_valid=False)
        return vote.block_hash

    def _count_own(self, message: Proposal | Vote, is_valid: bool) -> None:
        """Count a message this validator sent, as peers will (``is_valid``: of a proposal's block)."""
        if isinstance(message, Proposal):
            self._keep_proposal(message, is_valid)
        else:
            self._get_votes(message.kind, message.round).add(message)
        self._note_sender(message.round, self._me)

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
            # Lock on what was precommitted: ``value``, unless a precommit of this
            # round signed before a restart was sent again instead.
            precommitted = self._cast("precommit", value)
            if precommitted != NIL:
                self._locked_value, self._locked_round = precommitted, self.round
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

    def _buffer_future_vote(self, vote: Vote) -> None:
        # Whether the sender is a validator of the next height is checked once it
        # starts (its set may differ); size, round and signature can be checked now.
        count = self._future_votes_by.get(vote.validator, 0)
        if len(self._future_votes) >= FUTURE_VOTES_MAX or count >= FUTURE_VOTES_PER_VALIDATOR_MAX:
            return
        if not 0 <= vote.round <= ROUNDS_AHEAD_MAX or not self._is_signed_vote(vote):
            return
        self._future_votes.append(vote)
        self._future_votes_by[vote.validator] = count + 1

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
        return vote.validator in self._validators and self._is_signed_vote(vote)

    def _is_signed_vote(self, vote: Vote) -> bool:
        if vote.kind not in VOTE_KINDS or len(vote.block_hash) not in (0, HASH_BYTES):
            return False
        message = vote_sign_bytes_of(self._chain_id, vote)
        return bool(vote.signature) and self._verify(vote.validator, message, vote.signature)

    def _first_proposal(self, round_: int) -> tuple[Proposal, bool] | None:
        known = self._proposals.get(round_)
        return next(iter(known.values())) if known else None

    def _is_valid_proposal(self, round_: int, block_hash: bytes) -> bool:
        entry = self._proposals.get(round_, {}).get(block_hash)
        return entry is not None and entry[1]

    def _keep_proposal(self, proposal: Proposal, is_valid: bool) -> None:
        """Keep a proposal of its round; a block's validity, once known to be true, stays true."""
        known = self._proposals.setdefault(proposal.round, {})
        earlier = known.get(proposal.block_hash)
        if earlier is None:
            known[proposal.block_hash] = (proposal, is_valid)
        elif is_valid and not earlier[1]:
            known[proposal.block_hash] = (earlier[0], True)

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
        if validator in self._validators:
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


def _signed_key(message: Proposal | Vote) -> _SignedKey:
    if isinstance(message, Proposal):
        return message.round, "proposal"
    return message.round, message.kind
