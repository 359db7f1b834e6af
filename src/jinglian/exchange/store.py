"""Durable store of sealed responses, one per request hash, written before ``deliver``.

``<state_dir>/responses/<request hash hex>.sealed`` holds the envelope and
``.json`` beside it its record (grant, response hash, size, delivery id once
known). Both are written to a temporary file, fsynced, renamed into place,
and the directory fsynced; the record is written last, so a record on disk
means its envelope is whole. An envelope without a record (a crash between
the two) is ignored and overwritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jinglian.types.errors import ConfigError

__all__ = ["ResponseStore", "StoredResponse"]

RECORD_BYTES_MAX = 4096
"""The largest record file read (a record is about 300 bytes)."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What the service keeps of one request until the requester confirms it."""

    request_hash: str
    grant: int
    requester_cert_id: str
    response_hash: str
    size: int
    created_ms: int
    delivery: int | None = None


class ResponseStore:
    """Sealed responses by request hash, fsynced (see the module docstring)."""

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "responses"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the state directory {self.root}: {exc}") from None

    def get(self, request_hash: str) -> StoredResponse | None:
        """The record of ``request_hash``, or None if nothing whole is stored."""
        path = self._path(request_hash, ".json")
        try:
            raw = path.read_bytes()[: RECORD_BYTES_MAX + 1]
        except FileNotFoundError:
            return None
        if len(raw) > RECORD_BYTES_MAX:
            raise ConfigError(f"stored record {path} is over {RECORD_BYTES_MAX} bytes")
        try:
            value: dict[str, Any] = json.loads(raw)
            return StoredResponse(**value)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"stored record {path} is unreadable: {exc}") from None

    def envelope(self, request_hash: str) -> bytes:
        """The stored envelope of ``request_hash`` (its record must exist)."""
        return self._path(request_hash, ".sealed").read_bytes()

    def put(self, record: StoredResponse, envelope: bytes) -> None:
        """Store ``envelope`` then its record, each durably, in that order."""
        self._write(self._path(record.request_hash, ".sealed"), envelope)
        self.set_record(record)

    def set_record(self, record: StoredResponse) -> None:
        """Replace the record (e.g. with the delivery id), durably."""
        self._write(self._path(record.request_hash, ".json"), json.dumps(asdict(record)).encode())

    def prune(self, created_before_ms: int) -> int:
        """Remove every entry (and stray temporary or orphaned file) created before the given
        time; the number of entries removed. The service calls it with a time no request can
        still be accepted from (``2 * skew_ms`` ago), so a pruned request is refused by its time."""
        removed = 0
        for record_path in self.root.glob("*.json"):
            found = self.get(record_path.stem)
            if found is not None and found.created_ms < created_before_ms:
                record_path.unlink(missing_ok=True)
                self._path(found.request_hash, ".sealed").unlink(missing_ok=True)
                removed += 1
        cutoff_s = created_before_ms / 1000
        for path in self.root.iterdir():
            orphan = path.suffix == ".sealed" and not path.with_suffix(".json").exists()
            if (orphan or path.suffix == ".tmp") and path.stat().st_mtime < cutoff_s:
                path.unlink(missing_ok=True)
        return removed

    def _path(self, request_hash: str, suffix: str) -> Path:
        if len(request_hash) != 64 or request_hash.strip("0123456789abcdef"):
            raise ValueError(f"not a request hash: {request_hash!r}")
        return self.root / f"{request_hash}{suffix}"

    def _write(self, path: Path, data: bytes) -> None:
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        directory = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
