"""The installed `jinglian` script, run as a user would: real processes, real exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = shutil.which("jinglian", path=str(Path(sys.executable).parent)) or shutil.which("jinglian")

pytestmark = pytest.mark.skipif(
    SCRIPT is None, reason="the jinglian console script is not installed"
)


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "JINGLIAN_NET"}
    environment.update(env or {})
    return subprocess.run(
        [str(SCRIPT), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_and_version(tmp_path: Path) -> None:
    result = _run("--help", cwd=tmp_path)
    assert result.returncode == 0 and "Example:" in result.stdout
    version = _run("--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("jinglian ")


def test_init_then_commands_find_the_network(tmp_path: Path) -> None:
    created = _run("init", "net", "--orgs", "4", "--json", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["chain_id"] == "jinglian-dev"
    inside = tmp_path / "net" / "nodes"
    unreachable = _run("chain", "info", "--endpoint", "http://127.0.0.1:9", cwd=inside)
    assert unreachable.returncode == 1
    assert unreachable.stderr.count("\n") == 1 and "(unreachable)" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr


def test_errors_are_one_line(tmp_path: Path) -> None:
    missing = _run("tx", "invoke", "kv", "put", cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no network found")
    assert missing.stderr.count("\n") == 1
    usage = _run("tx", "invoke", cwd=tmp_path)
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1
    assert usage.stderr.rstrip().endswith("(usage_error)")


def test_python_dash_m(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jinglian.cli", "chain", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "jinglian chain info" in result.stdout
