"""What the SDK does, written once for both the sync and the async client.

Each operation is a generator that yields the HTTP calls (``Call``) and pauses
(``Sleep``) it needs and receives the responses; ``Client`` drives it with
``httpx.Client`` and ``time.sleep``, ``AsyncClient`` with ``httpx.AsyncClient``
and ``asyncio.sleep`` (the sans-I/O pattern). The generators hold all the
logic: request shapes, error mapping, receipt checks, verification.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from jinglian.client.endorse import load_payload_file
from jinglian.client.identity import DEFAULT_EXPIRY_S, Identity
from jinglian.client.records import QueryResponse, StateValue, TxResult
from jinglian.client.verify import verify_query_record, verify_state_record, verify_tx_record
from jinglian.types import ChainConfig, Tx
from jinglian.types.errors import (
    ConfigError,
    DuplicateTransaction,
    InvalidInput,
    JinglianError,
    Timeout,
    WrongChain,
    error_from_code,
)
from jinglian.types.jsonval import to_json

__all__ = [
    "API",
    "DEFAULT_TIMEOUT_S",
    "WAIT_SLACK_S",
    "Call",
    "Op",
    "Operations",
    "Sleep",
    "check_response",
]

API = "/api/v1"
DEFAULT_TIMEOUT_S = 30.0
"""HTTP timeout of calls that do not wait for a commit."""
WAIT_SLACK_S = 10.0
"""Extra HTTP timeout on top of the commit wait the node is asked for."""
POLL_INTERVAL_S = 0.2
"""Pause between polls for a transaction submitted earlier."""
TX_WAIT_S_MAX = 120.0
"""Longest commit wait the node accepts."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request to the node."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    timeout: float = DEFAULT_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class Sleep:
    """Pause before the next step."""

    seconds: float


Op = Generator["Call | Sleep", "httpx.Response | None", T]


def check_response(response: httpx.Response) -> Any:
    """The JSON body of a success, or the typed error the node reported."""
    if response.status_code < 400:
        try:
            return response.json()
        except ValueError as exc:
            raise JinglianError(f"node sent a response that is not JSON: {exc}") from exc
    try:
        error = response.json()["error"]
        raise error_from_code(str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        text = response.text[:200].strip()
        raise JinglianError(f"node answered HTTP {response.status_code}: {text}") from None


def receipt_error(result: TxResult) -> JinglianError:
    """The typed error of a failed receipt, with the ``TxResult`` as ``.receipt``."""
    error = error_from_code(result.status, result.error or result.status)
    error.receipt = result  # type: ignore[attr-defined]
    return error


class Operations:
    """The SDK's operations over one node, for one identity and genesis."""

    def __init__(self, identity: Identity | None, genesis: ChainConfig | None) -> None:
        self.identity = identity
        self.genesis = genesis
        self._chain_id = genesis.chain_id if genesis is not None else None

    def _json(self, call: Call) -> Op[Any]:
        response = yield call
        assert response is not None
        return check_response(response)

    def chain_info(self) -> Op[dict[str, Any]]:
        """``GET /chain``."""
        info = yield from self._json(Call("GET", f"{API}/chain"))
        self._chain_id = self._chain_id or info.get("chain_id")
        return info  # type: ignore[no-any-return]

    def call_api(
        self, method: str, path: str, params: dict[str, Any], body: Any, timeout: float
    ) -> Op[Any]:
        """Any route under the API prefix (app routes such as ``/evidence/...``)."""
        return (yield from self._json(Call(method, f"{API}{path}", params, body, timeout)))

    def health(self) -> Op[dict[str, Any]]:
        """``GET /health``."""
        return (yield from self._json(Call("GET", f"{API}/health")))  # type: ignore[no-any-return]

    def chain_id(self) -> Op[str]:
        """The chain id from genesis, else asked of the node once."""
        if self._chain_id is None:
            yield from self.chain_info()
        if not isinstance(self._chain_id, str):
            raise JinglianError("node did not report its chain id")
        return self._chain_id

    def submit(self, tx: Tx) -> Op[str]:
        """``POST /txs``: the hex id of the admitted transaction."""
        body = {"tx": base64.b64encode(tx.encoded).decode()}
        reply = yield from self._json(Call("POST", f"{API}/txs", json=body))
        return str(reply["tx_id"])

    def submit_many(self, txs: Sequence[Tx]) -> Op[list[str | JinglianError]]:
        """``POST /txs/batch`` in chunks: per transaction its hex id or the typed refusal."""
        outcomes: list[str | JinglianError] = []
        for chunk in _batches(txs):
            body = {"txs": [base64.b64encode(tx.encoded).decode() for tx in chunk]}
            reply = yield from self._json(Call("POST", f"{API}/txs/batch", json=body))
            for result in reply["results"]:
                if "tx_id" in result:
                    outcomes.append(str(result["tx_id"]))
                else:
                    outcomes.append(
                        error_from_code(
                            str(result["error"]["code"]), str(result["error"]["message"])
                        )
                    )
        return outcomes

    def sign(
        self, contract: str, method: str, args: Mapping[str, Any] | None, expiry_s: int
    ) -> Op[Tx]:
        """A transaction signed by this client's identity."""
        if self.identity is None:
            raise ConfigError("this client has no identity to sign with; pass identity=...")
        chain_id = yield from self.chain_id()
        return self.identity.sign_tx(
            chain_id, contract, method, dict(args or {}), expiry_s=expiry_s
        )

    def invoke(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any] | None,
        wait: bool,
        timeout: float,
        expiry_s: int = DEFAULT_EXPIRY_S,
    ) -> Op[TxResult]:
        """Sign, submit and (with ``wait``) return the committed result; failures raise."""
        tx = yield from self.sign(contract, method, args, expiry_s)
        if not wait:
            return TxResult.pending((yield from self.submit(tx)))
        result = yield from self.submit_and_wait(tx, timeout)
        if not result.ok:
            raise receipt_error(result)
        return result

    def submit_file(self, path: Path | str, wait: bool, timeout: float) -> Op[TxResult]:
        """Submit the transaction of a payload file (checked, and for this chain).

        With ``wait`` the committed result is returned and a failed receipt
        raises its error class; without, a pending result with the id.
        """
        tx = load_payload_file(path).tx
        chain_id = yield from self.chain_id()
        if tx.body.chain_id != chain_id:
            raise WrongChain(
                f"{path}: the transaction is for chain {tx.body.chain_id!r}, but the node's "
                f"chain is {chain_id!r}"
            )
        if not wait:
            return TxResult.pending((yield from self.submit(tx)))
        result = yield from self.submit_and_wait(tx, timeout)
        if not result.ok:
            raise receipt_error(result)
        return result

    def submit_and_wait(self, tx: Tx, timeout: float) -> Op[TxResult]:
        """``POST /txs?wait=true``; a duplicate (a resend) waits for the first copy."""
        wait_s = min(max(timeout, 0.1), TX_WAIT_S_MAX)
        body = {"tx": base64.b64encode(tx.encoded).decode()}
        call = Call(
            "POST",
            f"{API}/txs",
            params={"wait": "true", "timeout": wait_s},
            json=body,
            timeout=wait_s + WAIT_SLACK_S,
        )
        try:
            record = yield from self._json(call)
        except DuplicateTransaction:
            return (yield from self.wait_tx(tx.id.hex(), timeout))
        return TxResult.from_record(record)

    def wait_tx(self, tx_id: str, timeout: float) -> Op[TxResult]:
        """Poll ``GET /txs/{id}`` until the transaction commits or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            result = yield from self.find_tx(tx_id)
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                raise Timeout(f"transaction {tx_id} did not commit within {timeout:g} s")
            yield Sleep(POLL_INTERVAL_S)

    def find_tx(self, tx_id: str) -> Op[TxResult | None]:
        """The committed transaction, or None if the node does not know it (yet)."""
        try:
            return (yield from self.get_tx(tx_id, verify=False))
        except JinglianError as exc:
            if exc.code == "not_found":
                return None
            raise

    def get_tx(self, tx_id: str, verify: bool) -> Op[TxResult]:
        """``GET /txs/{id}``, verified against genesis if asked."""
        genesis = self._need_genesis() if verify else None
        record = yield from self._json(Call("GET", f"{API}/txs/{quote(tx_id, safe='')}"))
        if genesis is not None:
            verify_tx_record(record, genesis)
        return TxResult.from_record(record, verified=verify)

    def get_block(self, height: int | str) -> Op[dict[str, Any]]:
        """``GET /blocks/{height}`` or ``/blocks/latest``."""
        if height != "latest" and not (isinstance(height, int) and height >= 0):
            raise InvalidInput(
                f"block height must be a non-negative integer or 'latest', not {height!r}"
            )
        return (yield from self._json(Call("GET", f"{API}/blocks/{height}")))  # type: ignore[no-any-return]

    def get_block_by_hash(self, block_hash: str) -> Op[dict[str, Any]]:
        """``GET /blocks/hash/{hash}``."""
        path = f"{API}/blocks/hash/{quote(block_hash, safe='')}"
        return (yield from self._json(Call("GET", path)))  # type: ignore[no-any-return]

    def query(
        self,
        contract: str,
        method: str,
        args: Mapping[str, Any] | None,
        prove: bool,
        height: int | None,
        verify: bool,
    ) -> Op[QueryResponse]:
        """``POST /query``; with ``verify``, every read is proven against genesis."""
        body = {
            "contract": contract,
            "method": method,
            "args": to_json(dict(args or {})),
            "height": height,
            "prove": prove or verify,
        }
        genesis = self._need_genesis() if verify else None
        record = yield from self._json(Call("POST", f"{API}/query", json=body))
        if genesis is not None:
            verify_query_record(record, genesis)
        return QueryResponse.from_record(record, verified=verify)

    def get_state(
        self, contract: str, key: str, prove: bool, height: int | None, verify: bool
    ) -> Op[StateValue]:
        """``GET /state/{contract}/{key}``; with ``verify``, the proof is checked."""
        params: dict[str, Any] = {"prove": "true" if prove or verify else "false"}
        if height is not None:
            params["height"] = height
        path = f"{API}/state/{quote(contract, safe='')}/{quote(key, safe='')}"
        call = Call("GET", path, params=params)
        genesis = self._need_genesis() if verify else None
        record = yield from self._json(call)
        if genesis is not None:
            verify_state_record(record, genesis)
        return StateValue.from_record(record, verified=verify)

    def _need_genesis(self) -> ChainConfig:
        if self.genesis is None:
            raise ConfigError("verification needs the genesis file; pass genesis=...")
        return self.genesis


BATCH_TXS_MAX = 2000
"""Most transactions the SDK puts in one batch request (the node's limit)."""
BATCH_BODY_BYTES_MAX = 900 * 1024
"""Largest batch body the SDK sends (the node refuses bodies over 1 MiB)."""


def _batches(txs: Sequence[Tx]) -> Iterator[list[Tx]]:
    chunk: list[Tx] = []
    size = 0
    for tx in txs:
        encoded_size = (len(tx.encoded) + 2) // 3 * 4 + 4
        if chunk and (len(chunk) >= BATCH_TXS_MAX or size + encoded_size > BATCH_BODY_BYTES_MAX):
            yield chunk
            chunk, size = [], 0
        chunk.append(tx)
        size += encoded_size
    if chunk:
        yield chunk


def subscribe_url(base_url: str, contract: str | None, topic: str | None, blocks: bool) -> str:
    """The WebSocket URL of the event stream."""
    url = httpx.URL(base_url.rstrip("/") + f"{API}/ws")
    scheme = "wss" if url.scheme == "https" else "ws"
    params: dict[str, str] = {"blocks": "true" if blocks else "false"}
    if contract is not None:
        params["contract"] = contract
    if topic is not None:
        params["topic"] = topic
    return str(url.copy_with(scheme=scheme, params=params))
