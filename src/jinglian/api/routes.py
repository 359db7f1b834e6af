"""The REST routes under ``/api/v1``: thin translations to ``NodeServices`` calls.

Handlers are coroutines that call the node's services directly on the event
loop (the node's own loop when it serves the API), except submissions: decoding
and admitting a transaction (its signature check above all) runs on
``ADMISSION_THREADS`` worker threads, so the loop keeps parsing requests and
feeding the block stream meanwhile, and signature checks (which release the
GIL) run beside the node's other work. ``NodeServices.submit_tx`` is therefore
the one service called from several threads at once. Each handler parses its
input, makes one service call and renders the record with
``jinglian.api.render``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response

from jinglian.api.readers import read_access
from jinglian.api.render import (
    render_block_record,
    render_block_txs,
    render_chain_info,
    render_query_result,
    render_state_record,
    render_tx_record,
)
from jinglian.api.schemas import (
    BlockOut,
    ChainInfoOut,
    ErrorOut,
    QueryIn,
    QueryOut,
    StateOut,
    SubmitBatchIn,
    SubmitBatchOut,
    SubmitIn,
    SubmitOut,
    TxRecordOut,
)
from jinglian.node.services import BlockRecord, NodeServices
from jinglian.types import codec
from jinglian.types.errors import InvalidInput, JinglianError, NotFound
from jinglian.types.jsonval import from_json
from jinglian.types.tx import NAME_CHARS_MAX

__all__ = ["API_PREFIX", "METRICS_CONTENT_TYPE", "TX_WAIT_S_MAX", "build_metrics", "build_router"]

API_PREFIX = "/api/v1"
TX_WAIT_S_MAX = 120.0
"""Longest a client may ask ``POST /txs?wait=true`` to wait for a commit."""
BLOCK_TXS_PAGE_MAX = 500
"""Most transactions one page of ``GET /blocks/{height}/txs`` holds."""
STATE_KEY_CHARS_MAX = 1024
"""Longest contract state key the state route accepts."""
STATE_VALUE_BYTES_MAX = 16 * 1024 * 1024
"""Largest stored value the state route decodes for display."""
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ADMISSION_THREADS = 2
"""Threads that decode and admit submitted transactions (one per core of the reference
machine: a signature check releases the GIL, so two run at once)."""

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed input (`invalid_input`, `decode_error`)."},
    404: {"model": ErrorOut, "description": "Not found."},
    413: {"model": ErrorOut, "description": "Request body over 1 MiB (`too_large`)."},
}

Height = Annotated[int, Path(ge=0, le=codec.INT_MAX, description="Block height.")]
AtHeight = Annotated[
    int | None, Query(ge=0, le=codec.INT_MAX, description="Read the state after this block.")
]


def decode_hex_id(text: str, what: str) -> bytes:
    """A 32-byte id from 64 hex characters, or ``InvalidInput`` naming ``what``."""
    if len(text) != 64:
        raise InvalidInput(f"{what} must be 64 hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise InvalidInput(f"{what} must be 64 hex characters") from exc


def decode_b64(text: str, what: str) -> bytes:
    """Bytes from standard base64, or ``InvalidInput`` naming ``what``."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{what} is not valid base64") from exc


def build_router(services: NodeServices) -> APIRouter:
    """All ``/api/v1`` routes bound to ``services``."""
    router = APIRouter(prefix=API_PREFIX, responses=ERRORS)
    _add_chain_routes(router, services)
    _add_tx_routes(router, services)
    _add_block_routes(router, services)
    _add_state_routes(router, services)
    return router


def build_metrics(services: NodeServices) -> APIRouter:
    """The Prometheus scrape route at ``/metrics``."""
    router = APIRouter()

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {METRICS_CONTENT_TYPE: {}}}},
        tags=["node"],
    )
    async def metrics() -> Response:
        """The node's metrics in the Prometheus text exposition format."""
        return Response(services.metrics_text(), media_type=METRICS_CONTENT_TYPE)

    return router


def _add_chain_routes(router: APIRouter, services: NodeServices) -> None:
    @router.get("/chain", summary="Chain information", response_model=ChainInfoOut, tags=["chain"])
    async def chain() -> JSONResponse:
        """Chain id, crypto suite, consensus, genesis hash, head and the chain configuration."""
        return JSONResponse(render_chain_info(services.chain_info()))

    @router.get("/health", summary="Node health", tags=["node"])
    async def health() -> JSONResponse:
        """Liveness and sync status as the node reports it."""
        return JSONResponse(services.health())


def _add_tx_routes(router: APIRouter, services: NodeServices) -> None:
    admission = ThreadPoolExecutor(ADMISSION_THREADS, thread_name_prefix="admission")

    @router.post(
        "/txs",
        summary="Submit a signed transaction",
        status_code=202,
        response_model=SubmitOut,
        responses={200: {"model": TxRecordOut, "description": "With `wait=true`: the record."}},
        tags=["transactions"],
    )
    async def submit(
        body: SubmitIn,
        wait: Annotated[bool, Query(description="Wait until the transaction commits.")] = False,
        timeout: Annotated[
            float, Query(gt=0, le=TX_WAIT_S_MAX, description="Seconds to wait.")
        ] = 30.0,
    ) -> JSONResponse:
        """Admit a transaction; with `wait=true`, return its committed record."""
        data = decode_b64(body.tx, "tx")
        tx_id = await asyncio.get_running_loop().run_in_executor(
            admission, services.submit_tx, data
        )
        if not wait:
            return JSONResponse({"tx_id": tx_id.hex()}, status_code=202)
        record = await services.wait_tx(tx_id, timeout)
        return JSONResponse(render_tx_record(record))

    @router.post(
        "/txs/batch",
        summary="Submit many signed transactions",
        response_model=SubmitBatchOut,
        tags=["transactions"],
    )
    async def submit_batch(body: SubmitBatchIn) -> JSONResponse:
        """Admit each transaction on its own; one outcome per transaction, in order."""
        results = await asyncio.get_running_loop().run_in_executor(
            admission, _admit_batch, services, body.txs
        )
        admitted = sum(1 for r in results if "tx_id" in r)
        return JSONResponse({"results": results, "admitted": admitted})

    @router.get(
        "/txs/{tx_id}",
        summary="Get a committed transaction with its proof",
        response_model=TxRecordOut,
        tags=["transactions"],
        dependencies=[read_access(services, "query")],
    )
    async def get_tx(
        tx_id: Annotated[str, Path(description="Hex transaction id.")],
    ) -> JSONResponse:
        """The transaction, its receipt, its Merkle proofs, header and commit."""
        record = services.get_tx(decode_hex_id(tx_id, "transaction id"))
        if record is None:
            raise NotFound(f"no committed transaction {tx_id}")
        return JSONResponse(render_tx_record(record))


def _admit_batch(services: NodeServices, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Decode and admit each base64 transaction in turn (on an admission thread)."""
    results: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        try:
            tx_id = services.submit_tx(decode_b64(text, f"txs[{index}]"))
        except JinglianError as exc:
            results.append({"error": exc.to_dict()})
        else:
            results.append({"tx_id": tx_id.hex()})
    return results


def _add_block_routes(router: APIRouter, services: NodeServices) -> None:
    @router.get(
        "/blocks/latest",
        summary="Get the latest block",
        response_model=BlockOut,
        tags=["blocks"],
        dependencies=[read_access(services, "query")],
    )
    async def latest_block() -> JSONResponse:
        """The latest committed block."""
        return _block_response(services.get_block(None), "no block has been committed yet")

    @router.get(
        "/blocks/hash/{block_hash}",
        summary="Get a block by hash",
        response_model=BlockOut,
        tags=["blocks"],
        dependencies=[read_access(services, "query")],
    )
    async def block_by_hash(
        block_hash: Annotated[str, Path(description="Hex block hash.")],
    ) -> JSONResponse:
        """The committed block with this header hash."""
        record = services.get_block_by_hash(decode_hex_id(block_hash, "block hash"))
        return _block_response(record, f"no committed block with hash {block_hash}")

    @router.get(
        "/blocks/{height}",
        summary="Get a block by height",
        response_model=BlockOut,
        tags=["blocks"],
        dependencies=[read_access(services, "query")],
    )
    async def block_at(height: Height) -> JSONResponse:
        """The committed block at this height."""
        return _block_response(services.get_block(height), f"no committed block at {height}")

    @router.get(
        "/blocks/{height}/txs",
        summary="A block's transactions with their receipts",
        tags=["blocks"],
        dependencies=[read_access(services, "query")],
    )
    async def block_txs(
        height: Height,
        start: Annotated[int, Query(ge=0, description="Index of the first transaction.")] = 0,
        limit: Annotated[
            int, Query(ge=1, le=BLOCK_TXS_PAGE_MAX, description="Most transactions to return.")
        ] = BLOCK_TXS_PAGE_MAX,
    ) -> JSONResponse:
        """Bodies, signatures and receipts (events included) of the block's transactions, in
        order, a page at a time; no proofs (those are on `/txs/{id}`)."""
        record = services.get_block(height)
        if record is None:
            raise NotFound(f"no committed block at {height}")
        return JSONResponse(render_block_txs(record, start, limit))


def _block_response(record: BlockRecord | None, missing: str) -> JSONResponse:
    if record is None:
        raise NotFound(missing)
    return JSONResponse(render_block_record(record))


def _add_state_routes(router: APIRouter, services: NodeServices) -> None:
    @router.post(
        "/query",
        summary="Call a read-only contract method",
        response_model=QueryOut,
        tags=["state"],
        dependencies=[read_access(services, "query")],
    )
    async def query(body: QueryIn) -> JSONResponse:
        """Run a query method; with `prove`, every state read comes with its proof."""
        args = from_json(body.args)
        result = services.query(body.contract, body.method, args, body.height, body.prove)
        return JSONResponse(render_query_result(result))

    @router.get(
        "/state/{contract}/{key:path}",
        summary="Read one contract state entry with its proof",
        response_model=StateOut,
        tags=["state"],
        dependencies=[read_access(services, "query")],
    )
    async def state(
        contract: Annotated[str, Path(min_length=1, max_length=NAME_CHARS_MAX)],
        key: Annotated[str, Path(min_length=1, max_length=STATE_KEY_CHARS_MAX)],
        height: AtHeight = None,
        prove: Annotated[bool, Query(description="Include the state proof.")] = True,
    ) -> JSONResponse:
        """The stored value (raw CBOR and decoded) of `key` in `contract`'s state."""
        raw_key = contract.encode() + b"\x00" + key.encode()
        record, header, commit = services.get_state(raw_key, height)
        rendered = render_state_record(
            contract, key, record, decoded=_decode_value(record.value), header=header, commit=commit
        )
        if not prove:
            rendered["proof"] = None
        return JSONResponse(rendered)


def _decode_value(value: bytes | None) -> Any:
    if value is None:
        return None
    try:
        return codec.decode(value, STATE_VALUE_BYTES_MAX)
    except JinglianError:
        return None
