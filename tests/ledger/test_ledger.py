from __future__ import annotations

import time

import pytest

from jinglian.crypto import verify_merkle_proof
from jinglian.crypto.state_proof import verify_state_proof
from jinglian.ledger import Ledger, apply_block, build_block
from jinglian.ledger.keys import state_key
from jinglian.storage.kv import MemoryKV
from jinglian.testing import TestNetwork, make_test_network
from jinglian.types import (
    Commit,
    CommitSignature,
    codec,
    encode_receipt,
    vote_sign_bytes,
)
from jinglian.types.config import compute_genesis_hash
from jinglian.types.errors import (
    CertificateExpired,
    DuplicateTransaction,
    InvalidBlock,
    InvalidSignature,
    PermissionDenied,
    TransactionExpired,
    UnknownIdentity,
    WrongChain,
)

from .conftest import FakeExecutor


def now() -> int:
    return time.time_ns() // 1_000_000


def commit(ledger: Ledger, network: TestNetwork, txs: list, time_ms: int | None = None):  # type: ignore[no-untyped-def]
    node = network["org1/node1"]
    result = build_block(ledger, txs, time_ms or now(), node.cert.cert_id)
    sig = node.key.sign(vote_sign_bytes(ledger.config().chain_id, result.height, 0, result.hash))
    ledger.commit_block(
        result, Commit(result.height, 0, result.hash, (CommitSignature(node.cert.cert_id, sig),))
    )
    return result


def test_genesis_head(ledger: Ledger, network: TestNetwork) -> None:
    head = ledger.head()
    assert head.height == 0
    assert head.hash == compute_genesis_hash(ledger.suite_hash, network.genesis)
    assert head.state_root == ledger.state_root_at(0) != bytes(32)


def test_block_commits_txs_with_proofs(ledger: Ledger, network: TestNetwork) -> None:
    admin = network["org1/admin"]
    txs = [admin.sign("test", "kv", "set", {"key": f"k{i}", "value": i}) for i in range(5)]
    result = commit(ledger, network, txs)
    assert result.tx_count == 5 and not result.dropped
    header = ledger.get_header(1)
    assert header is not None and header.prev_hash == ledger.genesis_hash
    block = ledger.get_block(1)
    assert block is not None
    receipts = ledger.get_receipts(1)
    for index, tx in enumerate(txs):
        location = ledger.locate_tx(tx.id)
        assert location is not None and (location.height, location.index) == (1, index)
        tx_path, receipt_path = ledger.tx_proofs(block, receipts, index)
        assert verify_merkle_proof(ledger.suite_hash, tx.encoded, index, 5, tx_path, header.tx_root)
        leaf = encode_receipt(receipts[index])
        assert verify_merkle_proof(
            ledger.suite_hash, leaf, index, 5, receipt_path, header.receipt_root
        )
    key = state_key("kv", "k3")
    value, proof = ledger.prove_state(key, 1)
    assert value == codec.encode(3)
    assert verify_state_proof(ledger.suite_hash, header.state_root, key, value, proof)
    absent, proof = ledger.prove_state(state_key("kv", "nope"), 1)
    assert absent is None
    assert verify_state_proof(
        ledger.suite_hash, header.state_root, state_key("kv", "nope"), None, proof
    )


def test_a_gas_budget_stops_the_block_and_leaves_the_rest_out_not_dropped(
    ledger: Ledger, network: TestNetwork
) -> None:
    admin = network["org1/admin"]
    txs = [admin.sign("test", "kv", "set", {"key": f"k{i}", "value": i}) for i in range(5)]
    # The fake executor charges 10 gas per set: the budget is reached after the third.
    result = build_block(ledger, txs, now(), b"p", gas_budget=25)
    assert [tx.id for tx in result.block.txs] == [tx.id for tx in txs[:3]]
    assert not result.dropped
    assert len(build_block(ledger, txs, now(), b"p").block.txs) == 5


def test_history_is_provable_at_every_height(ledger: Ledger, network: TestNetwork) -> None:
    admin = network["org1/admin"]
    for value in range(3):
        commit(ledger, network, [admin.sign("test", "kv", "set", {"key": "k", "value": value})])
    key = state_key("kv", "k")
    for height in (1, 2, 3):
        assert ledger.get_state(key, height) == codec.encode(height - 1)
    assert [h for h, _ in ledger.key_history(key)] == [1, 2, 3]
    assert len(list(ledger.iterate_events("kv", "set"))) == 3


def test_failed_tx_is_included_with_failed_receipt(ledger: Ledger, network: TestNetwork) -> None:
    result = commit(ledger, network, [network["org1/client"].sign("test", "kv", "fail")])
    assert result.receipts[0].status == "contract_failed"
    assert result.receipts[0].error == "asked to fail"


def test_certificate_registered_then_usable_by_id(ledger: Ledger, network: TestNetwork) -> None:
    admin = network["org1/admin"]
    commit(ledger, network, [admin.sign("test", "kv", "set", {"key": "a", "value": 1})])
    by_id = admin.sign("test", "kv", "set", {"key": "b", "value": 2}, by_id=True)
    assert len(by_id.encoded) < 400
    assert commit(ledger, network, [by_id]).tx_count == 1


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (
            lambda n: n["org1/admin"].sign("other-chain", "kv", "set", {"key": "a", "value": 1}),
            WrongChain,
        ),
        (
            lambda n: n["org1/admin"].sign(
                "test", "kv", "set", {"key": "a", "value": 1}, now_ms=now() - 120_000
            ),
            TransactionExpired,
        ),
        (
            lambda n: n["org1/admin"].sign(
                "test", "kv", "set", {"key": "a", "value": 1}, expiry_ms=3_600_000
            ),
            TransactionExpired,
        ),
        (
            lambda n: n["org1/admin"].sign(
                "test", "kv", "set", {"key": "a", "value": 1}, now_ms=now() + 3_600_000
            ),
            TransactionExpired,
        ),
        (
            lambda n: n["org1/node1"].sign("test", "kv", "set", {"key": "a", "value": 1}),
            PermissionDenied,
        ),
        (
            lambda n: make_test_network(chain_id="test")["org1/admin"].sign(
                "test", "kv", "set", {"key": "a", "value": 1}
            ),
            UnknownIdentity,
        ),
        (
            lambda n: n["org1/admin"].sign(
                "test", "kv", "set", {"key": "a", "value": 1}, by_id=True
            ),
            UnknownIdentity,
        ),
        (
            lambda n: n["org1/admin"].sign(
                "test", "kv", "set", {"key": "a", "value": 1}, cosigners=(n["org1/admin"],)
            ),
            InvalidSignature,
        ),
    ],
    ids=[
        "wrong-chain",
        "expired",
        "window-too-long",
        "future",
        "wrong-role",
        "foreign-ca",
        "unregistered-id",
        "double-endorsement",
    ],
)
def test_invalid_txs_are_dropped_with_reason(
    ledger: Ledger, network: TestNetwork, make, error
) -> None:  # type: ignore[no-untyped-def]
    tx = make(network)
    result = build_block(ledger, [tx], now(), b"p")
    assert result.tx_count == 0
    assert isinstance(result.dropped[0][1], error), result.dropped[0][1]


def test_invalid_signature_dropped(ledger: Ledger, network: TestNetwork) -> None:
    from jinglian.types import Endorsement, make_tx

    good = network["org1/admin"].sign("test", "kv", "set", {"key": "a", "value": 1})
    forged = make_tx(
        ledger.suite_hash,
        good.payload,
        (Endorsement(good.endorsements[0].signer, network["org1/client"].key.sign(good.payload)),),
    )
    result = build_block(ledger, [forged], now(), b"p")
    assert isinstance(result.dropped[0][1], InvalidSignature)


def test_expired_certificate_dropped(network: TestNetwork) -> None:
    ledger = Ledger(MemoryKV(), network.genesis, FakeExecutor())
    old = network.issue("org1", "client", "old-client", validity_days=1)
    tx = old.sign(
        "test", "kv", "set", {"key": "a", "value": 1}, now_ms=now() + 2 * 86_400_000 - 1000
    )
    result = build_block(ledger, [tx], now() + 2 * 86_400_000, b"p")
    assert isinstance(result.dropped[0][1], CertificateExpired)


def test_duplicates_refused_in_block_and_across_blocks(
    ledger: Ledger, network: TestNetwork
) -> None:
    tx = network["org1/admin"].sign("test", "kv", "set", {"key": "a", "value": 1})
    result = commit(ledger, network, [tx, tx])
    assert result.tx_count == 1
    assert isinstance(result.dropped[0][1], DuplicateTransaction)
    again = build_block(ledger, [tx], now(), b"p")
    assert isinstance(again.dropped[0][1], DuplicateTransaction)


def replica(network: TestNetwork) -> Ledger:
    return Ledger(MemoryKV(), network.genesis, FakeExecutor())


def test_replica_reexecutes_to_the_same_block(ledger: Ledger, network: TestNetwork) -> None:
    txs = [
        network["org1/admin"].sign("test", "kv", "set", {"key": f"k{i}", "value": i})
        for i in range(3)
    ]
    result = commit(ledger, network, txs)
    other = replica(network)
    again = apply_block(other, result.block)
    assert again.hash == result.hash
    assert again.receipts == result.receipts


@pytest.mark.parametrize(
    "field",
    ["state_root", "tx_root", "receipt_root", "validators_hash", "prev_hash", "height", "time_ms"],
)
def test_invalid_tampered_block_refused(ledger: Ledger, network: TestNetwork, field: str) -> None:
    import dataclasses

    txs = [network["org1/admin"].sign("test", "kv", "set", {"key": "k", "value": 1})]
    result = build_block(ledger, txs, now(), b"p")
    original = getattr(result.block.header, field)
    changed = (
        original + 1
        if isinstance(original, int) and field != "time_ms"
        else (-1 if field == "time_ms" else bytes(32) if original != bytes(32) else b"\x01" * 32)
    )
    header = dataclasses.replace(result.block.header, **{field: changed})
    with pytest.raises(InvalidBlock):
        apply_block(replica(network), dataclasses.replace(result.block, header=header))


def test_invalid_block_with_unacceptable_tx_refused(ledger: Ledger, network: TestNetwork) -> None:
    import dataclasses

    good = network["org1/admin"].sign("test", "kv", "set", {"key": "k", "value": 1})
    result = build_block(ledger, [good], now(), b"p")
    bad = network["org1/admin"].sign("other", "kv", "set", {"key": "k", "value": 1})
    block = dataclasses.replace(result.block, txs=(bad,))
    with pytest.raises(InvalidBlock, match="unacceptable"):
        apply_block(replica(network), block)
