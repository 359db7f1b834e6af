"""Request bodies and documented response shapes of the REST API.

Request models are strict (no type coercion, no unknown fields) so a
malformed request fails with a 400 that names the field. Response models only
document the shapes in OpenAPI; handlers build the JSON with
``jinglian.api.render`` and return it directly.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from jinglian.types.codec import INT_MAX
from jinglian.types.tx import NAME_CHARS_MAX, TX_BYTES_MAX

__all__ = [
    "TXS_PER_BATCH_MAX",
    "TX_B64_CHARS_MAX",
    "BlockOut",
    "ChainInfoOut",
    "CommitOut",
    "ErrorBody",
    "ErrorOut",
    "HeaderOut",
    "QueryIn",
    "QueryOut",
    "StateOut",
    "SubmitBatchIn",
    "SubmitBatchOut",
    "SubmitIn",
    "SubmitOut",
    "SubmitOutcomeOut",
    "TxRecordOut",
]

TX_B64_CHARS_MAX = (TX_BYTES_MAX + 2) // 3 * 4
"""Longest base64 text of a transaction the API accepts."""
TXS_PER_BATCH_MAX = 2000
"""Most transactions in one ``POST /txs/batch`` (the 1 MiB body limit also applies)."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class SubmitIn(_Strict):
    """A signed transaction to admit."""

    tx: str = Field(
        min_length=1,
        max_length=TX_B64_CHARS_MAX,
        description="Base64 of the transaction's canonical wire bytes.",
    )


class ErrorBody(BaseModel):
    """What went wrong."""

    code: str = Field(description="Stable error code, e.g. `not_found`, `invalid_input`.")
    message: str = Field(description="Human-readable reason.")


class SubmitBatchIn(_Strict):
    """Signed transactions to admit in one request."""

    txs: list[str] = Field(
        min_length=1,
        max_length=TXS_PER_BATCH_MAX,
        description="Base64 of each transaction's canonical wire bytes.",
    )


class SubmitOutcomeOut(BaseModel):
    """What happened to one transaction of a batch: its id, or why it was refused."""

    tx_id: str | None = Field(default=None, description="Hex id when admitted.")
    error: ErrorBody | None = Field(default=None, description="The refusal, when not admitted.")


class SubmitBatchOut(BaseModel):
    """One outcome per submitted transaction, in request order."""

    results: list[SubmitOutcomeOut]
    admitted: int = Field(description="How many were admitted.")


class SubmitOut(BaseModel):
    """The id of an admitted transaction."""

    tx_id: str = Field(description="Hex transaction id (chain hash of the signed payload).")


class QueryIn(_Strict):
    """A read-only contract call."""

    contract: str = Field(min_length=1, max_length=NAME_CHARS_MAX)
    method: str = Field(min_length=1, max_length=NAME_CHARS_MAX)
    args: dict[str, Any] = Field(
        default_factory=dict, description="Named arguments in codec JSON form (no floats)."
    )
    height: int | None = Field(
        default=None, ge=0, le=INT_MAX, description="Query the state after this block."
    )
    prove: bool = Field(default=False, description="Return every read with its state proof.")


class ErrorOut(BaseModel):
    """Body of every 4xx/5xx response."""

    error: ErrorBody


class HeaderOut(BaseModel):
    """A block header; binary fields are hex."""

    version: int
    chain_id: str
    height: int
    time_ms: int
    prev_hash: str
    tx_root: str
    receipt_root: str
    state_root: str
    validators_hash: str
    proposer: str
    tx_count: int


class CommitSignatureOut(BaseModel):
    """One precommit signature."""

    validator: str = Field(description="Hex validator id (certificate id).")
    signature: str = Field(description="Base64 signature over the vote sign bytes.")


class CommitOut(BaseModel):
    """The commit certificate of a block."""

    height: int
    round: int
    block_hash: str
    signatures: list[CommitSignatureOut]


class TxRecordOut(BaseModel):
    """A committed transaction, its receipt and its inclusion proof."""

    id: str
    height: int
    index: int
    block_hash: str
    body: dict[str, Any]
    endorsements: list[dict[str, Any]]
    receipt: dict[str, Any]
    proof: dict[str, Any]
    header: HeaderOut
    commit: CommitOut


class BlockOut(BaseModel):
    """A committed block."""

    height: int
    hash: str
    header: HeaderOut
    tx_ids: list[str]
    receipts: list[dict[str, Any]]
    commit: CommitOut


class QueryOut(BaseModel):
    """A query result; `reads`, `header` and `commit` only with `prove`."""

    value: Any
    height: int
    gas_used: int
    reads: list[dict[str, Any]] | None = None
    header: HeaderOut | None = None
    commit: CommitOut | None = None


class StateOut(BaseModel):
    """A contract state entry with its proof."""

    contract: str
    key: str
    raw_key: str = Field(description="Base64 of the raw state key (contract, NUL, key).")
    height: int
    value: str | None = Field(description="Base64 of the stored canonical CBOR, null if absent.")
    decoded: Any = Field(description="The stored value in codec JSON form.")
    proof: dict[str, Any] | None
    header: HeaderOut
    commit: CommitOut | None


class ChainInfoOut(BaseModel):
    """The chain as this node sees it."""

    chain_id: str
    crypto: str
    consensus: str
    genesis_hash: str
    height: int
    head_hash: str
    head_time_ms: int
    state_root: str
    node_name: str
    config: dict[str, Any]
