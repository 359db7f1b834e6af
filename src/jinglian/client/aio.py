"""``AsyncClient``: the asyncio SDK over ``httpx.AsyncClient``; same operations as ``Client``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from jinglian.client._ops import DEFAULT_TIMEOUT_S, Call, Op, Operations, Sleep, subscribe_url
from jinglian.client.identity import DEFAULT_EXPIRY_S, Identity
from jinglian.client.reads import sign_request, url_read_headers
from jinglian.client.records import QueryResponse, StateValue, TxResult
from jinglian.client.sync import network_settings
from jinglian.types import ChainConfig, Tx
from jinglian.types.errors import JinglianError

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """An asyncio client of one node; see ``Client`` for the semantics of each method."""

    def __init__(
        self,
        base_url: str,
        identity: Identity | None = None,
        genesis: ChainConfig | None = None,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._ops = Operations(identity, genesis)
        self._http = http if http is not None else httpx.AsyncClient(base_url=self.base_url)

    @classmethod
    def from_network(
        cls, net_dir: Path | str, identity: str | None = "org1/admin", node: str | None = None
    ) -> AsyncClient:
        """A client of ``node`` (default: the first) acting as ``identity``."""
        base_url, ident, genesis = network_settings(net_dir, identity, node)
        return cls(base_url, ident, genesis)

    @property
    def identity(self) -> Identity | None:
        """The signing identity, if any."""
        return self._ops.identity

    @property
    def genesis(self) -> ChainConfig | None:
        """The chain configuration used for verification, if any."""
        return self._ops.genesis

    async def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
        except StopIteration as done:  # answered without a request (a cached value)
            return done.value  # type: ignore[no-any-return]
        while True:
            reply: httpx.Response | None = None
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            else:
                reply = await self._send(step)
            try:
                step = op.send(reply)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    async def _send(self, call: Call) -> httpx.Response:
        request = self._http.build_request(
            call.method, call.path, params=call.params, json=call.json, timeout=call.timeout
        )
        sign_request(self._ops.identity, request)
        return await self._http.send(request)

    async def chain_info(self) -> dict[str, Any]:
        """Chain id, suite, consensus, head and configuration."""
        return await self._run(self._ops.chain_info())

    async def call_api(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> Any:
        """The JSON answer of any route under ``/api/v1`` (``path`` starts with ``/``)."""
        return await self._run(self._ops.call_api(method, path, params or {}, body, timeout))

    async def health(self) -> dict[str, Any]:
        """The node's health report."""
        return await self._run(self._ops.health())

    async def submit(self, tx: Tx) -> str:
        """Submit a signed transaction; returns its hex id without waiting."""
        return await self._run(self._ops.submit(tx))

    async def submit_many(self, txs: Sequence[Tx]) -> list[str | JinglianError]:
        """Submit many signed transactions in batch requests; per transaction its id or refusal."""
        return await self._run(self._ops.submit_many(txs))

    async def submit_and_wait(self, tx: Tx, timeout: float = DEFAULT_TIMEOUT_S) -> TxResult:
        """Submit a signed transaction and return its committed result (failed or not)."""
        return await self._run(self._ops.submit_and_wait(tx, timeout))

    async def sign(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        expiry_s: int = DEFAULT_EXPIRY_S,
    ) -> Tx:
        """A signed transaction, not sent (see ``Client.sign``)."""
        return await self._run(self._ops.sign(contract, method, args, expiry_s))

    async def submit_file(
        self, path: Path | str, *, wait: bool = True, timeout: float = DEFAULT_TIMEOUT_S
    ) -> TxResult:
        """Submit the transaction of a payload file (see ``Client.submit_file``)."""
        return await self._run(self._ops.submit_file(path, wait, timeout))

    async def invoke(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT_S,
        expiry_s: int = DEFAULT_EXPIRY_S,
    ) -> TxResult:
        """Call ``contract.method(**args)`` in a transaction (see ``Client.invoke``)."""
        return await self._run(self._ops.invoke(contract, method, args, wait, timeout, expiry_s))

    async def wait_tx(self, tx_id: str, timeout: float = DEFAULT_TIMEOUT_S) -> TxResult:
        """Poll until the transaction commits; raises ``Timeout``."""
        return await self._run(self._ops.wait_tx(tx_id, timeout))

    async def get_tx(self, tx_id: str, *, verify: bool = False) -> TxResult:
        """A committed transaction; ``verify`` proves it against genesis."""
        return await self._run(self._ops.get_tx(tx_id, verify))

    async def get_block(self, height: int | str = "latest") -> dict[str, Any]:
        """The block at ``height`` (or ``"latest"``) as JSON."""
        return await self._run(self._ops.get_block(height))

    async def get_block_by_hash(self, block_hash: str) -> dict[str, Any]:
        """The block with this hex hash as JSON."""
        return await self._run(self._ops.get_block_by_hash(block_hash))

    async def query(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        prove: bool = False,
        height: int | None = None,
        verify: bool = False,
    ) -> QueryResponse:
        """Run a read-only method; ``verify`` proves every state read against genesis."""
        return await self._run(self._ops.query(contract, method, args, prove, height, verify))

    async def get_state(
        self,
        contract: str,
        key: str,
        *,
        prove: bool = True,
        height: int | None = None,
        verify: bool = False,
    ) -> StateValue:
        """One contract state entry; ``verify`` checks its proof against genesis."""
        return await self._run(self._ops.get_state(contract, key, prove, height, verify))

    async def subscribe(
        self, contract: str | None = None, topic: str | None = None, *, blocks: bool = True
    ) -> AsyncIterator[dict[str, Any]]:
        """New blocks and contract events as they happen (an async iterator)."""
        url = subscribe_url(self.base_url, contract, topic, blocks)
        async with connect(
            url, additional_headers=url_read_headers(self._ops.identity, url)
        ) as websocket:
            try:
                async for message in websocket:
                    yield json.loads(message)
            except ConnectionClosed:
                return

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
