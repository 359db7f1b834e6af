"""``NodeServices`` over a ``Node`` in the same process: what the REST API calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from jinglian.crypto.state_proof import encode_state_proof
from jinglian.ledger import Ledger, Signer
from jinglian.ledger.chain import CONFIG_STATE_KEY
from jinglian.ledger.keys import HEAD
from jinglian.ledger.state import BlockState
from jinglian.node.events import TxOutcome
from jinglian.node.node import Node
from jinglian.node.readers import ReadGuard, ReadRequest
from jinglian.node.services import (
    BlockRecord,
    ChainInfo,
    EventFilter,
    QueryResult,
    StateRecord,
    StreamItem,
    TxRecord,
)
from jinglian.types import Commit, Header, codec, decode_tx
from jinglian.types.errors import InvalidInput, JinglianError, NotFound, Timeout

__all__ = ["LocalServices"]

WAIT_S_MAX = 120.0
QUERY_READS_MAX = 1000


class LocalServices:
    """The node's operations as the API sees them."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.ledger: Ledger = node.ledger
        ledger = node.ledger
        self.readers = ReadGuard(ledger.config, ledger.authenticator.certificate, ledger.is_revoked)
        """Checks signed reads against the query and subscribe policies."""

    def authorize_read(self, resource: str, request: ReadRequest) -> Signer:
        """The reader of a signed request, or the reason it may not read."""
        return self.readers.authorize(resource, request)

    def chain_info(self) -> ChainInfo:
        """Chain identity and head."""
        head = self.ledger.head()
        config = self.ledger.config()
        return ChainInfo(
            chain_id=config.chain_id,
            crypto=config.crypto,
            consensus=config.consensus.type,
            genesis_hash=self.ledger.genesis_hash,
            height=head.height,
            head_hash=head.hash,
            state_root=head.state_root,
            head_time_ms=head.time_ms,
            node_name=self.node.config.name,
            config=config,
        )

    def health(self) -> dict[str, Any]:
        """Liveness and basic load figures."""
        head = self.ledger.head()
        return {
            "status": "ok",
            "node": self.node.config.name,
            "height": head.height,
            "mempool_txs": len(self.node.mempool),
            **(self.node.replica.status() if self.node.replica is not None else {}),
            "uptime_s": (time.time_ns() // 1_000_000 - self.node.started_ms) // 1000,
        }

    def submit_tx(self, data: bytes) -> bytes:
        """Decode and admit a transaction; returns its id."""
        try:
            tx = decode_tx(data, self.ledger.suite_hash, self.ledger.config().params.tx_bytes_max)
            self.node.submit_tx(tx)
        except JinglianError as exc:
            self.node.metrics.txs_rejected.labels(code=exc.code).inc()
            raise
        return tx.id

    async def wait_tx(self, tx_id: bytes, timeout_s: float) -> TxRecord:
        """Wait for a transaction to commit; raises its drop reason or ``Timeout``."""
        timeout_s = min(max(timeout_s, 0.0), WAIT_S_MAX)
        future = self.node.events.waiter(tx_id)
        try:
            record = self.get_tx(tx_id)
            if record is not None:
                return record
            outcome: TxOutcome = await asyncio.wait_for(future, timeout_s)
        except TimeoutError as exc:
            raise Timeout(
                f"transaction {tx_id.hex()} did not commit within {timeout_s:g} s"
            ) from exc
        finally:
            self.node.events.forget(tx_id, future)
        if outcome.error is not None:
            raise outcome.error
        record = self.get_tx(tx_id)
        assert record is not None, "a transaction reported committed is in the index"
        return record

    def get_tx(self, tx_id: bytes) -> TxRecord | None:
        """A committed transaction with receipt, header, commit and Merkle proofs."""
        location = self.ledger.locate_tx(tx_id)
        if location is None:
            return None
        block = self.ledger.get_block(location.height)
        commit = self.ledger.get_commit(location.height)
        assert block is not None and commit is not None
        receipts = self.ledger.get_receipts(location.height)
        tx_path, receipt_path = self.ledger.tx_proofs(block, receipts, location.index)
        return TxRecord(
            tx=block.txs[location.index],
            receipt=receipts[location.index],
            height=location.height,
            index=location.index,
            header=block.header,
            commit=commit,
            tx_proof=tuple(tx_path),
            receipt_proof=tuple(receipt_path),
        )

    def get_block(self, height: int | None) -> BlockRecord | None:
        """A committed block (the latest when ``height`` is ``None``)."""
        height = self.ledger.head().height if height is None else height
        block = self.ledger.get_block(height)
        if block is None:
            return None
        commit = self.ledger.get_commit(height)
        assert commit is not None
        return BlockRecord(
            block=block,
            hash=commit.block_hash,
            commit=commit,
            receipts=self.ledger.get_receipts(height),
        )

    def get_block_by_hash(self, block_hash: bytes) -> BlockRecord | None:
        """A committed block by header hash."""
        height = self.ledger.height_of(block_hash)
        return None if height is None else self.get_block(height)

    def query(
        self, contract: str, method: str, args: dict[str, Any], height: int | None, prove: bool
    ) -> QueryResult:
        """Run a query method against the latest state, or read-only at a past height."""
        with self.ledger.kv.snapshot() as snap:
            head_height = _head_height(snap.get(HEAD))
            at = head_height if height is None else height
            if at > head_height or at < 0:
                raise NotFound(f"no block at height {at}; the head is {head_height}")
            view = _Recording(
                BlockState(snap) if at == head_height else _HistoricalView(self.ledger, at)
            )
            gas_limit = self.ledger.config().params.gas_query_max
            time_ms = self.ledger.head().time_ms
            value, gas_used = self.node.executor.query(
                view, contract, method, args, at, time_ms, gas_limit
            )
        if not prove:
            return QueryResult(
                value=value, height=at, gas_used=gas_used, reads=(), header=None, commit=None
            )
        reads = tuple(self._state_record(key, at) for key in view.keys[:QUERY_READS_MAX])
        header, commit = self._header_and_commit(at)
        return QueryResult(
            value=value, height=at, gas_used=gas_used, reads=reads, header=header, commit=commit
        )

    def get_state(
        self, key: bytes, height: int | None
    ) -> tuple[StateRecord, Header, Commit | None]:
        """A raw state value with its proof at ``height`` (latest when ``None``)."""
        at = self.ledger.head().height if height is None else height
        if at < 1:
            raise NotFound("state proofs start at height 1; no block is committed yet")
        header, commit = self._header_and_commit(at)
        return self._state_record(key, at), header, commit

    def config_change_heights(self) -> list[int]:
        """Heights of the blocks that changed the chain config, oldest first."""
        heights = [height for height, _ in self.ledger.key_history(CONFIG_STATE_KEY)]
        return sorted(set(heights))

    def _state_record(self, key: bytes, height: int) -> StateRecord:
        value, proof = self.ledger.prove_state(key, height)
        return StateRecord(key=key, value=value, height=height, proof=encode_state_proof(proof))

    def _header_and_commit(self, height: int) -> tuple[Header, Commit]:
        header = self.ledger.get_header(height)
        commit = self.ledger.get_commit(height)
        if header is None or commit is None:
            raise NotFound(f"no block at height {height}")
        return header, commit

    def subscribe(self, flt: EventFilter) -> AsyncIterator[StreamItem]:
        """Live stream of new blocks and contract events."""
        return self.node.events.subscribe(flt)

    def metrics_text(self) -> bytes:
        """Prometheus exposition text."""
        self.node.metrics.mempool_txs.set(len(self.node.mempool))
        if self.node.replica is not None:
            self.node.metrics.set_consensus(self.node.replica.status())
        return self.node.metrics.render()


class _HistoricalView:
    """State at a past height, read through the state tree (no prefix iteration there)."""

    def __init__(self, ledger: Ledger, height: int) -> None:
        self._ledger = ledger
        self._root = ledger.state_root_at(height)

    def get(self, key: bytes) -> bytes | None:
        return self._ledger.tree.get(self._root, key)

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        raise InvalidInput(
            "listing keys by prefix works at the latest height only; omit the height"
        )


class _Recording:
    """Remembers every key a query read, so the reads can be proven."""

    def __init__(self, inner: BlockState | _HistoricalView) -> None:
        self._inner = inner
        self.keys: list[bytes] = []
        self._seen: set[bytes] = set()

    def _note(self, key: bytes) -> None:
        if key not in self._seen:
            self._seen.add(key)
            self.keys.append(key)

    def get(self, key: bytes) -> bytes | None:
        self._note(key)
        return self._inner.get(key)

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._inner.iterate(prefix):
            self._note(key)
            yield key, value


def _head_height(raw: bytes | None) -> int:
    assert raw is not None, "an opened ledger always has a head"
    value = codec.decode(raw, 1024)
    assert isinstance(value, list)
    height = value[0]
    assert isinstance(height, int)
    return height
