"""Fixtures of the exchange tests: a real solo node of three departments with the directory
contract, org1 (planning) publishing catalogs, and org1's exchange service as a child process.

``world`` is one network per test module: org1 has an unconditional catalog
``OPEN`` served from a CSV file and a conditional one ``PLAN`` served from a
SQLite query (JSON); org2 (water) and org3 (tax) have a duty each. The
exchange service is set up with ``jinglian exchange init`` (so the CLI is
exercised) and runs with ``jinglian exchange run``; ``World.service`` can be
killed and restarted. ``postgres_url`` is the indexer tests' throwaway
PostgreSQL server (imported, not moved).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jinglian.apps import directory
from jinglian.cli import cli
from jinglian.client import Client, load_network, local_approvers
from jinglian.node.init import create_network
from jinglian.testing.process import NodeProcess, find_free_port
from tests.indexer.conftest import postgres_url  # noqa: F401  (the shared PostgreSQL fixture)

OPEN = "301001/000001"  # unconditional, CSV file
PLAN = "301001/000002"  # conditional, SQLite query as JSON
PG = "301001/000003"  # unconditional, PostgreSQL query (added by the PostgreSQL test)
ITEMS = ["parcel", "land_use", "area_m2", "owner"]
ROWS = 200
SERVICE_START_TIMEOUT_S = 30.0
SERVICE_STOP_TIMEOUT_S = 15.0


def csv_rows(count: int = ROWS) -> list[list[str]]:
    return [
        [f"P{n:05d}", ("residential", "industrial", "green")[n % 3], str(100 + n), f"o{n}"]
        for n in range(count)
    ]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    lines = [",".join(ITEMS)] + [",".join(row) for row in rows]
    path.write_text("\r\n".join(lines) + "\r\n")


class ServiceProcess:
    """``jinglian exchange run`` as a child process; killable and restartable."""

    def __init__(self, config: Path, port: int) -> None:
        self.config = config
        self.port = port
        self.log = config.parent / "exchange.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, fault: str | None = None, *, json_output: bool = False) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("JINGLIAN_EXCHANGE_FAULT", None)
        if fault:
            env["JINGLIAN_EXCHANGE_FAULT"] = fault
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jinglian.cli",
                    "exchange",
                    "run",
                    "--config",
                    str(self.config),
                    *(["--json"] if json_output else []),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + SERVICE_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"exchange exited {self.proc.returncode}: {self.log.read_text()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"exchange did not listen in time: {self.log.read_text()[-2000:]}")

    def wait_killed(self, timeout_s: float = 30.0) -> int:
        """Wait for the process to end by itself (an injected SIGKILL); its return code."""
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(SERVICE_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(SERVICE_STOP_TIMEOUT_S)

    def restart(self, fault: str | None = None, *, json_output: bool = False) -> None:
        self.stop()
        self.start(fault, json_output=json_output)


@dataclass
class World:
    net: Path
    node: NodeProcess
    data: Path
    exchange_dir: Path
    service: ServiceProcess
    sqlite_path: Path

    def client(self, name: str) -> Client:
        return Client.from_network(self.net, name)

    def request(
        self, catalog: str, items: list[str], requester: str = "org2", **extra: Any
    ) -> dict[str, Any]:
        with self.client(f"{requester}/client") as client:
            duty = "water" if requester == "org2" else "tax"
            return directory.request(
                client, "org1", catalog, items, duty, "flood model", extra.get("days", 30)
            )


def _catalog(share_type: str, mode: str, fmt: str) -> dict[str, Any]:
    return {
        "name": "Land-use planning",
        "summary": "Parcels of the city's land-use plan",
        "duties": ["planning"],
        "share_type": share_type,
        "share_condition": "" if share_type == "unconditional" else "for flood planning only",
        "share_mode": mode,
        "data_format": fmt,
        "update_cycle": "quarterly",
        "open_attribute": "not_open",
        "release_date": "2024-02-29",
    }


def _items() -> list[dict[str, Any]]:
    return [
        {
            "code": code,
            "name": code,
            "data_type": "string",
            "sensitivity": "internal",
            "standard": "",
        }
        for code in ITEMS
    ]


def publish_directory(net: Path) -> None:
    """Deploy the directory contract; org1 publishes three catalogs, org2 and org3 a duty each."""
    network = load_network(net)
    with Client.from_network(net, "org1/admin") as admin:
        directory.deploy_directory_contract(
            admin, approvers=local_approvers(network, first_org="org1")
        )
        directory.put_duty(admin, "planning", "Urban planning", "Urban and Rural Planning Law")
        for code, share in ((OPEN, "unconditional"), (PLAN, "conditional"), (PG, "unconditional")):
            directory.put_catalog(admin, code, _catalog(share, "file", "csv"))
            directory.put_items(admin, code, _items())
    for org, duty in (("org2", "water"), ("org3", "tax")):
        with Client.from_network(net, f"{org}/admin") as admin:
            directory.put_duty(admin, duty, duty.title(), "Law")


@contextlib.contextmanager
def running_world(root: Path, crypto: str) -> Iterator[World]:
    """A three-department solo network of ``crypto``, published, with org1's exchange running."""
    net = root / "net"
    create_network(
        net,
        3,
        crypto=crypto,
        consensus="solo",
        api_port=find_free_port(),
        p2p_port=find_free_port(),
    )
    data = root / "data"
    data.mkdir()
    write_csv(data / "landuse.csv", csv_rows())
    sqlite_path = data / "plans.sqlite"
    with sqlite3.connect(sqlite_path) as db:
        db.execute("CREATE TABLE parcels (parcel TEXT, land_use TEXT, area_m2 INTEGER, owner TEXT)")
        db.executemany(
            "INSERT INTO parcels VALUES (?, ?, ?, ?)",
            [(r[0], r[1], int(r[2]), r[3]) for r in csv_rows()],
        )
    with NodeProcess(net / "nodes" / "node1") as node:
        node.start()
        publish_directory(net)
        exchange_dir = root / "exch1"
        port = find_free_port()
        result = CliRunner().invoke(
            cli,
            [
                "exchange", "init", "--net", str(net), "--identity", "org1/admin",
                "--dir", str(exchange_dir), "--port", str(port),
                "--source", f"{OPEN}={data / 'landuse.csv'}:csv", "--json",
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        config = exchange_dir / "exchange.toml"
        with open(config, "a") as handle:
            handle.write(
                f'\n[sources."{PLAN}"]\nurl = "sqlite:///{sqlite_path}"\n'
                'query = "SELECT parcel, land_use, area_m2, owner FROM parcels ORDER BY parcel"\n'
                'format = "json"\n'
            )
        service = ServiceProcess(config, port)
        service.start()
        try:
            yield World(net, node, data, exchange_dir, service, sqlite_path)
        finally:
            assert service.stop() == 0, "SIGTERM ends the service cleanly"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("exchange"), "default") as found:
        yield found


@pytest.fixture(scope="module")
def gm_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("exchange-gm"), "gm") as found:
        yield found
