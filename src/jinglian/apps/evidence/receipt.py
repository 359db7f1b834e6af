"""Evidence receipts: built from a node's records, verified with nothing but the genesis file.

A receipt (``docs/spec/evidence-receipt.md``) is a JSON object holding the
deposit as displayed, the depositor's certificate, the deposit transaction
with its Merkle paths, the block header and commit, the validator-set changes
since genesis and optionally a later checkpoint. ``verify_receipt`` re-derives
every displayed field from proven bytes, so a receipt cannot say more than the
chain does. Each failed check raises a typed error whose message is the exact
reason: ``InvalidReceipt`` (and ``DigestMismatch`` for a different file),
``WrongChain``, ``InvalidBlock``, ``UnknownIdentity`` or ``DecodeError``.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jinglian.client.history import verify_descendant, verify_validator_changes
from jinglian.client.records import field, parse_b64, parse_hex
from jinglian.client.verify import (
    genesis_hash_of,
    verify_member_certificate,
    verify_tx_inclusion,
)
from jinglian.types import ChainConfig, Tx, codec
from jinglian.types.errors import (
    DecodeError,
    DigestMismatch,
    InvalidReceipt,
    JinglianError,
    UnknownIdentity,
    WrongChain,
)
from jinglian.types.jsonval import from_json, to_json

CONTRACT_NAME = "evidence"
"""The name the evidence contract is deployed under unless told otherwise."""

__all__ = [
    "CONTRACT_NAME",
    "DEPOSIT_METHOD",
    "RECEIPT_BYTES_MAX",
    "RECEIPT_FORMAT",
    "RECEIPT_VERSION",
    "SIGN_DOMAIN",
    "Member",
    "VerifiedReceipt",
    "build_receipt",
    "deposit_view",
    "digest_sign_bytes",
    "verify_receipt",
]

RECEIPT_FORMAT = "jinglian-evidence-receipt"
"""The ``format`` field of every receipt."""
RECEIPT_VERSION = 1
"""The receipt version this module writes and the newest it reads."""
RECEIPT_BYTES_MAX = 8 * 1024 * 1024
"""Largest receipt file a verifier reads."""
SIGN_DOMAIN = "jinglian-evidence-digest/1"
"""Domain string of the bytes a depositor signs over a digest."""
DEPOSIT_METHOD = "deposit"
"""The evidence contract's deposit method."""
DIGEST_BYTES = 32


@dataclass(frozen=True, slots=True)
class Member:
    """A member certificate, as a verifier reports it."""

    id: str
    """Certificate id, hex."""
    org: str
    """Organisation id."""
    role: str
    """Role (admin, client, ...)."""
    name: str
    """Common name."""

    def to_json(self) -> dict[str, str]:
        """The JSON form."""
        return {"id": self.id, "org": self.org, "role": self.role, "name": self.name}


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    """What a receipt proved."""

    deposit_id: str
    digest: bytes
    alg: str
    title: str
    type: str
    ref: str
    depositor: Member
    """Who signed the deposit transaction."""
    signer: Member | None
    """Who signed the digest itself, when the deposit carries such a signature."""
    chain_id: str
    height: int
    time_ms: int
    """Block time, Unix milliseconds."""
    tx_id: str
    validators: tuple[str, ...]
    """Names of the validators whose commit signatures verified."""
    power: int
    total_power: int
    validator_changes: int
    """How many validator-set changes the receipt proved from genesis."""
    checkpoint_height: int | None
    """Height of the later block the receipt shows final, if any."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form (the REST API and ``--json`` output)."""
        return {
            "deposit_id": self.deposit_id,
            "digest": self.digest.hex(),
            "alg": self.alg,
            "title": self.title,
            "type": self.type,
            "ref": self.ref,
            "depositor": self.depositor.to_json(),
            "signer": None if self.signer is None else self.signer.to_json(),
            "chain_id": self.chain_id,
            "height": self.height,
            "time_ms": self.time_ms,
            "time": iso_time(self.time_ms),
            "tx_id": self.tx_id,
            "validators": list(self.validators),
            "power": self.power,
            "total_power": self.total_power,
            "validator_changes": self.validator_changes,
            "checkpoint_height": self.checkpoint_height,
        }


def iso_time(time_ms: int) -> str:
    """``time_ms`` as ISO 8601 UTC text with milliseconds."""
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def digest_sign_bytes(chain_id: str, alg: str, digest: bytes) -> bytes:
    """The bytes a depositor signs to vouch for ``digest`` on chain ``chain_id``."""
    return codec.encode([SIGN_DOMAIN, chain_id, alg, digest])


def deposit_view(item: Mapping[str, Any], tx_id: str, index: int) -> dict[str, Any]:
    """The receipt's ``deposit`` object of a deposited item (binary fields as hex)."""
    signature = None
    if item.get("sig") is not None:
        signature = {"cert": _b64(item.get("signer")), "sig": _b64(item["sig"])}
    extra = item.get("extra")
    return {
        "id": f"{tx_id}:{index}",
        "index": index,
        "digest": _hex(item.get("digest")),
        "alg": item.get("alg"),
        "title": item.get("title"),
        "type": item.get("type"),
        "ref": item.get("ref"),
        "env_hash": _hex(item.get("env_hash")),
        "extra": None if extra is None else to_json(extra),
        "corrects": item.get("corrects"),
        "signature": signature,
    }


def _hex(value: object) -> str | None:
    return value.hex() if isinstance(value, bytes) else None


def _b64(value: object) -> str | None:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else None


def build_receipt(
    tx_record: Mapping[str, Any],
    index: int,
    *,
    genesis_hash: bytes,
    crypto: str,
    depositor_cert: bytes,
    validator_changes: Sequence[Mapping[str, Any]] = (),
    checkpoint: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A receipt for item ``index`` of the deposit in ``tx_record``.

    ``tx_record`` is a ``GET /txs/{id}`` record (with its proof) and
    ``depositor_cert`` the DER certificate of the transaction's sender.
    """
    body = field(tx_record, "body", dict, "record")
    items = field(field(body, "args", dict, "body"), "items", list, "args")
    if not 0 <= index < len(items):
        raise InvalidReceipt(f"the deposit has {len(items)} items, no item {index}")
    item = from_json(items[index])
    if not isinstance(item, dict):
        raise InvalidReceipt(f"item {index} of the transaction is not a deposit")
    deposit = deposit_view(item, field(tx_record, "id", str, "record"), index)
    tx = {name: tx_record[name] for name in ("id", "height", "index", "header", "commit", "proof")}
    return {
        "format": RECEIPT_FORMAT,
        "version": RECEIPT_VERSION,
        "chain": {
            "chain_id": field(body, "chain_id", str, "body"),
            "crypto": crypto,
            "genesis_hash": genesis_hash.hex(),
        },
        "contract": field(body, "contract", str, "body"),
        "deposit": deposit,
        "depositor": {"cert": _b64(depositor_cert)},
        "tx": tx,
        "validator_changes": [dict(entry) for entry in validator_changes],
        "checkpoint": None if checkpoint is None else dict(checkpoint),
    }


def verify_receipt(
    receipt: object,
    genesis: ChainConfig,
    digest: bytes | None = None,
    *,
    contract: str = CONTRACT_NAME,
) -> VerifiedReceipt:
    """Prove ``receipt`` from ``genesis`` alone; with ``digest``, also that it is the file's.

    ``contract`` is the name the chain's evidence contract is deployed under.

    The steps, in order (``docs/spec/evidence-receipt.md``): format and
    version; chain id and genesis hash; validator-set changes; the
    transaction, its successful receipt, header and commit; the deposit call
    and the displayed deposit; the depositor's certificate and signature; the
    digest signer; the checkpoint; the file's digest.
    """
    if not isinstance(receipt, Mapping):
        raise DecodeError("a receipt is a JSON object")
    _check_format(receipt)
    _check_chain(receipt, genesis)
    history = verify_validator_changes(receipt.get("validator_changes"), genesis)
    tx_json = field(receipt, "tx", dict, "receipt")
    height = field(tx_json, "height", int, "tx")
    verified = verify_tx_inclusion(tx_json, genesis, history.set_at(height))
    if verified.receipt.status != "ok":
        raise InvalidReceipt(f"the deposit transaction failed: {verified.receipt.error}")
    item, index = _deposited_item(receipt, verified.tx, contract)
    config = history.config_at(height)
    time_ms = verified.block.header.time_ms
    depositor = _check_depositor(receipt, verified.tx, config, time_ms)
    signer = _check_signer(receipt, item, config, time_ms)
    checkpoint_height = None
    if receipt.get("checkpoint") is not None:
        later = verify_descendant(verified.block, receipt["checkpoint"], genesis, history)
        checkpoint_height = later.header.height
    proven_digest = item["digest"]
    if digest is not None and digest != proven_digest:
        raise DigestMismatch(
            f"the file's {item['alg']} digest {digest.hex()} is not the deposited digest "
            f"{proven_digest.hex()}: the file is not the one deposited"
        )
    block = verified.block
    return VerifiedReceipt(
        deposit_id=f"{verified.tx.id.hex()}:{index}",
        digest=proven_digest,
        alg=item["alg"],
        title=item["title"],
        type=item["type"],
        ref=item["ref"],
        depositor=depositor,
        signer=signer,
        chain_id=genesis.chain_id,
        height=block.header.height,
        time_ms=time_ms,
        tx_id=verified.tx.id.hex(),
        validators=block.signers,
        power=block.power,
        total_power=block.total_power,
        validator_changes=len(history.changes),
        checkpoint_height=checkpoint_height,
    )


def _check_format(receipt: Mapping[str, Any]) -> None:
    if receipt.get("format") != RECEIPT_FORMAT:
        raise InvalidReceipt(f"not an evidence receipt: format is {receipt.get('format')!r}")
    version = receipt.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DecodeError(f"receipt version {version!r} is not a positive integer")
    if version > RECEIPT_VERSION:
        raise InvalidReceipt(
            f"receipt version {version} is newer than this verifier reads "
            f"({RECEIPT_VERSION}): upgrade jinglian"
        )


def _check_chain(receipt: Mapping[str, Any], genesis: ChainConfig) -> None:
    chain = field(receipt, "chain", dict, "receipt")
    chain_id = field(chain, "chain_id", str, "chain")
    if chain_id != genesis.chain_id:
        raise WrongChain(
            f"the receipt is for chain {chain_id!r}, the genesis file for {genesis.chain_id!r}"
        )
    claimed = parse_hex(field(chain, "genesis_hash", str, "chain"), "chain.genesis_hash")
    actual = genesis_hash_of(genesis)
    if claimed != actual:
        raise WrongChain(
            f"the receipt names genesis {claimed.hex()[:16]}..., the genesis file hashes to "
            f"{actual.hex()[:16]}...: a different or edited genesis file"
        )
    if field(chain, "crypto", str, "chain") != genesis.crypto:
        raise WrongChain(f"the receipt's crypto suite is not the genesis file's ({genesis.crypto})")


def _deposited_item(
    receipt: Mapping[str, Any], tx: Tx, contract: str
) -> tuple[dict[str, Any], int]:
    if tx.body.contract != contract or tx.body.method != DEPOSIT_METHOD:
        raise InvalidReceipt(
            f"the transaction calls {tx.body.contract}.{tx.body.method}, "
            f"not {contract}.{DEPOSIT_METHOD}"
        )
    shown = field(receipt, "deposit", dict, "receipt")
    index = field(shown, "index", int, "deposit")
    items = tx.body.args.get("items")
    if not isinstance(items, list) or not 0 <= index < len(items):
        raise InvalidReceipt(f"the deposit transaction has no item {index}")
    item = items[index]
    if not isinstance(item, dict) or not isinstance(item.get("digest"), bytes):
        raise InvalidReceipt(f"item {index} of the deposit transaction is not a deposit")
    expected = deposit_view(item, tx.id.hex(), index)
    for name, value in expected.items():
        if shown.get(name) != value:
            raise InvalidReceipt(
                f"the receipt's deposit.{name} is not what the deposit transaction holds"
            )
    if len(item["digest"]) != DIGEST_BYTES:
        raise InvalidReceipt(f"the deposited digest is {len(item['digest'])} bytes, not 32")
    return item, index


def _check_depositor(
    receipt: Mapping[str, Any], tx: Tx, config: ChainConfig, time_ms: int
) -> Member:
    depositor = field(receipt, "depositor", dict, "receipt")
    der = parse_b64(field(depositor, "cert", str, "depositor"), "depositor.cert")
    cert = _member_cert(der, config, time_ms, "depositor")
    if cert.cert_id != tx.body.sender:
        raise InvalidReceipt("the depositor certificate is not the deposit transaction's sender")
    if not cert.public_key.verify(tx.endorsements[0].signature, tx.payload):
        raise InvalidReceipt("the depositor's signature of the deposit transaction does not verify")
    return Member(cert.cert_id.hex(), cert.org_id, cert.role, cert.common_name)


def _check_signer(
    receipt: Mapping[str, Any], item: Mapping[str, Any], config: ChainConfig, time_ms: int
) -> Member | None:
    if item.get("sig") is None:
        return None
    cert = _member_cert(item["signer"], config, time_ms, "digest signer")
    message = digest_sign_bytes(config.chain_id, item["alg"], item["digest"])
    if not cert.public_key.verify(item["sig"], message):
        raise InvalidReceipt(
            f"the signature of {cert.common_name!r} over the digest does not verify"
        )
    return Member(cert.cert_id.hex(), cert.org_id, cert.role, cert.common_name)


def _member_cert(der: bytes, config: ChainConfig, time_ms: int, who: str) -> Any:
    try:
        return verify_member_certificate(der, config, time_ms)
    except UnknownIdentity as exc:
        raise UnknownIdentity(f"the {who}: {exc.message}") from exc
    except JinglianError as exc:
        raise InvalidReceipt(f"the {who} certificate: {exc.message}") from exc
