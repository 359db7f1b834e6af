"""Bad input against a real node process: refused with a stable code, and harmless.

One node of a solo network runs for the whole module. Each test sends one kind
of wrong input through raw HTTP (httpx), the SDK or the CLI and checks the
HTTP status and the JSON error ``code`` (``jinglian.types.errors``,
``jinglian.api.errors``), or, for a call that commits, its failed receipt's
status. After every test ``node_unharmed`` checks that the node still runs and
answers ``/health``, that the chain it had before the test is unchanged (same
block hash at the old head, same value and height of a transaction written
before any bad input) and that it still commits new transactions.

The network's org1 CA certificate is re-issued (same key and name) valid from
a month ago before the node first starts, so the test can issue a member
certificate that has already expired.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from jinglian.api.errors import REQUEST_BYTES_MAX
from jinglian.api.schemas import TX_B64_CHARS_MAX
from jinglian.client import Client, Identity, TxResult
from jinglian.client.reads import ReadAuth
from jinglian.crypto import (
    Certificate,
    PrivateKey,
    get_suite,
    issue_ca_certificate,
    issue_certificate,
    load_certificate,
)
from jinglian.node.config import load_node_config
from jinglian.node.init import create_network
from jinglian.testing.process import NodeProcess, NodeProcessError, make_solo_network
from jinglian.types import ChainParams, Endorsement, Tx, TxBody, codec, make_tx
from jinglian.types.errors import (
    CertificateExpired,
    ContractFailed,
    DuplicateTransaction,
    InvalidInput,
    InvalidSignature,
    JinglianError,
    NotFound,
    OutOfGas,
    PermissionDenied,
    ReadOnlyViolation,
    SandboxViolation,
    TooLarge,
    TransactionExpired,
    UnknownContract,
    UnknownIdentity,
    UnknownMethod,
    WrongChain,
)
from jinglian.types.jsonval import to_json
from jinglian.types.tx import ARGS_BYTES_MAX, NONCE_BYTES_MAX
from tests.node.conftest import KV_SOURCE

API = "/api/v1"
DAY_MS = 24 * 60 * 60 * 1000
PARAMS = ChainParams(block_txs_max=1)
"""The module chain's parameters: the defaults but one transaction per block, so a slow
transaction (~0.7 s of gas) keeps every transaction submitted after it waiting in the pool."""
SENTINEL_KEY = "sentinel"
SENTINEL_VALUE = {"written": "before any bad input", "n": 1}

FAULTY_SOURCE = '''"""Methods that fail on purpose, for failed-receipt tests."""

from jinglian.contract import invoke, query


@invoke
def refuse(ctx, reason):
    ctx.fail(reason)


@invoke
def divide(ctx, n):
    return 1 // n


@invoke
def spin(ctx):
    while True:
        pass


@query
def spin_query(ctx):
    while True:
        pass


@query
def sneak(ctx, key):
    ctx.state.set(key, 1)
'''


# -- the network and its node -------------------------------------------------------------------


@dataclass(frozen=True)
class Signers:
    """Identities for building transactions, good and bad."""

    chain_id: str
    admin: Identity
    client: Identity
    validator: Identity
    """The node's own signing identity (role ``consensus``)."""
    common: Identity
    """A member certificate with role ``common``."""
    expired: Identity
    """A member ``client`` certificate whose validity ended yesterday."""
    not_yet_valid: Identity
    """A member ``client`` certificate valid from tomorrow."""
    foreign: Identity
    """``org1/admin`` of another network: same names, unknown CA."""


@pytest.fixture(scope="module")
def net_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A solo network whose org1 CA is valid from a month ago, with ``PARAMS``."""
    net = make_solo_network(tmp_path_factory.mktemp("bad_input"))
    backdate_org_ca(net, "org1", days=30)
    genesis = json.loads((net / "genesis.json").read_text())
    genesis["params"]["block_txs_max"] = PARAMS.block_txs_max
    (net / "genesis.json").write_text(json.dumps(genesis, indent=2) + "\n")
    return net


@pytest.fixture(scope="module")
def node(net_dir: Path) -> Iterator[NodeProcess]:
    """The node, running for the whole module."""
    with NodeProcess(net_dir / "nodes" / "node1") as process:
        process.start()
        yield process


@pytest.fixture(scope="module")
def http(net_dir: Path, node: NodeProcess) -> Iterator[httpx.Client]:
    """A raw HTTP client of the node; it signs each request as org1's admin (reads need a
    member's signature)."""
    auth = ReadAuth(Identity.from_network(net_dir, "org1/admin"))
    with httpx.Client(base_url=node.api_url, timeout=30.0, auth=auth) as client:
        yield client


@pytest.fixture(scope="module")
def sdk(net_dir: Path, node: NodeProcess) -> Iterator[Client]:
    """The SDK as org1's admin."""
    with Client.from_network(net_dir, "org1/admin") as client:
        yield client


@pytest.fixture(scope="module")
def sentinel(sdk: Client) -> TxResult:
    """Deploys ``kv`` and ``faulty`` and writes the sentinel value every test re-reads."""
    sdk.invoke("contracts", "deploy", {"name": "kv", "source": KV_SOURCE.read_text()})
    sdk.invoke("contracts", "deploy", {"name": "faulty", "source": FAULTY_SOURCE})
    return sdk.invoke("kv", "set", {"key": SENTINEL_KEY, "value": SENTINEL_VALUE})


@pytest.fixture(scope="module")
def signers(net_dir: Path, sdk: Client, tmp_path_factory: pytest.TempPathFactory) -> Signers:
    """Every identity the bad transactions are signed with."""
    foreign_net = tmp_path_factory.mktemp("foreign") / "net"
    create_network(foreign_net, 1, consensus="solo")
    ca_key, ca_cert = load_org_ca(net_dir, "org1")
    now_ms = time.time_ns() // 1_000_000
    node_dir = net_dir / "nodes" / "node1"
    return Signers(
        chain_id=str(sdk.chain_info()["chain_id"]),
        admin=Identity.from_network(net_dir, "org1/admin"),
        client=Identity.from_network(net_dir, "org1/client"),
        validator=Identity.load(node_dir / "sign.pem", node_dir / "sign.key"),
        common=issue_identity(ca_key, ca_cert, "common", "common.org1", now_ms, 30),
        expired=issue_identity(ca_key, ca_cert, "client", "expired.org1", now_ms - 3 * DAY_MS, 1),
        not_yet_valid=issue_identity(
            ca_key, ca_cert, "client", "future.org1", now_ms + 2 * DAY_MS, 30
        ),
        foreign=Identity.from_network(foreign_net, "org1/admin"),
    )


@pytest.fixture(autouse=True)
def node_unharmed(
    node: NodeProcess, http: httpx.Client, sdk: Client, sentinel: TxResult
) -> Iterator[None]:
    """After each test: healthy, chain unchanged up to the old head, sentinel intact, commits."""
    before = sdk.chain_info()
    yield
    assert node.alive, "the node process died"
    health = http.get(f"{API}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok", health.text
    assert sdk.get_block(before["height"])["hash"] == before["head_hash"]
    assert sdk.get_tx(sentinel.id).height == sentinel.height
    assert sdk.query("kv", "get", {"key": SENTINEL_KEY}).value == SENTINEL_VALUE
    probe = sdk.invoke("kv", "set", {"key": "probe", "value": before["height"]})
    assert probe.ok and probe.height is not None and probe.height > before["height"]
    assert sdk.query("kv", "get", {"key": "probe"}).value == before["height"]


# -- helpers ------------------------------------------------------------------------------------


def backdate_org_ca(net_dir: Path, org: str, days: int) -> None:
    """Re-issue ``org``'s CA certificate (same key, same name) valid from ``days`` ago.

    Certificates the old one signed still chain to it. Genesis, the org's
    ``ca.pem`` and the node's CA bundle all get the new certificate; the node
    must not have started yet (genesis changes).
    """
    ca_dir = net_dir / "orgs" / org / "ca"
    suite = get_suite("default")
    key = suite.load_private_key((ca_dir / "ca.key").read_bytes())
    old_pem = (ca_dir / "ca.pem").read_text()
    new_pem = issue_ca_certificate(
        suite, key, org, now_ms=time.time_ns() // 1_000_000 - days * DAY_MS
    ).pem
    genesis_path = net_dir / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    for entry in genesis["orgs"]:
        if entry["id"] == org:
            entry["ca_cert"] = new_pem
    genesis_path.write_text(json.dumps(genesis, indent=2) + "\n")
    for path in (ca_dir / "ca.pem", *net_dir.glob("nodes/*/ca.pem")):
        path.write_text(path.read_text().replace(old_pem, new_pem))


def load_org_ca(net_dir: Path, org: str) -> tuple[PrivateKey, Certificate]:
    """The CA key and certificate of ``org``."""
    ca_dir = net_dir / "orgs" / org / "ca"
    key = get_suite("default").load_private_key((ca_dir / "ca.key").read_bytes())
    return key, load_certificate((ca_dir / "ca.pem").read_bytes())


def issue_identity(
    ca_key: PrivateKey, ca_cert: Certificate, role: str, name: str, from_ms: int, days: int
) -> Identity:
    """A new key and a certificate for it from the given CA, valid ``days`` from ``from_ms``."""
    suite = get_suite("default")
    key = suite.generate_key()
    cert = issue_certificate(
        suite,
        ca_key,
        ca_cert,
        key.public_key(),
        ca_cert.org_id,
        role,
        name,
        validity_days=days,
        now_ms=from_ms,
    )
    return Identity(cert=cert, key=key, suite=suite)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def post_tx(http: httpx.Client, data: bytes, *, wait: bool = False) -> httpx.Response:
    """``POST /txs`` with the wire bytes ``data``."""
    params: dict[str, str | int] | None = {"wait": "true", "timeout": 30} if wait else None
    return http.post(f"{API}/txs", json={"tx": b64(data)}, params=params)


def error_of(response: httpx.Response, status: int, code: str) -> str:
    """Assert ``response`` is the JSON error ``code`` with HTTP ``status``; return its message."""
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert list(body) == ["error"], body
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message, body
    return message


def kv_set(signer: Identity, chain_id: str, key: str = "bad", **options: Any) -> Tx:
    """A ``kv.set`` transaction signed by ``signer``."""
    return signer.sign_tx(chain_id, "kv", "set", {"key": key, "value": 1}, **options)


def with_endorsement(tx: Tx, signer: bytes, signature: bytes) -> Tx:
    """``tx`` with its one endorsement replaced."""
    return make_tx(get_suite("default").hash, tx.payload, (Endorsement(signer, signature),))


def wire(payload: bytes, endorsements: list[codec.Value]) -> bytes:
    """Transaction wire bytes assembled without any checks."""
    return codec.encode_trusted([payload, endorsements])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def metric(http: httpx.Client, name: str) -> float:
    """The value of an unlabelled metric from ``/metrics``."""
    for line in http.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


# -- malformed submissions ----------------------------------------------------------------------

MALFORMED_SUBMISSIONS: list[tuple[str, dict[str, Any], int, str]] = [
    ("json-truncated", {"content": b'{"tx": "AAAA', "headers": {"content-type": "application/json"}}, 400, "invalid_input"),
    ("json-garbage", {"content": b"\x00\xffnot json", "headers": {"content-type": "application/json"}}, 400, "invalid_input"),
    ("body-list", {"json": ["AAAA"]}, 400, "invalid_input"),
    ("body-string", {"json": "AAAA"}, 400, "invalid_input"),
    ("body-null", {"content": b"null", "headers": {"content-type": "application/json"}}, 400, "invalid_input"),
    ("body-empty", {"content": b"", "headers": {"content-type": "application/json"}}, 400, "invalid_input"),
    ("json-as-text-plain", {"content": b'{"tx": "AAAA"}', "headers": {"content-type": "text/plain"}}, 400, "invalid_input"),
    ("tx-missing", {"json": {}}, 400, "invalid_input"),
    ("tx-misspelt", {"json": {"txn": "AAAA"}}, 400, "invalid_input"),
    ("tx-extra-field", {"json": {"tx": "AAAA", "priority": 1}}, 400, "invalid_input"),
    ("tx-number", {"json": {"tx": 12}}, 400, "invalid_input"),
    ("tx-empty", {"json": {"tx": ""}}, 400, "invalid_input"),
    ("tx-not-base64", {"json": {"tx": "this is not base64!"}}, 400, "invalid_input"),
    ("tx-base64-bad-padding", {"json": {"tx": "AAA"}}, 400, "invalid_input"),
    ("tx-garbage-cbor", {"json": {"tx": b64(b"\xff\xfe\xfdgarbage")}}, 400, "decode_error"),
    ("tx-cbor-not-a-tx", {"json": {"tx": b64(codec.encode([1, 2, 3]))}}, 400, "decode_error"),
    ("tx-cbor-map", {"json": {"tx": b64(codec.encode({"payload": b"x"}))}}, 400, "decode_error"),
    ("tx-text-over-limit", {"json": {"tx": "A" * (TX_B64_CHARS_MAX + 4)}}, 400, "invalid_input"),
    ("body-over-limit", {"content": b'{"tx": "' + b"A" * REQUEST_BYTES_MAX + b'"}', "headers": {"content-type": "application/json"}}, 413, "too_large"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [pytest.param(k, s, c, id=i) for i, k, s, c in MALFORMED_SUBMISSIONS],
)
def test_invalid_submission_body(
    http: httpx.Client, request_kwargs: dict[str, Any], status: int, code: str
) -> None:
    error_of(http.post(f"{API}/txs", **request_kwargs), status, code)


def _tx_with_trailing_byte(s: Signers) -> bytes:
    return kv_set(s.admin, s.chain_id).encoded + b"\x00"


def _tx_without_endorsements(s: Signers) -> bytes:
    return wire(kv_set(s.admin, s.chain_id).payload, [])


def _body(s: Signers, **changes: Any) -> dict[str, Any]:
    body = TxBody(
        chain_id=s.chain_id,
        sender=s.admin.cert_id,
        contract="kv",
        method="set",
        args={"key": "bad", "value": 1},
        nonce=os.urandom(16),
        timestamp_ms=now_ms(),
        expires_ms=now_ms() + 60_000,
    )
    return replace(body, **changes).to_value()


def _signed_raw(s: Signers, value: dict[str, Any]) -> bytes:
    payload = codec.encode(value)
    return wire(payload, [[s.admin.cert.der, s.admin.key.sign(payload)]])


def _tx_with_long_nonce(s: Signers) -> bytes:
    return _signed_raw(s, _body(s, nonce=b"n" * (NONCE_BYTES_MAX + 1)))


def _tx_with_future_version(s: Signers) -> bytes:
    return _signed_raw(s, _body(s, version=2))


def _tx_with_missing_field(s: Signers) -> bytes:
    value = _body(s)
    del value["nonce"]
    return _signed_raw(s, value)


def _tx_with_float_arg(s: Signers) -> bytes:
    payload = codec.encode_trusted(_body(s, args={"key": "bad", "value": 1.5}))
    return wire(payload, [[s.admin.cert.der, s.admin.key.sign(payload)]])


def _tx_with_empty_signature(s: Signers) -> bytes:
    return wire(kv_set(s.admin, s.chain_id).payload, [[s.admin.cert.der, b""]])


UNDECODABLE_TXS: list[tuple[str, Callable[[Signers], bytes], int, str]] = [
    ("trailing-byte", _tx_with_trailing_byte, 400, "decode_error"),
    ("no-endorsement", _tx_without_endorsements, 400, "decode_error"),
    ("empty-signature", _tx_with_empty_signature, 400, "decode_error"),
    ("body-field-missing", _tx_with_missing_field, 400, "decode_error"),
    ("float-argument", _tx_with_float_arg, 400, "decode_error"),
    ("nonce-too-long", _tx_with_long_nonce, 413, "too_large"),
    ("unsupported-version", _tx_with_future_version, 400, "invalid_transaction"),
]


@pytest.mark.parametrize(
    ("build", "status", "code"), [pytest.param(b, s, c, id=i) for i, b, s, c in UNDECODABLE_TXS]
)
def test_invalid_transaction_bytes(
    http: httpx.Client, signers: Signers, build: Callable[[Signers], bytes], status: int, code: str
) -> None:
    error_of(post_tx(http, build(signers)), status, code)


# -- well-formed transactions the node must refuse ----------------------------------------------


def _wrong_chain(s: Signers) -> Tx:
    return kv_set(s.admin, "another-chain")


def _flipped_signature_byte(s: Signers) -> Tx:
    tx = kv_set(s.admin, s.chain_id)
    signature = bytearray(tx.endorsements[0].signature)
    signature[-1] ^= 0x01
    return with_endorsement(tx, s.admin.cert.der, bytes(signature))


def _signed_with_another_key(s: Signers) -> Tx:
    tx = kv_set(s.admin, s.chain_id)
    return with_endorsement(tx, s.admin.cert.der, s.client.key.sign(tx.payload))


def _endorsed_by_someone_else(s: Signers) -> Tx:
    tx = kv_set(s.admin, s.chain_id)
    return with_endorsement(tx, s.client.cert.der, s.client.key.sign(tx.payload))


def _unregistered_cert_id(s: Signers) -> Tx:
    return s.foreign.sign_tx(
        s.chain_id, "kv", "set", {"key": "bad", "value": 1}, include_cert=False
    )


def _expired_tx(s: Signers) -> Tx:
    return kv_set(s.admin, s.chain_id, now_ms=now_ms() - 10 * 60_000, expiry_s=60)


def _future_tx(s: Signers) -> Tx:
    return kv_set(s.admin, s.chain_id, now_ms=now_ms() + 2 * PARAMS.clock_skew_ms_max)


def _window_too_long(s: Signers) -> Tx:
    return kv_set(s.admin, s.chain_id, expiry_s=PARAMS.tx_expiry_ms_max // 1000 + 60)


def _oversized_tx(s: Signers) -> Tx:
    # One big argument: the payload stays within its own bound, the whole transaction does not.
    value = "x" * (PARAMS.tx_bytes_max + 100)
    tx = s.admin.sign_tx(s.chain_id, "kv", "set", {"key": "big", "value": value})
    assert len(tx.payload) <= ARGS_BYTES_MAX + 1024 and len(tx.encoded) > PARAMS.tx_bytes_max
    return tx


REFUSED_TXS: list[tuple[str, Callable[[Signers], Tx], int, type[JinglianError]]] = [
    ("wrong-chain", _wrong_chain, 400, WrongChain),
    ("flipped-signature-byte", _flipped_signature_byte, 400, InvalidSignature),
    ("signed-with-another-key", _signed_with_another_key, 400, InvalidSignature),
    ("endorsed-by-non-sender", _endorsed_by_someone_else, 400, InvalidSignature),
    ("unknown-ca", lambda s: kv_set(s.foreign, s.chain_id), 403, UnknownIdentity),
    ("unregistered-cert-id", _unregistered_cert_id, 403, UnknownIdentity),
    ("expired-certificate", lambda s: kv_set(s.expired, s.chain_id), 403, CertificateExpired),
    ("certificate-not-yet-valid", lambda s: kv_set(s.not_yet_valid, s.chain_id), 403, CertificateExpired),
    ("role-consensus", lambda s: kv_set(s.validator, s.chain_id), 403, PermissionDenied),
    ("role-common", lambda s: kv_set(s.common, s.chain_id), 403, PermissionDenied),
    ("expired-transaction", _expired_tx, 400, TransactionExpired),
    ("timestamp-in-future", _future_tx, 400, TransactionExpired),
    ("validity-window-too-long", _window_too_long, 400, TransactionExpired),
    ("oversized-transaction", _oversized_tx, 413, TooLarge),
]  # fmt: skip


@pytest.mark.parametrize(
    ("build", "status", "error"), [pytest.param(b, s, e, id=i) for i, b, s, e in REFUSED_TXS]
)
def test_refused_transaction(
    http: httpx.Client,
    sdk: Client,
    signers: Signers,
    build: Callable[[Signers], Tx],
    status: int,
    error: type[JinglianError],
) -> None:
    tx = build(signers)
    error_of(post_tx(http, tx.encoded), status, error.code)
    error_of(post_tx(http, tx.encoded, wait=True), status, error.code)
    with pytest.raises(error) as raised:
        sdk.submit(tx)
    assert type(raised.value) is error
    assert http.get(f"{API}/txs/{tx.id.hex()}").status_code == 404, "a refused tx committed"


# -- replays ------------------------------------------------------------------------------------


def test_replay_while_pending_is_refused(http: httpx.Client, sdk: Client, signers: Signers) -> None:
    # A transaction that runs out of gas fills a block for a while, so the
    # transaction submitted right after it is certainly still pending.
    blocker = signers.admin.sign_tx(signers.chain_id, "faulty", "spin")
    assert post_tx(http, blocker.encoded).status_code == 202
    tx = kv_set(signers.admin, signers.chain_id, key="replay-pending")
    assert post_tx(http, tx.encoded).status_code == 202
    message = error_of(post_tx(http, tx.encoded), 409, "duplicate_transaction")
    assert "pool" in message
    with pytest.raises(DuplicateTransaction):
        sdk.submit(tx)
    result = sdk.wait_tx(tx.id.hex())
    assert result.ok and result.height is not None
    assert sdk.get_block(result.height)["tx_ids"].count(tx.id.hex()) == 1
    assert sdk.wait_tx(blocker.id.hex()).status == "out_of_gas"


def test_replay_after_commit_is_refused(http: httpx.Client, sdk: Client, signers: Signers) -> None:
    tx = kv_set(signers.admin, signers.chain_id, key="replay-committed")
    first = post_tx(http, tx.encoded, wait=True)
    assert first.status_code == 200, first.text
    height = first.json()["height"]
    message = error_of(post_tx(http, tx.encoded), 409, "duplicate_transaction")
    assert "on chain" in message
    error_of(post_tx(http, tx.encoded, wait=True), 409, "duplicate_transaction")
    with pytest.raises(DuplicateTransaction):
        sdk.submit(tx)
    # The SDK's resend of the same bytes waits for the first copy instead of failing.
    assert sdk.submit_and_wait(tx).height == height
    assert sdk.chain_info()["height"] >= height
    assert sdk.get_tx(tx.id.hex()).height == height


def test_wait_that_times_out_reports_timeout(
    http: httpx.Client, sdk: Client, signers: Signers
) -> None:
    slow = signers.admin.sign_tx(signers.chain_id, "faulty", "spin")  # ~0.7 s in its block
    response = http.post(
        f"{API}/txs", json={"tx": b64(slow.encoded)}, params={"wait": "true", "timeout": 0.05}
    )
    error_of(response, 504, "timeout")
    assert sdk.wait_tx(slow.id.hex()).status == "out_of_gas"  # it still commits


def test_transaction_expiring_in_the_pool_is_dropped_and_reported(
    http: httpx.Client, signers: Signers
) -> None:
    # Slow blocks go first and the transaction's window closes while they run: the
    # producer drops it from the pool and the client waiting for it is told why.
    # A spinning contract holds the interpreter lock and can stall the API for a
    # while; an attempt whose transaction was already expired on arrival proves
    # nothing, so it is tried again with a wider margin.
    started = time.monotonic()
    slow = signers.admin.sign_tx(signers.chain_id, "faulty", "spin")
    assert post_tx(http, slow.encoded, wait=True).status_code == 200
    slow_block_ms = int((time.monotonic() - started) * 1000)
    for margin_blocks in (3, 6, 12):
        dropped = metric(http, "jinglian_txs_dropped_total")
        message = _expire_in_pool(http, signers, slow_block_ms, margin_blocks)
        assert "expired" in message
        if metric(http, "jinglian_txs_dropped_total") == dropped + 1:
            break
    else:
        pytest.fail("the transaction expired before the node admitted it, with every margin tried")
    assert http.get(f"{API}/health").json()["mempool_txs"] == 0


def _expire_in_pool(
    http: httpx.Client, signers: Signers, slow_block_ms: int, margin_blocks: int
) -> str:
    """Queue 2 x margin slow blocks, then a transaction whose window closes after margin of them."""
    for _ in range(2 * margin_blocks):
        slow = signers.admin.sign_tx(signers.chain_id, "faulty", "spin")
        assert post_tx(http, slow.encoded).status_code == 202
    window_ms = PARAMS.tx_expiry_ms_max
    tx = kv_set(
        signers.admin,
        signers.chain_id,
        key="expires-in-pool",
        now_ms=now_ms() - window_ms + slow_block_ms * margin_blocks,
        expiry_s=window_ms // 1000,
    )
    message = error_of(post_tx(http, tx.encoded, wait=True), 400, "transaction_expired")
    assert http.get(f"{API}/txs/{tx.id.hex()}").status_code == 404
    return message


# -- calls that commit with a failed receipt ----------------------------------------------------

FAILED_CALLS: list[tuple[str, str, str, dict[str, Any], type[JinglianError]]] = [
    ("unknown-contract", "nosuch", "set", {"key": "k", "value": 1}, UnknownContract),
    ("unknown-method", "kv", "nosuch", {}, UnknownMethod),
    ("ctx-fail", "faulty", "refuse", {"reason": "refused on purpose"}, ContractFailed),
    ("contract-raises", "faulty", "divide", {"n": 0}, ContractFailed),
    ("out-of-gas", "faulty", "spin", {}, OutOfGas),
    ("missing-argument", "kv", "set", {"key": "k"}, InvalidInput),
    ("unexpected-argument", "kv", "set", {"key": "k", "value": 1, "ttl": 5}, InvalidInput),
    ("oversized-key-argument", "kv", "set", {"key": "k" * 300, "value": 1}, TooLarge),
    ("deploy-sandbox-violation", "contracts", "deploy", {"name": "evil", "source": "import os\n"}, SandboxViolation),
    ("deploy-existing-name", "contracts", "deploy", {"name": "kv", "source": KV_SOURCE.read_text()}, ContractFailed),
]  # fmt: skip


@pytest.mark.parametrize(
    ("contract", "method", "args", "error"),
    [pytest.param(c, m, a, e, id=i) for i, c, m, a, e in FAILED_CALLS],
)
def test_failed_call_commits_a_failed_receipt(
    http: httpx.Client,
    sdk: Client,
    signers: Signers,
    contract: str,
    method: str,
    args: dict[str, Any],
    error: type[JinglianError],
) -> None:
    tx = signers.admin.sign_tx(signers.chain_id, contract, method, args)
    response = post_tx(http, tx.encoded, wait=True)
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["receipt"]["status"] == error.code, record["receipt"]
    assert record["receipt"]["error"]
    assert record["receipt"]["events"] == []
    assert sdk.get_tx(tx.id.hex()).status == error.code

    with pytest.raises(error) as raised:
        sdk.invoke(contract, method, args)
    receipt = raised.value.receipt  # type: ignore[attr-defined]
    assert receipt.status == error.code and receipt.height is not None
    assert receipt.gas_used <= PARAMS.gas_tx_max


def test_failed_calls_write_nothing(sdk: Client) -> None:
    with pytest.raises(InvalidInput):
        sdk.invoke("kv", "set", {"key": "half-written"})
    assert sdk.query("kv", "get", {"key": "half-written"}).value is None
    assert sdk.get_state("kv", "k").value is None


def test_out_of_gas_uses_exactly_the_limit(sdk: Client) -> None:
    with pytest.raises(OutOfGas) as raised:
        sdk.invoke("faulty", "spin")
    assert raised.value.receipt.gas_used == PARAMS.gas_tx_max  # type: ignore[attr-defined]


def test_deploy_by_a_client_is_refused(net_dir: Path) -> None:
    with (
        Client.from_network(net_dir, "org1/client") as client,
        pytest.raises(PermissionDenied) as raised,
    ):
        client.invoke("contracts", "deploy", {"name": "mine", "source": KV_SOURCE.read_text()})
    assert raised.value.receipt.status == "policy_not_satisfied"  # type: ignore[attr-defined]


# -- queries ------------------------------------------------------------------------------------

FAILED_QUERIES: list[tuple[str, str, str, dict[str, Any], int, type[JinglianError]]] = [
    ("writes", "faulty", "sneak", {"key": "x"}, 422, ReadOnlyViolation),
    ("out-of-gas", "faulty", "spin_query", {}, 422, OutOfGas),
    ("unknown-contract", "nosuch", "get", {}, 404, UnknownContract),
    ("unknown-method", "kv", "nosuch", {}, 404, UnknownMethod),
    ("missing-argument", "kv", "get", {}, 400, InvalidInput),
    ("bytes-key", "kv", "get", {"key": b"raw"}, 422, ContractFailed),
    ("oversized-key-argument", "kv", "get", {"key": "k" * 300}, 413, TooLarge),
]  # fmt: skip


@pytest.mark.parametrize(
    ("contract", "method", "args", "status", "error"),
    [pytest.param(c, m, a, s, e, id=i) for i, c, m, a, s, e in FAILED_QUERIES],
)
def test_failed_query(
    http: httpx.Client,
    sdk: Client,
    contract: str,
    method: str,
    args: dict[str, Any],
    status: int,
    error: type[JinglianError],
) -> None:
    body = {"contract": contract, "method": method, "args": to_json(args)}
    error_of(http.post(f"{API}/query", json=body), status, error.code)
    with pytest.raises(error):
        sdk.query(contract, method, args)


def test_query_of_an_invoke_method_cannot_write(http: httpx.Client, sdk: Client) -> None:
    body = {"contract": "kv", "method": "set", "args": {"key": SENTINEL_KEY, "value": 0}}
    error_of(http.post(f"{API}/query", json=body), 422, "read_only_violation")
    with pytest.raises(ReadOnlyViolation):
        sdk.query("kv", "set", {"key": SENTINEL_KEY, "value": 0})


def test_query_sees_the_state_of_the_height_asked(sdk: Client, sentinel: TxResult) -> None:
    assert sentinel.height is not None
    with pytest.raises(UnknownContract):
        sdk.query("kv", "get", {"key": SENTINEL_KEY}, height=0)  # genesis: before any deploy
    before = sdk.query("kv", "get", {"key": SENTINEL_KEY}, height=sentinel.height - 1)
    assert before.value is None
    with pytest.raises(InvalidInput):  # listing keys needs the latest state
        sdk.query("contracts", "list", height=1)


# -- requests with missing or wrong fields ------------------------------------------------------

BAD_REQUESTS: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("query-without-method", "POST", "/query", {"json": {"contract": "kv"}}, 400, "invalid_input"),
    ("query-without-contract", "POST", "/query", {"json": {"method": "get"}}, 400, "invalid_input"),
    ("query-empty-method", "POST", "/query", {"json": {"contract": "kv", "method": ""}}, 400, "invalid_input"),
    ("query-height-string", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": "k"}, "height": "1"}}, 400, "invalid_input"),
    ("query-height-negative", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": "k"}, "height": -1}}, 400, "invalid_input"),
    ("query-height-float", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": "k"}, "height": 1.5}}, 400, "invalid_input"),
    ("query-height-beyond-head", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": "k"}, "height": 10**9}}, 404, "not_found"),
    ("query-height-over-int64", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": "k"}, "height": 2**64}}, 400, "invalid_input"),
    ("query-args-list", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": ["k"]}}, 400, "invalid_input"),
    ("query-args-bad-bytes", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": {"$bytes": "!!"}}}}, 400, "invalid_input"),
    ("query-args-too-deep", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": json.loads("[" * 40 + "]" * 40)}}}, 400, "invalid_input"),
    ("query-args-int-over-int64", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": 2**64}}}, 400, "invalid_input"),
    ("query-args-float", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": 1.5}}}, 400, "invalid_input"),
    ("query-prove-string", "POST", "/query", {"json": {"contract": "kv", "method": "get", "args": {"key": "k"}, "prove": "yes"}}, 400, "invalid_input"),
    ("query-unknown-field", "POST", "/query", {"json": {"contract": "kv", "method": "get", "gas": 5}}, 400, "invalid_input"),
    ("query-body-list", "POST", "/query", {"json": [1]}, 400, "invalid_input"),
    ("unknown-route", "GET", "/nosuch", {}, 404, "not_found"),
    ("unknown-route-outside-api", "GET", "/../nosuch", {}, 404, "not_found"),
    ("wrong-method", "DELETE", "/chain", {}, 405, "method_not_allowed"),
    ("get-on-post-route", "GET", "/query", {}, 405, "method_not_allowed"),
    ("block-height-negative", "GET", "/blocks/-1", {}, 400, "invalid_input"),
    ("block-height-text", "GET", "/blocks/ten", {}, 400, "invalid_input"),
    ("block-height-beyond-head", "GET", "/blocks/1000000000", {}, 404, "not_found"),
    ("block-hash-not-hex", "GET", "/blocks/hash/" + "z" * 64, {}, 400, "invalid_input"),
    ("block-hash-short", "GET", "/blocks/hash/abcd", {}, 400, "invalid_input"),
    ("block-hash-unknown", "GET", "/blocks/hash/" + "0" * 64, {}, 404, "not_found"),
    ("tx-id-not-hex", "GET", "/txs/xyz", {}, 400, "invalid_input"),
    ("tx-id-unknown", "GET", "/txs/" + "0" * 64, {}, 404, "not_found"),
    ("state-height-negative", "GET", "/state/kv/sentinel", {"params": {"height": -1}}, 400, "invalid_input"),
    ("state-height-text", "GET", "/state/kv/sentinel", {"params": {"height": "latest"}}, 400, "invalid_input"),
    ("state-height-beyond-head", "GET", "/state/kv/sentinel", {"params": {"height": 10**9}}, 404, "not_found"),
    ("state-key-too-long", "GET", "/state/kv/" + "k" * 2000, {}, 400, "invalid_input"),
    ("submit-wait-not-bool", "POST", "/txs", {"params": {"wait": "maybe"}, "json": {"tx": "AAAA"}}, 400, "invalid_input"),
    ("submit-timeout-zero", "POST", "/txs", {"params": {"wait": "true", "timeout": 0}, "json": {"tx": "AAAA"}}, 400, "invalid_input"),
    ("submit-timeout-too-long", "POST", "/txs", {"params": {"wait": "true", "timeout": 10_000}, "json": {"tx": "AAAA"}}, 400, "invalid_input"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "status", "code"),
    [pytest.param(m, p, k, s, c, id=i) for i, m, p, k, s, c in BAD_REQUESTS],
)
def test_invalid_request(
    http: httpx.Client,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    status: int,
    code: str,
) -> None:
    error_of(http.request(method, API + path, **request_kwargs), status, code)


def test_sdk_reports_missing_records_as_not_found(sdk: Client) -> None:
    with pytest.raises(NotFound):
        sdk.get_tx("0" * 64)
    with pytest.raises(NotFound):
        sdk.get_block(10**9)
    with pytest.raises(NotFound):
        sdk.query("kv", "get", {"key": SENTINEL_KEY}, height=10**9)
    with pytest.raises(InvalidInput):
        sdk.get_tx("not-hex")


def test_api_answers_without_a_delayed_ack_stall(http: httpx.Client) -> None:
    # Linux delays an ACK by at least 40 ms; a response written in two pieces without
    # TCP_NODELAY waits that long, a healthy node answers /health in about a millisecond.
    http.get(f"{API}/health")
    times = []
    for _ in range(15):
        started = time.perf_counter()
        assert http.get(f"{API}/health").status_code == 200
        times.append(time.perf_counter() - started)
    assert sorted(times)[len(times) // 2] < 0.02, f"median {sorted(times)[7] * 1000:.0f} ms"


# -- the CLI against the running node -----------------------------------------------------------

CLI_FAILURES: list[tuple[str, list[str], int, str]] = [
    ("invoke-unknown-contract", ["tx", "invoke", "nosuch", "method"], 1, "unknown_contract"),
    ("invoke-unknown-method", ["tx", "invoke", "kv", "nosuch"], 1, "unknown_method"),
    ("invoke-args-not-json", ["tx", "invoke", "kv", "set", "--args", "{key"], 1, "invalid_input"),
    ("query-writes", ["query", "faulty", "sneak", "--args", '{"key": "x"}'], 1, "read_only_violation"),
    ("tx-get-unknown", ["tx", "get", "0" * 64], 1, "not_found"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "exit_code", "code"), [pytest.param(a, e, c, id=i) for i, a, e, c in CLI_FAILURES]
)
def test_cli_reports_one_line(net_dir: Path, args: list[str], exit_code: int, code: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("JINGLIAN_NET", "JINGLIAN_DEBUG")}
    done = subprocess.run(
        [sys.executable, "-m", "jinglian.cli", *args, "--net", str(net_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == exit_code, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ") and lines[0].endswith(f"({code})"), lines[0]
    assert done.stdout == ""


def test_node_start_on_a_taken_port_fails_with_one_error_line(tmp_path: Path) -> None:
    node_dir = make_solo_network(tmp_path) / "nodes" / "node1"
    port = load_node_config(node_dir).api_port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = subprocess.run(
            [sys.executable, "-m", "jinglian.cli", "node", "start", str(node_dir)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert re.fullmatch(r"error: .+ \(config_error\)", last), last
    assert str(port) in last


def test_a_node_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    node_dir = make_solo_network(tmp_path) / "nodes" / "node1"
    (node_dir / "sign.key").unlink()
    with NodeProcess(node_dir) as broken, pytest.raises(NodeProcessError) as raised:
        broken.start()
    message = str(raised.value)
    assert "exited with code 1 while starting" in message
    assert "sign.key" in message and "(config_error)" in message, message
    assert not broken.alive


def test_batch_submit_reports_each_outcome(
    http: httpx.Client, sdk: Client, signers: Signers
) -> None:
    good = [kv_set(signers.admin, signers.chain_id, key=f"batch{i}") for i in range(3)]
    wrong_chain = kv_set(signers.admin, "other-chain")
    outcomes = sdk.submit_many([good[0], wrong_chain, good[1], good[0], good[2]])
    assert outcomes[0] == good[0].id.hex() and outcomes[2] == good[1].id.hex()
    assert isinstance(outcomes[1], WrongChain)
    assert isinstance(outcomes[3], DuplicateTransaction)
    assert outcomes[4] == good[2].id.hex()
    for tx in good:
        assert sdk.wait_tx(tx.id.hex(), timeout=30).status == "ok"


@pytest.mark.parametrize(
    "body",
    [{"txs": []}, {"txs": "x"}, {"txs": [1]}, {}, {"txs": ["AA=="] * 2001}],
    ids=["empty", "not-a-list", "not-text", "missing", "over-limit"],
)
def test_invalid_batch_bodies(http: httpx.Client, body: dict[str, Any]) -> None:
    response = http.post("/api/v1/txs/batch", json=body)
    assert response.status_code in (400, 413), response.text
    assert response.json()["error"]["code"] in ("invalid_input", "too_large")


def test_invalid_batch_elements_reported_one_by_one(http: httpx.Client) -> None:
    response = http.post("/api/v1/txs/batch", json={"txs": ["!!", b64(b"garbage")]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["admitted"] == 0
    assert [r["error"]["code"] for r in body["results"]] == ["invalid_input", "decode_error"]
