"""Re-verify a node's whole chain from genesis: ``jinglian node verify``.

Reads every committed block from a node's store and replays it on a fresh
in-memory ledger built from the same genesis: each commit must carry valid
signatures of more than two thirds of the validators' power over the block
hash, each block must extend the previous one, and re-executing it must
reproduce its transaction, receipt and state roots and the stored receipts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jinglian.crypto import get_suite
from jinglian.ledger import Ledger, apply_block, load_genesis
from jinglian.node.config import load_node_config
from jinglian.node.executor import ContractExecutor
from jinglian.storage.kv import MemoryKV
from jinglian.storage.lmdb_kv import LmdbKV
from jinglian.types import ChainConfig
from jinglian.types.errors import InvalidBlock
from jinglian.types.validators import validate_commit

__all__ = ["ChainReport", "verify_chain", "verify_node_dir"]


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What a full verification covered."""

    height: int
    txs: int
    head_hash: bytes
    state_root: bytes


def verify_node_dir(node_dir: Path) -> ChainReport:
    """Verify the chain stored in a (stopped or running) node's data directory."""
    config = load_node_config(node_dir)
    genesis = load_genesis(config.path(config.genesis).read_bytes())
    kv = LmdbKV(config.path(config.data_dir), readonly=True)
    try:
        executor = ContractExecutor(get_suite(genesis.crypto).hash)
        return verify_chain(Ledger(kv, genesis, executor), genesis)
    finally:
        kv.close()


def verify_chain(stored: Ledger, genesis: ChainConfig) -> ChainReport:
    """Replay every block of ``stored`` on a fresh ledger; raise ``InvalidBlock`` at the first fault."""
    replay = Ledger(MemoryKV(), genesis, ContractExecutor(get_suite(genesis.crypto).hash))
    txs = 0
    for height in range(1, stored.head().height + 1):
        block = stored.get_block(height)
        commit = stored.get_commit(height)
        if block is None or commit is None:
            raise InvalidBlock(f"block or commit {height} is missing from the store")
        validate_commit(replay.config(), commit)
        result = apply_block(replay, block)
        if result.hash != commit.block_hash:
            raise InvalidBlock(f"block {height} hash differs from its commit")
        if result.receipts != stored.get_receipts(height):
            raise InvalidBlock(f"stored receipts of block {height} differ from re-execution")
        replay.commit_block(result, commit)
        txs += len(block.txs)
    head = replay.head()
    if head.hash != stored.head().hash:
        raise InvalidBlock("replayed head differs from the stored head")
    return ChainReport(height=head.height, txs=txs, head_hash=head.hash, state_root=head.state_root)
