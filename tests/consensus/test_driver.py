"""The TBFT driver: four owners on real threads over an in-memory transport decide the same
blocks; every signed message is in the WAL before it leaves; the WAL is reset after commit."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping

from jinglian.consensus.protocols import SystemClock
from jinglian.consensus.tbft import compute_proposer
from jinglian.consensus.tbft.actions import ReportMisbehaviour
from jinglian.consensus.tbft.driver import TbftDriver
from jinglian.consensus.wal import (
    MemoryWAL,
    SignedProposal,
    SignedVote,
    decode_wal_entry,
    encode_wal_entry,
)
from jinglian.types import Commit, ConsensusParams
from jinglian.types.consensus import Proposal, Vote, proposal_sign_bytes, vote_sign_bytes_of

PARAMS = ConsensusParams(
    type="tbft", timeout_propose_ms=300, timeout_vote_ms=100, timeout_delta_ms=50
)
IDS = [b"v%d" % i for i in range(4)]
BUILT: dict[bytes, int] = {}
BUILT_LOCK = threading.Lock()


def fake_sign(validator: bytes, message: bytes) -> bytes:
    return hashlib.sha256(validator + message).digest()


class FakeApp:
    def __init__(self, me: bytes) -> None:
        self.me = me
        self.committed: list[tuple[int, bytes, Commit]] = []
        self.reports: list[ReportMisbehaviour] = []

    def head_height(self) -> int:
        return len(self.committed)

    def validators(self, height: int) -> Mapping[bytes, int]:
        return dict.fromkeys(IDS, 1)

    def verify_signature(self, validator: bytes, message: bytes, signature: bytes) -> bool:
        return signature == fake_sign(validator, message)

    def has_txs(self) -> bool:
        return len(self.committed) < 5

    def is_block_full(self) -> bool:
        return False

    def empty_blocks(self) -> bool:
        return False

    def block_interval_ms(self) -> int:
        return 5

    def propose_block(self, height: int, time_ms: int) -> bytes:
        block = hashlib.sha256(b"%d|%s" % (height, self.me)).digest()
        with BUILT_LOCK:
            BUILT[block] = height
        return block

    def check_block(self, proposal: Proposal) -> bool | None:
        with BUILT_LOCK:
            return BUILT.get(proposal.block_hash) == proposal.height

    def commit_block(self, height: int, block_hash: bytes, commit: Commit) -> None:
        assert height == len(self.committed) + 1
        self.committed.append((height, block_hash, commit))

    def report_misbehaviour(self, action: ReportMisbehaviour) -> None:
        self.reports.append(action)


class Bus:
    """Delivers each broadcast to the other drivers; checks the WAL rule on the way."""

    def __init__(self) -> None:
        self.drivers: dict[bytes, TbftDriver] = {}
        self.wals: dict[bytes, MemoryWAL] = {}
        self.violations: list[str] = []

    def transport(self, me: bytes) -> object:
        bus = self

        class _Transport:
            def broadcast(self, message: Proposal | Vote) -> None:
                logged = [decode_wal_entry(r) for r in bus.wals[me].records()]
                wrapped = SignedProposal(message) if isinstance(message, Proposal) else None
                if wrapped is None:
                    wrapped = SignedVote(message)  # type: ignore[arg-type]
                if wrapped not in logged:
                    bus.violations.append(f"{me!r} sent {message} before writing it to the WAL")
                for other, driver in bus.drivers.items():
                    if other != me:
                        driver.deliver(message)

        return _Transport()


def test_four_drivers_decide_the_same_blocks() -> None:
    bus = Bus()
    apps = {v: FakeApp(v) for v in IDS}
    for v in IDS:
        bus.wals[v] = MemoryWAL()
        bus.drivers[v] = TbftDriver(
            app=apps[v],
            transport=bus.transport(v),  # type: ignore[arg-type]
            wal=bus.wals[v],
            clock=SystemClock(),
            chain_id="test",
            validator_id=v,
            params=PARAMS,
            sign=lambda message, v=v: fake_sign(v, message),  # type: ignore[misc]
        )
    for driver in bus.drivers.values():
        driver.start()
    deadline = time.monotonic() + 30
    try:
        while any(len(app.committed) < 5 for app in apps.values()):
            assert time.monotonic() < deadline, [len(a.committed) for a in apps.values()]
            time.sleep(0.02)
    finally:
        for driver in bus.drivers.values():
            driver.stop()
    chains = {tuple(block for _, block, _ in app.committed[:5]) for app in apps.values()}
    assert len(chains) == 1
    for app in apps.values():
        for height, block, commit in app.committed:
            assert (commit.height, commit.block_hash) == (height, block)
            assert len(commit.signatures) >= 3
    assert bus.violations == []
    assert not any(app.reports for app in apps.values())
    # Heights 1..5 are committed: nothing of them stays in any WAL.
    for wal in bus.wals.values():
        entries = [decode_wal_entry(r) for r in wal.records()]
        assert all(
            getattr(e, "proposal", getattr(e, "vote", None)).height > 5  # type: ignore[union-attr]
            for e in entries
            if isinstance(e, SignedProposal | SignedVote)
        )


def test_restart_resends_what_the_wal_holds_and_signs_nothing_conflicting() -> None:
    me = IDS[1]
    app = FakeApp(me)
    before_crash = Vote("prevote", 1, 0, b"\x0a" * 32, me, b"")
    before_crash = Vote(
        "prevote", 1, 0, b"\x0a" * 32, me, fake_sign(me, vote_sign_bytes_of("test", before_crash))
    )
    wal = MemoryWAL([encode_wal_entry(SignedVote(before_crash))])
    sent: list[Proposal | Vote] = []

    class _Transport:
        def broadcast(self, message: Proposal | Vote) -> None:
            sent.append(message)

    driver = TbftDriver(
        app=app,
        transport=_Transport(),
        wal=wal,
        clock=SystemClock(),
        chain_id="test",
        validator_id=me,
        params=PARAMS,
        sign=lambda message: fake_sign(me, message),
    )
    driver.start()
    try:
        # The round-0 proposer offers another (valid) block after the restart.
        proposer = compute_proposer(dict.fromkeys(IDS, 1), 1, 0)
        other = hashlib.sha256(b"other").digest()
        with BUILT_LOCK:
            BUILT[other] = 1
        unsigned = Proposal(1, 0, other, -1, proposer, b"")
        proposal = Proposal(
            1, 0, other, -1, proposer, fake_sign(proposer, proposal_sign_bytes("test", unsigned))
        )
        driver.deliver(proposal)
        deadline = time.monotonic() + 5
        while not any(isinstance(m, Vote) and m.kind == "prevote" for m in sent):
            assert time.monotonic() < deadline, sent
            time.sleep(0.01)
        time.sleep(0.3)
    finally:
        driver.stop()
    prevotes = {
        m.block_hash for m in sent if isinstance(m, Vote) and m.kind == "prevote" and m.round == 0
    }
    prevotes |= {
        e.vote.block_hash
        for e in (decode_wal_entry(r) for r in wal.records())
        if isinstance(e, SignedVote) and e.vote.kind == "prevote" and e.vote.round == 0
    }
    assert prevotes == {before_crash.block_hash}
