"""One node process per data directory.

LMDB lets several processes open the same store; two nodes writing one chain
would each commit their own blocks. ``DataDirLock`` takes an exclusive
``flock`` on ``<data_dir>/node.lock`` for the node's lifetime (the kernel
drops it if the process dies, so ``kill -9`` leaves no stale lock) and names
the holder's pid when refusing.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from jinglian.types.errors import ConfigError

__all__ = ["LOCK_FILE", "DataDirLock"]

LOCK_FILE = "node.lock"


class DataDirLock:
    """An exclusive lock on a node's data directory, held until ``release``."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise ConfigError(
                f"data directory {data_dir} is in use by another node process (pid {holder}); "
                "stop it first"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Give the directory up."""
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
