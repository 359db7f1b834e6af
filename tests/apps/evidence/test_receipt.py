"""Receipts from a real four-validator devnet: valid ones verify offline, every tampering fails.

One detached ``jinglian devnet`` (four tbft processes) serves the module; the
CLI deposits files and writes receipts; then each field of a receipt is
changed in turn and ``verify_receipt`` must name the exact reason, never
accept, never raise anything but a ``JinglianError``.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jinglian.apps.evidence import (
    fetch_receipt,
    hash_file,
    load_receipt,
    make_item,
    verify_file,
    verify_receipt,
)
from jinglian.client import Client, load_genesis
from jinglian.testing.process import detached_devnet, make_solo_network
from jinglian.types import ChainConfig
from jinglian.types.errors import (
    DecodeError,
    DigestMismatch,
    InvalidBlock,
    InvalidReceipt,
    JinglianError,
    UnknownIdentity,
    WrongChain,
)

pytestmark = pytest.mark.slow

JINGLIAN = [sys.executable, "-m", "jinglian.cli"]


def run(
    *args: str, cwd: Path | None = None, offline: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [*JINGLIAN, *args]
    if offline:
        command = ["unshare", "-rn", *command]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=120, env=env, check=False
    )


def require_unshare() -> None:
    """Skip, saying why, where this machine cannot run a command without network access."""
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop network access with unshare -rn: {probe.stderr!r}")


@dataclass
class Deposits:
    net: Path
    genesis: ChainConfig
    file: Path
    receipt: dict[str, Any]
    signed_file: Path
    signed_receipt: dict[str, Any]
    checkpointed: dict[str, Any]
    crowded: dict[str, Any]
    """A receipt of a deposit in a block of several transactions (non-empty Merkle paths)."""


@pytest.fixture(scope="module")
def deposits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deposits]:
    root = tmp_path_factory.mktemp("evidence")
    with detached_devnet(root / "net") as net:
        yield make_deposits(root, net)


def make_deposits(root: Path, net: Path) -> Deposits:
    """Deposit a file, a signed file and a crowded block's worth on ``net``; their receipts."""
    file = root / "contract.pdf"
    file.write_bytes(b"%PDF-1.7 sales contract " * 5000)
    signed = root / "photo.png"
    signed.write_bytes(b"\x89PNG screenshot" * 300)
    put = run(
        "evidence",
        "put",
        str(file),
        "--meta",
        '{"ref": "A-17"}',
        "-o",
        str(root / "contract.receipt"),
        cwd=net,
    )
    assert put.returncode == 0, put.stderr
    put = run("evidence", "put", str(signed), "--sign-as", "org1/client", cwd=net)
    assert put.returncode == 0, put.stderr
    receipt = load_receipt(root / "contract.receipt")
    with Client.from_network(net) as client:
        # Another deposit so a later block exists, then a receipt with a checkpoint.
        client.invoke(
            "evidence",
            "deposit",
            {
                "items": [
                    {
                        "digest": b"\x01" * 32,
                        "alg": "sha256",
                        "title": "t",
                        "type": "x",
                        "ref": "",
                    }
                ]
            },
        )
        checkpointed = fetch_receipt(client, receipt["deposit"]["id"], checkpoint=True)
        crowded = crowded_receipt(client, load_genesis(net / "genesis.json"))
    return Deposits(
        net=net,
        genesis=load_genesis(net / "genesis.json"),
        file=file,
        receipt=receipt,
        signed_file=signed,
        signed_receipt=load_receipt(root / "photo.png.receipt"),
        checkpointed=checkpointed,
        crowded=crowded,
    )


def crowded_receipt(client: Client, genesis: ChainConfig) -> dict[str, Any]:
    """Submit eight deposits in one request so they share a block; a receipt of one of them."""
    identity = client.identity
    assert identity is not None
    txs = [
        identity.sign_tx(
            genesis.chain_id,
            "evidence",
            "deposit",
            {"items": [make_item(bytes([n]) * 32, "sha256", {"title": f"t{n}"}, chain_id="x")]},
        )
        for n in range(8)
    ]
    ids = client.submit_many(txs)
    results = [client.wait_tx(tx_id) for tx_id in ids if isinstance(tx_id, str)]
    best = max(results, key=lambda r: (r.record or {}).get("header", {}).get("tx_count", 0))
    receipt = fetch_receipt(client, f"{best.id}:0")
    assert receipt["tx"]["header"]["tx_count"] >= 3, "the eight deposits spread over blocks"
    return receipt


def test_a_receipt_verifies_with_the_file_and_genesis(deposits: Deposits) -> None:
    verified = verify_file(deposits.file, deposits.receipt, deposits.genesis)
    assert verified.digest == hash_file(deposits.file)
    assert verified.ref == "A-17" and verified.title == "contract.pdf"
    assert verified.depositor.org == "org1" and verified.depositor.role == "admin"
    assert verified.total_power == 4 and verified.power >= 3
    assert len(set(verified.validators)) == verified.power
    assert verified.signer is None and verified.checkpoint_height is None


def test_a_signed_digest_names_its_signer(deposits: Deposits) -> None:
    verified = verify_file(deposits.signed_file, deposits.signed_receipt, deposits.genesis)
    assert verified.signer is not None
    assert (verified.signer.org, verified.signer.role) == ("org1", "client")


def test_a_checkpoint_shows_later_final_blocks(deposits: Deposits) -> None:
    verified = verify_receipt(deposits.checkpointed, deposits.genesis, hash_file(deposits.file))
    assert verified.checkpoint_height is not None
    assert verified.checkpoint_height > verified.height


def test_cli_verifies_offline_with_the_network_stopped_and_no_network_at_all(
    deposits: Deposits, tmp_path: Path
) -> None:
    receipt = tmp_path / "r.json"
    receipt.write_text(json.dumps(deposits.receipt))
    genesis = deposits.net / "genesis.json"
    require_unshare()
    done = run(
        "evidence",
        "verify",
        str(deposits.file),
        str(receipt),
        "--genesis",
        str(genesis),
        offline=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("VALID")
    assert "depositor   admin.org1 (org1, admin)" in done.stdout
    changed = tmp_path / "changed.pdf"
    data = bytearray(deposits.file.read_bytes())
    data[1000] ^= 1
    changed.write_bytes(bytes(data))
    done = run(
        "evidence",
        "verify",
        str(changed),
        str(receipt),
        "--genesis",
        str(genesis),
        "--json",
        offline=True,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["valid"] is False and result["code"] == "digest_mismatch"
    assert "is not the deposited digest" in result["reason"]


# -- tampering ---------------------------------------------------------------------------------


def flip_hex(text: str) -> str:
    return ("0" if text[0] != "0" else "1") + text[1:]


def flip_b64(text: str) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[len(raw) // 2] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def cut_b64(text: str) -> str:
    raw = base64.b64decode(text)
    return base64.b64encode(raw[: len(raw) // 2]).decode()


def set_path(receipt: dict[str, Any], path: str, change: Callable[[Any], Any]) -> None:
    *parents, last = path.split(".")
    node: Any = receipt
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    node[key] = change(node[key])


TAMPERING: list[tuple[str, Callable[[Any], Any], type[JinglianError], str]] = [
    ("deposit.digest", flip_hex, InvalidReceipt, "deposit.digest is not what the deposit"),
    ("deposit.alg", lambda _: "sm3", InvalidReceipt, "deposit.alg is not what"),
    ("deposit.title", lambda _: "another title", InvalidReceipt, "deposit.title is not"),
    ("deposit.ref", lambda _: "B-99", InvalidReceipt, "deposit.ref is not"),
    ("deposit.index", lambda _: 5, InvalidReceipt, "has no item 5"),
    ("deposit.id", flip_hex, InvalidReceipt, "deposit.id is not"),
    ("tx.height", lambda h: h + 1, InvalidBlock, "record height differs"),
    ("tx.header.height", lambda h: h + 1, InvalidBlock, "does not match the commit's block hash"),
    ("tx.header.time_ms", lambda t: t - 86_400_000, InvalidBlock, "header hash does not match"),
    ("tx.header.state_root", flip_hex, InvalidBlock, "header hash does not match"),
    ("tx.header.tx_root", flip_hex, InvalidBlock, "header hash does not match"),
    ("tx.header.validators_hash", flip_hex, InvalidBlock, "header hash does not match"),
    ("tx.id", flip_hex, InvalidBlock, "do not hash to the record's id"),
    ("tx.index", lambda i: i + 1, InvalidBlock, "proof index differs"),
    ("tx.proof.tx_index", lambda i: i + 1, InvalidBlock, "proof index differs"),
    ("tx.proof.tx_leaf", flip_b64, InvalidBlock, "does not lead to the header's tx_root"),
    ("tx.proof.receipt_leaf", flip_b64, InvalidBlock, "does not lead to the header's receipt_root"),
    ("tx.commit.block_hash", flip_hex, InvalidBlock, "does not match the commit's block hash"),
    ("tx.commit.round", lambda r: r + 1, InvalidBlock, "does not verify"),
    ("tx.commit.height", lambda h: h + 1, InvalidBlock, "commit is for height"),
    ("chain.chain_id", lambda _: "another-chain", WrongChain, "is for chain 'another-chain'"),
    ("chain.genesis_hash", flip_hex, WrongChain, "a different or edited genesis file"),
    ("chain.crypto", lambda _: "gm", WrongChain, "crypto suite"),
    ("depositor.cert", flip_b64, UnknownIdentity, "the depositor: the certificate cannot be read"),
    ("version", lambda _: 2, InvalidReceipt, "receipt version 2 is newer"),
    ("version", lambda _: "1", DecodeError, "not a positive integer"),
    ("format", lambda _: "something", InvalidReceipt, "not an evidence receipt"),
    (
        "tx.proof.tx_leaf",
        cut_b64,
        InvalidBlock,
        "does not lead to the header's tx_root",
    ),
    ("tx.proof.tx_leaf", lambda t: t[:-3], DecodeError, "proof.tx_leaf is not valid base64"),
    ("tx.commit", lambda _: None, InvalidBlock, "without a commit certificate"),
    ("validator_changes", lambda _: "none", DecodeError, "must be a list"),
]


@pytest.mark.parametrize(
    ("path", "change", "error", "reason"),
    TAMPERING,
    ids=[f"{t[0]}-{n}" for n, t in enumerate(TAMPERING)],
)
def test_each_changed_field_is_refused_with_its_reason(
    deposits: Deposits,
    path: str,
    change: Callable[[Any], Any],
    error: type[JinglianError],
    reason: str,
) -> None:
    receipt = copy.deepcopy(deposits.receipt)
    set_path(receipt, path, change)
    with pytest.raises(error, match=reason) as caught:
        verify_receipt(receipt, deposits.genesis, hash_file(deposits.file))
    assert caught.value.message


PATH_TAMPERING: list[tuple[str, Callable[[Any], Any], str]] = [
    ("tx.proof.tx_path", lambda p: p[:-1], "does not lead to the header's tx_root"),
    ("tx.proof.tx_path", lambda p: [*p, "00" * 32], "does not lead to the header's tx_root"),
    (
        "tx.proof.tx_path",
        lambda p: [flip_hex(p[0]), *p[1:]],
        "does not lead to the header's tx_root",
    ),
    ("tx.proof.tx_path", lambda p: p[::-1] if len(p) > 1 else [p[0], p[0]], "does not lead"),
    ("tx.proof.receipt_path", lambda p: p[:-1], "does not lead to the header's receipt_root"),
    ("tx.proof.receipt_path", lambda p: [*p, p[0]], "does not lead to the header's receipt_root"),
    ("tx.proof.tx_count", lambda c: c + 1, "tx_count differs from the header's"),
]


@pytest.mark.parametrize(
    ("path", "change", "reason"),
    PATH_TAMPERING,
    ids=[f"{t[0]}-{n}" for n, t in enumerate(PATH_TAMPERING)],
)
def test_truncated_padded_or_changed_merkle_paths_are_refused(
    deposits: Deposits, path: str, change: Callable[[Any], Any], reason: str
) -> None:
    verify_receipt(deposits.crowded, deposits.genesis)
    receipt = copy.deepcopy(deposits.crowded)
    set_path(receipt, path, change)
    with pytest.raises(InvalidBlock, match=reason):
        verify_receipt(receipt, deposits.genesis)


def test_each_commit_signature_changed_in_turn_is_refused(deposits: Deposits) -> None:
    count = len(deposits.receipt["tx"]["commit"]["signatures"])
    assert count >= 3
    for number in range(count):
        receipt = copy.deepcopy(deposits.receipt)
        set_path(receipt, f"tx.commit.signatures.{number}.signature", flip_b64)
        with pytest.raises(InvalidBlock, match=r"commit signature of validator .* does not verify"):
            verify_receipt(receipt, deposits.genesis)


def test_a_commit_below_two_thirds_is_refused(deposits: Deposits) -> None:
    receipt = copy.deepcopy(deposits.receipt)
    receipt["tx"]["commit"]["signatures"] = receipt["tx"]["commit"]["signatures"][:2]
    with pytest.raises(InvalidBlock, match="signed by 2 of 4 voting power; more than 2/3"):
        verify_receipt(receipt, deposits.genesis)


def test_a_duplicated_commit_signature_is_refused(deposits: Deposits) -> None:
    receipt = copy.deepcopy(deposits.receipt)
    signatures = receipt["tx"]["commit"]["signatures"]
    receipt["tx"]["commit"]["signatures"] = [signatures[0], signatures[0], signatures[1]]
    with pytest.raises(InvalidBlock, match=r"two signatures|sorted|duplicate"):
        verify_receipt(receipt, deposits.genesis)


def test_a_forged_validator_change_is_refused(deposits: Deposits) -> None:
    receipt = copy.deepcopy(deposits.receipt)
    forged = {
        "header": copy.deepcopy(receipt["tx"]["header"]),
        "commit": copy.deepcopy(receipt["tx"]["commit"]),
        "value": base64.b64encode(b"\xa0").decode(),
        "proof": None,
    }
    forged["header"]["height"] = 1
    receipt["validator_changes"] = [forged]
    with pytest.raises(InvalidBlock, match="validator change 0: "):
        verify_receipt(receipt, deposits.genesis)


def test_an_edited_genesis_is_refused(deposits: Deposits) -> None:
    document = json.loads((deposits.net / "genesis.json").read_text())
    document["validators"] = document["validators"][:3]
    from jinglian.types.config import parse_chain_config

    edited = parse_chain_config(document)
    with pytest.raises(WrongChain, match="a different or edited genesis file"):
        verify_receipt(deposits.receipt, edited)


def test_a_receipt_of_another_chain_is_refused(deposits: Deposits, tmp_path: Path) -> None:
    other = load_genesis(make_solo_network(tmp_path) / "genesis.json")
    with pytest.raises(WrongChain, match="a different or edited genesis file"):
        verify_receipt(deposits.receipt, other)


def test_a_receipt_for_another_file_names_both_digests(deposits: Deposits) -> None:
    with pytest.raises(DigestMismatch, match="is not the deposited digest"):
        verify_file(deposits.signed_file, deposits.receipt, deposits.genesis)


def test_a_checkpoint_header_not_linked_is_refused(deposits: Deposits) -> None:
    receipt = copy.deepcopy(deposits.checkpointed)
    set_path(receipt, "checkpoint.headers.0.prev_hash", flip_hex)
    with pytest.raises(InvalidBlock, match="does not link to block"):
        verify_receipt(receipt, deposits.genesis)


@pytest.mark.parametrize("text", ["", "[]", "{", "null", '"x"', "{}"])
def test_malformed_receipt_files_give_a_reason(
    deposits: Deposits, tmp_path: Path, text: str
) -> None:
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(JinglianError) as caught:
        verify_file(deposits.file, load_receipt(path), deposits.genesis)
    assert caught.value.message


def test_a_swapped_depositor_certificate_is_refused(deposits: Deposits) -> None:
    receipt = copy.deepcopy(deposits.receipt)
    receipt["depositor"] = copy.deepcopy(deposits.signed_receipt["deposit"]["signature"])
    del receipt["depositor"]["sig"]
    with pytest.raises(InvalidReceipt, match="not the deposit transaction's sender"):
        verify_receipt(receipt, deposits.genesis)


def test_a_foreign_certificate_is_refused(deposits: Deposits, tmp_path: Path) -> None:
    other_net = make_solo_network(tmp_path)
    receipt = copy.deepcopy(deposits.receipt)
    der = (other_net / "orgs" / "org1" / "users" / "admin" / "cert.pem").read_text()
    from jinglian.crypto import load_certificate

    receipt["depositor"]["cert"] = base64.b64encode(load_certificate(der.encode()).der).decode()
    with pytest.raises(UnknownIdentity, match="the depositor: "):
        verify_receipt(receipt, deposits.genesis)


def test_the_new_user_path_works_on_a_gm_devnet(tmp_path: Path) -> None:
    """make run's network with --crypto gm: put, stop the network, verify offline, then a changed byte."""
    require_unshare()
    record = tmp_path / "contract.pdf"
    record.write_bytes(b"%PDF gm contract" * 1000)
    with detached_devnet(tmp_path / "gmnet", crypto="gm") as net:
        put = run("evidence", "put", str(record), "-o", str(tmp_path / "contract.receipt"), cwd=net)
        assert put.returncode == 0, put.stderr
        assert "sm3" in put.stdout
    # The network is down now: `devnet down` ran when the block above ended.
    genesis = str(net / "genesis.json")
    done = run(
        "evidence",
        "verify",
        str(record),
        str(tmp_path / "contract.receipt"),
        "--genesis",
        genesis,
        offline=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "digest      sm3 " in done.stdout
    record.write_bytes(b"%PDF gm contract" * 999 + b"%PDF gm contracT")
    done = run(
        "evidence",
        "verify",
        str(record),
        str(tmp_path / "contract.receipt"),
        "--genesis",
        genesis,
        offline=True,
    )
    assert done.returncode == 1 and "NOT VALID" in done.stdout and "digest_mismatch" in done.stdout


def test_show_lists_deposits_by_file_and_by_depositor(deposits: Deposits) -> None:
    by_file = run("evidence", "show", str(deposits.file), "--json", cwd=deposits.net)
    assert by_file.returncode == 0, by_file.stderr
    [record] = json.loads(by_file.stdout)["deposits"]
    assert record["id"] == deposits.receipt["deposit"]["id"] and record["ref"] == "A-17"
    depositor = verify_receipt(deposits.receipt, deposits.genesis).depositor.id
    by_depositor = run("evidence", "show", "--depositor", depositor, "--json", cwd=deposits.net)
    assert by_depositor.returncode == 0, by_depositor.stderr
    ids = [d["id"] for d in json.loads(by_depositor.stdout)["deposits"]]
    assert deposits.receipt["deposit"]["id"] in ids
    neither = run("evidence", "show", cwd=deposits.net)
    assert neither.returncode == 2 and "give either DIGEST_OR_FILE or --depositor" in neither.stderr
