"""A whole TBFT cluster in one process, in simulated time, faults from a seed.

Every validator runs its own ``Tbft``; a simulated network delivers each
broadcast to each peer after a random delay (so messages reorder), may drop or
duplicate it, and may split the cluster in two until ``heal_ms``. Timeouts fire
in simulated time. A trivial application builds blocks whose hash is the hash
of (height, proposer, round) and judges a block valid if some proposer built
it. Lost messages are recovered by gossip: every ``GOSSIP_INTERVAL_MS`` each
node re-sends its own messages of a peer's current height, as a real gossip
layer sends what a peer lacks. One validator may be Byzantine: it equivocates,
proposing two blocks and voting for both, each to half of its peers.

After every event the safety checker asserts that no two honest nodes decided
different blocks at a height; after healing, every honest node must decide
heights 1..K within ``LIVENESS_BOUND_MS``. Everything random comes from one
``random.Random(seed)``, so a failing seed replays exactly.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from jinglian.consensus.tbft import Broadcast, Decide, ProposeBlock, ScheduleTimeout, Tbft
from jinglian.consensus.tbft.actions import Action, TimeoutKind
from jinglian.types import ConsensusParams
from jinglian.types.consensus import Proposal, Vote, proposal_sign_bytes, vote_sign_bytes_of

__all__ = ["LIVENESS_BOUND_MS", "Faults", "SimResult", "run_simulation"]

PARAMS = ConsensusParams(
    type="tbft", timeout_propose_ms=200, timeout_vote_ms=100, timeout_delta_ms=50
)
CHAIN_ID = "sim"
GOSSIP_INTERVAL_MS = 250
DELAY_MS_MAX = 60
LIVENESS_BOUND_MS = 30_000
"""Simulated time after healing within which every honest node must decide all heights."""
EVENTS_MAX = 2_000_000


@dataclass(frozen=True, slots=True)
class Faults:
    """What the network and the validators do wrong."""

    drop_rate: float = 0.0
    """Chance that a delivery is lost before healing."""
    duplicate_rate: float = 0.0
    """Chance that a delivery arrives twice."""
    partition: bool = False
    """Split the cluster in two random halves until ``heal_ms``."""
    heal_ms: int = 0
    """Simulated time at which drops and the partition stop."""
    byzantine: bool = False
    """Validator 0 equivocates (two proposals, double votes)."""


@dataclass(slots=True)
class SimResult:
    """The outcome of one simulation."""

    seed: int
    """Seed that drove it."""
    validators: int
    """Cluster size."""
    faults: Faults
    """Faults it ran with."""
    ok: bool = True
    """False if safety or liveness failed."""
    message: str = ""
    """What failed, and how to replay it."""
    decided: dict[int, bytes] = field(default_factory=dict)
    """Height to decided block hash (agreed by honest nodes)."""
    time_ms: int = 0
    """Simulated time when it stopped."""
    deliveries: int = 0
    """Messages delivered."""


def fake_sign(validator: bytes, message: bytes) -> bytes:
    """A keyed hash standing in for a signature (only the simulation's nodes make them)."""
    return hashlib.sha256(validator + message).digest()


def fake_verify(validator: bytes, message: bytes, signature: bytes) -> bool:
    """Check a ``fake_sign`` signature."""
    return signature == fake_sign(validator, message)


def _signer(validator: bytes) -> Callable[[bytes], bytes]:
    return lambda message: fake_sign(validator, message)


def derive_setup(seed: int) -> tuple[int, Faults]:
    """The cluster size and faults a seed stands for."""
    rng = random.Random(seed ^ 0x5EED)
    partition = rng.random() < 0.4
    return rng.randint(4, 7), Faults(
        drop_rate=rng.choice((0.0, 0.05, 0.2)),
        duplicate_rate=rng.choice((0.0, 0.1)),
        partition=partition,
        heal_ms=rng.randint(500, 3000),
        byzantine=rng.random() < 0.5,
    )


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
        self.rng = random.Random(seed)
        self.heights = heights
        self.faults = faults
        self.ids = [b"n%d" % i for i in range(size)]
        self.byzantine = {self.ids[0]} if faults.byzantine else set()
        self.honest = [v for v in self.ids if v not in self.byzantine]
        powers = dict.fromkeys(self.ids, 1)
        self.nodes = {
            v: Tbft(CHAIN_ID, v, powers, PARAMS, _signer(v), fake_verify) for v in self.ids
        }
        shuffled = self.ids[:]
        self.rng.shuffle(shuffled)
        self.side = {v: i % 2 for i, v in enumerate(shuffled)}
        self.built: set[bytes] = set()
        self.log: dict[bytes, dict[int, list[Proposal | Vote]]] = {v: {} for v in self.ids}
        self.decisions: dict[bytes, dict[int, bytes]] = {v: {} for v in self.ids}
        self.queue: list[tuple[int, int, tuple[object, ...]]] = []
        self.seq = 0
        self.now = 0
        self.result = SimResult(seed=seed, validators=size, faults=faults)

    def run(self) -> None:
        for v in self.ids:
            self.apply(v, self.nodes[v].on_start(1))
        self.push(GOSSIP_INTERVAL_MS, ("gossip",))
        deadline = self.faults.heal_ms + LIVENESS_BOUND_MS
        for _ in range(EVENTS_MAX):
            if self.is_done() or not self.queue:
                break
            self.now, _, event = heapq.heappop(self.queue)
            if self.now > deadline:
                break
            self.handle(event)
            if not self.check_safety():
                return
        self.result.time_ms = self.now
        if not self.is_done():
            self.fail(
                f"liveness: not all honest nodes decided {self.heights} heights by {self.now} ms"
            )
            return
        self.result.decided = dict(self.decisions[self.honest[0]])

    def is_done(self) -> bool:
        return all(len(self.decisions[v]) >= self.heights for v in self.honest)

    def handle(self, event: tuple[object, ...]) -> None:
        kind = event[0]
        if kind == "deliver":
            _, dst, message = event
            assert isinstance(dst, bytes) and isinstance(message, Proposal | Vote)
            self.deliver(dst, message)
        elif kind == "timeout":
            _, node, tkind, height, round_ = event
            assert isinstance(node, bytes) and isinstance(height, int) and isinstance(round_, int)
            timeout: TimeoutKind = tkind  # type: ignore[assignment]
            self.apply(node, self.nodes[node].on_timeout(timeout, height, round_))
        elif kind == "gossip":
            self.gossip()
            self.push(GOSSIP_INTERVAL_MS, ("gossip",))

    def deliver(self, dst: bytes, message: Proposal | Vote) -> None:
        self.result.deliveries += 1
        node = self.nodes[dst]
        if isinstance(message, Proposal):
            self.apply(dst, node.on_proposal(message, message.block_hash in self.built))
        else:
            self.apply(dst, node.on_vote(message))

    def apply(self, node: bytes, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Broadcast):
                self.broadcast(node, action.message)
            elif isinstance(action, ScheduleTimeout):
                event = ("timeout", node, action.kind, action.height, action.round)
                self.push(action.delay_ms, event)
            elif isinstance(action, ProposeBlock):
                block = self.build(action.height, node, action.round, 0)
                self.apply(
                    node, self.nodes[node].on_block_built(action.height, action.round, block)
                )
            elif isinstance(action, Decide):
                self.decide(node, action)

    def build(self, height: int, proposer: bytes, round_: int, variant: int) -> bytes:
        block = hashlib.sha256(b"%d|%s|%d|%d" % (height, proposer, round_, variant)).digest()
        self.built.add(block)
        return block

    def decide(self, node: bytes, action: Decide) -> None:
        assert len(action.commit.signatures) * 3 > len(self.ids) * 2
        self.decisions[node][action.height] = action.block_hash
        if action.height < self.heights or node in self.byzantine:
            self.apply(node, self.nodes[node].on_start(action.height + 1))

    def broadcast(self, src: bytes, message: Proposal | Vote) -> None:
        self.log[src].setdefault(message.height, []).append(message)
        peers = [v for v in self.ids if v != src]
        if src not in self.byzantine:
            for dst in peers:
                self.send(src, dst, message)
            return
        twin = self.equivocate(src, message)
        for i, dst in enumerate(peers):
            self.send(src, dst, message if i % 2 == 0 else twin)

    def equivocate(self, src: bytes, message: Proposal | Vote) -> Proposal | Vote:
        if isinstance(message, Proposal):
            block = self.build(message.height, src, message.round, 1)
            twin = Proposal(message.height, message.round, block, -1, src, b"")
            signature = fake_sign(src, proposal_sign_bytes(CHAIN_ID, twin))
            return Proposal(message.height, message.round, block, -1, src, signature)
        block = self.build(message.height, src, message.round, 1) if message.is_nil else b""
        vote = Vote(message.kind, message.height, message.round, block, src, b"")
        return Vote(
            vote.kind,
            vote.height,
            vote.round,
            block,
            src,
            fake_sign(src, vote_sign_bytes_of(CHAIN_ID, vote)),
        )

    def send(self, src: bytes, dst: bytes, message: Proposal | Vote) -> None:
        if self.now < self.faults.heal_ms:
            if self.faults.partition and self.side[src] != self.side[dst]:
                return
            if self.rng.random() < self.faults.drop_rate:
                return
        copies = 2 if self.rng.random() < self.faults.duplicate_rate else 1
        for _ in range(copies):
            self.push(self.rng.randint(1, DELAY_MS_MAX), ("deliver", dst, message))

    def gossip(self) -> None:
        for src in self.ids:
            for dst in self.ids:
                if dst == src:
                    continue
                for message in self.log[src].get(self.nodes[dst].height, ()):
                    self.send(src, dst, message)

    def check_safety(self) -> bool:
        agreed: dict[int, bytes] = {}
        for v in self.honest:
            for height, block in self.decisions[v].items():
                if agreed.setdefault(height, block) != block:
                    self.fail(f"safety: honest nodes decided different blocks at height {height}")
                    return False
        return True

    def push(self, delay_ms: int, event: tuple[object, ...]) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (self.now + delay_ms, self.seq, event))

    def fail(self, what: str) -> None:
        self.result.ok = False
        self.result.time_ms = self.now
        self.result.message = (
            f"{what} (seed {self.result.seed}, {self.result.validators} validators, "
            f"{self.faults}); replay: python -m jinglian.testing.sim --seed {self.result.seed}"
        )
