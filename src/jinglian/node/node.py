"""The composition root: one node's ledger, pool, consensus and API wired together.

``Node`` opens the node's store, checks that its signing key matches its
certificate and that the certificate belongs to a validator of the chain, and
runs consensus on its own thread. It is the consensus ``Application`` (build a
block from the pool, commit it) and publishes every commit to waiters and
subscribers. ``run_node`` adds the REST API and runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from jinglian.consensus import Solo, SystemClock
from jinglian.crypto import Certificate, PrivateKey, Suite, get_suite, load_certificate
from jinglian.execution.system.consensus import CONSENSUS_NAME, REPORT_METHOD
from jinglian.ledger import (
    PROPOSAL_GAS_BUDGET,
    BlockResult,
    Ledger,
    build_block,
    check_tx,
    load_genesis,
)
from jinglian.mempool import Mempool
from jinglian.node.config import NodeConfig
from jinglian.node.events import BlockStream, EventHub, TxOutcome
from jinglian.node.executor import ContractExecutor
from jinglian.node.lock import DataDirLock
from jinglian.node.metrics import NodeMetrics
from jinglian.node.replica import Replica
from jinglian.storage.lmdb_kv import LmdbKV
from jinglian.types import ChainConfig, Commit, Endorsement, Tx, TxBody, encode_tx_body, make_tx
from jinglian.types.consensus import Proposal, Vote, encode_proposal, encode_vote
from jinglian.types.errors import ConfigError, CryptoError, JinglianError

__all__ = ["Node"]

log = logging.getLogger("jinglian.node")
GENESIS_BYTES_MAX = 4 * 1024 * 1024
MISBEHAVIOUR_KEPT_MAX = 1_000
REPORT_INTERVAL_HEIGHTS = 100
"""A node puts a validator's offences on chain at most once per this many heights (a liar that
equivocates at every height would otherwise make every block carry reports)."""
OWN_TX_EXPIRY_MS = 120_000
"""Transactions the node signs itself (evidence reports) expire after this."""


class Node:
    """A running node: ledger, mempool, consensus thread, events and metrics."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.genesis: ChainConfig = load_genesis(
            _read(config.path(config.genesis), GENESIS_BYTES_MAX)
        )
        self.suite: Suite = get_suite(self.genesis.crypto)
        self.key, self.cert = self._load_identity()
        self._lock = DataDirLock(config.path(config.data_dir))
        try:
            self.kv = LmdbKV(config.path(config.data_dir))
            self.executor = ContractExecutor(self.suite.hash)
            self.ledger = Ledger(self.kv, self.genesis, self.executor)
            self.mempool = Mempool(self._admit)
            self.events = EventHub()
            self.metrics = NodeMetrics()
            self.metrics.height.set(self.ledger.head().height)
            self.started_ms = time.time_ns() // 1_000_000
            self.misbehaviour: list[tuple[Proposal | Vote, Proposal | Vote]] = []
            """Conflicting signed messages of validators seen by this node (bounded)."""
            self._reported: dict[bytes, int] = {}
            """Validator id -> head height when this node last reported it."""
            self.replica: Replica | None = None
            self._consensus: Solo | None = None
            if self.genesis.consensus.type == "tbft":
                self.replica = Replica(self)
            else:
                self._consensus = self._make_solo()
        except BaseException:
            if hasattr(self, "kv"):
                self.kv.close()
            self._lock.release()
            raise
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start consensus (and, on a BFT chain, the peer network)."""
        if self.replica is not None:
            self.replica.start()
        else:
            assert self._consensus is not None
            self._thread = threading.Thread(
                target=self._consensus.run, name="consensus", daemon=True
            )
            self._thread.start()
        log.info("node %s started at height %d", self.config.name, self.ledger.head().height)

    def stop(self) -> None:
        """Stop consensus after the block in progress and close the store."""
        if self.replica is not None:
            self.replica.stop()
        if self._consensus is not None:
            self._consensus.stop()
        self.mempool.wake()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.kv.close()
        self._lock.release()

    # -- consensus Application ---------------------------------------------------------------

    def propose_block(self, time_ms: int) -> BlockResult | None:
        """Build the next block from the pool; drop and report transactions no longer acceptable."""
        params = self.ledger.config().params
        txs = self.mempool.reap(params.block_txs_max, params.block_bytes_max)
        if not txs and not params.empty_blocks:
            return None
        result = build_block(
            self.ledger, txs, time_ms, self.cert.cert_id, gas_budget=PROPOSAL_GAS_BUDGET
        )
        self.forget_dropped(result)
        return result

    def forget_dropped(self, result: BlockResult) -> None:
        """Drop from the pool, and report, the transactions a block build left out."""
        if result.dropped:
            self.mempool.remove(tx.id for tx, _ in result.dropped)
            for tx, error in result.dropped:
                self.events.resolve(tx.id, TxOutcome(height=None, error=error))
                self.metrics.txs_dropped.inc()

    def commit_block(self, proposal: BlockResult, commit: Commit) -> None:
        """Commit durably, then release the pool and tell waiters and subscribers."""
        started = time.perf_counter()
        self.ledger.commit_block(proposal, commit)
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        self.mempool.remove(tx.id for tx in proposal.block.txs)
        self.metrics.on_block(proposal, len(self.mempool))
        for tx in proposal.block.txs:
            self.events.resolve(tx.id, TxOutcome(height=proposal.height, error=None))
        if self.events.has_subscribers:
            self.events.publish_block(BlockStream(proposal))

    def is_block_full(self) -> bool:
        """True if the pool holds at least a block's worth of transactions."""
        params = self.ledger.config().params
        return (
            len(self.mempool) >= params.block_txs_max
            or self.mempool.size_bytes >= params.block_bytes_max
        )

    def wait_for_txs(self, timeout_s: float) -> bool:
        """Block the consensus thread until transactions wait."""
        return self.mempool.wait(timeout_s)

    # -- admission ---------------------------------------------------------------------------

    def submit_tx(self, tx: Tx) -> None:
        """Admit a transaction from a client and pass it on to the peers."""
        self.mempool.add(tx)
        if self.replica is not None:
            self.replica.gossip(tx)

    def record_misbehaviour(self, first: Proposal | Vote, second: Proposal | Vote) -> None:
        """Keep evidence of a validator that signed two conflicting messages, and put it on chain.

        The node signs a ``consensus.report_misbehaviour`` call with its own
        consensus identity, at most once per ``REPORT_INTERVAL_HEIGHTS`` per
        validator; every honest node that saw the offence does, the first one
        included is recorded and the others fail as duplicates.
        """
        offender = _offence_key(first)[0]
        height = self.ledger.head().height
        last = self._reported.get(offender)
        if last is not None and height < last + REPORT_INTERVAL_HEIGHTS:
            return
        self._reported[offender] = height
        if len(self.misbehaviour) >= MISBEHAVIOUR_KEPT_MAX:
            self.misbehaviour.pop(0)
        self.misbehaviour.append((first, second))
        kind = "proposal" if isinstance(first, Proposal) else "vote"
        encode = encode_proposal if kind == "proposal" else encode_vote
        args = {"first": encode(first), "second": encode(second), "kind": kind}  # type: ignore[arg-type]
        tx = self._sign_own_tx(CONSENSUS_NAME, REPORT_METHOD, args)
        try:
            self.submit_tx(tx)
        except JinglianError as exc:
            log.warning("could not submit misbehaviour evidence: %s", exc.message)
            return
        log.warning("submitted misbehaviour evidence in transaction %s", tx.id.hex())

    def _sign_own_tx(self, contract: str, method: str, args: dict[str, Any]) -> Tx:
        now_ms = time.time_ns() // 1_000_000
        body = TxBody(
            chain_id=self.genesis.chain_id,
            sender=self.cert.cert_id,
            contract=contract,
            method=method,
            args=args,
            nonce=os.urandom(16),
            timestamp_ms=now_ms,
            expires_ms=now_ms + OWN_TX_EXPIRY_MS,
        )
        payload = encode_tx_body(body)
        endorsement = Endorsement(signer=self.cert.der, signature=self.key.sign(payload))
        return make_tx(self.suite.hash, payload, (endorsement,))

    def _admit(self, tx: Tx) -> None:
        now_ms = time.time_ns() // 1_000_000
        check_tx(self.ledger, tx, now_ms, set())

    # -- wiring ------------------------------------------------------------------------------

    def _load_identity(self) -> tuple[PrivateKey, Certificate]:
        try:
            key = self.suite.load_private_key(
                _read(self.config.path(self.config.sign_key), 64 * 1024)
            )
            cert = load_certificate(_read(self.config.path(self.config.sign_cert), 64 * 1024))
        except CryptoError as exc:
            raise ConfigError(f"node signing identity is unusable: {exc.message}") from exc
        if key.public_key() != cert.public_key:
            raise ConfigError("node signing key does not match its certificate")
        return key, cert

    def _make_solo(self) -> Solo:
        validator = self.genesis.validators[0]
        if load_certificate(validator.cert.encode()).cert_id != self.cert.cert_id:
            raise ConfigError(
                f"node {self.config.name!r} is not the chain's validator {validator.name!r}"
            )
        return Solo(
            app=self,  # type: ignore[arg-type]
            clock=SystemClock(),
            chain_id=self.genesis.chain_id,
            validator_id=self.cert.cert_id,
            sign=self.key.sign,
            params=lambda: self.ledger.config().params,
        )


def _offence_key(message: Proposal | Vote) -> tuple[bytes, int, int, str]:
    if isinstance(message, Proposal):
        return message.proposer, message.height, message.round, "proposal"
    return message.validator, message.height, message.round, message.kind


def _read(path: Path, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > max_bytes:
        raise ConfigError(f"{path} is larger than {max_bytes} bytes")
    return data
