"""The owner of a validator's ``Tbft``: one thread that feeds it events and carries out its actions.

Everything that touches consensus state happens on the driver's thread, in
the order events were submitted: messages from peers, blocks that arrived,
timeouts, the proposer's build timer and work handed in by ``call`` (block
sync commits through it, so a block is never committed by two threads). The
world is reached only through four seams:

- ``TbftApp``: the ledger as consensus sees it (validator set of a height,
  build a block, judge a proposed block, commit);
- ``Transport``: broadcast this validator's signed proposals and votes;
- ``WAL``: make each signed message durable *before* it is broadcast, read
  back after a restart (``on_start(h, signed=...)`` then never signs a
  conflicting message), reset once a height is durably committed;
- ``Clock``: wall time for block times and timers.

Heights start lazily: on a chain without empty blocks, a new height begins
when transactions wait or when a peer's message for it arrives, so an idle
chain sends nothing but status. Own messages of the current height are
re-broadcast every ``REBROADCAST_MS`` while the height is undecided, which
recovers messages lost on a dropped connection.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from jinglian.consensus.protocols import Clock
from jinglian.consensus.tbft.actions import (
    Action,
    Broadcast,
    Decide,
    ProposeBlock,
    ReportMisbehaviour,
    ScheduleTimeout,
    TimeoutKind,
)
from jinglian.consensus.tbft.state import Tbft
from jinglian.consensus.wal import (
    WAL,
    SignedProposal,
    SignedVote,
    WalEntry,
    decode_wal_entry,
    encode_wal_entry,
)
from jinglian.types import Commit, ConsensusParams
from jinglian.types.consensus import Proposal, Vote
from jinglian.types.errors import JinglianError

__all__ = [
    "IDLE_POLL_MS",
    "PARKED_PROPOSALS_MAX",
    "REBROADCAST_MS",
    "WAITING_MESSAGES_MAX",
    "TbftApp",
    "TbftDriver",
    "Transport",
]

log = logging.getLogger("jinglian.consensus.tbft")

REBROADCAST_MS = 1_000
"""Own messages of an undecided height are sent again this often."""
IDLE_POLL_MS = 200
"""How often an idle height checks for waiting transactions (besides being woken)."""
PARKED_PROPOSALS_MAX = 64
"""Proposals kept while their block body is fetched."""
WAITING_MESSAGES_MAX = 4_096
"""Messages of a height kept before it starts (for instance while catching up)."""
EVENTS_MAX = 100_000
"""The inbox bound; beyond it peer messages are dropped (timers and calls never are)."""


class TbftApp(Protocol):
    """The ledger as the BFT driver sees it."""

    def head_height(self) -> int:
        """Height of the last committed block."""
        ...

    def validators(self, height: int) -> Mapping[bytes, int]:
        """Validator id -> voting power for deciding ``height`` (the chain config's set)."""
        ...

    def verify_signature(self, validator: bytes, message: bytes, signature: bytes) -> bool:
        """Check a consensus message signature of a validator of the current set."""
        ...

    def has_txs(self) -> bool:
        """True if transactions wait to be proposed."""
        ...

    def is_block_full(self) -> bool:
        """True if the waiting transactions already fill a block."""
        ...

    def empty_blocks(self) -> bool:
        """True if the chain produces blocks without transactions."""
        ...

    def block_interval_ms(self) -> int:
        """How long a proposer waits for a block to fill before building it."""
        ...

    def propose_block(self, height: int, time_ms: int) -> bytes:
        """Build and execute the next block from waiting transactions; its hash."""
        ...

    def check_block(self, proposal: Proposal) -> bool | None:
        """Verdict on the proposal's block after re-executing it; ``None`` while its body is missing."""
        ...

    def commit_block(self, height: int, block_hash: bytes, commit: Commit) -> None:
        """Commit a block this node built or checked, durably, with its certificate."""
        ...

    def report_misbehaviour(self, action: ReportMisbehaviour) -> None:
        """Keep or pass on evidence of an equivocating validator."""
        ...


class Transport(Protocol):
    """How this validator's signed messages reach the others."""

    def broadcast(self, message: Proposal | Vote) -> None:
        """Send to every peer (best effort: the driver re-sends what matters)."""
        ...


@dataclass(frozen=True, slots=True)
class _Timer:
    kind: TimeoutKind | str
    height: int
    round: int


class TbftDriver:
    """Runs one validator's consensus on its own thread."""

    def __init__(
        self,
        app: TbftApp,
        transport: Transport,
        wal: WAL,
        clock: Clock,
        chain_id: str,
        validator_id: bytes,
        params: ConsensusParams,
        sign: Callable[[bytes], bytes],
    ) -> None:
        self._app = app
        self._transport = transport
        self._wal = wal
        self._clock = clock
        self._chain_id = chain_id
        self._me = validator_id
        self._params = params
        self._sign = sign
        self._inbox: queue.Queue[Callable[[], None]] = queue.Queue()
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._tbft: Tbft | None = None
        self._started = False
        """True once ``on_start`` ran for ``self.height``."""
        self.height = 0
        """The height being decided."""
        self._sent: list[Proposal | Vote] = []
        self._waiting: list[Proposal | Vote] = []
        self._parked: dict[bytes, Proposal] = {}
        self._restored: list[WalEntry] = []
        self.decided = 0
        """Blocks this driver decided (for metrics and tests)."""
        self.dropped_messages = 0
        """Peer messages dropped because the inbox was full."""

    # -- lifecycle (any thread) ------------------------------------------------------------------

    def start(self) -> None:
        """Read the WAL and start the consensus thread at the height after the head."""
        self._restored = [decode_wal_entry(record) for record in self._wal.records()]
        self._thread = threading.Thread(target=self._run, name="consensus", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the event in progress and wait for the thread."""
        self._stopping = True
        self._inbox.put(lambda: None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    @property
    def round(self) -> int:
        """The current round (0 before the height started)."""
        tbft = self._tbft
        return tbft.round if tbft is not None and self._started else 0

    # -- inputs (any thread) ---------------------------------------------------------------------

    def deliver(self, message: Proposal | Vote) -> None:
        """A proposal or vote from a peer."""
        if self._inbox.qsize() >= EVENTS_MAX:
            self.dropped_messages += 1
            return
        self._inbox.put(lambda: self._on_message(message))

    def block_arrived(self, block_hash: bytes) -> None:
        """The body of a proposed block arrived: judge proposals that waited for it."""
        self._inbox.put(lambda: self._on_block_arrived(block_hash))

    def txs_arrived(self) -> None:
        """Transactions wait: an idle height may start."""
        self._inbox.put(self._maybe_start_height)

    def call(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the consensus thread (for instance committing synced blocks)."""
        self._inbox.put(work)

    # -- the loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._enter_height(self._app.head_height() + 1)
            while not self._stopping:
                self._step()
        except Exception:
            log.exception("consensus stopped on an unexpected error")
            raise

    def _step(self) -> None:
        now = time.monotonic()
        timeout = max(0.0, self._timers[0][0] - now) if self._timers else IDLE_POLL_MS / 1000
        timeout = min(timeout, IDLE_POLL_MS / 1000)
        try:
            work = self._inbox.get(timeout=timeout)
        except queue.Empty:
            work = None
        if work is not None:
            work()
        self._fire_due_timers()
        self._follow_head()
        if not self._started:
            self._maybe_start_height()

    def _fire_due_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now and not self._stopping:
            _, _, timer = heapq.heappop(self._timers)
            self._on_timer(timer)

    def _follow_head(self) -> None:
        """Block sync may have committed past the height being decided: move on."""
        head = self._app.head_height()
        if head >= self.height:
            self._wal.reset()
            self._enter_height(head + 1)

    # -- heights ---------------------------------------------------------------------------------

    def _enter_height(self, height: int) -> None:
        self.height = height
        self._started = False
        self._sent = []
        self._parked = {}
        self._timers = [t for t in self._timers if t[2].height >= height]
        heapq.heapify(self._timers)
        self._waiting = [m for m in self._waiting if m.height == height]
        self._schedule(REBROADCAST_MS, _Timer("rebroadcast", height, 0))

    def _maybe_start_height(self) -> None:
        if self._started or self._stopping:
            return
        restored = any(_entry_height(e) == self.height for e in self._restored)
        if restored or self._waiting or self._app.empty_blocks() or self._app.has_txs():
            self._start_height()

    def _start_height(self) -> None:
        validators = self._app.validators(self.height)
        signed = [e for e in self._restored if _entry_height(e) == self.height]
        if self._tbft is None:
            self._tbft = Tbft(
                self._chain_id,
                self._me,
                validators,
                self._params,
                self._sign,
                self._app.verify_signature,
            )
        self._started = True
        self._carry_out(self._tbft.on_start(self.height, validators=validators, signed=signed))
        self._restored = []
        # A restored own proposal counts as valid only once its block is judged again
        # (its body may be gone with the crash; then it waits, parked, like any other).
        restored_proposals = [e.proposal for e in signed if isinstance(e, SignedProposal)]
        waiting, self._waiting = [*restored_proposals, *self._waiting], []
        for message in waiting:
            self._on_message(message)

    # -- events ----------------------------------------------------------------------------------

    def _on_message(self, message: Proposal | Vote) -> None:
        ahead = message.height - self.height
        if ahead < 0 or ahead > 1:
            return
        if ahead == 1 or not self._started:
            # The next height's messages (a faster peer decided first), or this
            # height's before it started: keep them for when it starts.
            if len(self._waiting) < WAITING_MESSAGES_MAX:
                self._waiting.append(message)
            if ahead == 0:
                self._start_height()
            return
        tbft = self._tbft
        assert tbft is not None
        if isinstance(message, Vote):
            self._carry_out(tbft.on_vote(message))
            return
        verdict = self._app.check_block(message)
        if verdict is None:
            if len(self._parked) < PARKED_PROPOSALS_MAX:
                self._parked[message.block_hash] = message
            return
        self._carry_out(tbft.on_proposal(message, verdict))

    def _on_block_arrived(self, block_hash: bytes) -> None:
        proposal = self._parked.pop(block_hash, None)
        if proposal is not None and self._started:
            self._on_message(proposal)

    def _on_timer(self, timer: _Timer) -> None:
        if timer.height != self.height:
            return
        if timer.kind == "rebroadcast":
            for message in self._sent:
                self._transport.broadcast(message)
            self._schedule(REBROADCAST_MS, timer)
            return
        if not self._started:
            return
        tbft = self._tbft
        assert tbft is not None
        if timer.kind == "build":
            self._build(timer.height, timer.round)
            return
        kind: TimeoutKind = timer.kind  # type: ignore[assignment]
        self._carry_out(tbft.on_timeout(kind, timer.height, timer.round))

    def _build(self, height: int, round_: int) -> None:
        tbft = self._tbft
        assert tbft is not None
        if (height, round_) != (tbft.height, tbft.round) or tbft.decision is not None:
            return
        block_hash = self._app.propose_block(height, self._clock.now_ms())
        self._carry_out(tbft.on_block_built(height, round_, block_hash))

    # -- actions ---------------------------------------------------------------------------------

    def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Broadcast):
                self._broadcast(action.message)
            elif isinstance(action, ScheduleTimeout):
                timer = _Timer(action.kind, action.height, action.round)
                self._schedule(action.delay_ms, timer)
            elif isinstance(action, ProposeBlock):
                wait_ms = 0 if self._app.is_block_full() else self._app.block_interval_ms()
                self._schedule(wait_ms, _Timer("build", action.height, action.round))
            elif isinstance(action, Decide):
                self._decide(action)
                return
            elif isinstance(action, ReportMisbehaviour):
                self._report(action)

    def _broadcast(self, message: Proposal | Vote) -> None:
        entry: WalEntry = (
            SignedProposal(message) if isinstance(message, Proposal) else SignedVote(message)
        )
        self._wal.append(encode_wal_entry(entry))
        self._sent.append(message)
        self._transport.broadcast(message)

    def _decide(self, action: Decide) -> None:
        self._app.commit_block(action.height, action.block_hash, action.commit)
        self.decided += 1
        # The commit is durable: nothing signed at this height is needed again.
        self._wal.reset()
        self._enter_height(action.height + 1)
        self._maybe_start_height()

    def _report(self, action: ReportMisbehaviour) -> None:
        try:
            self._app.report_misbehaviour(action)
        except JinglianError as exc:
            log.warning("could not record misbehaviour evidence: %s", exc.message)

    def _schedule(self, delay_ms: int, timer: _Timer) -> None:
        due = time.monotonic() + delay_ms / 1000
        heapq.heappush(self._timers, (due, next(self._seq), timer))


def _entry_height(entry: WalEntry) -> int:
    if isinstance(entry, SignedProposal):
        return entry.proposal.height
    if isinstance(entry, SignedVote):
        return entry.vote.height
    return entry.height
