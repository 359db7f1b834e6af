"""What the TBFT state machine asks its owner to do.

Every handler of ``Tbft`` returns a list of these values, in the order they
must be carried out. The state machine never sends, sleeps or commits itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from jinglian.consensus.tbft._vote_set import Equivocation
from jinglian.types import Commit
from jinglian.types.consensus import Proposal, Vote

__all__ = [
    "Action",
    "Broadcast",
    "ConflictingProposals",
    "Decide",
    "ProposeBlock",
    "ReportMisbehaviour",
    "ScheduleTimeout",
    "TimeoutKind",
]

TimeoutKind = Literal["propose", "prevote", "precommit"]


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send a signed message of this node to every validator."""

    message: Proposal | Vote
    """The proposal or vote, already signed."""


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Call ``on_timeout(kind, height, round)`` after ``delay_ms``."""

    kind: TimeoutKind
    """Which step the timeout ends."""
    height: int
    """Height it belongs to."""
    round: int
    """Round it belongs to."""
    delay_ms: int
    """Delay from now, in milliseconds."""


@dataclass(frozen=True, slots=True)
class ProposeBlock:
    """This node proposes in (height, round): build and execute a block, then call ``on_block_built``."""

    height: int
    """Height of the block to build."""
    round: int
    """Round the proposal is for."""


@dataclass(frozen=True, slots=True)
class Decide:
    """The block is final: commit it with its certificate, then call ``on_start(height + 1)``."""

    height: int
    """Height decided."""
    round: int
    """Round in which 2f+1 precommits were gathered."""
    block_hash: bytes
    """Hash of the decided block."""
    commit: Commit
    """The precommit signatures (more than 2/3 of the power), sorted by validator."""


@dataclass(frozen=True, slots=True)
class ConflictingProposals:
    """Two signed proposals of one proposer for the same (height, round)."""

    first: Proposal
    """The proposal received first."""
    second: Proposal
    """A later proposal for another block."""


@dataclass(frozen=True, slots=True)
class ReportMisbehaviour:
    """Signed evidence that a validator equivocated (for the owner to keep or gossip)."""

    evidence: Equivocation | ConflictingProposals
    """The two conflicting signed messages."""


Action: TypeAlias = Broadcast | ScheduleTimeout | ProposeBlock | Decide | ReportMisbehaviour
