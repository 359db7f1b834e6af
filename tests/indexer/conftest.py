"""Fixtures of the indexer tests: a real solo node with kv transactions, and a real PostgreSQL.

``chain`` is one solo network per test module (``tmp/net``) with its node
running and ``ROUNDS`` blocks of ``TXS_PER_ROUND`` ``kv.set`` transactions,
one of which fails (so a failed receipt is indexed too). ``postgres_url`` is
a throwaway PostgreSQL server started with ``initdb`` and ``pg_ctl`` on a
free port in a temporary directory, run as an unprivileged user when the
tests run as root; it skips with the reason when no server can be had.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jinglian.client import Client
from jinglian.testing.process import NodeProcess, find_free_port, make_solo_network

REPO = Path(__file__).resolve().parents[2]
KV_SOURCE = REPO / "examples" / "contracts" / "kv.py"
ROUNDS = 20
TXS_PER_ROUND = 30
PG_BIN_DIRS = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"))]
PG_USER = "postgres"
"""Unprivileged account that runs the server when the tests run as root."""
PG_START_TIMEOUT_S = 60
APT_TIMEOUT_S = 600


@dataclass
class Chain:
    """A running solo network with kv transactions."""

    net: Path
    node: NodeProcess
    head: int
    """Height after the fixture's transactions."""


def fill_chain(client: Client, rounds: int, per_round: int, start: int = 0) -> None:
    """``rounds`` waits for ``per_round`` kv.set transactions each (about one block each)."""
    for r in range(rounds):
        txs = [
            client.sign("kv", "set", {"key": f"k{start + r}-{i}", "value": i})
            for i in range(per_round)
        ]
        ids = client.submit_many(txs)
        assert all(isinstance(i, str) for i in ids), ids
        client.wait_tx(str(ids[-1]), 60)


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """A solo node with the kv contract, ROUNDS x TXS_PER_ROUND sets and one failed set."""
    net = make_solo_network(tmp_path_factory.mktemp("indexer"))
    with NodeProcess(net / "nodes" / "node1") as node:
        node.start()
        with Client.from_network(net, "org1/admin") as client:
            client.invoke("contracts", "deploy", {"name": "kv", "source": KV_SOURCE.read_text()})
            failed = client.submit(client.sign("kv", "set", {"key": "no value"}))
            fill_chain(client, ROUNDS, TXS_PER_ROUND)
            assert client.wait_tx(failed, 60).status != "ok"
            head = int(client.chain_info()["height"])
        yield Chain(net, node, head)


def _pg_bin() -> Path | None:
    for directory in PG_BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def _install_postgres() -> Path | None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
        done = subprocess.run(
            command, check=False, env=env, capture_output=True, timeout=APT_TIMEOUT_S
        )
        if done.returncode != 0:
            return None
    return _pg_bin()


def _as_server_user(command: list[str]) -> list[str]:
    """``command`` as the unprivileged server account when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", PG_USER, "--", *command]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server's URL (database ``postgres``, trust auth on 127.0.0.1)."""
    bin_dir = _pg_bin() or _install_postgres()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (initdb/pg_ctl) and apt-get could not install it")
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(PG_USER)
        except KeyError:
            pytest.skip(f"running as root and there is no {PG_USER!r} account to run the server")
    base = Path(tempfile.mkdtemp(prefix="jinglian-pg-"))
    if os.geteuid() == 0:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, port = base / "data", find_free_port()
    try:
        _run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "jinglian",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                ]
            )
        )
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(base / "server.log"),
                    "-w",
                    "-t",
                    str(PG_START_TIMEOUT_S),
                    "start",
                ]
            )
        )
        yield f"postgresql://jinglian@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_server_user(
                    [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
                ),
                capture_output=True,
                timeout=PG_START_TIMEOUT_S,
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=PG_START_TIMEOUT_S
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout.strip()}")
