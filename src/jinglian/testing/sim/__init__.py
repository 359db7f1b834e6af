"""Deterministic simulation of a TBFT cluster (see ``_cluster`` for the model).

``run_simulation(seed, validators, heights, faults) -> SimResult``; run many
seeds with ``python -m jinglian.testing.sim --seeds 1000``.
"""

from jinglian.testing.sim._cluster import LIVENESS_BOUND_MS, Faults, SimResult, run_simulation

__all__ = ["LIVENESS_BOUND_MS", "Faults", "SimResult", "run_simulation"]
