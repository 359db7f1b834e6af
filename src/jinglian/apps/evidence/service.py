"""SDK functions over ``jinglian.client.Client`` for the evidence contract.

``hash_file`` fingerprints a file locally (the file never leaves the
machine); ``deposit`` stores digests and waits for the commit; ``put_files``
hashes, deposits in size-bounded batches and fetches each file's receipt;
``fetch_receipt`` downloads a receipt; ``verify_file`` checks a file and its
receipt against the genesis file alone; ``lookup`` lists a digest's deposits. ``jinglian.apps`` may import only the contract SDK,
the client and the types, so SM3 comes from ``hashlib.new("sm3")``, which
works when the local OpenSSL provides it (``jinglian.crypto`` does the same).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinglian.apps.evidence.receipt import (
    CONTRACT_NAME,
    RECEIPT_BYTES_MAX,
    VerifiedReceipt,
    digest_sign_bytes,
    verify_receipt,
)
from jinglian.client import Client, GovernedResult, Identity, invoke_governed
from jinglian.types import ChainConfig, codec
from jinglian.types.errors import DecodeError, InvalidInput, InvalidReceipt, TooLarge

__all__ = [
    "BATCH_BYTES_MAX",
    "BATCH_ITEMS_DEFAULT",
    "CHUNK_BYTES",
    "CONTRACT_NAME",
    "CONTRACT_SOURCE_PATH",
    "LOOKUP_LIMIT_DEFAULT",
    "Deposited",
    "by_depositor",
    "chain_alg",
    "deploy_evidence_contract",
    "deposit",
    "fetch_receipt",
    "hash_file",
    "load_receipt",
    "lookup",
    "make_item",
    "put_digests",
    "put_files",
    "split_batches",
    "verify_file",
]

CONTRACT_SOURCE_PATH = Path(__file__).with_name("contract.py")
"""The contract's source file."""

CHUNK_BYTES = 1024 * 1024
"""How much of a file ``hash_file`` reads at a time."""

LOOKUP_LIMIT_DEFAULT = 100
"""How many deposits ``lookup`` asks for unless told otherwise."""

HASH_ALGS = ("sha256", "sm3")

BATCH_ITEMS_DEFAULT = 100
"""Most items ``put_files`` puts in one transaction unless told otherwise."""

BATCH_BYTES_MAX = 48 * 1024
"""Most encoded item bytes per transaction, under the 64 KiB default ``tx_bytes_max``."""

META_FIELDS = ("title", "type", "ref", "env_hash", "extra")


@dataclass(frozen=True, slots=True)
class Deposited:
    """One deposited digest and its receipt."""

    name: str
    """The file's path as given, or the caller's label."""
    digest: bytes
    deposit_id: str
    receipt: dict[str, Any]


def deploy_evidence_contract(
    client: Client, name: str = CONTRACT_NAME, *, approvers: Sequence[Identity] = ()
) -> GovernedResult:
    """Deploy the evidence contract as ``name`` (a governed action: policy ``contract.deploy``).

    The client's identity (an admin) signs; ``approvers`` (say a devnet's
    local admins, ``jinglian.client.local_approvers(network)``) endorse as the
    policy needs. Too few organisations raise ``PolicyNotSatisfied``.
    """
    source = CONTRACT_SOURCE_PATH.read_text()
    return invoke_governed(
        client, "contracts", "deploy", {"name": name, "source": source}, approvers=approvers
    )


def hash_file(
    path: Path | str, alg: str = "sha256", *, on_bytes: Callable[[int], None] | None = None
) -> bytes:
    """The ``alg`` digest of the file at ``path``, read in CHUNK_BYTES pieces."""
    if alg not in HASH_ALGS:
        raise InvalidInput(f"unknown hash algorithm {alg!r}: use one of {', '.join(HASH_ALGS)}")
    hasher = hashlib.new(alg)
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            hasher.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return hasher.digest()


def deposit(
    client: Client, items: Sequence[Mapping[str, Any]], *, name: str = CONTRACT_NAME
) -> list[str]:
    """Deposit ``items`` in one transaction, wait for its commit, return the deposit ids.

    A refused item raises the contract's error (``ContractFailed``) naming the
    item index and field; nothing of the batch is stored then.
    """
    result = client.invoke(name, "deposit", {"items": [dict(item) for item in items]})
    value = result.result
    if not isinstance(value, dict) or not isinstance(value.get("count"), int):
        raise DecodeError(f"{name}.deposit returned {value!r}, not {{tx_id, count}}")
    return [f"{value['tx_id']}:{index}" for index in range(value["count"])]


def lookup(
    client: Client,
    digest: bytes | str,
    *,
    limit: int = LOOKUP_LIMIT_DEFAULT,
    name: str = CONTRACT_NAME,
) -> list[dict[str, Any]]:
    """Up to ``limit`` deposits of ``digest`` (bytes or hex), earliest first."""
    return _query_records(client, name, "get", {"digest": digest, "limit": limit})


def _query_records(
    client: Client, name: str, method: str, args: dict[str, Any]
) -> list[dict[str, Any]]:
    value = client.query(name, method, args).value
    if not isinstance(value, list):
        raise DecodeError(f"{name}.{method} returned a {type(value).__name__}, not a list")
    return value


def by_depositor(
    client: Client,
    depositor: bytes | str,
    *,
    limit: int = LOOKUP_LIMIT_DEFAULT,
    name: str = CONTRACT_NAME,
) -> list[dict[str, Any]]:
    """Up to ``limit`` newest deposits of a depositor (certificate id, bytes or hex), newest last."""
    cert_id = depositor.hex() if isinstance(depositor, bytes) else depositor
    return _query_records(client, name, "by_depositor", {"depositor": cert_id, "limit": limit})


def chain_alg(client: Client) -> str:
    """The digest algorithm of the client's chain: ``sm3`` on ``gm``, else ``sha256``."""
    return "sm3" if client.chain_info().get("crypto") == "gm" else "sha256"


def make_item(
    digest: bytes,
    alg: str,
    meta: Mapping[str, Any],
    *,
    chain_id: str,
    signer: Identity | None = None,
) -> dict[str, Any]:
    """A deposit item for ``digest`` with ``meta`` (``title``, ``type``, ``ref``,
    ``env_hash`` as hex, ``extra``); ``signer`` adds its signature over the digest."""
    unknown = sorted(set(meta) - set(META_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown metadata field {unknown[0]!r}: use {', '.join(META_FIELDS)}")
    item: dict[str, Any] = {
        "digest": digest,
        "alg": alg,
        "title": meta.get("title", ""),
        "type": meta.get("type", "file"),
        "ref": meta.get("ref", ""),
    }
    if meta.get("env_hash") is not None:
        item["env_hash"] = _hex_digest(meta["env_hash"], "env_hash")
    if meta.get("extra") is not None:
        item["extra"] = meta["extra"]
    if signer is not None:
        item["sig"] = signer.key.sign(digest_sign_bytes(chain_id, alg, digest))
        item["signer"] = signer.cert.der
    return item


def _hex_digest(text: object, what: str) -> bytes:
    if not isinstance(text, str) or len(text) != 64:
        raise InvalidInput(f"{what} must be 64 hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be 64 hex characters") from exc


def split_batches(
    items: Sequence[Mapping[str, Any]],
    max_items: int = BATCH_ITEMS_DEFAULT,
    max_bytes: int = BATCH_BYTES_MAX,
) -> Iterator[list[Mapping[str, Any]]]:
    """``items`` in order, in runs of at most ``max_items`` and ``max_bytes`` encoded."""
    batch: list[Mapping[str, Any]] = []
    size = 0
    for item in items:
        item_bytes = len(codec.encode(dict(item)))
        if item_bytes > max_bytes:
            raise TooLarge(f"a deposit item encodes to {item_bytes} bytes, over {max_bytes}")
        if batch and (len(batch) == max_items or size + item_bytes > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_bytes
    if batch:
        yield batch


def fetch_receipt(client: Client, deposit_id: str, *, checkpoint: bool = False) -> dict[str, Any]:
    """The receipt of ``deposit_id`` from the node (``GET /evidence/receipts/{id}``)."""
    params = {"checkpoint": "true" if checkpoint else "false"}
    receipt = client.call_api("GET", f"/evidence/receipts/{deposit_id}", params=params)
    if not isinstance(receipt, dict):
        raise DecodeError("the node's receipt is not a JSON object")
    return receipt


def put_digests(
    client: Client,
    named_items: Sequence[tuple[str, Mapping[str, Any]]],
    *,
    batch_items: int = BATCH_ITEMS_DEFAULT,
    name: str = CONTRACT_NAME,
    on_batch: Callable[[int], None] | None = None,
) -> list[Deposited]:
    """Deposit ``(label, item)`` pairs in batches; fetch and check each receipt.

    Each receipt is verified against the client's genesis (when it has one)
    before it is returned, so a node cannot hand out a receipt that fails
    offline. ``on_batch(n)`` is called after each committed batch of n items.
    """
    labels = [label for label, _ in named_items]
    items = [item for _, item in named_items]
    done: list[Deposited] = []
    for batch in split_batches(items, batch_items):
        ids = deposit(client, batch, name=name)
        for deposit_id, item in zip(ids, batch, strict=True):
            receipt = fetch_receipt(client, deposit_id)
            if client.genesis is not None:
                verify_receipt(receipt, client.genesis, item["digest"], contract=name)
            done.append(Deposited(labels[len(done)], item["digest"], deposit_id, receipt))
        if on_batch is not None:
            on_batch(len(batch))
    return done


def put_files(
    client: Client,
    paths: Sequence[Path | str],
    meta: Mapping[str, Any] | None = None,
    *,
    signer: Identity | None = None,
    batch_items: int = BATCH_ITEMS_DEFAULT,
    name: str = CONTRACT_NAME,
    on_bytes: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[Deposited]:
    """Hash each file locally, deposit the digests in batches, return each file's receipt.

    ``meta`` applies to every file; ``title`` defaults to the file name and
    ``type`` to its suffix. ``on_bytes(n)`` reports hashing progress.
    """
    alg = chain_alg(client)
    chain_id = client.chain_info()["chain_id"]
    named: list[tuple[str, Mapping[str, Any]]] = []
    for path in paths:
        digest = hash_file(path, alg, on_bytes=on_bytes)
        file_meta = {"title": Path(path).name, "type": Path(path).suffix.lstrip(".") or "file"}
        file_meta.update(meta or {})
        named.append(
            (str(path), make_item(digest, alg, file_meta, chain_id=chain_id, signer=signer))
        )
    return put_digests(client, named, batch_items=batch_items, name=name, on_batch=on_batch)


def load_receipt(path: Path | str) -> dict[str, Any]:
    """A receipt file's JSON object; ``DecodeError`` if it is not one."""
    with open(path, "rb") as file:
        data = file.read(RECEIPT_BYTES_MAX + 1)
    if len(data) > RECEIPT_BYTES_MAX:
        raise TooLarge(f"{path} is over {RECEIPT_BYTES_MAX} bytes: not a receipt")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DecodeError(f"{path} holds JSON but not an object")
    return value


def verify_file(
    path: Path | str,
    receipt: Mapping[str, Any],
    genesis: ChainConfig,
    *,
    name: str = CONTRACT_NAME,
) -> VerifiedReceipt:
    """Verify that ``receipt`` proves the deposit of the file at ``path`` (offline)."""
    deposit_view = receipt.get("deposit")
    alg = deposit_view.get("alg") if isinstance(deposit_view, Mapping) else None
    if alg not in HASH_ALGS:
        raise InvalidReceipt(f"the receipt's digest algorithm {alg!r} is not sha256 or sm3")
    return verify_receipt(receipt, genesis, hash_file(path, alg), contract=name)
