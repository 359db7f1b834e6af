"""REST routes of the directory app, under ``/api/v1/directory``; every one is a signed read.

Two sources, so a node without an index still serves what the contract holds:

- **the SQL index** (the node's ``index_db`` setting, which ``jinglian
  indexer run`` writes; the node only reads it): catalog search
  (``GET /directory/catalogs``), a department's view
  (``GET /directory/departments/{org}``), requests to or from it
  (``GET /directory/departments/{org}/requests``) and the SLA report
  (``GET /directory/report``). A node with no ``index_db`` answers these
  503 ``unavailable``; so does an index that cannot be read.
- **the contract's state** at the head, through the node's query path: a
  catalog with its items (``GET /directory/catalogs/{org}/{class}/{seq}``),
  a request, a grant with its deliveries, a delivery, and a department's head
  hash with the state proof of its read (``GET
  /directory/departments/{org}/head``).

"Now" for expired requests and overdue figures is the head block's time, so
the answers follow the chain, not the node's clock. Parameters are bounded
(``limit`` at most 100, ``start`` at most 10,000, keyword at most 100
characters); anything malformed is a 400 naming the field.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.concurrency import run_in_threadpool

from jinglian.api.readers import read_access
from jinglian.api.render import render_query_result
from jinglian.api.routes import API_PREFIX
from jinglian.apps.directory.catalog_search import (
    KEYWORD_CHARS_MAX,
    PAGE_LIMIT_MAX,
    PAGE_START_MAX,
    check_org,
    department,
    department_requests,
    search_catalogs,
)
from jinglian.apps.directory.sla import TIME_MS_MAX, sla_report
from jinglian.indexer import Database, open_database
from jinglian.node.services import NodeServices
from jinglian.types import codec
from jinglian.types.errors import ContractFailed, InvalidInput, JinglianError, NotFound, Unavailable
from jinglian.types.jsonval import to_json
from jinglian.types.tx import NAME_CHARS_MAX

__all__ = ["CONTRACT_ITEMS_MAX", "add_directory_routes", "index_url_of"]

CONTRACT_ITEMS_MAX = 1000
"""Deepest item the contract's ``items`` query pages to (its ``SCAN_MAX``)."""
DEFAULT_CONTRACT = "directory"

Org = Annotated[str, Path(min_length=1, max_length=64, description="Organisation id.")]
Contract = Annotated[
    str,
    Query(min_length=1, max_length=NAME_CHARS_MAX, description="The directory contract's name."),
]
Start = Annotated[int, Query(ge=0, le=PAGE_START_MAX, description="First record of the page.")]
Limit = Annotated[int, Query(ge=1, le=PAGE_LIMIT_MAX, description="Records per page.")]
RecordId = Annotated[int, Path(ge=1, le=codec.INT_MAX, description="Record id, from 1.")]
TimeMs = Annotated[int | None, Query(ge=0, le=TIME_MS_MAX, description="Unix milliseconds.")]


def index_url_of(services: NodeServices) -> str | None:
    """The index URL a node's services read: ``services.index_db``, else the node's config."""
    direct = getattr(services, "index_db", None)
    if isinstance(direct, str):
        return direct or None
    config = getattr(getattr(services, "node", None), "config", None)
    index_url = getattr(config, "index_url", None)
    if callable(index_url):
        found = index_url()
        return found if isinstance(found, str) else None
    return None


class _Index:
    """The node's read-only handle on the SQL index, opened at first use."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self._database: Database | None = None
        self._lock = threading.Lock()

    def database(self) -> Database:
        if self.url is None:
            raise Unavailable(
                "this node has no index configured: set index_db in its node.toml to the "
                "database `jinglian indexer run` writes (e.g. sqlite:///../../index.sqlite)"
            )
        with self._lock:
            if self._database is None:
                self._database = self._open(self.url)
            return self._database

    @staticmethod
    def _open(url: str) -> Database:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise Unavailable(f"the node's index_db is not a database URL: {exc}") from exc
        if parsed.get_backend_name() == "sqlite" and not FilePath(parsed.database or "").is_file():
            # Opening would create an empty file; the indexer has simply not run yet.
            raise Unavailable(
                f"the index file {parsed.database} does not exist yet: run "
                "`jinglian indexer run` for this chain"
            )
        try:
            return open_database(url)
        except JinglianError as exc:
            raise Unavailable(f"the node's index_db cannot be opened: {exc.message}") from exc


def add_directory_routes(app: FastAPI, services: NodeServices) -> None:
    """Mount the directory routes over ``services`` and the node's index (if configured)."""
    index = _Index(index_url_of(services))
    router = APIRouter(
        prefix=API_PREFIX + "/directory",
        tags=["directory"],
        dependencies=[read_access(services, "query")],
    )
    _add_search_routes(router, services, index)
    _add_department_routes(router, services, index)
    _add_contract_routes(router, services)
    app.include_router(router)


def _head_time_ms(services: NodeServices) -> int:
    return int(services.chain_info().head_time_ms)


async def _on_index(
    services: NodeServices, index: _Index, work: Callable[[Database], dict[str, Any]]
) -> dict[str, Any]:
    """Run a blocking index query off the event loop, on an index of this node's chain; the
    answer carries ``indexed_height``, how far the index got (it may trail the head)."""
    info = services.chain_info()

    def run() -> dict[str, Any]:
        database = index.database()
        try:
            state = database.load_state()
        except JinglianError as exc:
            raise Unavailable(
                f"the directory index cannot be read ({exc.message}); is `jinglian indexer "
                "run` indexing this chain into it?"
            ) from exc
        if state is None:
            raise Unavailable("the directory index is empty: run `jinglian indexer run`")
        if (state.chain_id, state.genesis_hash) != (info.chain_id, info.genesis_hash.hex()):
            raise Unavailable(
                f"the node's index_db holds chain {state.chain_id!r} (genesis "
                f"{state.genesis_hash[:16]}...), not this node's chain {info.chain_id!r}"
            )
        return {**work(database), "indexed_height": state.last_height}

    return await run_in_threadpool(run)


def _add_search_routes(router: APIRouter, services: NodeServices, index: _Index) -> None:
    @router.get("/catalogs", summary="Search catalogs (SQL index)")
    async def search(
        keyword: Annotated[
            str | None,
            Query(max_length=KEYWORD_CHARS_MAX, description="Terms in name, summary, items."),
        ] = None,
        classification: Annotated[
            str | None,
            Query(max_length=13, description="Class (3), item (301), sub-item (301001) or code."),
        ] = None,
        provider: Annotated[str | None, Query(max_length=64)] = None,
        share_type: Annotated[str | None, Query(max_length=32)] = None,
        status: Annotated[
            str, Query(max_length=16, description="active, retired or any.")
        ] = "active",
        start: Start = 0,
        limit: Limit = 20,
    ) -> JSONResponse:
        """Catalogs matching every filter, by provider and code, with the total count."""
        wanted = None if status == "any" else status
        found = await _on_index(
            services,
            index,
            lambda db: search_catalogs(
                db,
                keyword=keyword,
                classification=classification,
                provider=provider,
                share_type=share_type,
                status=wanted,
                start=start,
                limit=limit,
            ),
        )
        return JSONResponse(found)

    @router.get("/report", summary="SLA figures from chain timestamps (SQL index)")
    async def report(
        org: Annotated[str | None, Query(max_length=64, description="Provider.")] = None,
        since_ms: TimeMs = None,
        until_ms: TimeMs = None,
    ) -> JSONResponse:
        """Request-to-decision and -delivery times per provider and catalog; overdue requests."""
        now_ms = _head_time_ms(services)
        found = await _on_index(
            services,
            index,
            lambda db: sla_report(db, now_ms=now_ms, org=org, since_ms=since_ms, until_ms=until_ms),
        )
        return JSONResponse(found)


def _add_department_routes(router: APIRouter, services: NodeServices, index: _Index) -> None:
    @router.get("/departments/{org}", summary="A department's view (SQL index)")
    async def department_view(org: Org) -> JSONResponse:
        """Head, exchange URL, duties with their catalogs, counts of catalogs and requests."""
        check_org(org)
        now_ms = _head_time_ms(services)
        return JSONResponse(
            await _on_index(services, index, lambda db: department(db, org, now_ms=now_ms))
        )

    @router.get("/departments/{org}/requests", summary="Requests to or from a department")
    async def requests_of(
        org: Org,
        direction: Annotated[str, Query(max_length=4, description="to or from.")] = "to",
        status: Annotated[
            str | None, Query(max_length=16, description="pending, granted, rejected, expired.")
        ] = None,
        start: Start = 0,
        limit: Limit = 20,
    ) -> JSONResponse:
        """Newest first; ``expired`` is pending past its deadline at the head's time."""
        check_org(org)
        now_ms = _head_time_ms(services)
        found = await _on_index(
            services,
            index,
            lambda db: department_requests(
                db, org, direction, status=status, now_ms=now_ms, start=start, limit=limit
            ),
        )
        return JSONResponse(found)


def _query(services: NodeServices, contract: str, method: str, args: dict[str, Any]) -> Any:
    """The contract's query at the head; its "there is no ..." refusal becomes a 404."""
    try:
        return services.query(contract, method, args, None, False).value
    except ContractFailed as exc:
        if exc.message.startswith("there is no "):
            raise NotFound(exc.message) from exc
        raise


def _add_contract_routes(router: APIRouter, services: NodeServices) -> None:
    @router.get(
        "/catalogs/{org}/{class_code}/{sequence}", summary="A catalog with a page of its items"
    )
    async def catalog(
        org: Org,
        class_code: Annotated[str, Path(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")],
        sequence: Annotated[str, Path(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")],
        contract: Contract = DEFAULT_CONTRACT,
        start: Annotated[int, Query(ge=0, lt=CONTRACT_ITEMS_MAX)] = 0,
        limit: Limit = 100,
    ) -> JSONResponse:
        """The contract's ``catalog`` and ``items`` at the head."""
        check_org(org)
        if start + limit > CONTRACT_ITEMS_MAX:
            raise InvalidInput(f"start + limit must be at most {CONTRACT_ITEMS_MAX}")
        code = f"{class_code}/{sequence}"
        found = _query(services, contract, "catalog", {"org": org, "code": code})
        if found is None:
            raise NotFound(f"{org} has no catalog {code}")
        entries = _query(
            services,
            contract,
            "items",
            {"org": org, "catalog": code, "start": start, "limit": limit},
        )
        return JSONResponse(to_json({"catalog": found, "start": start, "items": entries}))

    @router.get("/requests/{request_id}", summary="A request (contract state)")
    async def get_request(
        request_id: RecordId, contract: Contract = DEFAULT_CONTRACT
    ) -> JSONResponse:
        """A pending request past its deadline reads as ``expired``."""
        found = _query(services, contract, "get_request", {"request_id": request_id})
        return JSONResponse(to_json(found))

    @router.get("/grants/{grant_id}", summary="A grant with its deliveries (contract state)")
    async def get_grant(grant_id: RecordId, contract: Contract = DEFAULT_CONTRACT) -> JSONResponse:
        """An active grant past its end reads as ``expired``; deliveries oldest first (100)."""
        found = _query(services, contract, "get_grant", {"grant_id": grant_id})
        sent = _query(services, contract, "deliveries", {"grant_id": grant_id, "limit": 100})
        return JSONResponse(to_json({**found, "deliveries": sent}))

    @router.get("/deliveries/{delivery_id}", summary="A delivery record (contract state)")
    async def get_delivery(
        delivery_id: RecordId, contract: Contract = DEFAULT_CONTRACT
    ) -> JSONResponse:
        """Hashes, size, times, and the requester's confirmation."""
        found = _query(services, contract, "get_delivery", {"delivery_id": delivery_id})
        return JSONResponse(to_json(found))

    @router.get("/departments/{org}/head", summary="A department's head hash, with its proof")
    async def head(
        org: Org,
        contract: Contract = DEFAULT_CONTRACT,
        prove: Annotated[bool, Query(description="Include the state proof of the read.")] = True,
    ) -> JSONResponse:
        """The contract's ``head`` query; with ``prove``, the read's proof, header and commit."""
        check_org(org)
        result = services.query(contract, "head", {"org": org}, None, prove)
        return JSONResponse(render_query_result(result))
