"""A whole TBFT cluster in one process, in simulated time, faults from a seed.

Every validator runs its own ``Tbft`` under a simulated owner (``_node``); a
simulated network delivers each broadcast to each peer after a random delay (so
messages reorder), may drop or duplicate it, and may split the cluster in two
until ``heal_ms``. Timeouts fire in simulated time. A trivial application
builds blocks whose hash is the hash of (height, proposer, round, variant) and
judges a block valid if some proposer built it, unless an ``invalid_blocks``
validator did. The validator set may change at a height (``Faults.reweigh_at``).

Lost messages are recovered by gossip: every ``GOSSIP_INTERVAL_MS`` each node
re-sends its own messages of a peer's current height, as a real gossip layer
sends what a peer lacks, and block sync hands a peer each decided block it
lacks with its commit certificate (``SyncedBlock``), which the peer adopts only
if the certificate verifies.

Honest validators crash (``Faults.crashes`` times in all) at random moments,
or at the worst ones: a crash may be armed at a random time to strike right
after the node next signs a message (or next locks on a block), once the
message is in its WAL but has reached only some peers. Events pending for a
crashed node are dropped, and so are the messages it sent in the last few
milliseconds (still in its send queue). It restarts from its WAL after a
random time. Up to f validators are Byzantine (``_byzantine``).

After every event the ``SafetyChecker`` holds (agreement, validity, no
double-signing, honest nodes keep their locks). After healing and the last restart, every honest node must
have decided heights 1..K within ``LIVENESS_BOUND_MS``. Everything random comes
from one ``random.Random(seed)``, so a failing seed replays exactly.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from dataclasses import dataclass
from typing import Literal, TypeAlias

from jinglian.consensus.tbft import Broadcast, Decide, ProposeBlock, ScheduleTimeout
from jinglian.consensus.tbft.actions import Action, TimeoutKind
from jinglian.testing.sim._byzantine import compute_deliveries
from jinglian.testing.sim._faults import (
    Faults,
    SimResult,
    compute_faulty_max,
    compute_powers,
    derive_setup,
)
from jinglian.testing.sim._node import SimNode
from jinglian.testing.sim._safety import SafetyChecker
from jinglian.testing.sim._wire import Message, SyncedBlock, verify_commit
from jinglian.types.consensus import Proposal, Vote

__all__ = ["LIVENESS_BOUND_MS", "run_simulation"]

GOSSIP_INTERVAL_MS = 250
DELAY_MS_MAX = 60
LIVENESS_BOUND_MS = 30_000
"""Simulated time after healing (and the last restart) within which every honest node must decide all heights."""
CRASH_AFTER_HEAL_MS_MAX = 1_500
"""Crashes happen before ``heal_ms`` plus this."""
DOWN_MS_MIN = 50
DOWN_MS_MAX = 3_000
OUTBOX_MS_MAX = 30
"""A crash loses the messages the node sent up to this long before it."""
EVENTS_MAX = 2_000_000


@dataclass(frozen=True, slots=True)
class _Deliver:
    dst: bytes
    incarnation: int
    src: bytes
    sent_ms: int
    message: Message


@dataclass(frozen=True, slots=True)
class _Timeout:
    node: bytes
    incarnation: int
    kind: TimeoutKind
    height: int
    round: int


CrashMoment = Literal["now", "after_signing", "after_locking"]
"""When a crash strikes: at its event, or right after the node next signs (or
precommits a block), with the message in its WAL and sent to only some peers."""


@dataclass(frozen=True, slots=True)
class _Crash:
    node: bytes
    moment: CrashMoment


@dataclass(frozen=True, slots=True)
class _Restart:
    node: bytes


@dataclass(frozen=True, slots=True)
class _Gossip:
    pass


_Event: TypeAlias = _Deliver | _Timeout | _Crash | _Restart | _Gossip


def run_simulation(
    seed: int, validators: int | None = None, heights: int = 3, faults: Faults | None = None
) -> SimResult:
    """Run one cluster until every honest node decided ``heights`` heights, or failure."""
    size, derived = derive_setup(seed)
    sim = _Sim(seed, validators or size, heights, faults or derived)
    sim.run()
    return sim.result


class _Sim:
    def __init__(self, seed: int, size: int, heights: int, faults: Faults) -> None:
        if len(faults.byzantine) > compute_faulty_max(size):
            raise ValueError(f"{len(faults.byzantine)} Byzantine validators of {size} exceed f")
        self.rng = random.Random(seed)
        self.heights = heights
        self.faults = faults
        self.ids = [b"n%d" % i for i in range(size)]
        behaviours = dict(zip(self.ids, faults.byzantine, strict=False))
        self.nodes = {v: SimNode(v, self.powers_at, behaviours.get(v)) for v in self.ids}
        self.honest = [v for v in self.ids if v not in behaviours]
        shuffled = self.ids[:]
        self.rng.shuffle(shuffled)
        self.side = {v: i % 2 for i, v in enumerate(shuffled)}
        self.built: set[bytes] = set()
        self.invalid: set[bytes] = set()
        self.checker = SafetyChecker(self.honest, self.is_valid)
        self.crashed_at: dict[bytes, list[tuple[int, int]]] = {v: [] for v in self.ids}
        self.armed: dict[bytes, CrashMoment] = {}
        self.queue: list[tuple[int, int, _Event]] = []
        self.seq = 0
        self.now = 0
        self.deadline = faults.heal_ms + LIVENESS_BOUND_MS
        self.result = SimResult(seed=seed, validators=size, faults=faults)

    # The loop -----------------------------------------------------------------------

    def run(self) -> None:
        for v in self.ids:
            self.apply(v, self.nodes[v].start())
        self.push(GOSSIP_INTERVAL_MS, _Gossip())
        moments: tuple[CrashMoment, ...] = ("now", "after_signing", "after_locking")
        for _ in range(self.faults.crashes):
            at = self.rng.randint(0, self.faults.heal_ms + CRASH_AFTER_HEAL_MS_MAX)
            self.push(at, _Crash(self.rng.choice(self.honest), self.rng.choice(moments)))
        for _ in range(EVENTS_MAX):
            if self.is_done() or not self.queue:
                break
            self.now, _, event = heapq.heappop(self.queue)
            if self.now > self.deadline:
                break
            self.handle(event)
            if self.checker.failure is not None:
                self.fail(self.checker.failure)
                return
        self.result.time_ms = self.now
        if not self.is_done():
            self.fail(
                f"liveness: not all honest nodes decided {self.heights} heights by {self.now} ms"
            )
            return
        chain = self.nodes[self.honest[0]].chain
        self.result.decided = {h: chain[h][0] for h in range(1, self.heights + 1)}

    def is_done(self) -> bool:
        return all(len(self.nodes[v].chain) >= self.heights for v in self.honest)

    def handle(self, event: _Event) -> None:
        if isinstance(event, _Deliver):
            self.deliver(event)
        elif isinstance(event, _Timeout):
            node = self.nodes[event.node]
            if node.up and node.incarnation == event.incarnation:
                actions = node.machine.on_timeout(event.kind, event.height, event.round)
                self.apply(event.node, actions)
        elif isinstance(event, _Crash):
            if event.moment == "now":
                self.crash(event.node)
            elif self.nodes[event.node].up:
                self.armed[event.node] = event.moment
        elif isinstance(event, _Restart):
            self.result.restarts += 1
            self.apply(event.node, self.nodes[event.node].restart(self.is_valid))
        else:
            self.gossip()
            self.push(GOSSIP_INTERVAL_MS, _Gossip())

    # A node's owner -----------------------------------------------------------------

    def apply(self, v: bytes, actions: list[Action]) -> None:
        node = self.nodes[v]
        incarnation = node.incarnation
        node.record(actions)
        for action in actions:
            if node.incarnation != incarnation:
                return
            if isinstance(action, Broadcast):
                if self.is_crash_moment(v, action.message):
                    self.broadcast(v, action.message, some_peers=True)
                    self.crash(v)
                    return
                self.broadcast(v, action.message)
            elif isinstance(action, ScheduleTimeout):
                timeout = _Timeout(v, node.incarnation, action.kind, action.height, action.round)
                self.push(action.delay_ms, timeout)
            elif isinstance(action, ProposeBlock):
                block = self.build(action.height, v, action.round, 0)
                if node.behaviour == "invalid_blocks":
                    self.invalid.add(block)
                self.apply(v, node.machine.on_block_built(action.height, action.round, block))
            elif isinstance(action, Decide):
                if not verify_commit(action.commit, self.powers_at(action.height)):
                    self.checker.failure = f"{v!r} decided without a commit certificate: {action}"
                    return
                self.commit(v, action.height, action.block_hash, action)

    def commit(self, v: bytes, height: int, block: bytes, decided: Decide | SyncedBlock) -> None:
        node = self.nodes[v]
        node.commit(height, block, decided.commit)
        self.checker.on_decided(v, height, block)
        self.apply(v, node.start())

    def is_crash_moment(self, v: bytes, message: Proposal | Vote) -> bool:
        moment = self.armed.get(v)
        if moment == "after_locking":
            return isinstance(message, Vote) and message.kind == "precommit" and not message.is_nil
        return moment == "after_signing"

    def crash(self, v: bytes) -> None:
        node = self.nodes[v]
        self.armed.pop(v, None)
        if not node.up:
            return
        node.crash()
        self.crashed_at[v].append((self.now, self.rng.randint(0, OUTBOX_MS_MAX)))
        down_ms = self.rng.randint(DOWN_MS_MIN, DOWN_MS_MAX)
        self.push(down_ms, _Restart(v))
        self.deadline = max(self.deadline, self.now + down_ms + LIVENESS_BOUND_MS)

    def build(self, height: int, proposer: bytes, round_: int, variant: int) -> bytes:
        block = hashlib.sha256(b"%d|%s|%d|%d" % (height, proposer, round_, variant)).digest()
        self.built.add(block)
        return block

    def powers_at(self, height: int) -> dict[bytes, int]:
        return compute_powers(self.ids, self.faults.reweigh_at, height)

    def is_valid(self, block: bytes) -> bool:
        return block in self.built and block not in self.invalid

    # The network --------------------------------------------------------------------

    def broadcast(self, src: bytes, message: Proposal | Vote, some_peers: bool = False) -> None:
        node = self.nodes[src]
        if node.behaviour == "silent":
            return
        self.checker.on_broadcast(src, message)
        node.log.setdefault(message.height, []).append(message)
        peers = [v for v in self.ids if v != src]
        if some_peers:
            peers = [v for v in peers if self.rng.random() < 0.5]
        for dst, sent in compute_deliveries(
            node.behaviour, src, message, peers, self.rng, self.build
        ):
            self.send(src, dst, sent)

    def deliver(self, event: _Deliver) -> None:
        node = self.nodes[event.dst]
        if not node.up or node.incarnation != event.incarnation:
            return
        if self.is_lost_in_crash(event.src, event.sent_ms):
            return
        self.result.deliveries += 1
        message = event.message
        if isinstance(message, SyncedBlock):
            self.on_synced(event.dst, message)
        elif isinstance(message, Proposal):
            self.checker.on_proposal(message)
            is_valid = self.is_valid(message.block_hash)
            self.apply(event.dst, node.machine.on_proposal(message, is_valid))
        else:
            self.apply(event.dst, node.machine.on_vote(message))

    def on_synced(self, v: bytes, synced: SyncedBlock) -> None:
        # What the real node's block sync does once a commit certificate verifies.
        commit = synced.commit
        if synced.height != self.nodes[v].next_height:
            return
        if (commit.height, commit.block_hash) != (synced.height, synced.block_hash):
            return
        if not verify_commit(commit, self.powers_at(synced.height)):
            return
        if v in self.honest:
            self.result.synced += 1
        self.commit(v, synced.height, synced.block_hash, synced)

    def is_lost_in_crash(self, src: bytes, sent_ms: int) -> bool:
        return any(at - window <= sent_ms <= at for at, window in self.crashed_at[src])

    def send(self, src: bytes, dst: bytes, message: Message) -> None:
        if self.now < self.faults.heal_ms:
            if self.faults.partition and self.side[src] != self.side[dst]:
                return
            if self.rng.random() < self.faults.drop_rate:
                return
        copies = 2 if self.rng.random() < self.faults.duplicate_rate else 1
        deliver = _Deliver(dst, self.nodes[dst].incarnation, src, self.now, message)
        for _ in range(copies):
            self.push(self.rng.randint(1, DELAY_MS_MAX), deliver)

    def gossip(self) -> None:
        for src in self.ids:
            node = self.nodes[src]
            if not node.up or node.behaviour == "silent":
                continue
            for dst in self.ids:
                if dst == src or not self.nodes[dst].up:
                    continue
                height = self.nodes[dst].next_height
                for message in node.log.get(height, ()):
                    self.send(src, dst, message)
                if height in node.chain:
                    block, commit = node.chain[height]
                    self.send(src, dst, SyncedBlock(height, block, commit))

    # Bookkeeping --------------------------------------------------------------------

    def push(self, delay_ms: int, event: _Event) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (self.now + delay_ms, self.seq, event))

    def fail(self, what: str) -> None:
        self.result.ok = False
        self.result.time_ms = self.now
        self.result.message = (
            f"{what} (seed {self.result.seed}, {self.result.validators} validators, "
            f"{self.faults}); replay: python -m jinglian.testing.sim --seed {self.result.seed}"
        )
