"""Solo consensus against in-memory twins of its Application and Clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from jinglian.consensus import Solo
from jinglian.crypto import get_suite
from jinglian.types import ChainParams, Commit, vote_sign_bytes


@dataclass
class FakeProposal:
    height: int
    hash: bytes
    tx_count: int


@dataclass
class FakeApp:
    waiting: list[int] = field(default_factory=list)
    """Transaction counts of the blocks the pool can fill, oldest first."""
    committed: list[tuple[FakeProposal, Commit]] = field(default_factory=list)

    full: bool = False

    def is_block_full(self) -> bool:
        return self.full

    def wait_for_txs(self, timeout_s: float) -> bool:
        return bool(self.waiting)

    def propose_block(self, time_ms: int) -> FakeProposal | None:
        count = self.waiting.pop(0) if self.waiting else 0
        height = len(self.committed) + 1
        return FakeProposal(height=height, hash=bytes([height]) * 32, tx_count=count)

    def commit_block(self, proposal: FakeProposal, commit: Commit) -> None:
        self.committed.append((proposal, commit))


@dataclass
class FakeClock:
    now: int = 1_000
    slept: float = 0.0

    def now_ms(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += int(seconds * 1000)


SUITE = get_suite("default")
KEY = SUITE.generate_key()


def make(app: FakeApp, clock: FakeClock, empty_blocks: bool = False) -> Solo:
    params = ChainParams(block_interval_ms=50, empty_blocks=empty_blocks)
    return Solo(app, clock, "test", b"v" * 32, KEY.sign, params=lambda: params)


def test_commits_one_signed_block_per_step_when_txs_wait() -> None:
    app, clock = FakeApp(waiting=[3, 1]), FakeClock()
    solo = make(app, clock)
    assert solo.step() and solo.step()
    assert [p.height for p, _ in app.committed] == [1, 2]
    proposal, commit = app.committed[0]
    assert (commit.height, commit.round, commit.block_hash) == (1, 0, proposal.hash)
    [signature] = commit.signatures
    assert signature.validator == b"v" * 32
    assert KEY.public_key().verify(
        signature.signature, vote_sign_bytes("test", 1, 0, proposal.hash)
    )
    assert clock.slept == 0.1


def test_idle_produces_no_blocks() -> None:
    app = FakeApp()
    assert not make(app, FakeClock()).step()
    assert app.committed == []


def test_all_dropped_produces_no_empty_block() -> None:
    app = FakeApp(waiting=[0])
    assert not make(app, FakeClock()).step()
    assert app.committed == []


def test_empty_blocks_when_configured() -> None:
    app = FakeApp()
    assert make(app, FakeClock(), empty_blocks=True).step()
    assert app.committed[0][0].tx_count == 0


def test_stop_ends_run() -> None:
    app = FakeApp(waiting=[1])
    solo = make(app, FakeClock())
    solo.stop()
    solo.run()
    assert app.committed == []


def test_full_pool_builds_without_waiting() -> None:
    app, clock = FakeApp(waiting=[10], full=True), FakeClock()
    assert make(app, clock).step()
    assert clock.slept == 0


def test_reads_the_parameters_in_force_before_each_block() -> None:
    app, clock = FakeApp(waiting=[1, 1]), FakeClock()
    params = [ChainParams(block_interval_ms=50), ChainParams(block_interval_ms=200)]
    solo = Solo(app, clock, "test", b"v" * 32, KEY.sign, params=lambda: params[0])
    assert solo.step()
    params[0] = params[1]  # a params.set committed in the meantime
    assert solo.step()
    assert clock.slept == pytest.approx(0.25)
