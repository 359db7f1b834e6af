"""Chain rules: applying blocks, receipts, indexes and proofs.

``Ledger`` (``chain.py``) owns the store and commits each block atomically;
``build_block`` and ``apply_block`` (``apply.py``) are the state transition for
the proposer and for every other node; ``TxAuthenticator`` (``auth.py``) decides
who signed a transaction and whether they may. Contracts run through the
``TxExecutor`` seam, implemented over ``jinglian.execution`` by the node.
"""

from jinglian.ledger.apply import (
    PROPOSAL_GAS_BUDGET,
    BlockResult,
    Head,
    Outcome,
    TxExecutor,
    apply_block,
    build_block,
    check_tx,
)
from jinglian.ledger.auth import Signer, TxAuthenticator
from jinglian.ledger.chain import Ledger, TxLocation, load_genesis
from jinglian.ledger.state import BlockState, StateView

__all__ = [
    "PROPOSAL_GAS_BUDGET",
    "BlockResult",
    "BlockState",
    "Head",
    "Ledger",
    "Outcome",
    "Signer",
    "StateView",
    "TxAuthenticator",
    "TxExecutor",
    "TxLocation",
    "apply_block",
    "build_block",
    "check_tx",
    "load_genesis",
]
