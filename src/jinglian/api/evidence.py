"""REST routes of the evidence app, under ``/api/v1/evidence``, and its verification page.

- ``POST /evidence/deposits``: a signed ``evidence.deposit`` transaction;
  waits for the commit and returns the deposit ids.
- ``GET /evidence/deposits/{digest}``: every deposit of a digest, earliest first.
- ``GET /evidence/receipts/{deposit_id}``: the receipt of one deposit
  (``docs/spec/evidence-receipt.md``), optionally with a checkpoint.
- ``POST /evidence/verify``: this node runs ``verify_receipt`` on a receipt and
  a digest against its own genesis. The page at ``/evidence/page/`` uses it;
  it says that the offline ``jinglian evidence verify`` trusts no node.

Receipts are built from the same records ``GET /txs/{id}`` serves.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from jinglian.api.readers import read_access
from jinglian.api.render import (
    render_commit,
    render_header,
    render_state_read,
    render_tx_record,
)
from jinglian.api.routes import API_PREFIX, TX_WAIT_S_MAX, decode_b64, decode_hex_id
from jinglian.apps.evidence.receipt import (
    CONTRACT_NAME,
    DEPOSIT_METHOD,
    build_receipt,
    verify_receipt,
)
from jinglian.client.history import CHECKPOINT_HEADERS_MAX, CONFIG_STATE_KEY
from jinglian.client.verify import genesis_hash_of
from jinglian.node.services import NodeServices, TxRecord
from jinglian.types import codec
from jinglian.types.errors import DecodeError, InvalidInput, InvalidReceipt, JinglianError, NotFound
from jinglian.types.jsonval import to_json
from jinglian.types.tx import TX_BYTES_MAX

__all__ = ["PAGE_DIR", "add_evidence_routes"]

PAGE_DIR = FilePath(__file__).with_name("static") / "evidence"
"""The verification page's files."""
LOOKUP_LIMIT_MAX = 1000
CERT_KEY_PREFIX = b"identity\x00cert:"
CERT_BYTES_MAX = 64 * 1024


class DepositIn(BaseModel):
    """A signed ``evidence.deposit`` transaction."""

    tx: str = Field(description="Standard base64 of the transaction's wire bytes.")


class VerifyIn(BaseModel):
    """A receipt and the digest of the file it should prove."""

    digest: str = Field(description="64 hex characters: the file's digest (receipt's alg).")
    receipt: dict[str, Any] = Field(description="The receipt JSON object.")


def add_evidence_routes(app: FastAPI, services: NodeServices) -> None:
    """Mount the evidence routes and, when its files exist, the verification page."""
    app.include_router(_build_router(services))
    if (PAGE_DIR / "index.html").is_file():
        app.mount("/evidence/page", StaticFiles(directory=PAGE_DIR, html=True), name="evidence")


def _build_router(services: NodeServices) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX + "/evidence", tags=["evidence"])
    _add_deposit_routes(router, services)
    _add_receipt_routes(router, services)
    return router


def _add_deposit_routes(router: APIRouter, services: NodeServices) -> None:
    @router.post("/deposits", summary="Deposit digests (a signed evidence.deposit transaction)")
    async def deposit(
        body: DepositIn,
        timeout: Annotated[
            float, Query(gt=0, le=TX_WAIT_S_MAX, description="Seconds to wait for the commit.")
        ] = 30.0,
    ) -> JSONResponse:
        """Admit the deposit, wait for its commit, return the deposit ids."""
        data = decode_b64(body.tx, "tx")
        _check_is_deposit(data)
        tx_id = services.submit_tx(data)
        record = await services.wait_tx(tx_id, timeout)
        if record.receipt.status != "ok":
            return JSONResponse(render_tx_record(record), status_code=422)
        items = record.tx.body.args.get("items")
        count = len(items) if isinstance(items, list) else 0
        return JSONResponse(
            {
                "tx_id": tx_id.hex(),
                "height": record.height,
                "deposit_ids": [f"{tx_id.hex()}:{n}" for n in range(count)],
            }
        )

    @router.get(
        "/deposits/{digest}",
        summary="Every deposit of a digest, earliest first",
        dependencies=[read_access(services, "query")],
    )
    async def lookup(
        digest: Annotated[str, Path(description="64 hex characters.")],
        contract: Annotated[str, Query(max_length=64)] = CONTRACT_NAME,
        limit: Annotated[int, Query(ge=1, le=LOOKUP_LIMIT_MAX)] = 100,
    ) -> JSONResponse:
        """The evidence contract's ``get`` at the head."""
        decode_hex_id(digest, "digest")
        result = services.query(contract, "get", {"digest": digest, "limit": limit}, None, False)
        return JSONResponse(
            {"digest": digest.lower(), "height": result.height, "deposits": to_json(result.value)}
        )


def _add_receipt_routes(router: APIRouter, services: NodeServices) -> None:
    @router.get(
        "/receipts/{deposit_id}",
        summary="The receipt of one deposit",
        dependencies=[read_access(services, "query")],
    )
    async def receipt(
        deposit_id: Annotated[str, Path(description="<tx id hex>:<index>")],
        checkpoint: Annotated[
            bool, Query(description="Add later headers up to the head (at most 64).")
        ] = False,
    ) -> JSONResponse:
        """A receipt anyone verifies with the genesis file alone."""
        tx_id, index = _parse_deposit_id(deposit_id)
        record = services.get_tx(tx_id)
        if record is None:
            raise NotFound(f"no committed transaction {tx_id.hex()}")
        info = services.chain_info()
        proof_of_depth = _checkpoint(services, record.height) if checkpoint else None
        last = record.height + (len(proof_of_depth["headers"]) if proof_of_depth else 0)
        built = build_receipt(
            render_tx_record(record),
            index,
            genesis_hash=info.genesis_hash,
            crypto=info.crypto,
            depositor_cert=_depositor_cert(services, record),
            checkpoint=proof_of_depth,
            validator_changes=validator_changes(services, last),
        )
        return JSONResponse(built)

    @router.post("/verify", summary="Verify a receipt and a digest against this node's genesis")
    async def verify(body: VerifyIn) -> JSONResponse:
        """The result of ``verify_receipt``: valid with details, or the reason it is not."""
        digest = decode_hex_id(body.digest, "digest")
        info = services.chain_info()
        config = info.config
        if genesis_hash_of(config) != info.genesis_hash:
            raise InvalidReceipt(
                "this node's chain config changed since genesis: verify offline with the "
                "genesis file (`jinglian evidence verify`)"
            )
        try:
            verified = verify_receipt(body.receipt, config, digest)
        except JinglianError as exc:
            return JSONResponse({"valid": False, "code": exc.code, "reason": exc.message})
        return JSONResponse({"valid": True, "result": verified.to_json()})


def _check_is_deposit(data: bytes) -> None:
    """Refuse wire bytes that are not a call of a ``deposit`` method (before admitting them)."""
    wire = codec.decode(data, TX_BYTES_MAX)
    if not isinstance(wire, list) or len(wire) != 2 or not isinstance(wire[0], bytes):
        raise DecodeError("a transaction is a list [payload, endorsements]")
    body = codec.decode(wire[0], TX_BYTES_MAX)
    method = body.get("method") if isinstance(body, dict) else None
    if method != DEPOSIT_METHOD:
        raise InvalidInput(f"the transaction calls {method!r}, not {DEPOSIT_METHOD!r}")


def _parse_deposit_id(text: str) -> tuple[bytes, int]:
    tx_hex, sep, index_text = text.partition(":")
    if not sep or not index_text.isdigit() or len(index_text) > 4:
        raise InvalidInput("a deposit id is <tx id hex>:<index>")
    return decode_hex_id(tx_hex, "deposit id's transaction id"), int(index_text)


def _depositor_cert(services: NodeServices, record: TxRecord) -> bytes:
    signer = record.tx.endorsements[0].signer
    if not record.tx.endorsements[0].is_cert_id:
        return signer
    state, _, _ = services.get_state(CERT_KEY_PREFIX + signer.hex().encode(), None)
    if state.value is None:
        raise NotFound(f"certificate {signer.hex()} is not registered on this chain")
    der = codec.decode(state.value, CERT_BYTES_MAX)
    assert isinstance(der, bytes), "registered certificates are stored as byte strings"
    return der


def validator_changes(services: NodeServices, height: int) -> list[dict[str, Any]]:
    """The proven config changes a verifier needs to know who signed blocks up to ``height``.

    Each is the config stored after a block that changed it, with its state
    proof, the block's header and its commit; a change in block h names the
    set from h + 2 (ADR 0013), so changes up to ``height - 2`` count.
    """
    entries = []
    for change in services.config_change_heights():
        if change > height - 2:
            break
        read, header, commit = services.get_state(CONFIG_STATE_KEY, change)
        entries.append(
            {
                **render_state_read(read),
                "header": render_header(header),
                "commit": render_commit(commit),
            }
        )
    return entries


def _checkpoint(services: NodeServices, height: int) -> dict[str, Any] | None:
    head = services.chain_info().height
    last = min(head, height + CHECKPOINT_HEADERS_MAX)
    if last <= height:
        return None
    headers = []
    commit = None
    for number in range(height + 1, last + 1):
        block = services.get_block(number)
        assert block is not None, f"block {number} at or below the head {head} exists"
        headers.append(render_header(block.block.header))
        commit = block.commit
    return {"headers": headers, "commit": render_commit(commit)}
