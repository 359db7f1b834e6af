"""Consensus: deciding the next block.

``tbft`` (the Tendermint state machine in ``tbft.state``, run by
``tbft.driver.TbftDriver`` with the WAL of ``wal``) is the chain's BFT
consensus; ``Solo`` (one validator) is for development. Consensus reaches the
rest of the node only through protocols: ``protocols.Application`` and
``Clock`` for solo, ``tbft.driver.TbftApp`` and ``Transport`` for tbft.
"""

from jinglian.consensus.protocols import Application, Clock, Proposal, SystemClock
from jinglian.consensus.solo import Solo

__all__ = ["Application", "Clock", "Proposal", "Solo", "SystemClock"]
