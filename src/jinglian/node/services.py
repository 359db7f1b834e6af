"""What a running node offers to its API: the seam between ``node`` and ``api``.

The REST/WebSocket server (``jinglian.api``) is thin over ``NodeServices``; a
test can hand it any object with these methods. Records are plain frozen
values; JSON rendering is the API's job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from jinglian.ledger import Signer
from jinglian.node.readers import ReadRequest
from jinglian.types import Block, ChainConfig, Commit, Header, Receipt, Tx

__all__ = [
    "BlockRecord",
    "ChainInfo",
    "EventFilter",
    "NodeServices",
    "QueryResult",
    "StateRecord",
    "StreamItem",
    "TxRecord",
]


@dataclass(frozen=True, slots=True)
class ChainInfo:
    """Summary of the chain as this node sees it."""

    chain_id: str
    crypto: str
    consensus: str
    genesis_hash: bytes
    height: int
    """Height of the latest committed block (0 before the first block)."""
    head_hash: bytes
    """Hash of the latest committed header (the genesis hash at height 0)."""
    state_root: bytes
    head_time_ms: int
    node_name: str
    config: ChainConfig


@dataclass(frozen=True, slots=True)
class BlockRecord:
    """A committed block with its commit certificate."""

    block: Block
    hash: bytes
    commit: Commit
    receipts: tuple[Receipt, ...]


@dataclass(frozen=True, slots=True)
class TxRecord:
    """A committed transaction, its receipt and the proof that the block holds both."""

    tx: Tx
    receipt: Receipt
    height: int
    index: int
    header: Header
    commit: Commit
    tx_proof: tuple[bytes, ...]
    """RFC 6962 audit path of ``tx.encoded`` in ``header.tx_root``."""
    receipt_proof: tuple[bytes, ...]
    """RFC 6962 audit path of the encoded receipt in ``header.receipt_root``."""


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The value a query method returned, at a height."""

    value: Any
    height: int
    gas_used: int
    reads: tuple[StateRecord, ...]
    """With ``prove=True``: every state key the query read, with its proof."""
    header: Header | None
    """With ``prove=True``: the header whose state root the proofs verify against."""
    commit: Commit | None


@dataclass(frozen=True, slots=True)
class StateRecord:
    """One raw state key at a height, with its proof against that height's state root."""

    key: bytes
    value: bytes | None
    height: int
    proof: dict[str, Any]
    """``encode_state_proof`` form of the membership / non-membership proof."""


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which stream items a subscriber wants."""

    blocks: bool = True
    contract: str | None = None
    topic: str | None = None


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One item of the live stream: a new block header or a contract event."""

    kind: str
    """``"block"`` or ``"event"``."""
    height: int
    data: dict[str, Any]
    """JSON-ready body."""


class NodeServices(Protocol):
    """Operations the API exposes; bad input raises ``JinglianError`` subclasses."""

    def chain_info(self) -> ChainInfo: ...

    def health(self) -> dict[str, Any]: ...

    def submit_tx(self, data: bytes) -> bytes:
        """Admit wire bytes to the mempool; returns the tx id. Called from the API's admission
        threads, several at once."""
        ...

    async def wait_tx(self, tx_id: bytes, timeout_s: float) -> TxRecord:
        """Wait until the transaction commits; raises ``Timeout``."""
        ...

    def get_tx(self, tx_id: bytes) -> TxRecord | None: ...

    def get_block(self, height: int | None) -> BlockRecord | None:
        """``None`` asks for the latest block."""
        ...

    def get_block_by_hash(self, block_hash: bytes) -> BlockRecord | None: ...

    def query(
        self, contract: str, method: str, args: dict[str, Any], height: int | None, prove: bool
    ) -> QueryResult: ...

    def get_state(
        self, key: bytes, height: int | None
    ) -> tuple[StateRecord, Header, Commit | None]: ...

    def authorize_read(self, resource: str, request: ReadRequest) -> Signer:
        """The reader of a signed request under the ``query`` or ``subscribe`` policy, or raise
        why not (``ReadGuard.authorize``)."""
        ...

    def config_change_heights(self) -> list[int]:
        """Heights of the blocks that changed the chain config, oldest first."""
        ...

    def subscribe(self, flt: EventFilter) -> AsyncIterator[StreamItem]: ...

    def metrics_text(self) -> bytes:
        """Prometheus exposition text."""
        ...
