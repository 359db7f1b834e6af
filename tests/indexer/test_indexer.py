"""The indexer against a real solo node: everything indexed, crash-resumable, rebuildable, and
refusing a node of another chain, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from jinglian.cli import cli
from jinglian.client import AsyncClient, Client
from jinglian.indexer import Indexer, open_database
from jinglian.indexer.schema import blocks, indexer_state
from jinglian.testing.process import NodeProcess, make_solo_network
from jinglian.types.errors import ConfigError, InvalidBlock, WrongChain
from tests.indexer.conftest import KV_SOURCE, REPO, ROUNDS, TXS_PER_ROUND, Chain, fill_chain
from tests.indexer.handlers import kv_keys_meta, record_kv_key

pytestmark = pytest.mark.slow
T = TypeVar("T")
KILL_TIMEOUT_S = 60.0


def with_indexer(net: Path, url: str, work: Callable[[Indexer], Awaitable[T]]) -> T:
    """Run ``work`` with an indexer of ``net``'s node into ``url`` (kv handler registered)."""

    async def main() -> T:
        database = open_database(url)
        client = AsyncClient.from_network(net, "org1/admin")
        try:
            indexer = Indexer(client, database)
            indexer.add_handler("kv", record_kv_key, kv_keys_meta)
            return await work(indexer)
        finally:
            await client.aclose()
            database.close()

    return asyncio.run(main())


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    database = open_database(url)
    database.add_handler("kv", record_kv_key, kv_keys_meta)
    try:
        return database.dump()
    finally:
        database.close()


def full_index(net: Path, url: str) -> dict[str, list[tuple[Any, ...]]]:
    with_indexer(net, url, lambda ix: ix.sync())
    return dump(url)


def check_against_node(chain: Chain, rows: dict[str, list[tuple[Any, ...]]]) -> None:
    total_txs = ROUNDS * TXS_PER_ROUND + 2  # the sets, the failed set, the deploy
    assert [r[0] for r in rows["blocks"]] == list(range(1, chain.head + 1))
    assert len(rows["txs"]) == total_txs
    assert sum(r[4] for r in rows["blocks"]) == total_txs
    assert len(rows["events"]) == ROUNDS * TXS_PER_ROUND + 1  # kv sets and "deployed"
    assert len(rows["kv_keys"]) == ROUNDS * TXS_PER_ROUND
    assert rows["indexer_state"][0][3] == chain.head
    with Client.from_network(chain.net, "org1/admin") as client:
        block = client.get_block(chain.head)
        record = client.call_api("GET", f"/txs/{block['tx_ids'][0]}")
    assert rows["blocks"][-1][1] == block["hash"]
    tx_row = next(r for r in rows["txs"] if r[0] == record["id"])
    assert tx_row[1:] == (
        chain.head,
        0,
        "kv",
        "set",
        record["body"]["sender"],
        "ok",
        "",
        record["receipt"]["gas_used"],
    )
    failed = [r for r in rows["txs"] if r[6] != "ok"]
    assert len(failed) == 1 and failed[0][6] == "invalid_input" and failed[0][7]
    event = next(r for r in rows["events"] if r[3] == record["id"])
    assert event[4:] == ("kv", "set", record["receipt"]["events"][0]["data"])


def test_indexes_every_block_transaction_and_event(chain: Chain, tmp_path: Path) -> None:
    rows = full_index(chain.net, f"sqlite:///{tmp_path / 'index.sqlite'}")
    check_against_node(chain, rows)


def test_resumes_exactly_after_sigkill(chain: Chain, tmp_path: Path) -> None:
    db_file = tmp_path / "killed.sqlite"
    url = f"sqlite:///{db_file}"
    command = [sys.executable, "-m", "tests.indexer.follow_main", str(chain.net), url]
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        killed_at = _wait_for_height(db_file, 2, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(KILL_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert killed_at < chain.head, "the indexer finished before it could be killed mid-run"
    resumed = subprocess.run(
        [*command, "--once"],
        check=False,
        capture_output=True,
        text=True,
        timeout=KILL_TIMEOUT_S,
        cwd=REPO,
    )
    assert resumed.returncode == 0, resumed.stderr
    fresh = full_index(chain.net, f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    assert dump(url) == fresh


def _wait_for_height(db_file: Path, height: int, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + KILL_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the indexer exited"
        try:
            with sqlite3.connect(db_file, timeout=1) as db:
                row = db.execute("SELECT last_height FROM indexer_state").fetchone()
        except sqlite3.Error:
            row = None
        if row is not None and row[0] >= height:
            return int(row[0])
        time.sleep(0.005)
    raise AssertionError(f"the indexer did not reach height {height}")


def test_rebuild_equals_the_original(chain: Chain, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    original = full_index(chain.net, url)
    runner = CliRunner()
    rebuilt = runner.invoke(
        cli, ["indexer", "rebuild", "--net", str(chain.net), "--db", url, "--json"]
    )
    assert rebuilt.exit_code == 0, rebuilt.output
    rows = dump(url)
    assert {k: v for k, v in rows.items() if k != "kv_keys"} == {
        k: v for k, v in original.items() if k != "kv_keys"
    }
    status = runner.invoke(
        cli, ["indexer", "status", "--net", str(chain.net), "--db", url, "--json"]
    )
    assert status.exit_code == 0, status.output
    assert '"behind": 0' in status.output and f'"last_height": {chain.head}' in status.output


def test_follows_new_blocks_live(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    net = make_solo_network(tmp_path)

    async def follow_then_add(indexer: Indexer) -> int:
        task = asyncio.create_task(indexer.follow())
        await indexer.open()
        with Client.from_network(net, "org1/admin") as client:
            await asyncio.to_thread(deploy_and_fill, client)
            head = int(client.chain_info()["height"])
        deadline = time.monotonic() + 30
        while indexer.state is None or indexer.state.last_height < head:
            assert not task.done(), task.exception()
            assert time.monotonic() < deadline, "the live stream was not followed"
            await asyncio.sleep(0.05)
        task.cancel()
        return head

    with NodeProcess(net / "nodes" / "node1") as node:
        node.start()
        head = with_indexer(net, url, follow_then_add)
    rows = dump(url)
    assert [r[0] for r in rows["blocks"]] == list(range(1, head + 1))
    assert {"k1000-0", "k1002-4"} <= {r[0] for r in rows["kv_keys"]}


def deploy_and_fill(client: Client) -> None:
    client.invoke("contracts", "deploy", {"name": "kv", "source": KV_SOURCE.read_text()})
    fill_chain(client, 3, 5, 1000)


def test_refuses_a_node_of_another_chain(chain: Chain, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    full_index(chain.net, url)
    other = make_solo_network(tmp_path, name="other")
    with NodeProcess(other / "nodes" / "node1") as node:
        node.start()
        with pytest.raises(WrongChain, match="holds chain"):
            with_indexer(other, url, lambda ix: ix.sync())
        result = CliRunner().invoke(
            cli, ["indexer", "run", "--once", "--net", str(other), "--db", url]
        )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "(wrong_chain)" in lines[0]


def test_refuses_a_node_whose_block_differs_at_an_indexed_height(
    chain: Chain, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    with_indexer(chain.net, url, lambda ix: ix.sync(until=3))
    database = open_database(url)
    with database.engine.begin() as connection:
        connection.execute(update(blocks).where(blocks.c.height == 3).values(hash="ab" * 32))
        connection.execute(update(indexer_state).values(last_hash="ab" * 32))
    database.close()
    with pytest.raises(InvalidBlock, match="different chain"):
        with_indexer(chain.net, url, lambda ix: ix.sync())
    with open_database(url).engine.connect() as connection:
        assert connection.execute(select(indexer_state.c.last_height)).scalar_one() == 3


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "malformed"),
        ("mysql://user@localhost/db", "not SQLite or PostgreSQL"),
        ("sqlite://", "names no file"),
    ],
)
def test_invalid_database_url_is_one_clear_error(url: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=says):
        open_database(url)
    result = CliRunner().invoke(cli, ["indexer", "status", "--db", url, "--net", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and lines[0].endswith("(config_error)")


def test_unreachable_database_is_one_clear_error() -> None:
    database = open_database("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(ConfigError, match="creating the tables failed"):
        database.create()


def test_indexes_into_postgresql_the_same_rows(
    chain: Chain, tmp_path: Path, postgres_url: str
) -> None:
    on_postgres = full_index(chain.net, postgres_url)
    check_against_node(chain, on_postgres)
    assert on_postgres == full_index(chain.net, f"sqlite:///{tmp_path / 'index.sqlite'}")
    with_indexer(chain.net, postgres_url, lambda ix: ix.rebuild())
    assert dump(postgres_url) == on_postgres
