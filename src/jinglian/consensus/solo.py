"""``solo``: one validator that commits a block as soon as transactions wait.

For development and single-organisation chains. The lone validator builds a
block from the pool (after waiting at most ``block_interval_ms`` for more
transactions to gather, unless they already fill a block), signs a precommit over it and commits: its one
signature is the block's commit certificate. Idle, it produces no blocks unless
the chain asks for empty blocks.
"""

from __future__ import annotations

from collections.abc import Callable

from jinglian.consensus.protocols import Application, Clock
from jinglian.types import ChainParams, Commit, CommitSignature, vote_sign_bytes

__all__ = ["IDLE_POLL_S", "Solo"]

IDLE_POLL_S = 0.5
"""How long the producer waits for transactions before checking whether to stop."""


class Solo:
    """The single-validator block producer."""

    def __init__(
        self,
        app: Application,
        clock: Clock,
        chain_id: str,
        validator_id: bytes,
        sign: Callable[[bytes], bytes],
        params: Callable[[], ChainParams],
    ) -> None:
        """``params`` gives the chain parameters in force (governance may change
        ``block_interval_ms`` and ``empty_blocks``); it is read before every block."""
        self._app = app
        self._clock = clock
        self._chain_id = chain_id
        self._validator_id = validator_id
        self._sign = sign
        self._params = params
        self._stopping = False

    def run(self) -> None:
        """Produce blocks until ``stop`` is called."""
        while not self._stopping:
            self.step()

    def step(self) -> bool:
        """Wait for work, then build and commit at most one block; True if one was committed."""
        params = self._params()
        if not self._app.wait_for_txs(IDLE_POLL_S) and not params.empty_blocks:
            return False
        if self._stopping:
            return False
        if not self._app.is_block_full():
            self._clock.sleep(params.block_interval_ms / 1000)
        proposal = self._app.propose_block(self._clock.now_ms())
        if proposal is None or (proposal.tx_count == 0 and not params.empty_blocks):
            return False
        signature = self._sign(vote_sign_bytes(self._chain_id, proposal.height, 0, proposal.hash))
        commit = Commit(
            height=proposal.height,
            round=0,
            block_hash=proposal.hash,
            signatures=(CommitSignature(validator=self._validator_id, signature=signature),),
        )
        self._app.commit_block(proposal, commit)
        return True

    def stop(self) -> None:
        """Ask ``run`` to return after the current step."""
        self._stopping = True
