"""SDK functions over ``jinglian.client.Client`` for the evidence contract.

``hash_file`` fingerprints a file locally (the file never leaves the
machine); ``deposit`` stores digests and waits for the commit; ``lookup``
lists a digest's deposits. ``jinglian.apps`` may import only the contract SDK,
the client and the types, so SM3 comes from ``hashlib.new("sm3")``, which
works when the local OpenSSL provides it (``jinglian.crypto`` does the same).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jinglian.client import Client
from jinglian.types.errors import DecodeError, InvalidInput

__all__ = [
    "CHUNK_BYTES",
    "CONTRACT_NAME",
    "CONTRACT_SOURCE_PATH",
    "LOOKUP_LIMIT_DEFAULT",
    "deploy_evidence_contract",
    "deposit",
    "hash_file",
    "lookup",
]

CONTRACT_NAME = "evidence"
"""The name the evidence contract is deployed under."""

CONTRACT_SOURCE_PATH = Path(__file__).with_name("contract.py")
"""The contract's source file."""

CHUNK_BYTES = 1024 * 1024
"""How much of a file ``hash_file`` reads at a time."""

LOOKUP_LIMIT_DEFAULT = 100
"""How many deposits ``lookup`` asks for unless told otherwise."""

HASH_ALGS = ("sha256", "sm3")


def deploy_evidence_contract(client: Client, name: str = CONTRACT_NAME) -> None:
    """Deploy the evidence contract as ``name`` (the client's identity must be an admin)."""
    source = CONTRACT_SOURCE_PATH.read_text()
    client.invoke("contracts", "deploy", {"name": name, "source": source})


def hash_file(path: Path | str, alg: str = "sha256") -> bytes:
    """The ``alg`` digest of the file at ``path``, read in CHUNK_BYTES pieces."""
    if alg not in HASH_ALGS:
        raise InvalidInput(f"unknown hash algorithm {alg!r}: use one of {', '.join(HASH_ALGS)}")
    hasher = hashlib.new(alg)
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            hasher.update(chunk)
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
    response = client.query(name, "get", {"digest": digest, "limit": limit})
    value = response.value
    if not isinstance(value, list):
        raise DecodeError(f"{name}.get returned a {type(value).__name__}, not a list")
    return value
