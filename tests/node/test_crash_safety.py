"""A real node killed with SIGKILL at random moments loses nothing it acknowledged.

Several writer threads call ``kv.set`` through the SDK, each with a unique
key, and wait for the commit; a call cut off by a kill is resent with the same
signed bytes once the node is back, as a client should. Meanwhile the node is
killed at random moments (seeded; set ``JINGLIAN_CRASH_SEED`` to replay a
schedule) and restarted. Every transaction the SDK reported committed must
afterwards be on chain at the same height with an ok receipt and its value
readable, no transaction may be on chain twice, the node must keep committing,
and the stopped node's whole chain must re-verify from genesis.

SIGTERM is the other way a node ends: under load it must exit cleanly and
keep every commit, and a client waiting for a commit must get an answer.
"""

from __future__ import annotations

import base64
import os
import random
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest

from jinglian.client import Client, Identity, load_network
from jinglian.node.config import load_node_config, save_node_config
from jinglian.node.verify import verify_node_dir
from jinglian.testing.process import NodeProcess, NodeProcessError, find_free_port
from jinglian.types import Tx
from jinglian.types.errors import DuplicateTransaction, JinglianError
from tests.node.conftest import KV_SOURCE

pytestmark = pytest.mark.slow

KILLS = 20
"""SIGKILLs per run."""
KILL_DELAY_S = (0.05, 1.0)
"""Range of the random pause between a node becoming healthy and its kill."""
WRITERS = 4
"""Concurrent submitting threads."""
COMMIT_WAIT_S = 15.0
"""How long a writer waits for one commit before giving up on it."""
RETRY_PAUSE_S = 0.05
"""A writer's pause after a failed call (node down) before the next one."""
SEED_ENV = "JINGLIAN_CRASH_SEED"
SLOW_SOURCE = """from jinglian.contract import invoke


@invoke
def spin(ctx):
    while True:
        pass
"""


@dataclass(frozen=True, slots=True)
class Ack:
    """A transaction the SDK reported committed."""

    tx: Tx
    key: str
    value: str
    height: int
    kills_before: int
    """How many kills had happened when the commit was acknowledged."""


@dataclass
class Writers:
    """Threads that set unique keys through the SDK until told to stop.

    A writer whose call is cut off (the node died) resends the same signed
    bytes once the node is back, as a client should: replay protection makes
    that safe, and the SDK then waits for the first copy if it did commit.
    """

    net_dir: Path
    seed: int
    kills: int = 0
    """Kills so far (the killer updates it)."""
    acks: list[Ack] = field(default_factory=list)
    failed_receipts: list[str] = field(default_factory=list)
    """Committed but not ok: never expected for ``kv.set``."""
    resends: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self, count: int) -> None:
        for index in range(count):
            thread = threading.Thread(target=self._run, args=(index,), name=f"writer{index}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(COMMIT_WAIT_S + 15)
        assert not any(t.is_alive() for t in self._threads), "a writer thread hangs"

    def _run(self, index: int) -> None:
        identity = Identity.from_network(self.net_dir, "org1/client")
        chain_id = load_network(self.net_dir).chain_id
        with Client.from_network(self.net_dir, "org1/client") as client:
            number = 0
            while not self._stop.is_set():
                key = f"w{index}-{number}"
                value = f"{self.seed}:{key}"
                number += 1
                tx = identity.sign_tx(chain_id, "kv", "set", {"key": key, "value": value})
                self._write(client, tx, key, value)

    def _write(self, client: Client, tx: Tx, key: str, value: str) -> None:
        """Submit ``tx`` until it is acknowledged (or the writers stop)."""
        while not self._stop.is_set():
            kills = self.kills
            try:
                result = client.submit_and_wait(tx, timeout=COMMIT_WAIT_S)
            except (httpx.HTTPError, JinglianError):
                with self._lock:
                    self.resends += 1
                time.sleep(RETRY_PAUSE_S)
                continue
            assert result.height is not None
            with self._lock:
                if not result.ok:
                    self.failed_receipts.append(f"{key}: {result.status} {result.error}")
                self.acks.append(Ack(tx, key, value, result.height, kills))
            return


def test_sigkill_at_random_moments_loses_no_acknowledged_transaction(
    solo_node: NodeProcess,
) -> None:
    seed = int(os.environ.get(SEED_ENV, random.randrange(2**32)))
    print(f"crash schedule seed: {seed} (replay with {SEED_ENV}={seed})")
    rng = random.Random(seed)
    net_dir = solo_node.node_dir.parents[1]
    started = time.monotonic()
    with Client.from_network(net_dir, "org1/admin") as admin:
        admin.invoke("contracts", "deploy", {"name": "kv", "source": KV_SOURCE.read_text()})

    writers = Writers(net_dir, seed)
    writers.start(WRITERS)
    try:
        for kill in range(KILLS):
            time.sleep(rng.uniform(*KILL_DELAY_S))
            assert solo_node.alive, f"the node died on its own before kill {kill + 1}"
            solo_node.kill()
            writers.kills = kill + 1
            solo_node.start()
    finally:
        writers.stop()
    print(
        f"{KILLS} kills in {time.monotonic() - started:.1f} s: {len(writers.acks)} commits "
        f"acknowledged, {writers.resends} resends after a cut-off call"
    )

    assert writers.failed_receipts == []
    assert len(writers.acks) >= KILLS, "too few commits to say anything; is the node too slow?"
    assert len({a.kills_before for a in writers.acks}) > KILLS // 2, (
        "acknowledged commits fall between too few of the kills"
    )
    with Client.from_network(net_dir, "org1/client") as client:
        check_acknowledged_survive(client, writers.acks)
        check_each_tx_once(client, writers.acks)
        check_still_commits(client, max(a.height for a in writers.acks))
        info = client.chain_info()
    assert solo_node.stop() == 0, "the node did not exit cleanly on SIGTERM"
    report = verify_node_dir(solo_node.node_dir)
    assert report.height == info["height"]
    assert report.head_hash.hex() == info["head_hash"]
    assert report.txs >= len(writers.acks) + 1
    log = solo_node.log_path.read_text()
    assert "Traceback" not in log and " ERROR " not in log, "the node logged an error"


def check_acknowledged_survive(client: Client, acks: list[Ack]) -> None:
    """(a) Each acknowledged transaction is on chain at its height, ok, with its value readable."""
    lost = []
    for ack in acks:
        try:
            result = client.get_tx(ack.tx.id.hex())
        except JinglianError as exc:
            lost.append(f"{ack.key} at {ack.height}: {exc.code}")
            continue
        assert (result.height, result.status) == (ack.height, "ok"), ack.key
        assert client.query("kv", "get", {"key": ack.key}).value == ack.value, ack.key
    assert lost == [], f"{len(lost)} acknowledged transactions are gone: {lost[:10]}"
    # A sample is also proven against genesis alone (header, commit, Merkle paths).
    for ack in acks[:: max(1, len(acks) // 20)]:
        assert client.get_tx(ack.tx.id.hex(), verify=True).verified


def check_each_tx_once(client: Client, acks: list[Ack]) -> None:
    """Replay protection survived the crashes: no transaction is on chain twice, none re-enters."""
    head = client.chain_info()["height"]
    tx_ids = [tx_id for h in range(1, head + 1) for tx_id in client.get_block(h)["tx_ids"]]
    assert len(tx_ids) == len(set(tx_ids)), "a transaction committed twice"
    for ack in acks[:: max(1, len(acks) // 20)]:
        with pytest.raises(DuplicateTransaction):
            client.submit(ack.tx)


def check_still_commits(client: Client, height_seen: int) -> None:
    """(b) After the last restart the node accepts and commits new transactions."""
    for number in range(3):
        key = f"after-{number}"
        result = client.invoke("kv", "set", {"key": key, "value": number})
        assert result.ok and result.height is not None and result.height > height_seen
        assert client.query("kv", "get", {"key": key}).value == number


def test_sigterm_under_load_stops_cleanly_and_keeps_every_commit(
    solo_node: NodeProcess,
) -> None:
    net_dir = solo_node.node_dir.parents[1]
    with Client.from_network(net_dir, "org1/admin") as admin:
        admin.invoke("contracts", "deploy", {"name": "kv", "source": KV_SOURCE.read_text()})
    writers = Writers(net_dir, seed=0)
    writers.start(WRITERS)
    try:
        time.sleep(2.0)
        started = time.monotonic()
        exit_code = solo_node.stop()
        stop_s = time.monotonic() - started
    finally:
        writers.stop()
    assert exit_code == 0, "the node did not exit cleanly on SIGTERM under load"
    print(f"stopped under load in {stop_s:.2f} s after {len(writers.acks)} commits")
    report = verify_node_dir(solo_node.node_dir)
    assert report.height >= max(a.height for a in writers.acks)
    solo_node.start()
    with Client.from_network(net_dir, "org1/client") as client:
        assert client.chain_info()["height"] == report.height
        check_acknowledged_survive(client, writers.acks)
        check_still_commits(client, report.height)


def test_sigterm_answers_a_waiting_client_with_json_and_logs_no_traceback(
    solo_node: NodeProcess,
) -> None:
    net_dir = solo_node.node_dir.parents[1]
    with Client.from_network(net_dir, "org1/admin") as admin:
        admin.invoke("contracts", "deploy", {"name": "slow", "source": SLOW_SOURCE})
        # Runs out of gas after ~0.7 s of block execution: still uncommitted at SIGTERM.
        tx = admin.identity.sign_tx(load_network(net_dir).chain_id, "slow", "spin")  # type: ignore[union-attr]
    answer: dict[str, httpx.Response | Exception] = {}

    def wait_for_commit() -> None:
        with httpx.Client(base_url=solo_node.api_url, timeout=30) as http:
            try:
                answer["response"] = http.post(
                    "/api/v1/txs",
                    params={"wait": "true"},
                    json={"tx": base64.b64encode(tx.encoded).decode()},
                )
            except httpx.HTTPError as exc:
                answer["response"] = exc

    waiter = threading.Thread(target=wait_for_commit)
    waiter.start()
    with httpx.Client(base_url=solo_node.api_url) as http:
        deadline = time.monotonic() + 10
        while http.get("/api/v1/health").json()["mempool_txs"] == 0:
            assert time.monotonic() < deadline, "the transaction never reached the pool"
            time.sleep(0.01)
    assert solo_node.stop() == 0
    waiter.join(30)
    response = answer["response"]
    assert isinstance(response, httpx.Response), f"connection dropped: {response!r}"
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert "height" in body or set(body["error"]) == {"code", "message"}, body
    log = solo_node.log_path.read_text()
    assert "Traceback" not in log, solo_node.log_tail()


def test_a_second_node_on_the_same_directory_is_refused(solo_node: NodeProcess) -> None:
    net_dir = solo_node.node_dir.parents[1]
    with Client.from_network(net_dir, "org1/admin") as admin:
        admin.invoke("contracts", "deploy", {"name": "kv", "source": KV_SOURCE.read_text()})
    # The second process gets an API port of its own: only the data directory is shared.
    config = load_node_config(solo_node.node_dir)
    save_node_config(replace(config, api_port=find_free_port()))
    with NodeProcess(solo_node.node_dir) as second, pytest.raises(NodeProcessError) as refused:
        second.start()
    assert "in use" in str(refused.value) and "(config_error)" in str(refused.value)
    assert solo_node.alive
    with Client(solo_node.api_url) as client:
        assert client.health()["status"] == "ok"
    assert solo_node.stop() == 0
    verify_node_dir(solo_node.node_dir)
