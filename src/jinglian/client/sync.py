"""``Client``: the blocking SDK over ``httpx.Client``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from jinglian.client._ops import DEFAULT_TIMEOUT_S, Call, Op, Operations, Sleep, subscribe_url
from jinglian.client.identity import DEFAULT_EXPIRY_S, Identity
from jinglian.client.network import load_network
from jinglian.client.reads import sign_request, url_read_headers
from jinglian.client.records import QueryResponse, StateValue, TxResult
from jinglian.types import ChainConfig, Tx
from jinglian.types.errors import JinglianError

__all__ = ["Client", "network_settings"]

T = TypeVar("T")


def network_settings(
    net_dir: Path | str, identity: str | None, node: str | None
) -> tuple[str, Identity, ChainConfig]:
    """Base URL, identity and genesis of a node of a ``jinglian init`` network."""
    network = load_network(Path(net_dir))
    entry = network.identity(identity)
    return (
        network.node(node).api_url,
        Identity.load(entry.cert, entry.key),
        network.load_genesis(),
    )


class Client:
    """A blocking client of one node.

    ``identity`` signs transactions and every read (the query policy, ADR
    0016); ``genesis`` enables ``verify=True`` (offline proof checks); ``http``
    replaces the default ``httpx.Client`` (tests pass FastAPI's ``TestClient``
    to call an app in-process). Errors the node reports are raised as their
    ``jinglian.types.errors`` class; an unreachable node raises
    ``httpx.TransportError``.
    """

    def __init__(
        self,
        base_url: str,
        identity: Identity | None = None,
        genesis: ChainConfig | None = None,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._ops = Operations(identity, genesis)
        self._http = http if http is not None else httpx.Client(base_url=self.base_url)

    @classmethod
    def from_network(
        cls, net_dir: Path | str, identity: str | None = "org1/admin", node: str | None = None
    ) -> Client:
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

    def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
        except StopIteration as done:  # answered without a request (a cached value)
            return done.value  # type: ignore[no-any-return]
        while True:
            reply: httpx.Response | None = None
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
            else:
                reply = self._send(step)
            try:
                step = op.send(reply)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def _send(self, call: Call) -> httpx.Response:
        request = self._http.build_request(
            call.method, call.path, params=call.params, json=call.json, timeout=call.timeout
        )
        sign_request(self._ops.identity, request)
        return self._http.send(request)

    def chain_info(self) -> dict[str, Any]:
        """Chain id, suite, consensus, head and configuration."""
        return self._run(self._ops.chain_info())

    def call_api(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> Any:
        """The JSON answer of any route under ``/api/v1`` (``path`` starts with ``/``)."""
        return self._run(self._ops.call_api(method, path, params or {}, body, timeout))

    def health(self) -> dict[str, Any]:
        """The node's health report."""
        return self._run(self._ops.health())

    def submit(self, tx: Tx) -> str:
        """Submit a signed transaction; returns its hex id without waiting."""
        return self._run(self._ops.submit(tx))

    def submit_many(self, txs: Sequence[Tx]) -> list[str | JinglianError]:
        """Submit many signed transactions in batch requests; per transaction its id or refusal."""
        return self._run(self._ops.submit_many(txs))

    def submit_and_wait(self, tx: Tx, timeout: float = DEFAULT_TIMEOUT_S) -> TxResult:
        """Submit a signed transaction and return its committed result (failed or not)."""
        return self._run(self._ops.submit_and_wait(tx, timeout))

    def sign(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        expiry_s: int = DEFAULT_EXPIRY_S,
    ) -> Tx:
        """A transaction calling ``contract.method(**args)``, signed by the identity, not sent.

        Others may endorse it (``Identity.endorse``) before ``submit``.
        """
        return self._run(self._ops.sign(contract, method, args, expiry_s))

    def submit_file(
        self, path: Path | str, *, wait: bool = True, timeout: float = DEFAULT_TIMEOUT_S
    ) -> TxResult:
        """Submit the transaction of a payload file (``jinglian.client.endorse``).

        The file is checked first (every signature, this chain); with ``wait``
        a failed receipt raises its error class, as ``invoke`` does.
        """
        return self._run(self._ops.submit_file(path, wait, timeout))

    def invoke(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any] | None = None,
        *,
        wait: bool = True,
        timeout: float = DEFAULT_TIMEOUT_S,
        expiry_s: int = DEFAULT_EXPIRY_S,
    ) -> TxResult:
        """Call ``contract.method(**args)`` in a transaction.

        With ``wait`` the committed result is returned and a failed receipt
        raises its error class (e.g. ``ContractFailed``, ``OutOfGas``) with the
        result as ``.receipt``; without, a pending result with the id.
        """
        return self._run(self._ops.invoke(contract, method, args, wait, timeout, expiry_s))

    def wait_tx(self, tx_id: str, timeout: float = DEFAULT_TIMEOUT_S) -> TxResult:
        """Poll until the transaction commits; raises ``Timeout``."""
        return self._run(self._ops.wait_tx(tx_id, timeout))

    def find_tx(self, tx_id: str) -> TxResult | None:
        """The committed transaction, or None if the node does not know it (yet)."""
        return self._run(self._ops.find_tx(tx_id))

    def get_tx(self, tx_id: str, *, verify: bool = False) -> TxResult:
        """A committed transaction; ``verify`` proves it against genesis."""
        return self._run(self._ops.get_tx(tx_id, verify))

    def get_block(self, height: int | str = "latest") -> dict[str, Any]:
        """The block at ``height`` (or ``"latest"``) as JSON."""
        return self._run(self._ops.get_block(height))

    def get_block_by_hash(self, block_hash: str) -> dict[str, Any]:
        """The block with this hex hash as JSON."""
        return self._run(self._ops.get_block_by_hash(block_hash))

    def query(
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
        return self._run(self._ops.query(contract, method, args, prove, height, verify))

    def get_state(
        self,
        contract: str,
        key: str,
        *,
        prove: bool = True,
        height: int | None = None,
        verify: bool = False,
    ) -> StateValue:
        """One contract state entry; ``verify`` checks its proof against genesis."""
        return self._run(self._ops.get_state(contract, key, prove, height, verify))

    def subscribe(
        self, contract: str | None = None, topic: str | None = None, *, blocks: bool = True
    ) -> Iterator[dict[str, Any]]:
        """New blocks and contract events as they happen (a blocking generator)."""
        url = subscribe_url(self.base_url, contract, topic, blocks)
        with connect(
            url, additional_headers=url_read_headers(self._ops.identity, url)
        ) as websocket:
            try:
                for message in websocket:
                    yield json.loads(message)
            except ConnectionClosed:
                return

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
