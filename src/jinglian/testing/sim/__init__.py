"""Deterministic simulation of a TBFT cluster, faults and all, from one seed.

``run_simulation(seed, validators, heights, faults) -> SimResult``; run many
seeds with ``python -m jinglian.testing.sim --seeds 1000 [--start K]`` and
replay one with ``--seed S``. Modules: ``_cluster`` (the event loop and
network), ``_node`` (one validator's owner: WAL, crash, restart),
``_byzantine`` (what Byzantine validators send), ``_safety`` (the checks run
after every event), ``_faults`` (what a seed stands for) and ``_wire``
(signatures, block sync's message and its commit check).
"""

from jinglian.testing.sim._cluster import LIVENESS_BOUND_MS, run_simulation
from jinglian.testing.sim._faults import BEHAVIOURS, Behaviour, Faults, SimResult

__all__ = [
    "BEHAVIOURS",
    "LIVENESS_BOUND_MS",
    "Behaviour",
    "Faults",
    "SimResult",
    "run_simulation",
]
