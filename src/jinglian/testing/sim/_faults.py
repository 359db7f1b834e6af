"""What a seed stands for: the cluster size, the network's faults, crashes and Byzantine validators."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "BEHAVIOURS",
    "Behaviour",
    "Faults",
    "SimResult",
    "compute_faulty_max",
    "compute_powers",
    "derive_setup",
]

Behaviour = Literal["equivocate", "double_vote", "invalid_blocks", "silent", "garbage"]
"""How a Byzantine validator misbehaves.

- ``equivocate``: two proposals per round it proposes and two votes per step,
  each to half of its peers.
- ``double_vote``: two votes per step (its block and nil, or nil and another
  block), each to a random part of its peers; proposals as honest.
- ``invalid_blocks``: every block it builds is one honest nodes judge invalid.
- ``silent``: sends nothing at all.
- ``garbage``: behaves honestly and also sends messages with bad signatures,
  wrong heights, far-future rounds, unknown or impersonated validator ids,
  malformed fields and forged commit certificates.
"""
BEHAVIOURS: tuple[Behaviour, ...] = (
    "equivocate",
    "double_vote",
    "invalid_blocks",
    "silent",
    "garbage",
)


def compute_faulty_max(validators: int) -> int:
    """``f``: the most Byzantine validators of equal power that ``3f + 1`` tolerate."""
    return (validators - 1) // 3


def compute_powers(ids: list[bytes], reweigh_at: int, height: int) -> dict[bytes, int]:
    """The validator set of ``height``: power 1 each, and 2 for the last one from ``reweigh_at`` on.

    The last validator is honest (Byzantine ones come first and are at most f),
    so the Byzantine power stays under a third of the total.
    """
    powers = dict.fromkeys(ids, 1)
    if 0 < reweigh_at <= height:
        powers[ids[-1]] = 2
    return powers


@dataclass(frozen=True, slots=True)
class Faults:
    """What the network and the validators do wrong."""

    drop_rate: float = 0.0
    """Chance that a delivery is lost before healing."""
    duplicate_rate: float = 0.0
    """Chance that a delivery arrives twice."""
    partition: bool = False
    """Split the cluster in two random halves until ``heal_ms``."""
    heal_ms: int = 0
    """Simulated time at which drops and the partition stop."""
    byzantine: tuple[Behaviour, ...] = ()
    """Behaviours of validators 0, 1, ...; the others are honest. At most f of them."""
    crashes: int = 0
    """How many times an honest validator crashes (before ``heal_ms`` plus a little) and restarts from its WAL."""
    reweigh_at: int = 0
    """From this height on, the last validator (an honest one) has voting power 2; 0: never."""


@dataclass(slots=True)
class SimResult:
    """The outcome of one simulation."""

    seed: int
    """Seed that drove it."""
    validators: int
    """Cluster size."""
    faults: Faults
    """Faults it ran with."""
    ok: bool = True
    """False if safety or liveness failed."""
    message: str = ""
    """What failed, and how to replay it."""
    decided: dict[int, bytes] = field(default_factory=dict)
    """Height to decided block hash (agreed by honest nodes), heights 1..K."""
    time_ms: int = 0
    """Simulated time when it stopped."""
    deliveries: int = 0
    """Messages delivered."""
    restarts: int = 0
    """Validators restarted from their WAL."""
    synced: int = 0
    """Heights honest nodes adopted by block sync rather than by deciding them."""


def derive_setup(seed: int) -> tuple[int, Faults]:
    """The cluster size and faults a seed stands for."""
    rng = random.Random(seed ^ 0x5EED)
    size = rng.randint(4, 7)
    faults = Faults(
        drop_rate=rng.choice((0.0, 0.05, 0.2)),
        duplicate_rate=rng.choice((0.0, 0.1)),
        partition=rng.random() < 0.4,
        heal_ms=rng.randint(500, 3000),
        byzantine=tuple(
            rng.choice(BEHAVIOURS) for _ in range(rng.randint(0, compute_faulty_max(size)))
        ),
        crashes=rng.choice((0, 0, 1, 2, 3)),
        reweigh_at=rng.choice((0, 0, 2, 3)),
    )
    return size, faults
