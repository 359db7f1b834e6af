"""The consensus write-ahead log: a validator's own signed messages, durable before they leave.

A validator that signs a proposal or a vote, crashes and restarts must not
sign a *different* proposal or vote for the same (height, round, kind): that
is equivocation, and it is how BFT safety is lost without any malicious
code. So the owner of the state machine follows one rule::

    sign  ->  WAL.append(entry) (written and fsynced)  ->  broadcast

and after a restart reads ``records()`` back. Before it signs anything at
(height, round, kind) it asks ``last_signed(entries, height, round, kind)``;
if that returns a message, it re-broadcasts that message instead of signing a
new one. ``EnteredStep`` entries tell it how far the round had got, so it
resumes at that step instead of re-running the earlier ones, and the latest
non-nil precommit of the height is its lock (``lock_of``): line 36 of the
algorithm locks exactly when it precommits a block.

Two layers:

- ``WAL`` is the byte log: ``append`` (durable before it returns),
  ``records`` (everything appended since the last ``reset``, in order, also
  after a restart), ``reset`` and ``close``. ``MemoryWAL`` is the in-memory
  twin for the simulation, ``FileWAL`` the real one.
- ``WalEntry`` (``SignedProposal``, ``SignedVote``, ``EnteredStep``) is what
  goes into a record, encoded canonically (``encode_wal_entry``,
  ``decode_wal_entry``) with the ``Proposal`` and ``Vote`` encoders.

Pruning is ``reset()``, called once the block of the height is committed
*durably* (the block store's fsync has returned): nothing of a committed
height is needed any more, since a restarted node starts at the next height.
Resetting before the commit is durable would forget what was signed at a
height the node may restart into; a crash between commit and reset merely
leaves entries of an old height, which ``last_signed`` never matches.

``FileWAL`` file format: an 8-byte magic ``JLWAL\\0\\0\\1``, then records, each a
4-byte big-endian length (1..``WAL_RECORD_BYTES_MAX``), a 4-byte big-endian
CRC32 (``zlib.crc32``) of the length bytes and the payload, and the payload.
Every append is one ``write`` followed by ``fsync``. A new (or reset) file is
written beside the old one, fsynced, renamed over it and the directory fsynced,
so the file always starts with a whole magic. On open, records are checked in
order; at the first bad one (short header, bad length, past the end of the file
or wrong CRC) the rest of the file is searched for any valid record. None: the
bad bytes are a torn or corrupt tail left by a crash during the last append,
and they are cut off (``FileWAL.dropped_bytes``, and a warning is logged). One
found: history in the middle is corrupt, and opening raises ``ConfigError``
rather than silently forget what the validator signed.

A ``WAL`` has one owner (the consensus loop); it is not thread-safe. An
``OSError`` from ``append`` leaves the log unusable (after a failed fsync the
page cache cannot be trusted): every later call raises, and the node must stop.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, overload

from jinglian.types import codec
from jinglian.types.consensus import (
    MESSAGE_BYTES_MAX,
    ROUND_MAX,
    Proposal,
    Vote,
    VoteKind,
    decode_proposal,
    decode_vote,
    encode_proposal,
    encode_vote,
)
from jinglian.types.errors import ConfigError, DecodeError, InvalidInput, TooLarge

__all__ = [
    "WAL",
    "WAL_ENTRY_BYTES_MAX",
    "WAL_MAGIC",
    "WAL_RECORD_BYTES_MAX",
    "WAL_STEPS",
    "EnteredStep",
    "FileWAL",
    "MemoryWAL",
    "SignedKind",
    "SignedProposal",
    "SignedVote",
    "StepName",
    "WalEntry",
    "decode_wal_entry",
    "encode_wal_entry",
    "last_signed",
    "lock_of",
]

log = logging.getLogger("jinglian.consensus.wal")

WAL_RECORD_BYTES_MAX = 4096
"""Upper bound on one record's payload (a WAL entry needs far less)."""
WAL_ENTRY_BYTES_MAX = MESSAGE_BYTES_MAX + 64
"""Upper bound on an encoded ``WalEntry`` (a message plus a small wrapper)."""
WAL_MAGIC = b"JLWAL\x00\x00\x01"
"""First bytes of a ``FileWAL`` file (format version 1)."""

_HEADER = struct.Struct(">II")
_LENGTH = struct.Struct(">I")

StepName = Literal["propose", "prevote", "precommit"]
WAL_STEPS: tuple[StepName, ...] = ("propose", "prevote", "precommit")
SignedKind = Literal["proposal", "prevote", "precommit"]


class WAL(Protocol):
    """An append-only log of records, durable on append, emptied once a height is committed."""

    def append(self, record: bytes) -> None:
        """Add ``record`` (1..``WAL_RECORD_BYTES_MAX`` bytes); it is durable when this returns."""
        ...

    def records(self) -> Iterator[bytes]:
        """Every record appended since the last ``reset``, in order (also after a restart)."""
        ...

    def reset(self) -> None:
        """Forget every record, durably; call only once the height's block is durably committed."""
        ...

    def close(self) -> None:
        """Release the log; later calls raise."""
        ...


def _check_record(record: bytes) -> None:
    if not record:
        raise InvalidInput("a WAL record must not be empty")
    if len(record) > WAL_RECORD_BYTES_MAX:
        raise TooLarge(f"WAL record is {len(record)} bytes, limit {WAL_RECORD_BYTES_MAX}")


class MemoryWAL:
    """The in-memory twin of ``FileWAL`` for simulations: a "restart" is ``reopened()``."""

    def __init__(self, records: Iterable[bytes] = ()) -> None:
        self._records = list(records)
        self._closed = False

    def append(self, record: bytes) -> None:
        """Add a record."""
        self._check_open()
        _check_record(record)
        self._records.append(bytes(record))

    def records(self) -> Iterator[bytes]:
        """The records so far, in order."""
        self._check_open()
        return iter(list(self._records))

    def reset(self) -> None:
        """Forget every record."""
        self._check_open()
        self._records.clear()

    def close(self) -> None:
        """Mark the log closed."""
        self._closed = True

    def reopened(self) -> MemoryWAL:
        """A new log holding the same records, as a restarted node would find them."""
        return MemoryWAL(self._records)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("WAL is closed")


def _crc(length_bytes: bytes | memoryview, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(length_bytes))


def _record_end(data: memoryview, offset: int) -> int | None:
    """End offset of the valid record at ``offset``, or ``None`` if there is none."""
    if offset + _HEADER.size > len(data):
        return None
    length: int
    crc: int
    length, crc = _HEADER.unpack_from(data, offset)
    if not 1 <= length <= WAL_RECORD_BYTES_MAX:
        return None
    end = offset + _HEADER.size + length
    if end > len(data):
        return None
    if _crc(data[offset : offset + _LENGTH.size], data[offset + _HEADER.size : end]) != crc:
        return None
    return end


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class FileWAL:
    """The WAL as one append-only file (format in the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.dropped_bytes = 0
        """Bytes of torn or corrupt tail cut off when the file was opened."""
        self._fd: int | None = None
        self._broken = False
        if not self.path.parent.is_dir():
            raise ConfigError(f"WAL directory {self.path.parent} does not exist")
        if not self.path.exists():
            self._create_empty()
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        try:
            self._size = self._recover()
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    def append(self, record: bytes) -> None:
        """Write the record and fsync; an ``OSError`` leaves the log unusable."""
        fd = self._usable_fd()
        _check_record(record)
        length_bytes = _LENGTH.pack(len(record))
        frame = length_bytes + _LENGTH.pack(_crc(length_bytes, record)) + record
        try:
            _write_all(fd, frame)
            os.fsync(fd)
        except OSError:
            self._broken = True
            raise
        self._size += len(frame)

    def records(self) -> Iterator[bytes]:
        """The records in the file (up to its size when called), in order."""
        fd = self._usable_fd()
        size = self._size
        return self._read_records(fd, size)

    def reset(self) -> None:
        """Replace the file with an empty one, atomically and durably."""
        fd = self._usable_fd()
        try:
            self._create_empty()
            new_fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)
        except OSError:
            self._broken = True
            raise
        os.close(fd)
        self._fd = new_fd
        self._size = len(WAL_MAGIC)

    def close(self) -> None:
        """Close the file; later calls raise."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileWAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _usable_fd(self) -> int:
        if self._fd is None:
            raise ValueError("WAL is closed")
        if self._broken:
            raise OSError(f"WAL {self.path} failed an earlier write; restart the node")
        return self._fd

    def _create_empty(self) -> None:
        """Write a file holding only the magic beside ``path``, then rename it into place."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            _write_all(fd, WAL_MAGIC)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        _fsync_dir(self.path.parent)

    def _recover(self) -> int:
        """Check every record; cut a bad tail off, refuse a bad middle; return the valid size."""
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        data = memoryview(os.pread(self._fd, size, 0))
        if data[: len(WAL_MAGIC)] != WAL_MAGIC:
            raise ConfigError(f"{self.path} is not a jinglian WAL (bad magic)")
        offset = len(WAL_MAGIC)
        while offset < len(data):
            end = _record_end(data, offset)
            if end is None:
                break
            offset = end
        if offset == len(data):
            return offset
        for later in range(offset + 1, len(data)):
            if _record_end(data, later) is not None:
                raise ConfigError(
                    f"WAL {self.path} is corrupt at byte {offset} but has valid records after "
                    f"it (at byte {later}); refusing to start rather than drop signed history. "
                    "Restore the file or, knowing the double-signing risk, move it away."
                )
        self.dropped_bytes = len(data) - offset
        log.warning(
            "WAL %s: cut off a torn or corrupt tail of %d bytes at byte %d",
            self.path,
            self.dropped_bytes,
            offset,
        )
        os.ftruncate(self._fd, offset)
        os.fsync(self._fd)
        return offset

    @staticmethod
    def _read_records(fd: int, size: int) -> Iterator[bytes]:
        offset = len(WAL_MAGIC)
        while offset < size:
            header = os.pread(fd, _HEADER.size, offset)
            length, _ = _HEADER.unpack(header)
            yield os.pread(fd, length, offset + _HEADER.size)
            offset += _HEADER.size + length


@dataclass(frozen=True, slots=True)
class SignedProposal:
    """A proposal this validator signed."""

    proposal: Proposal


@dataclass(frozen=True, slots=True)
class SignedVote:
    """A vote this validator signed."""

    vote: Vote


@dataclass(frozen=True, slots=True)
class EnteredStep:
    """This validator entered ``step`` of (``height``, ``round``)."""

    height: int
    round: int
    step: StepName


WalEntry = SignedProposal | SignedVote | EnteredStep


def encode_wal_entry(entry: WalEntry) -> bytes:
    """Canonical bytes of a WAL entry."""
    if isinstance(entry, SignedProposal):
        return codec.encode_trusted({"entry": "proposal", "msg": encode_proposal(entry.proposal)})
    if isinstance(entry, SignedVote):
        return codec.encode_trusted({"entry": "vote", "msg": encode_vote(entry.vote)})
    return codec.encode_trusted(
        {"entry": "step", "height": entry.height, "round": entry.round, "step": entry.step}
    )


def decode_wal_entry(data: bytes) -> WalEntry:
    """Parse and check a WAL entry; raises ``DecodeError`` or ``TooLarge``."""
    value = codec.decode(data, WAL_ENTRY_BYTES_MAX)
    if not isinstance(value, dict) or not isinstance(value.get("entry"), str):
        raise DecodeError("WAL entry must be a map with an 'entry' kind")
    kind = value["entry"]
    if kind in ("proposal", "vote"):
        if set(value) != {"entry", "msg"} or not isinstance(value["msg"], bytes):
            raise DecodeError(f"WAL {kind} entry fields are missing or unexpected")
        if kind == "proposal":
            return SignedProposal(decode_proposal(value["msg"]))
        return SignedVote(decode_vote(value["msg"]))
    if kind == "step":
        if set(value) != {"entry", "height", "round", "step"}:
            raise DecodeError("WAL step entry fields are missing or unexpected")
        height, round_, step = value["height"], value["round"], value["step"]
        if not isinstance(height, int) or isinstance(height, bool) or height < 1:
            raise DecodeError("WAL step entry height must be an integer of at least 1")
        if not isinstance(round_, int) or isinstance(round_, bool) or not 0 <= round_ <= ROUND_MAX:
            raise DecodeError(f"WAL step entry round must lie in 0..{ROUND_MAX}")
        for name in WAL_STEPS:
            if step == name:
                return EnteredStep(height, round_, name)
        raise DecodeError("WAL step entry step must be 'propose', 'prevote' or 'precommit'")
    raise DecodeError(f"unknown WAL entry kind {kind!r}")


@overload
def last_signed(
    entries: Iterable[WalEntry], height: int, round_: int, kind: Literal["proposal"]
) -> Proposal | None: ...


@overload
def last_signed(
    entries: Iterable[WalEntry], height: int, round_: int, kind: VoteKind
) -> Vote | None: ...


def last_signed(
    entries: Iterable[WalEntry], height: int, round_: int, kind: SignedKind
) -> Proposal | Vote | None:
    """The last proposal or vote of ``kind`` this validator signed at (height, round), if any.

    A restarted validator that finds one re-sends it and never signs another
    for the same (height, round, kind): that would be a conflicting message.
    """
    found: Proposal | Vote | None = None
    for entry in entries:
        if isinstance(entry, SignedProposal):
            p = entry.proposal
            if kind == "proposal" and p.height == height and p.round == round_:
                found = p
        elif isinstance(entry, SignedVote):
            v = entry.vote
            if v.kind == kind and v.height == height and v.round == round_:
                found = v
    return found


def lock_of(entries: Iterable[WalEntry], height: int) -> tuple[bytes | None, int]:
    """The lock (block hash, round) implied by this validator's precommits at ``height``.

    The algorithm locks on a block exactly when it precommits it (line 36), so
    the non-nil precommit of the highest round is the lock; ``(None, -1)`` if none.
    """
    locked: bytes | None = None
    locked_round = -1
    for entry in entries:
        if isinstance(entry, SignedVote):
            v = entry.vote
            if (
                v.kind == "precommit"
                and v.height == height
                and not v.is_nil
                and v.round > locked_round
            ):
                locked, locked_round = v.block_hash, v.round
    return locked, locked_round
