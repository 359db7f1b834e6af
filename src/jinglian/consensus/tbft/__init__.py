"""``tbft``: the Tendermint BFT consensus of Buchman, Kwon and Milosevic (2018).

``Tbft`` (in ``state``) is one validator's event-driven state machine for the
current height: ``on_start``, ``on_block_built``, ``on_proposal``, ``on_vote``
and ``on_timeout`` return lists of actions (``Broadcast``, ``ScheduleTimeout``,
``ProposeBlock``, ``Decide``, ``ReportMisbehaviour``) that its single owner
carries out. Vote counting lives in ``_vote_set`` (``VoteSet``, bounded by the
validator set). Messages are ``jinglian.types.consensus.Proposal`` and ``Vote``.
``on_start(height, validators, signed)`` takes the validator set of each height
and, after a restart, this validator's WAL entries (``jinglian.consensus.wal``),
so that it never signs two different messages for one (height, round, kind).
"""

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
from jinglian.consensus.tbft.state import (
    FUTURE_VOTES_MAX,
    FUTURE_VOTES_PER_VALIDATOR_MAX,
    ROUNDS_AHEAD_MAX,
    Step,
    Tbft,
    compute_proposer,
)

__all__ = [
    "FUTURE_VOTES_MAX",
    "FUTURE_VOTES_PER_VALIDATOR_MAX",
    "ROUNDS_AHEAD_MAX",
    "Action",
    "Broadcast",
    "ConflictingProposals",
    "Decide",
    "Equivocation",
    "ProposeBlock",
    "ReportMisbehaviour",
    "ScheduleTimeout",
    "Step",
    "Tbft",
    "TimeoutKind",
    "VoteSet",
    "compute_proposer",
]
