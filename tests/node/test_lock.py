from __future__ import annotations

import os
from pathlib import Path

import pytest

from jinglian.node.lock import DataDirLock
from jinglian.types.errors import ConfigError


def test_second_lock_refused_with_holder_pid(tmp_path: Path) -> None:
    first = DataDirLock(tmp_path / "data")
    with pytest.raises(ConfigError, match=f"pid {os.getpid()}"):
        DataDirLock(tmp_path / "data")
    first.release()
    DataDirLock(tmp_path / "data").release()
