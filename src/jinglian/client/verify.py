"""Offline verification of the API's records against nothing but the genesis file.

A record is trusted once three links hold:

1. **Commit**: the commit carries valid precommit signatures, over
   ``vote_sign_bytes(chain_id, height, round, block_hash)``, from genesis
   validators holding more than 2/3 of the voting power (the one validator
   for ``solo``); every signature must verify and name a distinct validator.
2. **Header**: the chain hash of the header's canonical encoding is the
   commit's block hash, the header is for the genesis chain id and its
   ``validators_hash`` is the hash of the genesis validator set.
3. **Content**: a transaction's wire bytes and its receipt are leaves of the
   header's ``tx_root`` / ``receipt_root`` at the claimed index (RFC 6962 audit
   paths); a state value (or its absence) is proven against ``state_root``.

Finally the human-readable fields of the record (body, receipt, decoded
value) must equal what the proven bytes say, so a display cannot lie.

The ``verify_*_record`` functions return what they proved and raise on the
first failure: ``DecodeError`` for a malformed record, ``WrongChain`` for
another chain's record, ``InvalidBlock`` with the exact reason otherwise.
Validator sets are taken from genesis: a chain whose validators changed
through governance needs the newer configuration passed as ``genesis``.
``docs/spec/verification.md`` is the procedure this module implements.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinglian.client.records import (
    field,
    parse_b64,
    parse_commit,
    parse_header,
    parse_hex,
    parse_receipt,
    parse_tx_body,
)
from jinglian.crypto import (
    Certificate,
    get_suite,
    load_certificate,
    validate_certificate,
    verify_merkle_proof,
)
from jinglian.crypto.state_proof import decode_state_proof, verify_state_proof
from jinglian.types import (
    ChainConfig,
    Commit,
    Header,
    Receipt,
    Tx,
    codec,
    decode_receipt,
    decode_tx,
    encode_header,
)
from jinglian.types.config import compute_genesis_hash
from jinglian.types.errors import (
    CryptoError,
    DecodeError,
    InvalidBlock,
    InvalidInput,
    UnknownIdentity,
    WrongChain,
)
from jinglian.types.jsonval import from_json
from jinglian.types.validators import ValidatorSet, validate_commit_by_set, validator_set_of

__all__ = [
    "VerifiedBlock",
    "VerifiedQuery",
    "VerifiedState",
    "VerifiedTx",
    "check_state_read",
    "genesis_hash_of",
    "verify_block_evidence",
    "verify_member_certificate",
    "verify_query_record",
    "verify_state_record",
    "verify_tx_inclusion",
    "verify_tx_record",
]

STATE_VALUE_BYTES_MAX = 16 * 1024 * 1024
"""Largest state value the verifier decodes."""


@dataclass(frozen=True, slots=True)
class VerifiedBlock:
    """A header proven final by its commit certificate."""

    header: Header
    """The verified header."""
    block_hash: bytes
    """Its hash, equal to the commit's block hash."""
    commit: Commit
    """The commit certificate."""
    signers: tuple[str, ...]
    """Names of the validators whose signatures verified."""
    power: int
    """Voting power of ``signers``."""
    total_power: int
    """Voting power of the whole validator set."""


@dataclass(frozen=True, slots=True)
class VerifiedTx:
    """A transaction and its receipt proven committed in a final block."""

    tx: Tx
    """The transaction decoded from its proven wire bytes."""
    receipt: Receipt
    """The receipt decoded from its proven leaf."""
    index: int
    """Position in the block."""
    block: VerifiedBlock
    """The block holding it."""


@dataclass(frozen=True, slots=True)
class VerifiedState:
    """A raw state key's value (or absence) proven at a final block."""

    key: bytes
    """Raw state key."""
    value: bytes | None
    """Stored bytes, None if proven absent."""
    block: VerifiedBlock
    """The block whose state root the proof verifies against."""


@dataclass(frozen=True, slots=True)
class VerifiedQuery:
    """Every state read of a query proven at a final block."""

    reads: tuple[tuple[bytes, bytes | None], ...]
    """``(raw key, value or None)`` of each read."""
    block: VerifiedBlock
    """The block whose state root the proofs verify against."""


def _hash_fn(genesis: ChainConfig) -> Any:
    return get_suite(genesis.crypto).hash


def verify_block_evidence(
    header_json: object,
    commit_json: object,
    genesis: ChainConfig,
    validators: ValidatorSet | None = None,
) -> VerifiedBlock:
    """Prove a rendered header final with its rendered commit (links 1 and 2 above).

    ``validators`` is the set in force at the header's height when it is not
    the genesis set (see ``jinglian.client.history``).
    """
    header = parse_header(header_json)
    if commit_json is None:
        raise InvalidBlock(f"block {header.height} comes without a commit certificate")
    commit = parse_commit(commit_json)
    if header.chain_id != genesis.chain_id:
        raise WrongChain(
            f"header is for chain {header.chain_id!r}, genesis is for {genesis.chain_id!r}"
        )
    block_hash = _hash_fn(genesis)(encode_header(header))
    if commit.block_hash != block_hash:
        raise InvalidBlock("header hash does not match the commit's block hash")
    if commit.height != header.height:
        raise InvalidBlock(f"commit is for height {commit.height}, header for {header.height}")
    vset = validator_set_of(genesis) if validators is None else validators
    if header.validators_hash != vset.hash:
        which = "genesis validator set" if validators is None else "validator set in force"
        raise InvalidBlock(
            f"block {header.height} names validator set {header.validators_hash.hex()[:16]}, "
            f"not the {which} ({vset.hash.hex()[:16]}): a validator-set change is missing"
        )
    signers, power = validate_commit_by_set(vset, genesis.chain_id, commit)
    return VerifiedBlock(header, block_hash, commit, signers, power, vset.total_power)


def verify_tx_record(record: Mapping[str, Any], genesis: ChainConfig) -> VerifiedTx:
    """Prove a ``GET /txs/{id}`` record: commit, header, both Merkle paths, displayed fields."""
    verified = verify_tx_inclusion(record, genesis)
    _check_displayed_tx(record, verified.tx, verified.receipt)
    return verified


def verify_tx_inclusion(
    record: Mapping[str, Any], genesis: ChainConfig, validators: ValidatorSet | None = None
) -> VerifiedTx:
    """Prove a transaction and its receipt in a final block from ``id``, ``height``,
    ``index``, ``header``, ``commit`` and ``proof`` of a record (no displayed fields)."""
    block = verify_block_evidence(record.get("header"), record.get("commit"), genesis, validators)
    _check_position(record, block)
    proof = field(record, "proof", dict, "record")
    index = field(proof, "tx_index", int, "proof")
    if index != field(record, "index", int, "record"):
        raise InvalidBlock("proof index differs from the record's index")
    if field(proof, "tx_count", int, "proof") != block.header.tx_count:
        raise InvalidBlock("proof tx_count differs from the header's tx_count")
    tx = _check_tx_leaf(record, proof, index, block.header, genesis)
    receipt = _check_receipt_leaf(proof, index, tx, block.header, genesis)
    return VerifiedTx(tx=tx, receipt=receipt, index=index, block=block)


def _check_position(record: Mapping[str, Any], block: VerifiedBlock) -> None:
    if field(record, "height", int, "record") != block.header.height:
        raise InvalidBlock("record height differs from the header's height")
    if "block_hash" in record and parse_hex(record["block_hash"], "block_hash") != block.block_hash:
        raise InvalidBlock("record block_hash differs from the header's hash")


def _check_tx_leaf(
    record: Mapping[str, Any], proof: object, index: int, header: Header, genesis: ChainConfig
) -> Tx:
    hash_fn = _hash_fn(genesis)
    leaf = parse_b64(field(proof, "tx_leaf", str, "proof"), "proof.tx_leaf")
    path = [parse_hex(h, "proof.tx_path") for h in field(proof, "tx_path", list, "proof")]
    if not verify_merkle_proof(hash_fn, leaf, index, header.tx_count, path, header.tx_root):
        raise InvalidBlock("transaction Merkle path does not lead to the header's tx_root")
    tx = decode_tx(leaf, hash_fn)
    if tx.id != parse_hex(field(record, "id", str, "record"), "id"):
        raise InvalidBlock("transaction bytes do not hash to the record's id")
    if tx.body.chain_id != genesis.chain_id:
        raise WrongChain(f"transaction is for chain {tx.body.chain_id!r}")
    return tx


def _check_receipt_leaf(
    proof: object, index: int, tx: Tx, header: Header, genesis: ChainConfig
) -> Receipt:
    hash_fn = _hash_fn(genesis)
    leaf = parse_b64(field(proof, "receipt_leaf", str, "proof"), "proof.receipt_leaf")
    path = [parse_hex(h, "proof.receipt_path") for h in field(proof, "receipt_path", list, "proof")]
    if not verify_merkle_proof(hash_fn, leaf, index, header.tx_count, path, header.receipt_root):
        raise InvalidBlock("receipt Merkle path does not lead to the header's receipt_root")
    receipt = decode_receipt(leaf)
    if receipt.tx_id != tx.id:
        raise InvalidBlock("receipt is for another transaction")
    return receipt


def _check_displayed_tx(record: Mapping[str, Any], tx: Tx, receipt: Receipt) -> None:
    if parse_tx_body(record.get("body")) != tx.body:
        raise InvalidBlock("displayed transaction body differs from the proven transaction")
    if parse_receipt(record.get("receipt")) != receipt:
        raise InvalidBlock("displayed receipt differs from the proven receipt")
    shown = field(record, "endorsements", list, "record")
    proven = [(e.signer, e.signature) for e in tx.endorsements]
    if [_parse_endorsement(e) for e in shown] != proven:
        raise InvalidBlock("displayed endorsements differ from the proven transaction")


def _parse_endorsement(obj: object) -> tuple[bytes, bytes]:
    kind = field(obj, "signer_type", str, "endorsement")
    signer = field(obj, "signer", str, "endorsement")
    raw = parse_hex(signer, "signer") if kind == "cert_id" else parse_b64(signer, "signer")
    return raw, parse_b64(field(obj, "signature", str, "endorsement"), "signature")


def verify_state_record(record: Mapping[str, Any], genesis: ChainConfig) -> VerifiedState:
    """Prove a ``GET /state/{contract}/{key}`` record against the header's state root."""
    block = verify_block_evidence(record.get("header"), record.get("commit"), genesis)
    if field(record, "height", int, "state") != block.header.height:
        raise InvalidBlock("state height differs from the header's height")
    contract = field(record, "contract", str, "state")
    key = field(record, "key", str, "state")
    raw_key = contract.encode() + b"\x00" + key.encode()
    if parse_b64(field(record, "raw_key", str, "state"), "raw_key") != raw_key:
        raise InvalidBlock("raw_key is not the state key of this contract and key")
    value = check_state_read(raw_key, record, block.header, genesis)
    _check_decoded(record, value)
    return VerifiedState(key=raw_key, value=value, block=block)


def check_state_read(
    key: bytes, read: Mapping[str, Any], header: Header, genesis: ChainConfig
) -> bytes | None:
    """The proven value of ``key`` (None if proven absent)."""
    raw_value = read.get("value")
    value = None if raw_value is None else parse_b64(raw_value, "value")
    if read.get("proof") is None:
        raise InvalidBlock("the record carries no state proof; ask with prove=true")
    try:
        proof = decode_state_proof(from_json(read["proof"]))
    except InvalidInput as exc:
        raise DecodeError(f"state proof is malformed: {exc}") from exc
    if not verify_state_proof(_hash_fn(genesis), header.state_root, key, value, proof):
        state = "absence" if value is None else "value"
        raise InvalidBlock(f"state proof of the {state} of {key!r} does not match the state root")
    return value


def _check_decoded(record: Mapping[str, Any], value: bytes | None) -> None:
    proven = None if value is None else codec.decode(value, STATE_VALUE_BYTES_MAX)
    try:
        shown = from_json(record.get("decoded"))
    except InvalidInput as exc:
        raise DecodeError(f"decoded value is malformed: {exc}") from exc
    if shown != proven:
        raise InvalidBlock("displayed value differs from the proven stored bytes")


def verify_query_record(record: Mapping[str, Any], genesis: ChainConfig) -> VerifiedQuery:
    """Prove every state read of a ``POST /query`` response made with ``prove=true``."""
    if record.get("header") is None:
        raise InvalidBlock("the query result carries no proof; ask with prove=true")
    block = verify_block_evidence(record.get("header"), record.get("commit"), genesis)
    if field(record, "height", int, "query") != block.header.height:
        raise InvalidBlock("query height differs from the header's height")
    reads = []
    for read in field(record, "reads", list, "query"):
        key = parse_b64(field(read, "key", str, "read"), "read.key")
        reads.append((key, check_state_read(key, read, block.header, genesis)))
    return VerifiedQuery(reads=tuple(reads), block=block)


def genesis_hash_of(genesis: ChainConfig) -> bytes:
    """The genesis hash a chain's records name: the suite hash of the genesis document."""
    return compute_genesis_hash(_hash_fn(genesis), genesis)


def verify_member_certificate(der: bytes, config: ChainConfig, at_ms: int) -> Certificate:
    """The certificate ``der`` if a member CA of ``config`` issued it and it was valid at ``at_ms``.

    Raises ``UnknownIdentity`` with the reason otherwise.
    """
    try:
        cert = load_certificate(der)
    except CryptoError as exc:
        raise UnknownIdentity(f"the certificate cannot be read: {exc.message}") from exc
    if cert.suite_name != config.crypto:
        raise UnknownIdentity(
            f"certificate of {cert.common_name!r} uses the {cert.suite_name} suite, "
            f"the chain uses {config.crypto}"
        )
    org = config.org(cert.org_id)
    if org is None:
        raise UnknownIdentity(f"organisation {cert.org_id!r} is not a member of this chain")
    try:
        validate_certificate(cert, load_certificate(org.ca_cert.encode()), at_ms)
    except CryptoError as exc:
        raise UnknownIdentity(
            f"certificate of {cert.common_name!r} is not a valid certificate of "
            f"{cert.org_id!r} at that time: {exc.message}"
        ) from exc
    return cert
