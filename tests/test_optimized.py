"""The node refuses to run under ``python -O``, where its invariant asserts would vanish."""

from __future__ import annotations

import subprocess
import sys


def test_refuses_python_dash_o() -> None:
    result = subprocess.run(
        [sys.executable, "-O", "-c", "import jinglian"], check=False, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "python -O" in result.stderr
