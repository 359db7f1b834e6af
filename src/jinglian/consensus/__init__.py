"""Consensus: deciding the next block.

``Solo`` (one validator) is here now; the BFT state machine joins it. Consensus
reaches the rest of the node only through the protocols in ``protocols.py``.
"""

from jinglian.consensus.protocols import Application, Clock, Proposal, SystemClock
from jinglian.consensus.solo import Solo

__all__ = ["Application", "Clock", "Proposal", "Solo", "SystemClock"]
