"""The consensus WAL: byte log durability and recovery, typed entries, and what a restart signed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jinglian.consensus.wal import (
    WAL,
    WAL_MAGIC,
    WAL_RECORD_BYTES_MAX,
    EnteredStep,
    FileWAL,
    MemoryWAL,
    SignedProposal,
    SignedVote,
    WalEntry,
    decode_wal_entry,
    encode_wal_entry,
    last_signed,
    lock_of,
)
from jinglian.types import codec
from jinglian.types.consensus import NIL, Proposal, Vote, VoteKind, encode_vote
from jinglian.types.errors import ConfigError, DecodeError, InvalidInput, TooLarge

HEADER = 8
BLOCK_A = b"\xaa" * 32
BLOCK_B = b"\xbb" * 32
ME = b"validator-1"


def _vote(kind: VoteKind, height: int, round_: int, block: bytes, sig: bytes = b"s" * 64) -> Vote:
    return Vote(kind, height, round_, block, ME, sig)


def _proposal(height: int, round_: int, block: bytes) -> Proposal:
    return Proposal(height, round_, block, -1, ME, b"p" * 64)


def _file_wal(tmp_path: Path) -> FileWAL:
    return FileWAL(tmp_path / "wal")


def _memory_wal(tmp_path: Path) -> MemoryWAL:
    return MemoryWAL()


def _reopen(wal: WAL) -> WAL:
    wal.close()
    if isinstance(wal, MemoryWAL):
        return wal.reopened()
    assert isinstance(wal, FileWAL)
    return FileWAL(wal.path)


FACTORIES = pytest.mark.parametrize("make", [_file_wal, _memory_wal], ids=["file", "memory"])


# --- the byte log, both implementations ------------------------------------------------------


@FACTORIES
def test_round_trip_and_reopen(make: Callable[[Path], WAL], tmp_path: Path) -> None:
    wal = make(tmp_path)
    assert list(wal.records()) == []
    records = [b"x", b"\x00" * 10, os.urandom(WAL_RECORD_BYTES_MAX), b"last"]
    for record in records:
        wal.append(record)
    assert list(wal.records()) == records
    wal = _reopen(wal)
    assert list(wal.records()) == records
    wal.append(b"more")
    assert list(_reopen(wal).records()) == [*records, b"more"]


@FACTORIES
def test_reset_forgets_everything_durably(make: Callable[[Path], WAL], tmp_path: Path) -> None:
    wal = make(tmp_path)
    for i in range(5):
        wal.append(b"%d" % i)
    wal.reset()
    assert list(wal.records()) == []
    wal.append(b"after")
    wal = _reopen(wal)
    assert list(wal.records()) == [b"after"]
    wal.reset()
    assert list(_reopen(wal).records()) == []


@FACTORIES
def test_record_bounds(make: Callable[[Path], WAL], tmp_path: Path) -> None:
    wal = make(tmp_path)
    with pytest.raises(InvalidInput):
        wal.append(b"")
    with pytest.raises(TooLarge):
        wal.append(b"x" * (WAL_RECORD_BYTES_MAX + 1))
    assert list(wal.records()) == []


@FACTORIES
def test_closed_wal_refuses(make: Callable[[Path], WAL], tmp_path: Path) -> None:
    wal = make(tmp_path)
    wal.close()
    with pytest.raises(ValueError, match="closed"):
        wal.append(b"x")
    with pytest.raises(ValueError, match="closed"):
        wal.records()


def test_many_appends_then_reopen(tmp_path: Path) -> None:
    rng = random.Random(7)
    records = [rng.randbytes(rng.randint(1, 600)) for _ in range(1000)]
    with FileWAL(tmp_path / "wal") as wal:
        for record in records:
            wal.append(record)
    with FileWAL(tmp_path / "wal") as wal:
        assert wal.dropped_bytes == 0
        assert list(wal.records()) == records


# --- FileWAL recovery --------------------------------------------------------------------------


def _write_three(path: Path) -> tuple[list[bytes], list[int]]:
    """Three records; returns them and each one's start offset (plus the end of the file)."""
    records = [b"first record", b"second record", b"third and last record"]
    with FileWAL(path) as wal:
        for record in records:
            wal.append(record)
    offsets = [len(WAL_MAGIC)]
    for record in records:
        offsets.append(offsets[-1] + HEADER + len(record))
    assert path.stat().st_size == offsets[-1]
    return records, offsets


def test_new_file_is_magic_only_and_leaves_no_temp(tmp_path: Path) -> None:
    FileWAL(tmp_path / "wal").close()
    assert (tmp_path / "wal").read_bytes() == WAL_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wal"]


def test_torn_tail_at_every_offset_is_cut_off(tmp_path: Path) -> None:
    records, offsets = _write_three(tmp_path / "wal")
    full = (tmp_path / "wal").read_bytes()
    last_start = offsets[2]
    for cut in range(last_start, len(full)):
        path = tmp_path / f"torn{cut}"
        path.write_bytes(full[:cut])
        with FileWAL(path) as wal:
            assert list(wal.records()) == records[:2], cut
            assert wal.dropped_bytes == cut - last_start
        assert path.stat().st_size == last_start
        with FileWAL(path) as wal:  # the cut is durable and appending goes on from there
            assert wal.dropped_bytes == 0
            wal.append(b"again")
        assert list(FileWAL(path).records()) == [*records[:2], b"again"]


def test_flipped_byte_in_last_record_is_dropped(tmp_path: Path) -> None:
    records, offsets = _write_three(tmp_path / "wal")
    full = (tmp_path / "wal").read_bytes()
    for index in range(offsets[2], offsets[3]):
        path = tmp_path / f"flip{index}"
        damaged = bytearray(full)
        damaged[index] ^= 0x40
        path.write_bytes(bytes(damaged))
        with FileWAL(path) as wal:
            assert list(wal.records()) == records[:2], index
            assert wal.dropped_bytes == offsets[3] - offsets[2]


@pytest.mark.parametrize("record", [0, 1])
def test_flipped_byte_in_earlier_record_refuses_to_open(tmp_path: Path, record: int) -> None:
    _, offsets = _write_three(tmp_path / "wal")
    full = (tmp_path / "wal").read_bytes()
    for index in range(offsets[record], offsets[record + 1]):
        path = tmp_path / f"flip{index}"
        damaged = bytearray(full)
        damaged[index] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(ConfigError, match="corrupt at byte"):
            FileWAL(path)
        assert path.read_bytes() == bytes(damaged), "a refused WAL must be left untouched"


def test_zero_filled_tail_is_cut_off(tmp_path: Path) -> None:
    records, _ = _write_three(tmp_path / "wal")
    with (tmp_path / "wal").open("ab") as f:
        f.write(b"\x00" * 8192)
    with FileWAL(tmp_path / "wal") as wal:
        assert list(wal.records()) == records
        assert wal.dropped_bytes == 8192


def test_bad_magic_and_missing_directory_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "wal").write_bytes(b"not a wal at all")
    with pytest.raises(ConfigError, match="not a jinglian WAL"):
        FileWAL(tmp_path / "wal")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ConfigError, match="not a jinglian WAL"):
        FileWAL(tmp_path / "empty")
    with pytest.raises(ConfigError, match="does not exist"):
        FileWAL(tmp_path / "nope" / "wal")


CHILD = textwrap.dedent(
    """
    import sys
    from jinglian.consensus.wal import FileWAL

    def record(i):
        return b"%d:" % i + bytes([i % 251]) * (i * 37 % 1500 + 1)

    wal = FileWAL(sys.argv[1])
    n = sum(1 for _ in wal.records())
    print("ready", n, flush=True)
    while True:
        wal.append(record(n))
        print(n, flush=True)
        n += 1
    """
)


def _record(i: int) -> bytes:
    return b"%d:" % i + bytes([i % 251]) * (i * 37 % 1500 + 1)


@pytest.mark.slow
def test_sigkill_at_random_moments_keeps_a_contiguous_log(tmp_path: Path) -> None:
    seed = int(os.environ.get("JINGLIAN_CRASH_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    path = tmp_path / "wal"
    acked = -1
    for kill in range(10):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().startswith("ready"), f"seed {seed}"
        time.sleep(rng.uniform(0.01, 0.15))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=10)
        lines = [line for line in out.split("\n") if line.isdigit()]
        if lines:
            acked = int(lines[-1])
        with FileWAL(path) as wal:
            got = list(wal.records())
        assert got == [_record(i) for i in range(len(got))], f"seed {seed}, kill {kill}"
        assert len(got) - 1 >= acked, f"seed {seed}: acknowledged record {acked} lost"
    assert acked > 0, f"seed {seed}: the child never appended"


# --- typed entries -----------------------------------------------------------------------------

ENTRIES: list[WalEntry] = [
    SignedProposal(_proposal(5, 2, BLOCK_A)),
    SignedProposal(Proposal(5, 3, BLOCK_A, 1, ME, b"")),
    SignedVote(_vote("prevote", 5, 2, BLOCK_A)),
    SignedVote(_vote("precommit", 5, 2, NIL)),
    EnteredStep(5, 0, "propose"),
    EnteredStep(2**63 - 1, 1_000_000, "precommit"),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=repr)
def test_entry_round_trip_is_canonical(entry: WalEntry) -> None:
    data = encode_wal_entry(entry)
    assert decode_wal_entry(data) == entry
    assert encode_wal_entry(decode_wal_entry(data)) == data
    assert len(data) <= WAL_RECORD_BYTES_MAX


@pytest.mark.parametrize(
    "value",
    [
        [1, 2],
        {"entry": 1},
        {"entry": "other"},
        {"entry": "vote"},
        {"entry": "vote", "msg": "text"},
        {"entry": "vote", "msg": b"\x00"},
        {"entry": "vote", "msg": encode_vote(_vote("prevote", 5, 2, BLOCK_A)), "x": 1},
        {"entry": "proposal", "msg": encode_vote(_vote("prevote", 5, 2, BLOCK_A))},
        {"entry": "step", "height": 0, "round": 0, "step": "propose"},
        {"entry": "step", "height": 1, "round": -1, "step": "propose"},
        {"entry": "step", "height": True, "round": 0, "step": "propose"},
        {"entry": "step", "height": 1, "round": 0, "step": "commit"},
        {"entry": "step", "height": 1, "round": 0},
    ],
    ids=repr,
)
def test_bad_entries_are_refused(value: codec.Value) -> None:
    with pytest.raises(DecodeError):
        decode_wal_entry(codec.encode(value))


def test_non_canonical_entry_is_refused() -> None:
    data = encode_wal_entry(EnteredStep(1, 0, "prevote"))
    with pytest.raises(DecodeError):
        decode_wal_entry(data + b"\x00")


def test_last_signed_after_reopen(tmp_path: Path) -> None:
    signed: list[WalEntry] = [
        EnteredStep(7, 0, "propose"),
        SignedProposal(_proposal(7, 0, BLOCK_A)),
        EnteredStep(7, 0, "prevote"),
        SignedVote(_vote("prevote", 7, 0, BLOCK_A)),
        EnteredStep(7, 0, "precommit"),
        SignedVote(_vote("precommit", 7, 0, BLOCK_A)),
        EnteredStep(7, 1, "propose"),
        SignedVote(_vote("prevote", 7, 1, NIL)),
    ]
    with FileWAL(tmp_path / "wal") as wal:
        for entry in signed:
            wal.append(encode_wal_entry(entry))
    with FileWAL(tmp_path / "wal") as wal:
        entries = [decode_wal_entry(r) for r in wal.records()]
    assert entries == signed
    assert last_signed(entries, 7, 0, "proposal") == _proposal(7, 0, BLOCK_A)
    assert last_signed(entries, 7, 0, "prevote") == _vote("prevote", 7, 0, BLOCK_A)
    assert last_signed(entries, 7, 0, "precommit") == _vote("precommit", 7, 0, BLOCK_A)
    assert last_signed(entries, 7, 1, "prevote") == _vote("prevote", 7, 1, NIL)
    assert last_signed(entries, 7, 1, "precommit") is None
    assert last_signed(entries, 7, 1, "proposal") is None
    assert last_signed(entries, 8, 0, "prevote") is None
    # The restarted validator must prevote again in round 1: it re-sends, it does not re-sign.
    assert last_signed(entries, 7, 1, "prevote") != _vote("prevote", 7, 1, BLOCK_B)
    assert lock_of(entries, 7) == (BLOCK_A, 0)
    assert lock_of(entries, 8) == (None, -1)


def test_last_signed_returns_the_latest_and_lock_the_highest_round() -> None:
    entries: list[WalEntry] = [
        SignedVote(_vote("precommit", 3, 4, BLOCK_B)),
        SignedVote(_vote("precommit", 3, 1, BLOCK_A)),
        SignedVote(_vote("precommit", 3, 5, NIL)),
        SignedVote(_vote("prevote", 3, 1, BLOCK_A, sig=b"one")),
        SignedVote(_vote("prevote", 3, 1, BLOCK_A, sig=b"two")),
    ]
    assert last_signed(entries, 3, 1, "prevote") == _vote("prevote", 3, 1, BLOCK_A, sig=b"two")
    assert lock_of(entries, 3) == (BLOCK_B, 4)
