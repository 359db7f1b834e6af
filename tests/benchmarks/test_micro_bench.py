"""Micro-benchmarks of a transaction's path: signature check, decode, contract call,
state root, and a whole block built and committed on LMDB (``make bench``).

Every figure in ``docs/benchmarks.md`` comes from here or from
``jinglian.testing.loadgen``. Under ``--benchmark-only`` the sizes of
``conftest.FULL`` apply (100,000-key tree, 1,000-transaction blocks); a normal
test run uses ``conftest.QUICK`` and one round each. Derived figures (bytes,
per-key and per-transaction times, the split of a block's time by stage) go to
``benchmark.extra_info`` (``--benchmark-json``) and to the terminal summary.

A typical transaction is ``kv.set`` with a 20-character random key and a
32-character string value, signed by the ``org1/client`` identity.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import jinglian.ledger.apply as apply_module
from jinglian.crypto import merkle_root
from jinglian.execution.testing import ContractHarness
from jinglian.ledger import BlockResult, Ledger, Outcome, Signer, TxAuthenticator, build_block, keys
from jinglian.ledger.state import BlockState, KVReader, StateView
from jinglian.node.executor import ContractExecutor
from jinglian.storage import EMPTY_ROOT, Batch, LmdbKV, MemoryKV, StateTree
from jinglian.testing import TestIdentity, TestNetwork, make_test_network
from jinglian.types import (
    ChainConfig,
    Commit,
    CommitSignature,
    Tx,
    codec,
    decode_tx,
    encode_block,
    encode_commit,
    encode_header,
    encode_receipt,
    vote_sign_bytes,
)

from .conftest import Scale, report

KV_SOURCE = (Path(__file__).resolve().parents[2] / "examples" / "contracts" / "kv.py").read_text()
CHAIN_ID = "test"
SUITES = ("default", "gm")


# -- transactions ----------------------------------------------------------------------------


def kv_args(rng: random.Random) -> dict[str, Any]:
    """Arguments of a typical ``kv.set``: random 20-char key, 32-char string value."""
    return {"key": f"k-{rng.getrandbits(72):018x}", "value": f"{rng.getrandbits(128):032x}"}


def sign_kv_sets(
    identity: TestIdentity, count: int, rng: random.Random, by_id: bool = False
) -> list[Tx]:
    """``count`` fresh signed ``kv.set`` transactions."""
    return [identity.sign(CHAIN_ID, "kv", "set", kv_args(rng), by_id=by_id) for _ in range(count)]


_NETWORKS: dict[str, TestNetwork] = {}


def network_for(suite: str) -> TestNetwork:
    """One in-memory network per crypto suite, shared by the whole session."""
    if suite not in _NETWORKS:
        _NETWORKS[suite] = make_test_network(suite, chain_id=CHAIN_ID)
    return _NETWORKS[suite]


def median_us(benchmark: BenchmarkFixture) -> float | None:
    """Median seconds per call of the finished benchmark, in µs (None when not timed)."""
    stats = getattr(benchmark, "stats", None)
    return None if stats is None else stats.stats.median * 1e6


# -- signatures ------------------------------------------------------------------------------


@pytest.mark.benchmark(group="signature")
@pytest.mark.parametrize("suite", SUITES)
def test_public_key_verify(benchmark: BenchmarkFixture, scale: Scale, suite: str) -> None:
    """Bare ``PublicKey.verify`` of a transaction's signature (P-256 or SM2)."""
    client = network_for(suite)["org1/client"]
    tx = client.sign(CHAIN_ID, "kv", "set", kv_args(random.Random(1)))
    endorsement = tx.endorsements[0]
    key = client.cert.public_key
    assert scale.pedantic(benchmark, key.verify, endorsement.signature, tx.payload, iterations=5)


def _authenticator(network: TestNetwork) -> TxAuthenticator:
    """A fresh ledger's authenticator (in-memory KV): the node's lookups, empty caches."""
    ledger = Ledger(MemoryKV(), network.genesis, ContractExecutor(network.suite.hash))
    return ledger.authenticator


@pytest.mark.benchmark(group="signature")
@pytest.mark.parametrize("suite", SUITES)
def test_authenticate_fresh_tx(benchmark: BenchmarkFixture, scale: Scale, suite: str) -> None:
    """``TxAuthenticator.authenticate`` of a transaction not seen before (certificate cached)."""
    network = network_for(suite)
    auth = _authenticator(network)
    roles = network.genesis.policy("tx.submit").roles
    txs = sign_kv_sets(network["org1/client"], scale.rounds + 1, random.Random(2))
    now = txs[0].body.timestamp_ms
    auth.authenticate(txs.pop(), now, roles)  # parse and chain-check the certificate once
    pending = iter(txs)

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (next(pending), now, roles), {}

    signers = scale.pedantic(benchmark, auth.authenticate, setup=setup)
    assert signers[0].role == "client"


@pytest.mark.benchmark(group="signature")
@pytest.mark.parametrize("suite", SUITES)
def test_authenticate_cached_tx(benchmark: BenchmarkFixture, scale: Scale, suite: str) -> None:
    """``TxAuthenticator.authenticate`` of a transaction verified before (cache hit)."""
    network = network_for(suite)
    auth = _authenticator(network)
    roles = network.genesis.policy("tx.submit").roles
    tx = network["org1/client"].sign(CHAIN_ID, "kv", "set", kv_args(random.Random(3)))
    now = tx.body.timestamp_ms
    auth.authenticate(tx, now, roles)
    signers = scale.pedantic(benchmark, auth.authenticate, tx, now, roles, iterations=50)
    assert signers[0].role == "client"


# -- wire format -----------------------------------------------------------------------------


@pytest.mark.benchmark(group="decode")
@pytest.mark.parametrize("by_id", [False, True], ids=["full_cert", "by_id"])
@pytest.mark.parametrize("suite", SUITES)
def test_decode_tx(benchmark: BenchmarkFixture, scale: Scale, suite: str, by_id: bool) -> None:
    """``decode_tx`` of a typical ``kv.set`` from wire bytes (includes hashing the payload)."""
    network = network_for(suite)
    tx = network["org1/client"].sign(CHAIN_ID, "kv", "set", kv_args(random.Random(4)), by_id=by_id)
    decoded = scale.pedantic(benchmark, decode_tx, tx.encoded, network.suite.hash, iterations=20)
    assert decoded.id == tx.id
    size = len(tx.encoded)
    benchmark.extra_info["tx_bytes"] = size
    benchmark.extra_info["payload_bytes"] = len(tx.payload)
    kind = "certificate id" if by_id else "full certificate"
    report(
        f"tx size [{suite}, {kind}]: {size} bytes (payload {len(tx.payload)}, "
        f"signer field {len(tx.endorsements[0].signer)}, "
        f"signature {len(tx.endorsements[0].signature)})"
    )


# -- contract call ---------------------------------------------------------------------------


@pytest.mark.benchmark(group="contract")
def test_runtime_invoke_kv_set(benchmark: BenchmarkFixture, scale: Scale) -> None:
    """``Runtime.invoke`` of ``kv.set`` on an in-memory state view (kv deployed, code cached)."""
    chain = ContractHarness()
    chain.deploy("kv", KV_SOURCE)
    chain.invoke("kv", "set", kv_args(random.Random(5)))  # compile and cache the module
    rng = random.Random(6)
    args = itertools.cycle([kv_args(rng) for _ in range(64)])
    ctx = chain.context()
    runtime, state, gas = chain.runtime, chain.state, chain.gas_limit

    def call() -> Any:
        return runtime.invoke(state, ctx, "kv", "set", next(args), gas)

    result = scale.pedantic(benchmark, call, iterations=10)
    assert len(result.writes) == 1 and len(result.events) == 1
    benchmark.extra_info["gas_used"] = result.gas_used


def _deploy_kv(ledger: Ledger, network: TestNetwork) -> None:
    admin = network["org1/admin"]
    deploy = admin.sign(CHAIN_ID, "contracts", "deploy", {"name": "kv", "source": KV_SOURCE})
    result = build_block(ledger, [deploy], _now_ms(), network["org1/node1"].cert.cert_id)
    assert result.receipts[0].status == "ok", result.receipts[0].error
    ledger.commit_block(result, _sign_commit(network, result))


def _sign_commit(network: TestNetwork, result: BlockResult) -> Commit:
    node = network["org1/node1"]
    sign_bytes = vote_sign_bytes(CHAIN_ID, result.height, 0, result.hash)
    return Commit(
        result.height,
        0,
        result.hash,
        (CommitSignature(node.cert.cert_id, node.key.sign(sign_bytes)),),
    )


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@pytest.mark.benchmark(group="contract")
@pytest.mark.parametrize("suite", SUITES)
def test_executor_execute_kv_set(benchmark: BenchmarkFixture, scale: Scale, suite: str) -> None:
    """``ContractExecutor.execute`` (the ledger's adapter) of a signed ``kv.set`` on a ``BlockState``."""
    network = network_for(suite)
    executor = ContractExecutor(network.suite.hash)
    ledger = Ledger(MemoryKV(), network.genesis, executor)
    _deploy_kv(ledger, network)
    txs = sign_kv_sets(network["org1/client"], 64, random.Random(7))
    roles = network.genesis.policy("tx.submit").roles
    signed = [(tx, ledger.authenticator.authenticate(tx, _now_ms(), roles)) for tx in txs]
    state = BlockState(ledger.reader())
    gas, height, now = network.genesis.params.gas_tx_max, ledger.head().height + 1, _now_ms()
    cycle = itertools.cycle(signed)
    executor.execute(state, *signed[0], height, now, gas)  # compile and cache the module

    def call() -> Outcome:
        tx, signers = next(cycle)
        return executor.execute(state, tx, signers, height, now, gas)

    outcome = scale.pedantic(benchmark, call, iterations=10)
    assert outcome.status == "ok", outcome.error


# -- state root ------------------------------------------------------------------------------


@dataclass
class _Tree:
    tree: StateTree
    root: bytes
    keys: int


_TREES: dict[int, _Tree] = {}


def _tree(keys: int) -> _Tree:
    """A committed state tree (SHA-256, in-memory KV) of ``keys`` keys, shared by the session."""
    if keys not in _TREES:
        kv = MemoryKV()
        tree = StateTree(kv, lambda data: hashlib.sha256(data).digest())
        root, writes = tree.compute_update(
            EMPTY_ROOT, {_tree_key(i): _tree_value(i, 0) for i in range(keys)}
        )
        batch = Batch()
        batch.extend(writes)
        kv.write(batch)
        _TREES[keys] = _Tree(tree, root, keys)
    return _TREES[keys]


def _tree_key(i: int) -> bytes:
    return b"kv\x00k-%018x" % i


def _tree_value(i: int, version: int) -> bytes:
    return codec.encode(f"{i:016x}{version:016x}")


@pytest.mark.benchmark(group="state-root")
@pytest.mark.parametrize("kind", ["update", "insert"])
@pytest.mark.parametrize("batch_keys", [1, 100, 1000])
def test_state_root_update(
    benchmark: BenchmarkFixture, scale: Scale, batch_keys: int, kind: str
) -> None:
    """``StateTree.compute_update`` of a batch of keys on a tree of ``scale.tree_keys`` keys.

    ``update`` changes existing keys, ``insert`` adds new ones (what ``kv.set``
    with random keys does). Each round uses a different random batch.
    """
    shared = _tree(scale.tree_keys)
    rng = random.Random(batch_keys)
    rounds = max(5, min(200, 20_000 // batch_keys))
    version = itertools.count(1)

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        v = next(version)
        if kind == "update":
            picked = rng.sample(range(shared.keys), batch_keys)
        else:
            picked = [shared.keys + rng.getrandbits(40) for _ in range(batch_keys)]
        changes: dict[bytes, bytes | None] = {_tree_key(i): _tree_value(i, v) for i in picked}
        return (shared.root, changes), {}

    root, writes = scale.pedantic(benchmark, shared.tree.compute_update, rounds=rounds, setup=setup)
    assert root != shared.root and writes
    per_call = median_us(benchmark)
    if per_call is not None:
        per_key = per_call / batch_keys
        benchmark.extra_info["per_key_us"] = round(per_key, 2)
        report(
            f"state root [{kind}, batch {batch_keys}, tree {shared.keys} keys]: "
            f"{per_key:.1f} µs per key (median {per_call:.0f} µs per batch)"
        )


# -- a whole block ---------------------------------------------------------------------------


@dataclass
class _Timer:
    """Accumulated seconds and calls of one stage."""

    seconds: float = 0.0
    calls: int = 0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return timed


@dataclass
class _Stages:
    timers: dict[str, _Timer] = field(default_factory=dict)

    def __getitem__(self, name: str) -> _Timer:
        return self.timers.setdefault(name, _Timer())


class _TimedAuthenticator:
    def __init__(self, inner: TxAuthenticator, stages: _Stages) -> None:
        self.authenticate = stages["  auth (authenticate: signature check or cache hit)"].wrap(
            inner.authenticate
        )
        self.certificate = stages["  certificate registration lookups"].wrap(inner.certificate)


class _TimedExecutor:
    def __init__(self, inner: ContractExecutor, stages: _Stages) -> None:
        self._execute = stages["  execution (ContractExecutor.execute)"].wrap(inner.execute)

    def execute(
        self,
        state: StateView,
        tx: Tx,
        signers: tuple[Signer, ...],
        height: int,
        time_ms: int,
        gas_limit: int,
    ) -> Outcome:
        result: Outcome = self._execute(state, tx, signers, height, time_ms, gas_limit)
        return result


class _TimedChain:
    """The ledger as ``build_block`` sees it, with each stage timed."""

    def __init__(self, ledger: Ledger, stages: _Stages) -> None:
        self._ledger = ledger
        self.authenticator = _TimedAuthenticator(ledger.authenticator, stages)
        self.executor = _TimedExecutor(ledger.executor, stages)  # type: ignore[arg-type]
        self._state_root = stages["  state root (StateTree.compute_update)"].wrap(
            ledger.compute_state_root
        )
        self._committed = stages["  duplicate check (is_committed)"].wrap(ledger.is_committed)

    def suite_hash(self, data: bytes) -> bytes:
        return self._ledger.suite_hash(data)

    def head(self) -> Any:
        return self._ledger.head()

    def config(self) -> ChainConfig:
        return self._ledger.config()

    def reader(self) -> KVReader:
        return self._ledger.reader()

    def is_committed(self, tx_id: bytes) -> bool:
        result: bool = self._committed(tx_id)
        return result

    def validators_hash(self) -> bytes:
        return self._ledger.validators_hash()

    def compute_state_root(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        result: tuple[bytes, list[tuple[bytes, bytes]]] = self._state_root(root, changes)
        return result


@dataclass
class _BlockBench:
    network: TestNetwork
    ledger: Ledger
    kv: LmdbKV
    rng: random.Random


@pytest.fixture(params=SUITES)
def block_bench(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[_BlockBench]:
    """An LMDB ledger (fsync on commit) with ``kv`` deployed."""
    network = network_for(request.param)
    kv = LmdbKV(tmp_path / "data")
    ledger = Ledger(kv, network.genesis, ContractExecutor(network.suite.hash))
    _deploy_kv(ledger, network)
    yield _BlockBench(network, ledger, kv, random.Random(8))
    kv.close()


def _block_once(bench: _BlockBench, txs: list[Tx]) -> BlockResult:
    """What the solo validator does per block: build, sign the precommit, commit."""
    node = bench.network["org1/node1"]
    result = build_block(bench.ledger, txs, _now_ms(), node.cert.cert_id)
    bench.ledger.commit_block(result, _sign_commit(bench.network, result))
    return result


def _fresh_txs(bench: _BlockBench, count: int, admitted: bool) -> list[Tx]:
    txs = sign_kv_sets(bench.network["org1/client"], count, bench.rng)
    if admitted:  # what mempool admission did already: the signature check is cached
        roles = bench.network.genesis.policy("tx.submit").roles
        for tx in txs:
            bench.ledger.authenticator.authenticate(tx, _now_ms(), roles)
    return txs


@pytest.mark.benchmark(group="block")
@pytest.mark.parametrize("admitted", [True, False], ids=["admitted", "cold"])
def test_block_build_and_commit(
    benchmark: BenchmarkFixture,
    scale: Scale,
    block_bench: _BlockBench,
    admitted: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``build_block`` + precommit signature + ``Ledger.commit_block`` of ``scale.block_txs`` ``kv.set``.

    ``admitted``: every transaction was authenticated at admission (the node's
    path: the signature check is a cache hit); ``cold``: the block verifies
    every signature itself (a replica's or a restarted node's path).
    """
    count = scale.block_txs

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (bench_, _fresh_txs(bench_, count, admitted)), {}

    bench_ = block_bench
    result = scale.pedantic(benchmark, _block_once, rounds=scale.block_rounds, setup=setup)
    assert result.tx_count == count and not result.dropped
    assert all(r.status == "ok" for r in result.receipts)

    suite = block_bench.network.suite.name
    label = f"block [{suite}, {count} kv.set, {'admitted' if admitted else 'cold'}]"
    per_block = median_us(benchmark)
    if per_block is not None:
        benchmark.extra_info["per_tx_us"] = round(per_block / count, 1)
        report(f"{label}: {per_block / count:.0f} µs per tx ({per_block / 1e3:.0f} ms per block)")
    splits = [
        _timed_block(block_bench, _fresh_txs(block_bench, count, admitted), monkeypatch)
        for _ in range(scale.split_blocks)
    ]
    for name in STAGE_ORDER:
        value = statistics.median(split[name] for split in splits)
        unit = "bytes" if "bytes" in name else "µs"
        benchmark.extra_info[f"stage {unit}/tx: {name.strip()}"] = round(value, 1)
        report(f"  {name}: {value:.1f} {unit} per tx")
    if admitted:
        for name, value in _overhead(block_bench, result).items():
            benchmark.extra_info[name] = value
            report(f"  {name}: {value}")


STAGE_ORDER = (
    "total (build + sign + commit)",
    "build_block",
    "  auth (authenticate: signature check or cache hit)",
    "  duplicate check (is_committed)",
    "  certificate registration lookups",
    "  execution (ContractExecutor.execute)",
    "  state root (StateTree.compute_update)",
    "  Merkle roots (tx and receipt)",
    "  receipt encoding for the receipt root",
    "  rest (window checks, BlockState, receipts, header hash)",
    "sign precommit",
    "commit_block",
    "  KV.write (LMDB put + commit + fsync)",
    "  rest (encode block and receipts, indexes, batch)",
    "commit batch bytes per tx",
)
"""The stages ``_timed_block`` reports, in order (µs per transaction, or bytes)."""


def _timed_block(
    bench: _BlockBench, txs: list[Tx], monkeypatch: pytest.MonkeyPatch
) -> dict[str, float]:
    """Build and commit one more block with every stage timed: µs per tx per stage."""
    stages = _Stages()
    chain = _TimedChain(bench.ledger, stages)
    merkle = stages["  Merkle roots (tx and receipt)"]
    monkeypatch.setattr(apply_module, "merkle_root", merkle.wrap(merkle_root))
    monkeypatch.setattr(
        apply_module,
        "encode_receipt",
        stages["  receipt encoding for the receipt root"].wrap(encode_receipt),
    )
    write = stages["  KV.write (LMDB put + commit + fsync)"]
    written: list[int] = []
    kv_write = write.wrap(bench.kv.write)

    def counted_write(batch: Batch, sync: bool = True) -> None:
        written.append(batch.size_bytes)
        kv_write(batch, sync)

    monkeypatch.setattr(bench.kv, "write", counted_write)
    node = bench.network["org1/node1"]
    start = time.perf_counter()
    result = stages["build_block"].wrap(build_block)(chain, txs, _now_ms(), node.cert.cert_id)
    commit = stages["sign precommit"].wrap(_sign_commit)(bench.network, result)
    stages["commit_block"].wrap(bench.ledger.commit_block)(result, commit)
    elapsed = time.perf_counter() - start
    monkeypatch.undo()
    assert result.tx_count == len(txs)

    count = len(txs)
    us = {name: timer.seconds / count * 1e6 for name, timer in stages.timers.items()}
    inside_build = [n for n in STAGE_ORDER[2:9] if n in us]
    us["  rest (window checks, BlockState, receipts, header hash)"] = us["build_block"] - sum(
        us[n] for n in inside_build
    )
    us["  rest (encode block and receipts, indexes, batch)"] = (
        us["commit_block"] - us["  KV.write (LMDB put + commit + fsync)"]
    )
    us["total (build + sign + commit)"] = elapsed / count * 1e6
    us["commit batch bytes per tx"] = sum(written) / count
    return {name: us.get(name, 0.0) for name in STAGE_ORDER}


def _overhead(bench: _BlockBench, result: BlockResult) -> dict[str, int]:
    """Bytes a committed block adds beyond its transactions' own bytes."""
    height = result.height
    block = bench.ledger.get_block(height)
    commit = bench.ledger.get_commit(height)
    assert block is not None and commit is not None
    tx_bytes = sum(len(tx.encoded) for tx in block.txs)
    receipts = bench.kv.get(keys.receipts_key(height))
    assert receipts is not None
    encoded_block = encode_block(block)
    return {
        "txs_in_block": len(block.txs),
        "tx_bytes_total": tx_bytes,
        "block_bytes": len(encoded_block),
        "block_overhead_bytes (block minus txs)": len(encoded_block) - tx_bytes,
        "header_bytes": len(encode_header(block.header)),
        "commit_bytes (1 validator)": len(encode_commit(commit)),
        "receipts_bytes_total": len(receipts),
        "receipt_bytes_per_tx": round(len(receipts) / len(block.txs)),
        "receipt_bytes_one": len(encode_receipt(result.receipts[0])),
    }
