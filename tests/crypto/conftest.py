"""Shared fixtures: one suite per parameter, keys and a CA per suite, the openssl tool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from jinglian.crypto import (
    SUITE_NAMES,
    Certificate,
    PrivateKey,
    Suite,
    get_suite,
    issue_ca_certificate,
)

NOW_MS = 1_763_700_000_000
"""A fixed "now" for issued certificates (2025-11-21T04:40:00Z)."""

DAY_MS = 86_400_000


@pytest.fixture(params=SUITE_NAMES)
def suite(request: pytest.FixtureRequest) -> Suite:
    return get_suite(request.param)


@pytest.fixture
def key(suite: Suite) -> PrivateKey:
    return suite.generate_key()


@pytest.fixture
def ca_key(suite: Suite) -> PrivateKey:
    return suite.generate_key()


@pytest.fixture
def ca_cert(suite: Suite, ca_key: PrivateKey) -> Certificate:
    return issue_ca_certificate(suite, ca_key, "org1", now_ms=NOW_MS)


def run_openssl(*args: str | Path, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the openssl command line tool; the result is returned, not checked."""
    tool = shutil.which("openssl")
    if tool is None:
        pytest.skip("the openssl command line tool is not installed")
    return subprocess.run(
        [tool, *map(str, args)], input=stdin, capture_output=True, check=False, timeout=30
    )
