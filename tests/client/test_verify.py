"""Offline verification: genuine records pass, every tampered field is caught with its reason."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jinglian.api.render import render_query_result, render_state_record, render_tx_record
from jinglian.client import (
    Identity,
    verify_query_record,
    verify_state_record,
    verify_tx_record,
)
from jinglian.types import codec
from jinglian.types.errors import DecodeError, InvalidBlock, JinglianError, WrongChain
from tests.api.fake_node import FakeNode, state_key

Record = dict[str, Any]


def _block_of_three(node: FakeNode, admin: Identity) -> list[bytes]:
    node.hold = True
    ids = []
    for n in range(3):
        tx = admin.sign_tx(node.config.chain_id, "kv", "put", {"key": f"k{n}", "value": n})
        ids.append(node.submit_tx(tx.encoded))
    node.commit_pending()
    return ids


@pytest.fixture()
def tx_record(node: FakeNode, admin: Identity) -> Record:
    """The middle transaction of a three-transaction block."""
    ids = _block_of_three(node, admin)
    record = node.get_tx(ids[1])
    assert record is not None
    return render_tx_record(record)


def _state(node: FakeNode, key: str) -> Record:
    record, header, commit = node.get_state(state_key("kv", key), None)
    decoded = None if record.value is None else codec.decode(record.value, 1 << 20)
    return render_state_record("kv", key, record, decoded=decoded, header=header, commit=commit)


def _flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _flip_hex(text: str) -> str:
    return ("0" if text[0] != "0" else "1") + text[1:]


def test_genuine_tx_record_verifies(tx_record: Record, node: FakeNode) -> None:
    proven = verify_tx_record(tx_record, node.config)
    assert proven.index == 1
    assert proven.tx.body.args == {"key": "k1", "value": 1}
    assert proven.receipt.status == "ok"
    assert proven.block.power == 4 and proven.block.total_power == 4
    assert sorted(proven.block.signers) == ["node1", "node2", "node3", "node4"]


TX_TAMPERING: list[tuple[str, Callable[[Record], None], type[JinglianError], str]] = [
    (
        "state root",
        lambda r: r["header"].update(state_root=_flip_hex(r["header"]["state_root"])),
        InvalidBlock,
        "header hash does not match",
    ),
    (
        "header time",
        lambda r: r["header"].update(time_ms=r["header"]["time_ms"] + 1),
        InvalidBlock,
        "header hash does not match",
    ),
    ("header chain", lambda r: r["header"].update(chain_id="other"), WrongChain, "other"),
    (
        "commit block hash",
        lambda r: r["commit"].update(block_hash=_flip_hex(r["commit"]["block_hash"])),
        InvalidBlock,
        "header hash does not match",
    ),
    (
        "commit height",
        lambda r: r["commit"].update(height=7),
        InvalidBlock,
        "commit is for height 7",
    ),
    ("commit round", lambda r: r["commit"].update(round=1), InvalidBlock, "does not verify"),
    (
        "a signature",
        lambda r: r["commit"]["signatures"][0].update(
            signature=_flip_b64(r["commit"]["signatures"][0]["signature"])
        ),
        InvalidBlock,
        "does not verify",
    ),
    (
        "too few signatures",
        lambda r: r["commit"].update(signatures=r["commit"]["signatures"][:2]),
        InvalidBlock,
        "2 of 4 voting power",
    ),
    (
        "duplicated signature",
        lambda r: r["commit"]["signatures"].__setitem__(1, r["commit"]["signatures"][0]),
        InvalidBlock,
        "two signatures",
    ),
    (
        "unknown validator",
        lambda r: r["commit"]["signatures"][0].update(validator="ab" * 32),
        InvalidBlock,
        "not a validator",
    ),
    ("no commit", lambda r: r.update(commit=None), InvalidBlock, "without a commit"),
    (
        "tx path",
        lambda r: r["proof"]["tx_path"].__setitem__(0, _flip_hex(r["proof"]["tx_path"][0])),
        InvalidBlock,
        "transaction Merkle path",
    ),
    (
        "tx leaf",
        lambda r: r["proof"].update(tx_leaf=_flip_b64(r["proof"]["tx_leaf"])),
        InvalidBlock,
        "transaction Merkle path",
    ),
    ("tx id", lambda r: r.update(id=_flip_hex(r["id"])), InvalidBlock, "record's id"),
    (
        "receipt leaf",
        lambda r: r["proof"].update(receipt_leaf=_flip_b64(r["proof"]["receipt_leaf"])),
        InvalidBlock,
        "receipt Merkle path",
    ),
    (
        "receipt path",
        lambda r: r["proof"].update(receipt_path=r["proof"]["receipt_path"][:-1]),
        InvalidBlock,
        "receipt Merkle path",
    ),
    (
        "displayed status",
        lambda r: r["receipt"].update(status="contract_failed"),
        InvalidBlock,
        "displayed receipt",
    ),
    (
        "displayed result",
        lambda r: r["receipt"].update(result=5),
        InvalidBlock,
        "displayed receipt",
    ),
    (
        "displayed args",
        lambda r: r["body"]["args"].update(value=999),
        InvalidBlock,
        "displayed transaction body",
    ),
    (
        "displayed signer",
        lambda r: r["endorsements"][0].update(
            signature=_flip_b64(r["endorsements"][0]["signature"])
        ),
        InvalidBlock,
        "displayed endorsements",
    ),
    ("index", lambda r: r.update(index=2), InvalidBlock, "index differs"),
    ("proof index", lambda r: r["proof"].update(tx_index=0), InvalidBlock, "index differs"),
    ("tx count", lambda r: r["proof"].update(tx_count=4), InvalidBlock, "tx_count differs"),
    ("height", lambda r: r.update(height=9), InvalidBlock, "record height"),
    ("block hash", lambda r: r.update(block_hash="00" * 32), InvalidBlock, "block_hash differs"),
    ("header field missing", lambda r: r["header"].pop("tx_root"), DecodeError, "tx_root"),
    ("bad hex", lambda r: r["header"].update(tx_root="zz"), DecodeError, "hex"),
    ("bad base64", lambda r: r["proof"].update(tx_leaf="***"), DecodeError, "base64"),
    ("args with a float", lambda r: r["body"]["args"].update(value=1.5), DecodeError, "floating"),
]


@pytest.mark.parametrize(
    ("what", "tamper", "error", "reason"), TX_TAMPERING, ids=[t[0] for t in TX_TAMPERING]
)
def test_invalid_tampered_tx_record(
    tx_record: Record,
    node: FakeNode,
    what: str,
    tamper: Callable[[Record], None],
    error: type[JinglianError],
    reason: str,
) -> None:
    record = copy.deepcopy(tx_record)
    tamper(record)
    with pytest.raises(error, match=reason):
        verify_tx_record(record, node.config)


def test_invalid_record_against_another_networks_genesis(tx_record: Record, solo_dir: Path) -> None:
    other = FakeNode(solo_dir).config
    with pytest.raises(InvalidBlock, match="a validator-set change is missing"):
        verify_tx_record(tx_record, other)


def test_state_record_verifies_value_and_absence(node: FakeNode, admin: Identity) -> None:
    _block_of_three(node, admin)
    present = verify_state_record(_state(node, "k2"), node.config)
    assert present.value == codec.encode(2)
    assert present.key == b"kv\x00k2"
    assert verify_state_record(_state(node, "nope"), node.config).value is None


STATE_TAMPERING: list[tuple[str, Callable[[Record], None], str]] = [
    (
        "value",
        lambda r: r.update(value=base64.b64encode(codec.encode(3)).decode(), decoded=3),
        "state proof of the value",
    ),
    ("claimed absent", lambda r: r.update(value=None, decoded=None), "state proof of the absence"),
    ("decoded", lambda r: r.update(decoded=7), "displayed value"),
    ("key", lambda r: r.update(key="k1"), "raw_key is not"),
    (
        "raw key and key",
        lambda r: r.update(key="k1", raw_key=base64.b64encode(b"kv\x00k1").decode()),
        "state proof of the value",
    ),
    (
        "sibling",
        lambda r: r["proof"]["siblings"][0].update(
            {"$bytes": _flip_b64(r["proof"]["siblings"][0]["$bytes"])}
        ),
        "state proof",
    ),
    ("no proof", lambda r: r.update(proof=None), "no state proof"),
    ("height", lambda r: r.update(height=0), "state height"),
    (
        "header state root",
        lambda r: r["header"].update(state_root=_flip_hex(r["header"]["state_root"])),
        "header hash does not match",
    ),
]


@pytest.mark.parametrize(
    ("what", "tamper", "reason"), STATE_TAMPERING, ids=[t[0] for t in STATE_TAMPERING]
)
def test_invalid_tampered_state_record(
    node: FakeNode, admin: Identity, what: str, tamper: Callable[[Record], None], reason: str
) -> None:
    _block_of_three(node, admin)
    record = _state(node, "k2")
    tamper(record)
    with pytest.raises(JinglianError, match=reason):
        verify_state_record(record, node.config)


def test_query_reads_verify(node: FakeNode, admin: Identity) -> None:
    _block_of_three(node, admin)
    record = render_query_result(node.query("kv", "get", {"key": "k0"}, None, True))
    proven = verify_query_record(record, node.config)
    assert proven.reads == ((b"kv\x00k0", codec.encode(0)),)
    record["reads"][0]["value"] = base64.b64encode(codec.encode(5)).decode()
    with pytest.raises(InvalidBlock, match="state proof"):
        verify_query_record(record, node.config)
    unproven = render_query_result(node.query("kv", "get", {"key": "k0"}, None, False))
    with pytest.raises(InvalidBlock, match="prove=true"):
        verify_query_record(unproven, node.config)


@pytest.mark.parametrize("which", ["solo_dir", "gm_dir"])
def test_other_networks_verify(which: str, request: pytest.FixtureRequest) -> None:
    net_dir = request.getfixturevalue(which)
    node = FakeNode(net_dir)
    identity = Identity.from_network(net_dir, "org1/client")
    tx = identity.sign_tx(node.config.chain_id, "kv", "put", {"key": "x", "value": b"\x00"})
    node.submit_tx(tx.encoded)
    record = node.get_tx(tx.id)
    assert record is not None
    proven = verify_tx_record(render_tx_record(record), node.config)
    assert proven.block.total_power == len(node.config.validators)
    assert verify_state_record(_state(node, "x"), node.config).value == codec.encode(b"\x00")
