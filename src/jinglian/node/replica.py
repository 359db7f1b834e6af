"""A validator (or follower) of a ``tbft`` chain: consensus, gossip and block sync in one node.

``Replica`` connects three things the ``Node`` owns (ledger, mempool, events)
to the consensus driver and the peer network:

- it is the driver's ``TbftApp``: it builds and executes the proposer's
  block, re-executes a proposed block before the validator prevotes, and
  commits the decided block with its certificate through ``Node.commit_block``;
- it is the driver's ``Transport``: a proposal goes out as its header plus
  the ids of its transactions (peers hold them already from gossip; one that
  lacks any asks for the whole block with ``GET_BLOCK``), votes go out as
  they are;
- it speaks the peer protocol (``jinglian.network.messages``): transactions
  admitted here are gossiped in batches to every peer (each node checks each
  transaction's signature once, when it enters its pool; gossiped
  transactions are not gossiped again, the member network is a full mesh),
  ``STATUS`` tells peers our head, and a node that sees a peer ahead of it
  asks for the missing blocks (``SYNC_REQUEST``), checks each one's commit
  certificate against the validator set of its height, re-executes it and
  commits it, on the consensus thread.

Threads: the peer network's event loop calls ``_on_peer_message`` and only
decodes small messages there; transaction batches, proposals, block bodies
and sync requests go through one bounded ingest queue to the ``ingest``
thread; the ingest thread hands each transaction batch to one of
``GOSSIP_ADMISSION_THREADS`` admission threads (decoding and signature checks,
which release the GIL, run beside consensus and each other) and waits for the
batches in flight before it looks at a proposal, so a proposal is still looked
at after the transactions sent before it. A ``replica`` thread flushes the
gossip buffer, sends status and retries block sync. Everything that changes
the ledger runs on the consensus thread.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jinglian.consensus import SystemClock
from jinglian.consensus.tbft.actions import ConflictingProposals, ReportMisbehaviour
from jinglian.consensus.tbft.driver import TbftDriver
from jinglian.consensus.wal import FileWAL
from jinglian.crypto import Certificate
from jinglian.ledger import PROPOSAL_GAS_BUDGET, BlockResult, apply_block, build_block
from jinglian.network import PeerIdentity, load_member_cas, load_peer_tls
from jinglian.network.messages import (
    SYNC_BATCH_BYTES_MAX,
    SYNC_BLOCKS_MAX,
    TXS_BATCH_MAX,
    Evidence,
    GetBlock,
    MessageType,
    ProposalMessage,
    Status,
    SyncRequest,
    decode_block_body,
    decode_evidence,
    decode_get_block,
    decode_proposal_message,
    decode_status,
    decode_sync_blocks,
    decode_sync_request,
    decode_txs,
    decode_vote_message,
    encode_block_body,
    encode_evidence,
    encode_get_block,
    encode_proposal_message,
    encode_status,
    encode_sync_blocks,
    encode_sync_request,
    encode_txs,
    encode_vote_message,
)
from jinglian.network.peers import PeerNetwork, parse_peer_address
from jinglian.types import Block, ChainConfig, Commit, Tx, encode_header
from jinglian.types.consensus import Proposal, Vote
from jinglian.types.errors import DuplicateTransaction, InvalidBlock, InvalidInput, JinglianError
from jinglian.types.validators import ValidatorSet, validate_commit, validator_set_of

if TYPE_CHECKING:
    from jinglian.node.node import Node

__all__ = [
    "BLOCK_TIME_DRIFT_MS_MAX",
    "GOSSIP_FLUSH_MS",
    "INGEST_QUEUE_MAX",
    "STATUS_INTERVAL_MS",
    "SYNC_LAG_BLOCKS",
    "SYNC_TIMEOUT_MS",
    "Replica",
    "is_behind_peers",
]

log = logging.getLogger("jinglian.node.replica")

GOSSIP_FLUSH_MS = 10
"""Transactions admitted here wait at most this long before they are gossiped."""
STATUS_INTERVAL_MS = 1_000
"""How often a node tells its peers its head (also after every commit)."""
SYNC_TIMEOUT_MS = 5_000
"""Block sync requests unanswered for this long are sent again (to the best peer)."""
SYNC_PIPELINE = 2
"""Block sync requests (of ``SYNC_BLOCKS_MAX`` blocks) in flight at once."""
SYNC_LAG_BLOCKS = 2
"""A node more blocks than this behind its peers' reported heads (their median) drops gossiped
transactions."""
INGEST_QUEUE_MAX = 4_096
"""Peer messages waiting for the ingest thread; beyond it they are dropped."""
GOSSIP_ADMISSION_THREADS = 2
"""Threads that decode and admit gossiped transaction batches (one per core of the reference
machine: signature checks release the GIL, so two run at once)."""
GOSSIP_BATCHES_INFLIGHT_MAX = 8
"""Gossiped batches being admitted at once; the ingest thread waits for the oldest beyond it."""
BLOCK_TIME_DRIFT_MS_MAX = 10_000
"""A proposed block's time may be at most this far ahead of this node's clock."""
BODIES_MAX = 256
"""Proposed block bodies (and headers waiting for one) kept for undecided heights."""
WAL_FILE = "consensus.wal"


@dataclass(slots=True)
class _SyncState:
    inflight_until: float = 0.0
    """Monotonic time until which the outstanding requests are awaited."""
    requested_to: int = 0
    """Highest height asked for by the outstanding requests."""
    best_height: int = 0
    """Highest head a peer reported."""
    best_peer: PeerIdentity | None = None


class Replica:
    """Consensus, gossip and block sync of one ``tbft`` node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.ledger = node.ledger
        config = node.config
        self._hash = node.suite.hash
        self._vset: ValidatorSet = validator_set_of(self.ledger.config())
        self._blocks: dict[bytes, BlockResult] = {}
        self._invalid: set[bytes] = set()
        self._bodies: dict[bytes, Block] = {}
        self._headers: dict[bytes, ProposalMessage] = {}
        self._lock = threading.Lock()
        self._gossip: list[Tx] = []
        self._gossip_lock = threading.Lock()
        self._ingest: queue.Queue[tuple[PeerIdentity, int, bytes] | None] = queue.Queue(
            INGEST_QUEUE_MAX
        )
        self._admission = ThreadPoolExecutor(
            GOSSIP_ADMISSION_THREADS, thread_name_prefix="gossip-admission"
        )
        self._admitting: deque[Future[None]] = deque()
        """Gossiped batches handed to the admission threads (ingest thread only)."""
        self._sync = _SyncState()
        self._sync_lock = threading.Lock()
        self._peers: dict[bytes, Status] = {}
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats: dict[str, int] = {
            "messages_dropped": 0,
            "messages_invalid": 0,
            "blocks_synced": 0,
            "bodies_fetched": 0,
            "gossip_dropped_syncing": 0,
        }
        self._member_cas = _member_cas(self.ledger.config())
        tls = load_peer_tls(
            config.root, member_cas=self._member_cas, is_revoked=self.ledger.is_revoked
        )
        self.ledger.config_listeners.append(self._config_changed)
        self.network = PeerNetwork(
            tls,
            (config.p2p_host, config.p2p_port),
            [parse_peer_address(p) for p in config.peers],
            self._on_peer_message,
        )
        self.wal = FileWAL(config.path(config.data_dir) / WAL_FILE)
        genesis = node.genesis
        self.driver = TbftDriver(
            app=self,
            transport=self,
            wal=self.wal,
            clock=SystemClock(),
            chain_id=genesis.chain_id,
            validator_id=node.cert.cert_id,
            params=genesis.consensus,
            sign=node.key.sign,
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the network, the helper threads and consensus."""
        self.network.start()
        for name, target in (("ingest", self._ingest_loop), ("replica", self._replica_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self.driver.start()

    def stop(self) -> None:
        """Stop consensus, then the helper threads and the network."""
        self._stopping.set()
        self.driver.stop()
        with contextlib.suppress(queue.Full):
            self._ingest.put_nowait(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._admission.shutdown(wait=True, cancel_futures=True)
        self.network.stop()
        self.wal.close()

    def gossip(self, tx: Tx) -> None:
        """Pass a transaction admitted here on to every peer (batched)."""
        with self._gossip_lock:
            self._gossip.append(tx)
        self.driver.txs_arrived()

    def status(self) -> dict[str, object]:
        """Consensus and network figures for health and metrics."""
        return {
            "round": self.driver.round,
            "peers": len(self.network.connected_peers()),
            **self.stats,
            "frames_not_queued": self.network.frames_dropped,
            "consensus_messages_dropped": self.driver.dropped_messages,
        }

    # -- TbftApp (consensus thread) --------------------------------------------------------------

    def head_height(self) -> int:
        """Height of the last committed block."""
        return self.ledger.head().height

    def validators(self, height: int) -> Mapping[bytes, int]:
        """The validator set that signs block ``height`` (a change applies two blocks later)."""
        self._vset = validator_set_of(self.ledger.config_for_block(height))
        return {vid: v.power for vid, v in self._vset.members.items()}

    def _config_changed(self, config: ChainConfig) -> None:
        """Peers are checked against the member CAs in force (removed organisations drop out)."""
        fresh = _member_cas(config)
        for org_id in [org for org in self._member_cas if org not in fresh]:
            del self._member_cas[org_id]
        self._member_cas.update(fresh)

    def verify_signature(self, validator: bytes, message: bytes, signature: bytes) -> bool:
        """Check a validator's signature on a consensus message."""
        member = self._vset.members.get(validator)
        return member is not None and member.public_key.verify(signature, message)

    def has_txs(self) -> bool:
        """True if transactions wait in the pool."""
        return len(self.node.mempool) > 0

    def is_block_full(self) -> bool:
        """True if the pool already fills a block."""
        return self.node.is_block_full()

    def empty_blocks(self) -> bool:
        """Whether the chain makes blocks with no transactions."""
        return self.ledger.config().params.empty_blocks

    def block_interval_ms(self) -> int:
        """How long the proposer lets a block fill."""
        return self.ledger.config().params.block_interval_ms

    def propose_block(self, height: int, time_ms: int) -> bytes:
        """Build and execute the next block; peers get its transactions before its proposal."""
        params = self.ledger.config().params
        txs = self.node.mempool.reap(params.block_txs_max, params.block_bytes_max)
        result = build_block(
            self.ledger, txs, time_ms, self.node.cert.cert_id, gas_budget=PROPOSAL_GAS_BUDGET
        )
        self.node.forget_dropped(result)
        with self._lock:
            self._blocks[result.hash] = result
        self._flush_gossip()
        return result.hash

    def check_block(self, proposal: Proposal) -> bool | None:
        """Re-execute the proposed block (once); ``None`` while its body is on its way."""
        block_hash = proposal.block_hash
        if block_hash in self._blocks:
            return True
        if block_hash in self._invalid:
            return False
        with self._lock:
            block = self._bodies.get(block_hash)
        if block is None:
            return None
        try:
            # A fresh block names its proposer; a block proposed again with a proof of
            # lock (pol_round >= 0) was built by the proposer of an earlier round.
            if proposal.pol_round < 0 and block.header.proposer != proposal.proposer:
                raise InvalidBlock("block proposer differs from the proposal's signer")
            now_ms = time.time_ns() // 1_000_000
            if block.header.time_ms > now_ms + BLOCK_TIME_DRIFT_MS_MAX:
                raise InvalidBlock("block time is too far in the future")
            result = apply_block(self.ledger, block)
        except JinglianError as exc:
            log.warning("proposed block %s is invalid: %s", block_hash.hex()[:16], exc.message)
            self._invalid.add(block_hash)
            return False
        with self._lock:
            self._blocks[block_hash] = result
        return True

    def commit_block(self, height: int, block_hash: bytes, commit: Commit) -> None:
        """Commit the decided block durably and tell the peers."""
        result = self._blocks[block_hash]
        self.node.commit_block(result, commit)
        self._forget_below(height + 1)
        self._send_status()

    def report_misbehaviour(self, action: ReportMisbehaviour) -> None:
        """Log equivocation evidence and pass it on to the peers."""
        evidence = action.evidence
        if isinstance(evidence, ConflictingProposals):
            first: Proposal | Vote = evidence.first
            second: Proposal | Vote = evidence.second
        else:
            first, second = evidence.first, evidence.second
        who = first.proposer if isinstance(first, Proposal) else first.validator
        log.warning(
            "validator %s signed conflicting messages at height %d round %d",
            who.hex()[:16],
            first.height,
            first.round,
        )
        self.node.record_misbehaviour(first, second)
        self.network.broadcast(MessageType.EVIDENCE, encode_evidence(Evidence(first, second)))

    # -- Transport (consensus thread) ------------------------------------------------------------

    def broadcast(self, message: Proposal | Vote) -> None:
        """Send a signed proposal (by reference to its transactions) or vote to every peer."""
        if isinstance(message, Vote):
            self.network.broadcast(MessageType.VOTE, encode_vote_message(message))
            return
        result = self._blocks.get(message.block_hash)
        if result is None:
            log.info("not re-sending proposal of a block this node no longer holds")
            return
        block = result.block
        payload = encode_proposal_message(
            ProposalMessage(message, block.header, tuple(tx.id for tx in block.txs))
        )
        self.network.broadcast(MessageType.PROPOSAL, payload)

    # -- peer messages (network thread) ----------------------------------------------------------

    def _on_peer_message(self, peer: PeerIdentity, message_type: int, payload: bytes) -> None:
        try:
            if message_type == MessageType.VOTE:
                self.driver.deliver(decode_vote_message(payload))
            elif message_type == MessageType.STATUS:
                self._on_status(peer, decode_status(payload))
            elif message_type == MessageType.GET_BLOCK:
                self._on_get_block(peer, decode_get_block(payload))
            elif message_type == MessageType.TXS and self._syncing():
                # Transactions gossiped to a node that is blocks behind reach it in the synced
                # blocks or stay in the peers' pools; admitting them would only slow the catch-up.
                self.stats["gossip_dropped_syncing"] += 1
            elif message_type in _INGESTED:
                self._ingest.put_nowait((peer, message_type, payload))
            else:
                raise InvalidInput(f"unknown message type {message_type}")
        except queue.Full:
            self.stats["messages_dropped"] += 1
        except JinglianError as exc:
            self._note_invalid(peer, message_type, exc)

    def _on_status(self, peer: PeerIdentity, status: Status) -> None:
        self._peers[peer.cert_id] = status
        if status.height > self._sync.best_height:
            self._sync.best_height, self._sync.best_peer = status.height, peer
        elif self._sync.best_peer is not None and self._sync.best_peer.cert_id == peer.cert_id:
            self._sync.best_height = status.height
        if status.height > self.ledger.head().height:
            self._request_sync()

    def _on_get_block(self, peer: PeerIdentity, request: GetBlock) -> None:
        result = self._blocks.get(request.block_hash)
        with self._lock:
            block = result.block if result is not None else self._bodies.get(request.block_hash)
        if block is not None:
            self.network.send_to(peer, MessageType.BLOCK, encode_block_body(block))

    # -- the ingest thread -----------------------------------------------------------------------

    def _ingest_loop(self) -> None:
        while (item := self._ingest.get()) is not None:
            peer, message_type, payload = item
            try:
                if message_type == MessageType.TXS:
                    self._admit_gossip(peer, payload)
                    continue
                self._wait_for_gossip()
                if message_type == MessageType.PROPOSAL:
                    self._on_proposal(peer, decode_proposal_message(payload))
                elif message_type == MessageType.BLOCK:
                    self._on_block_body(decode_block_body(payload, self._hash))
                elif message_type == MessageType.SYNC_REQUEST:
                    self._on_sync_request(peer, decode_sync_request(payload))
                elif message_type == MessageType.SYNC_BLOCKS:
                    synced = decode_sync_blocks(payload, self._hash)
                    checks = self._preverify(synced.blocks)
                    self.driver.call(
                        functools.partial(self._apply_synced, peer, synced.blocks, checks)
                    )
                    self._request_sync()
                elif message_type == MessageType.EVIDENCE:
                    self._on_evidence(decode_evidence(payload))
            except JinglianError as exc:
                self._note_invalid(peer, message_type, exc)
            except Exception:
                log.exception("handling a message of type %d failed", message_type)

    def _admit_gossip(self, peer: PeerIdentity, payload: bytes) -> None:
        """Hand a ``TXS`` batch to an admission thread, waiting first if too many are in flight."""
        while len(self._admitting) >= GOSSIP_BATCHES_INFLIGHT_MAX:
            self._admitting.popleft().result()
        while self._admitting and self._admitting[0].done():
            self._admitting.popleft()
        self._admitting.append(self._admission.submit(self._on_txs_message, peer, payload))

    def _wait_for_gossip(self) -> None:
        """Until every batch handed to the admission threads is in the pool (or refused)."""
        while self._admitting:
            self._admitting.popleft().result()

    def _on_txs_message(self, peer: PeerIdentity, payload: bytes) -> None:
        """Decode and admit one gossiped batch (on an admission thread)."""
        try:
            self._on_txs(decode_txs(payload, self._hash))
        except JinglianError as exc:
            self._note_invalid(peer, MessageType.TXS, exc)
        except Exception:
            log.exception("handling a message of type %d failed", MessageType.TXS)

    def _on_txs(self, txs: list[Tx]) -> None:
        added = 0
        for tx in txs:
            try:
                self.node.mempool.add(tx)
                added += 1
            except DuplicateTransaction:
                pass
            except JinglianError as exc:
                self.node.metrics.txs_rejected.labels(code=exc.code).inc()
        if added:
            self.driver.txs_arrived()

    def _on_proposal(self, peer: PeerIdentity, message: ProposalMessage) -> None:
        proposal = message.proposal
        head = self.ledger.head().height
        if not head < proposal.height <= head + 2:
            return
        if self._hash(encode_header(message.header)) != proposal.block_hash:
            raise InvalidBlock("proposal header does not hash to the proposed block")
        if proposal.block_hash not in self._blocks and proposal.block_hash not in self._bodies:
            txs = [self.node.mempool.get(tx_id) for tx_id in message.tx_ids]
            with self._lock:
                if all(tx is not None for tx in txs):
                    self._bodies[proposal.block_hash] = Block(
                        header=message.header, txs=tuple(tx for tx in txs if tx is not None)
                    )
                else:
                    self._headers[proposal.block_hash] = message
                    self.network.send_to(
                        peer, MessageType.GET_BLOCK, encode_get_block(GetBlock(proposal.block_hash))
                    )
                self._bound_caches()
        self.driver.deliver(proposal)

    def _on_block_body(self, block: Block) -> None:
        block_hash = self._hash(encode_header(block.header))
        with self._lock:
            if self._headers.pop(block_hash, None) is None:
                return
            self._bodies[block_hash] = block
        self.stats["bodies_fetched"] += 1
        self.driver.block_arrived(block_hash)

    def _on_sync_request(self, peer: PeerIdentity, request: SyncRequest) -> None:
        blocks: list[tuple[bytes, Commit]] = []
        size = 0
        head = self.ledger.head().height
        for height in range(
            request.from_height, min(head, request.from_height + request.count - 1) + 1
        ):
            raw = self.ledger.get_block_bytes(height)
            commit = self.ledger.get_commit(height)
            if raw is None or commit is None:
                break
            blocks.append((raw, commit))
            size += len(raw)
            if size >= SYNC_BATCH_BYTES_MAX:
                break
        if blocks:
            self.network.send_to(peer, MessageType.SYNC_BLOCKS, encode_sync_blocks(blocks))

    def _on_evidence(self, evidence: Evidence) -> None:
        self.node.record_misbehaviour(evidence.first, evidence.second)

    # -- block sync -----------------------------------------------------------

    def _request_sync(self) -> None:
        """Ask the best peer for the next blocks; up to ``SYNC_PIPELINE`` requests stay in flight
        so the peer reads and sends the next batch while this node applies the last one."""
        with self._sync_lock:
            now = time.monotonic()
            sync = self._sync
            peer = sync.best_peer
            head = self.ledger.head().height
            if now >= sync.inflight_until:
                sync.requested_to = head
            start = max(head, sync.requested_to) + 1
            if peer is None or start > sync.best_height:
                return
            if sync.requested_to - head >= SYNC_PIPELINE * SYNC_BLOCKS_MAX:
                return
            count = min(SYNC_BLOCKS_MAX, sync.best_height - start + 1)
            sync.requested_to = start + count - 1
            sync.inflight_until = now + SYNC_TIMEOUT_MS / 1000
            self.network.send_to(
                peer, MessageType.SYNC_REQUEST, encode_sync_request(SyncRequest(start, count))
            )

    def _preverify(self, blocks: tuple[tuple[Block, Commit], ...]) -> list[Future[None]]:
        """Check the synced blocks' transaction signatures on the admission threads.

        They run while the consensus thread applies the batch before this one (both suites'
        checks release the GIL), and ``apply_block`` then finds each signature checked.
        """
        work = [(tx, block.header.time_ms) for block, _ in blocks for tx in block.txs]
        share = -(-len(work) // GOSSIP_ADMISSION_THREADS)
        return [
            self._admission.submit(self._preverify_txs, work[start : start + share])
            for start in range(0, len(work), share or 1)
        ]

    def _preverify_txs(self, work: list[tuple[Tx, int]]) -> None:
        preverify = self.ledger.authenticator.preverify
        for tx, time_ms in work:
            preverify(tx, time_ms)

    def _apply_synced(
        self,
        peer: PeerIdentity,
        blocks: tuple[tuple[Block, Commit], ...],
        checks: Sequence[Future[None]] = (),
    ) -> None:
        for check in checks:
            check.result()
        for block, commit in blocks:
            head = self.ledger.head()
            if block.header.height <= head.height:
                continue
            if block.header.height > head.height + 1:
                # An earlier batch was lost (a dropped connection, a peer that was
                # behind): ask again from the head rather than wait for a timeout.
                self._restart_sync()
                break
            try:
                result = self._verify_synced(block, commit)
            except JinglianError as exc:
                log.warning(
                    "block %d from peer %r refused: %s",
                    block.header.height,
                    peer.common_name,
                    exc.message,
                )
                self.stats["messages_invalid"] += 1
                self._restart_sync()
                break
            self.node.commit_block(result, commit)
            self.stats["blocks_synced"] += 1
        self._forget_below(self.ledger.head().height + 1)
        self._send_status()
        self._request_sync()

    def _syncing(self) -> bool:
        """Whether the median of the heads peers reported is more than ``SYNC_LAG_BLOCKS`` above
        this node's (the median, so that one peer lying about its head cannot make this node
        ignore gossip)."""
        heights = [status.height for status in list(self._peers.values())]
        return is_behind_peers(self.ledger.head().height, heights)

    def _restart_sync(self) -> None:
        with self._sync_lock:
            self._sync.requested_to = self.ledger.head().height
            self._sync.inflight_until = 0.0

    def _verify_synced(self, block: Block, commit: Commit) -> BlockResult:
        """A synced block must carry a valid certificate of the current set and re-execute exactly."""
        block_hash = self._hash(encode_header(block.header))
        if commit.block_hash != block_hash or commit.height != block.header.height:
            raise InvalidBlock("commit certificate is for another block")
        validate_commit(self.ledger.config_for_block(commit.height), commit)
        return apply_block(self.ledger, block)

    # -- the replica thread ----------------------------------------------------------------------

    def _replica_loop(self) -> None:
        next_status = 0.0
        while not self._stopping.wait(GOSSIP_FLUSH_MS / 1000):
            self._flush_gossip()
            now = time.monotonic()
            if now >= next_status:
                next_status = now + STATUS_INTERVAL_MS / 1000
                self._send_status()
                self._request_sync()

    def _flush_gossip(self) -> None:
        with self._gossip_lock:
            pending, self._gossip = self._gossip, []
        for start in range(0, len(pending), TXS_BATCH_MAX):
            batch = pending[start : start + TXS_BATCH_MAX]
            # A peer that is down catches up by block sync; gossip queued for it would arrive
            # stale, after a restart, and only slow that catch-up.
            self.network.broadcast(MessageType.TXS, encode_txs(batch), connected_only=True)

    def _send_status(self) -> None:
        head = self.ledger.head()
        status = Status(head.height, head.hash, self.driver.round)
        self.network.broadcast(MessageType.STATUS, encode_status(status))

    # -- helpers ---------------------------------------------------------------------------------

    def _forget_below(self, height: int) -> None:
        with self._lock:
            self._blocks = {h: r for h, r in self._blocks.items() if r.height >= height}
            self._bodies = {h: b for h, b in self._bodies.items() if b.header.height >= height}
            self._headers = {h: m for h, m in self._headers.items() if m.proposal.height >= height}
            self._invalid.clear()

    def _bound_caches(self) -> None:
        for cache in (self._bodies, self._headers):
            while len(cache) > BODIES_MAX:
                cache.pop(next(iter(cache)))

    def _note_invalid(self, peer: PeerIdentity, message_type: int, exc: JinglianError) -> None:
        self.stats["messages_invalid"] += 1
        log.warning(
            "dropped message type %d from %r: %s: %s",
            message_type,
            peer.common_name,
            exc.code,
            exc.message,
        )


_INGESTED = frozenset(
    {
        MessageType.TXS,
        MessageType.PROPOSAL,
        MessageType.BLOCK,
        MessageType.SYNC_REQUEST,
        MessageType.SYNC_BLOCKS,
        MessageType.EVIDENCE,
    }
)


def is_behind_peers(head: int, peer_heights: Sequence[int]) -> bool:
    """Whether ``head`` is more than ``SYNC_LAG_BLOCKS`` below the median of ``peer_heights``."""
    if not peer_heights:
        return False
    return sorted(peer_heights)[len(peer_heights) // 2] > head + SYNC_LAG_BLOCKS


def _member_cas(config: ChainConfig) -> dict[str, Certificate]:
    return load_member_cas("".join(org.ca_cert for org in config.orgs).encode())
