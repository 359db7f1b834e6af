"""Step 3, submission: the HTTP clients, the senders and their offered rate.

``--concurrency`` senders each hold one connection (``CLIENTS``) and take the
next transactions in turn, one per request to ``/txs`` or ``--batch`` per
request to ``/txs/batch``, as soon as the previous answer arrives or at a fixed
``--rate``; a ``503 busy`` is retried after ``BUSY_RETRY_S``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.util
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from jinglian.client.identity import Identity
from jinglian.testing.loadgen.records import LoadResult
from jinglian.testing.loadgen.signing import kv_set_args

__all__ = ["API", "BUSY_RETRY_S", "CLIENTS", "RawConnection", "error_code", "register_certificate"]

BUSY_RETRY_S = 0.02
"""Pause before resending a transaction the node refused with ``503 busy``."""
API = "/api/v1"


def _skip_sniffio_probe() -> None:
    """Make httpcore's per-request ``import sniffio`` fail fast when sniffio is absent.

    httpcore tries ``import sniffio`` on every request; a failed import is not
    cached and scans ``sys.path`` each time (about 0.15 ms here). A ``None``
    entry in ``sys.modules`` makes the import fail at once, which httpcore
    already handles by assuming asyncio.
    """
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client for one route (``--client raw``).

    It writes a fixed request head and reads the status line, the headers and a
    ``Content-Length`` body: about a tenth of httpx's CPU per request, so the
    generator takes less of the machine from the node it measures.
    """

    def __init__(self, url: str, path: str) -> None:
        parsed = httpx.URL(url)
        self._host, self._port = parsed.host, parsed.port or 80
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes, headers: bytes = b"") -> tuple[int, bytes]:
        """Send one request (``headers``: extra header lines, each ending in CRLF); its status
        and body. ``ConnectionError`` (the connection is then closed, the next ``post`` opens a
        new one) if the server closed it or answered garbage."""
        try:
            return await self._exchange(body, headers)
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError) as exc:
            await self.close()
            raise ConnectionError(f"{self._host}:{self._port}: {exc!r}") from exc

    async def _exchange(self, body: bytes, headers: bytes) -> tuple[int, bytes]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        writer.write(self._head + b"%d\r\n" % len(body) + headers + b"\r\n" + body)
        status = int((await reader.readline()).split()[1])
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class _HttpxConnection:
    """One ``httpx.AsyncClient`` with one connection (``--client httpx``, the default).

    One client per connection: a client shared by many connections scans its
    whole pool on every request, which costs more CPU than the node spends.
    """

    def __init__(self, url: str, path: str) -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self._client = httpx.AsyncClient(
            base_url=url, limits=limits, timeout=httpx.Timeout(60.0), verify=False
        )
        self._path = path
        self._headers = {"content-type": "application/json"}

    async def post(self, body: bytes) -> tuple[int, bytes]:
        reply = await self._client.post(self._path, content=body, headers=self._headers)
        return reply.status_code, reply.content

    async def close(self) -> None:
        await self._client.aclose()


CLIENTS: dict[str, type[RawConnection] | type[_HttpxConnection]] = {
    "httpx": _HttpxConnection,
    "raw": RawConnection,
}
"""HTTP clients the generator can send with."""


async def _send_all(
    url: str,
    txs: Sequence[tuple[bytes, bytes]],
    concurrency: int,
    rate: float | None,
    result: LoadResult,
    client_kind: str,
    batch: int = 0,
) -> None:
    """``concurrency`` senders, each on its own connection, taking the next transactions in turn.

    ``batch`` 0 posts each transaction to ``/txs``; otherwise up to ``batch``
    per request go to ``/txs/batch`` (those refused as ``busy`` are resent).
    """
    next_index = 0
    start = time.perf_counter()
    take = max(1, batch)

    async def sender() -> None:
        nonlocal next_index
        connection = CLIENTS[client_kind](url, API + ("/txs/batch" if batch else "/txs"))
        try:
            while next_index < len(txs):
                index = next_index
                next_index += take
                if rate is not None:
                    delay = start + index / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                pending = list(txs[index : index + take])
                while pending:
                    pending = await _post(connection, pending, batch > 0, result)
                    if pending:
                        await asyncio.sleep(BUSY_RETRY_S)
        finally:
            await connection.close()

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def _post(
    connection: RawConnection | _HttpxConnection,
    txs: list[tuple[bytes, bytes]],
    batch: bool,
    result: LoadResult,
) -> list[tuple[bytes, bytes]]:
    """Send ``txs`` in one request; return those to resend (refused as busy)."""
    now = time.time()
    for tx_id, _ in txs:
        result.sent_s[tx_id] = now
    if batch:
        body = b'{"txs":["' + b'","'.join(b64 for _, b64 in txs) + b'"]}'
    else:
        body = b'{"tx":"' + txs[0][1] + b'"}'
    status, content = await connection.post(body)
    if status == 503:
        result.busy_retries += len(txs)
        return txs
    if batch and status == 200:
        retry = []
        for tx, outcome in zip(txs, json.loads(content)["results"], strict=True):
            if outcome.get("tx_id") is not None:
                continue
            code = outcome["error"]["code"]
            if code == "busy":
                retry.append(tx)
                result.busy_retries += 1
            else:
                result.rejected[code] = result.rejected.get(code, 0) + 1
                result.sent_s.pop(tx[0], None)
        return retry
    if status != 202 or batch:
        code = error_code(status, content)
        result.rejected[code] = result.rejected.get(code, 0) + len(txs)
        for tx_id, _ in txs:
            result.sent_s.pop(tx_id, None)
    return []


def error_code(status: int, content: bytes) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return f"{status} {json.loads(content)['error']['code']}"
    return str(status)


def register_certificate(url: str, net_dir: Path, identity_name: str, chain_id: str) -> None:
    """Commit one full-certificate ``kv.set`` so that later transactions may cite the id."""
    identity = Identity.from_network(net_dir, identity_name)
    tx = identity.sign_tx(chain_id, "kv", "set", kv_set_args(random.Random()))
    body = {"tx": base64.b64encode(tx.encoded).decode()}
    reply = httpx.post(f"{url}{API}/txs", params={"wait": "true"}, json=body, timeout=60)
    reply.raise_for_status()
