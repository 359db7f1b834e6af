"""Headless Chromium for the web page tests, and a server for the page's static files.

Debian's ``chromium`` and ``chromium-driver`` are installed on first use when
the tests run as root on a machine with ``apt-get`` (once per machine: a file
lock keeps the two xdist workers from installing together); elsewhere, without
them, the browser tests are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from jinglian.api.evidence import PAGE_DIR
from jinglian.testing.process import find_free_port
from tests.browser.page import PAGE_TIMEOUT_S

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ["chromium", "chromium-driver"]
APT_TIMEOUT_S = 540
"""Bound on one apt-get run (a fresh install downloads about 100 MB)."""
INSTALL_LOCK = Path(tempfile.gettempdir()) / "jinglian-browser-install.lock"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,1000",
]
SERVER_START_TIMEOUT_S = 10.0


def is_browser_installed() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


def install_browser() -> str | None:
    """Install Chromium and its driver with apt-get; return why not, or None on success."""
    if os.geteuid() != 0:
        return "not running as root, so apt-get install is not possible"
    if shutil.which("apt-get") is None:
        return "apt-get is not available on this machine"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES]
    # The package lists may be missing or stale on a fresh machine: update and try again.
    for command in (install, ["apt-get", "update"], install):
        try:
            done = subprocess.run(
                command, check=False, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S
            )
        except subprocess.TimeoutExpired:
            return f"{' '.join(command)} did not finish in {APT_TIMEOUT_S} s"
        if done.returncode == 0 and is_browser_installed():
            return None
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return f"{' '.join(install)} failed: {' / '.join(tail)}"


@pytest.fixture(scope="session")
def browser_binaries() -> None:
    """Chromium and chromedriver are installed (by this fixture if need be), or the test skips."""
    if is_browser_installed():
        return
    with open(INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        reason = None if is_browser_installed() else install_browser()
    if reason is not None:
        pytest.skip(f"browser test needs {CHROMIUM} and {CHROMEDRIVER}: {reason}")


@pytest.fixture(scope="module")
def driver(browser_binaries: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A headless Chromium driven by Selenium, with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    browser = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    browser.set_page_load_timeout(PAGE_TIMEOUT_S)
    try:
        yield browser
    finally:
        browser.quit()


@contextlib.contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1; yield its base URL."""
    port = find_free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="page-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the page server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(SERVER_START_TIMEOUT_S)


@dataclass
class StubNode:
    """Stands in for the node's ``POST /api/v1/evidence/verify``: records requests, answers as set."""

    base_url: str
    answer: dict[str, Any] = field(default_factory=dict)
    """The JSON body the next request gets."""
    status: int = 200
    """The HTTP status the next request gets."""
    requests: list[Any] = field(default_factory=list)
    """The JSON bodies received, oldest first."""

    @property
    def page_url(self) -> str:
        return f"{self.base_url}/evidence/page/"


@pytest.fixture(scope="module")
def stub_node() -> Iterator[StubNode]:
    """The page's static files at ``/evidence/page/`` beside a stub verify route."""
    if not (PAGE_DIR / "vendor" / "sha256.umd.min.js").exists():
        pytest.fail(f"{PAGE_DIR / 'vendor'} lacks hash-wasm: run make setup")
    app = FastAPI()
    stub = StubNode(base_url="")

    @app.post("/api/v1/evidence/verify")
    async def verify(request: Request) -> JSONResponse:
        stub.requests.append(await request.json())
        return JSONResponse(stub.answer, status_code=stub.status)

    app.mount("/evidence/page", StaticFiles(directory=PAGE_DIR, html=True))
    with serve_in_thread(app) as base_url:
        stub.base_url = base_url
        yield stub


@pytest.fixture
def stub(stub_node: StubNode) -> StubNode:
    """The module's stub node, its answer and record reset for one test."""
    stub_node.answer = {}
    stub_node.status = 200
    stub_node.requests.clear()
    return stub_node
