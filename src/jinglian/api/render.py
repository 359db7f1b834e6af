"""JSON forms of node records: what the REST API returns.

Conventions, the same in every response (``docs/api.md`` shows each shape):
hashes, ids and other fixed-size binary fields are lowercase hex; opaque byte
strings that a client re-hashes (transaction wire bytes, receipt leaves,
signatures, certificates) are standard base64; contract values (arguments,
results, event data, state values) use the codec's JSON form from
``jinglian.types.jsonval`` (``{"$bytes": "<base64>"}`` for byte strings).
"""

from __future__ import annotations

import base64
from typing import Any

from jinglian.node.services import (
    BlockRecord,
    ChainInfo,
    QueryResult,
    StateRecord,
    StreamItem,
    TxRecord,
)
from jinglian.types import Commit, Endorsement, Header, Receipt, TxBody, encode_receipt
from jinglian.types.jsonval import to_json

__all__ = [
    "b64",
    "render_block_record",
    "render_chain_info",
    "render_commit",
    "render_endorsement",
    "render_header",
    "render_query_result",
    "render_receipt",
    "render_state_read",
    "render_state_record",
    "render_stream_item",
    "render_tx_body",
    "render_tx_record",
]


def b64(data: bytes) -> str:
    """Standard base64 text of ``data``."""
    return base64.b64encode(data).decode()


def render_header(header: Header) -> dict[str, Any]:
    """Every header field; binary fields as hex."""
    return {
        "version": header.version,
        "chain_id": header.chain_id,
        "height": header.height,
        "time_ms": header.time_ms,
        "prev_hash": header.prev_hash.hex(),
        "tx_root": header.tx_root.hex(),
        "receipt_root": header.receipt_root.hex(),
        "state_root": header.state_root.hex(),
        "validators_hash": header.validators_hash.hex(),
        "proposer": header.proposer.hex(),
        "tx_count": header.tx_count,
    }


def render_commit(commit: Commit | None) -> dict[str, Any] | None:
    """The commit certificate: validator ids hex, signatures base64."""
    if commit is None:
        return None
    return {
        "height": commit.height,
        "round": commit.round,
        "block_hash": commit.block_hash.hex(),
        "signatures": [
            {"validator": s.validator.hex(), "signature": b64(s.signature)}
            for s in commit.signatures
        ],
    }


def render_tx_body(body: TxBody) -> dict[str, Any]:
    """The signed body of a transaction."""
    return {
        "version": body.version,
        "chain_id": body.chain_id,
        "sender": body.sender.hex(),
        "contract": body.contract,
        "method": body.method,
        "args": to_json(body.args),
        "nonce": body.nonce.hex(),
        "ts": body.timestamp_ms,
        "exp": body.expires_ms,
    }


def render_endorsement(endorsement: Endorsement) -> dict[str, Any]:
    """One signature: the signer is a hex certificate id or a base64 DER certificate."""
    if endorsement.is_cert_id:
        signer = {"signer_type": "cert_id", "signer": endorsement.signer.hex()}
    else:
        signer = {"signer_type": "cert", "signer": b64(endorsement.signer)}
    return {**signer, "signature": b64(endorsement.signature)}


def render_receipt(receipt: Receipt) -> dict[str, Any]:
    """The outcome of a transaction."""
    return {
        "tx_id": receipt.tx_id.hex(),
        "status": receipt.status,
        "result": to_json(receipt.result),
        "error": receipt.error,
        "gas_used": receipt.gas_used,
        "events": [
            {"contract": e.contract, "topic": e.topic, "data": to_json(e.data)}
            for e in receipt.events
        ],
    }


def render_tx_record(record: TxRecord) -> dict[str, Any]:
    """A committed transaction with everything needed to verify it offline."""
    return {
        "id": record.tx.id.hex(),
        "height": record.height,
        "index": record.index,
        "block_hash": record.commit.block_hash.hex(),
        "body": render_tx_body(record.tx.body),
        "endorsements": [render_endorsement(e) for e in record.tx.endorsements],
        "receipt": render_receipt(record.receipt),
        "proof": {
            "tx_leaf": b64(record.tx.encoded),
            "tx_index": record.index,
            "tx_count": record.header.tx_count,
            "tx_path": [h.hex() for h in record.tx_proof],
            "receipt_leaf": b64(encode_receipt(record.receipt)),
            "receipt_path": [h.hex() for h in record.receipt_proof],
        },
        "header": render_header(record.header),
        "commit": render_commit(record.commit),
    }


def render_block_txs(record: BlockRecord, start: int, limit: int) -> dict[str, Any]:
    """Transactions ``start`` .. ``start + limit - 1`` of a block with their receipts (no
    proofs: fetch ``/txs/{id}`` or the block's header and commit to verify one)."""
    block_hash = record.hash.hex()
    height = record.block.header.height
    chosen = range(start, min(start + limit, len(record.block.txs)))
    return {
        "height": height,
        "hash": block_hash,
        "tx_count": len(record.block.txs),
        "start": start,
        "txs": [
            {
                "id": record.block.txs[i].id.hex(),
                "height": height,
                "index": i,
                "block_hash": block_hash,
                "body": render_tx_body(record.block.txs[i].body),
                "endorsements": [render_endorsement(e) for e in record.block.txs[i].endorsements],
                "receipt": render_receipt(record.receipts[i]),
            }
            for i in chosen
        ],
    }


def render_block_record(record: BlockRecord) -> dict[str, Any]:
    """A block: header, hash, transaction ids, receipt summaries and commit."""
    return {
        "height": record.block.header.height,
        "hash": record.hash.hex(),
        "header": render_header(record.block.header),
        "tx_ids": [tx.id.hex() for tx in record.block.txs],
        "receipts": [
            {
                "tx_id": r.tx_id.hex(),
                "status": r.status,
                "error": r.error,
                "gas_used": r.gas_used,
                "events": len(r.events),
            }
            for r in record.receipts
        ],
        "commit": render_commit(record.commit),
    }


def render_chain_info(info: ChainInfo) -> dict[str, Any]:
    """Chain summary plus the chain configuration document."""
    return {
        "chain_id": info.chain_id,
        "crypto": info.crypto,
        "consensus": info.consensus,
        "genesis_hash": info.genesis_hash.hex(),
        "height": info.height,
        "head_hash": info.head_hash.hex(),
        "head_time_ms": info.head_time_ms,
        "state_root": info.state_root.hex(),
        "node_name": info.node_name,
        "config": info.config.to_value(),
    }


def render_state_read(read: StateRecord) -> dict[str, Any]:
    """One raw state key, its value and its proof (codec JSON form)."""
    return {
        "key": b64(read.key),
        "value": None if read.value is None else b64(read.value),
        "height": read.height,
        "proof": to_json(read.proof),
    }


def render_query_result(result: QueryResult) -> dict[str, Any]:
    """A query's value; with a proof, the reads and the header/commit they verify against."""
    rendered: dict[str, Any] = {
        "value": to_json(result.value),
        "height": result.height,
        "gas_used": result.gas_used,
    }
    if result.header is not None:
        rendered["reads"] = [render_state_read(r) for r in result.reads]
        rendered["header"] = render_header(result.header)
        rendered["commit"] = render_commit(result.commit)
    return rendered


def render_state_record(
    contract: str,
    key: str,
    record: StateRecord,
    *,
    decoded: Any,
    header: Header,
    commit: Commit | None,
) -> dict[str, Any]:
    """A contract's state entry: raw and decoded value, proof, header and commit."""
    return {
        "contract": contract,
        "key": key,
        "raw_key": b64(record.key),
        "value": None if record.value is None else b64(record.value),
        "decoded": to_json(decoded),
        "height": record.height,
        "proof": to_json(record.proof),
        "header": render_header(header),
        "commit": render_commit(commit),
    }


def render_stream_item(item: StreamItem) -> dict[str, Any]:
    """A live-stream message: a new block or a contract event."""
    return {"kind": item.kind, "height": item.height, "data": item.data}
