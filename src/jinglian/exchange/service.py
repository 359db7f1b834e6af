"""The exchange service: serves granted data to other departments over mutual TLS.

One process per department (ADR 0019). ``POST /v1/fetch`` takes a signed
fetch request (:mod:`jinglian.exchange.protocol`), parses it, and checks, in
order (on gm chains the certificate is the request's ``cert``, TLS runs on a
P-256 transport certificate pinned on chain, and the request must name that
pin; see ``docs/exchange.md``):

1. the TLS peer's certificate chains to its organisation's CA *in the chain's
   current configuration*, is valid now, is not revoked on chain, has a
   sharing role (admin or client), and is the certificate that signed the
   request (same certificate id, valid signature);
2. the request's time is within ``skew_ms`` of the service's clock, and a
   request already delivered *and confirmed* is not served again
   (``replayed_request``);
3. the grant exists on chain, was given by this department to the signer's
   organisation, is active (not revoked, not past its end), and this
   department has a source for its catalog.

Then it reads the source cut to the granted items, seals the payload to the
signer's certificate key, **stores the sealed response durably under its
request hash, records** ``deliver`` **on chain and waits for the commit, and
only then releases the envelope**. ``deliver`` is idempotent by request hash,
so after a crash at any point the requester's retry of the same request gets
the stored envelope and the chain one delivery: never a delivery recorded as
complete (confirmed) without the data. Errors are JSON ``{"code", "message"}``
with the error class's HTTP status.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import os
import signal
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from jinglian.apps import directory
from jinglian.client import Client
from jinglian.crypto import Certificate, get_suite, load_certificate, seal, validate_certificate
from jinglian.exchange.config import ExchangeConfig
from jinglian.exchange.protocol import (
    FETCH_PATH,
    HEADER_DELIVERY,
    HEADER_REQUEST_HASH,
    HEADER_RESPONSE_HASH,
    HEADER_SIZE,
    HEALTH_PATH,
    REQUEST_BYTES_MAX,
    FetchRequest,
    parse_request,
    request_hash,
    response_hash,
    signing_bytes,
)
from jinglian.exchange.sources import read_payload
from jinglian.exchange.store import ResponseStore, StoredResponse
from jinglian.types.errors import (
    Busy,
    CertificateExpired,
    CertificateRevoked,
    ConfigError,
    ContractFailed,
    CryptoError,
    InvalidInput,
    JinglianError,
    NotFound,
    PermissionDenied,
    ReplayedRequest,
    TooLarge,
    Unauthenticated,
    UnknownIdentity,
    WrongChain,
)

__all__ = [
    "CONFIG_CACHE_MS",
    "FAULT_ENV",
    "FETCH_ROLES",
    "LOG_EVENT_ATTRIBUTE",
    "Delivered",
    "ExchangeService",
    "server_tls_context",
]

CONFIG_CACHE_MS: Final = 10_000
"""How long the member CAs read from the chain configuration are reused."""

FETCH_ROLES: Final = ("admin", "client")
"""Certificate roles that may fetch (the directory contract's sharing roles)."""

FAULT_ENV: Final = "JINGLIAN_EXCHANGE_FAULT"
"""Fault injection for the crash tests: ``after_store`` or ``after_deliver`` makes the
service SIGKILL itself at that step of a delivery. Unset in production."""

SHUTDOWN_GRACE_S: Final = 5
"""Seconds in-flight fetches get to finish after SIGTERM."""

PRUNE_EVERY_MS: Final = 60_000
"""How often (at most) a fetch also prunes the response store."""

PRUNE_MARGIN_MS: Final = 60_000
"""Extra age, beyond twice the time window, before a stored response is pruned."""

LOCK_WAIT_S: Final = 60
"""How long a resent request waits for the same request's delivery in progress."""

LOG_EVENT_ATTRIBUTE: Final = "exchange_event"
"""Attribute of every log record of a fetch that holds the outcome as a JSON-ready dict
(``event``: ``delivered`` or ``refused``, and its fields), which ``jinglian exchange run
--json`` prints as one line instead of the text message."""

_LOG = logging.getLogger("jinglian.exchange")
_FAULTS: Final = ("after_store", "after_deliver")


@dataclass(frozen=True, slots=True)
class Delivered:
    """A fetch answered: the envelope and what the chain recorded for it."""

    envelope: bytes
    delivery: int
    request_hash: str
    response_hash: str
    size: int


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ExchangeService:
    """A department's exchange service over one node (see the module docstring).

    ``clock_ms`` is the service's clock for request times and grant ends;
    ``client`` replaces the node client built from the config (tests).
    """

    def __init__(
        self,
        config: ExchangeConfig,
        *,
        clock_ms: Callable[[], int] = _wall_clock_ms,
        client: Client | None = None,
    ) -> None:
        self.config = config
        self.clock_ms = clock_ms
        self.client = client or Client.from_network(config.net, config.identity, config.node)
        identity = self.client.identity
        if identity is None or identity.cert.org_id != config.org:
            raise ConfigError(f"identity {config.identity} is not a member of {config.org}")
        info = self.client.chain_info()
        self.chain_id: str = info["chain_id"]
        self.suite = get_suite(info["crypto"])
        self.gm = self.suite.name == "gm"
        """gm chains: the member certificate travels in the request (TLS cannot carry SM2)."""
        self.tls_pin = _pin(config)
        """SHA-256 of the service's TLS certificate (gm requests must name it)."""
        self.store = ResponseStore(config.state_dir)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._cas: dict[str, Certificate] = {}
        self._cas_at_ms = -CONFIG_CACHE_MS
        self._peers: dict[Any, bytes] = {}
        self._tls: ssl.SSLContext | None = None
        self._pruned_at_ms = -PRUNE_EVERY_MS
        fault = os.environ.get(FAULT_ENV, "")
        self._fault = fault if fault in _FAULTS else ""

    @property
    def org(self) -> str:
        """The department this service serves."""
        return self.config.org

    # -- checks -------------------------------------------------------------------------------

    def member_cas(self) -> dict[str, Certificate]:
        """Organisation id -> CA certificate from the chain's current configuration (cached)."""
        now = time.monotonic_ns() // 1_000_000
        if now - self._cas_at_ms >= CONFIG_CACHE_MS:
            document = self.client.query("chain_config", "get").value
            cas: dict[str, Certificate] = {}
            for org in document["orgs"]:
                try:
                    cas[org["id"]] = load_certificate(org["ca_cert"].encode())
                except CryptoError as exc:
                    raise ConfigError(f"CA of {org['id']} on chain: {exc.message}") from None
            added = [ca for org_id, ca in cas.items() if self._cas.get(org_id) != ca]
            if added and self._tls is not None and not self.gm:
                self._tls.load_verify_locations(cadata=_pem_bundle(added))
            self._cas, self._cas_at_ms = cas, now
        return self._cas

    def check_peer(self, der: bytes | None) -> Certificate:
        """The TLS peer's certificate if it may fetch; else ``PermissionDenied`` or a subclass."""
        if not der:
            raise Unauthenticated("no client certificate: the exchange needs mutual TLS")
        try:
            cert = load_certificate(der)
        except CryptoError as exc:
            raise UnknownIdentity(f"client certificate is unusable: {exc.message}") from None
        ca = self.member_cas().get(cert.org_id)
        if ca is None:
            raise UnknownIdentity(f"organisation {cert.org_id!r} is not a member of the chain")
        now_ms = self.clock_ms()
        if not cert.not_before_ms <= now_ms <= cert.not_after_ms:
            raise CertificateExpired(f"client certificate {cert.common_name!r} is not valid now")
        try:
            validate_certificate(cert, ca, now_ms)
        except CryptoError as exc:
            raise UnknownIdentity(
                f"client certificate does not chain to the CA of {cert.org_id!r}: {exc.message}"
            ) from None
        if cert.role not in FETCH_ROLES:
            raise PermissionDenied(f"role {cert.role!r} may not fetch; {' or '.join(FETCH_ROLES)}")
        cert_id = cert.cert_id.hex()
        if self.client.query("identity", "revoked", {"cert_id": cert_id}).value is not None:
            raise CertificateRevoked(f"client certificate {cert_id[:16]} is revoked on chain")
        return cert

    def _check_request(self, request: FetchRequest, peer: Certificate) -> None:
        if request.cert_id != peer.cert_id:
            raise Unauthenticated(
                "the request was signed for another certificate than the TLS peer's"
            )
        if not peer.public_key.verify(request.signature, signing_bytes(request)):
            raise Unauthenticated("the request's signature does not verify with the TLS peer's key")
        if request.chain_id != self.chain_id:
            raise WrongChain(f"request is for chain {request.chain_id!r}, not {self.chain_id!r}")
        if request.provider != self.org:
            raise NotFound(f"this is the exchange of {self.org}, not of {request.provider}")
        now_ms = self.clock_ms()
        if abs(now_ms - request.time_ms) > self.config.skew_ms:
            raise ReplayedRequest(
                f"request time {request.time_ms} is {now_ms - request.time_ms} ms from the "
                f"service's clock; the window is {self.config.skew_ms} ms"
            )

    def _check_grant(self, request: FetchRequest, peer: Certificate) -> dict[str, Any]:
        try:
            grant = directory.get_grant(self.client, request.grant, contract=self.config.contract)
        except ContractFailed as exc:
            raise NotFound(exc.message) from None
        number = request.grant
        if grant["provider"] != self.org:
            raise PermissionDenied(
                f"grant {number} was given by {grant['provider']}, not {self.org}"
            )
        if grant["requester"] != peer.org_id:
            raise PermissionDenied(f"grant {number} is {grant['requester']}'s, not {peer.org_id}'s")
        if grant["status"] != "active":
            raise PermissionDenied(f"grant {number} is {grant['status']}")
        if self.clock_ms() >= grant["end"]:
            raise PermissionDenied(f"grant {number} is expired (it ended at {grant['end']})")
        if grant["catalog"] not in self.config.sources:
            raise NotFound(f"{self.org} has no source configured for catalog {grant['catalog']}")
        return grant

    # -- delivery -----------------------------------------------------------------------------

    def handle_fetch(self, peer_der: bytes | None, body: bytes) -> Delivered:
        """Check a fetch request, then store, deliver and release (see the module docstring)."""
        self._maybe_prune()
        request = parse_request(body)
        if self.gm:
            if request.cert is None or request.server is None:
                raise Unauthenticated(
                    "on a gm chain a request carries its member certificate (cert) and the "
                    "service's pinned TLS hash (server)"
                )
            if request.server != self.tls_pin:
                raise Unauthenticated("the request is for another TLS certificate than this one")
            peer = self.check_peer(request.cert)
        else:
            if request.cert is not None or request.server is not None:
                raise InvalidInput("cert and server are for gm chains; here TLS carries the cert")
            peer = self.check_peer(peer_der)
        self._check_request(request, peer)
        req_hash = request_hash(self.suite, request).hex()
        lock = self._acquire(req_hash)
        try:
            return self._deliver(request, peer, req_hash)
        finally:
            lock.release()
            self._forget(req_hash)

    def _deliver(self, request: FetchRequest, peer: Certificate, req_hash: str) -> Delivered:
        stored = self.store.get(req_hash)
        if stored is not None and stored.delivery is not None:
            record = directory.get_delivery(
                self.client, stored.delivery, contract=self.config.contract
            )
            if record["status"] != "delivered":
                raise ReplayedRequest(
                    f"request {req_hash[:16]} was delivered as delivery {stored.delivery} and "
                    f"is already {record['status']}"
                )
        grant = self._check_grant(request, peer)
        if stored is None:
            source = self.config.sources[grant["catalog"]]
            payload = read_payload(source, grant["items"], self.config.payload_bytes_max)
            envelope = seal(peer.public_key, payload, bytes.fromhex(req_hash))
            stored = StoredResponse(
                request_hash=req_hash,
                grant=request.grant,
                requester_cert_id=peer.cert_id.hex(),
                response_hash=response_hash(self.suite, bytes.fromhex(req_hash), payload).hex(),
                size=len(payload),
                created_ms=self.clock_ms(),
            )
            self.store.put(stored, envelope)
            self._maybe_crash("after_store")
        done = directory.deliver(
            self.client,
            request.grant,
            bytes.fromhex(req_hash),
            bytes.fromhex(stored.response_hash),
            stored.size,
            contract=self.config.contract,
        )
        if stored.delivery != done["id"]:
            stored = dataclasses.replace(stored, delivery=int(done["id"]))
            self.store.set_record(stored)
        self._maybe_crash("after_deliver")
        return Delivered(
            envelope=self.store.envelope(req_hash),
            delivery=int(done["id"]),
            request_hash=req_hash,
            response_hash=stored.response_hash,
            size=stored.size,
        )

    def _acquire(self, key: str) -> threading.Lock:
        """The per-request-hash lock, held: one delivery of one request at a time."""
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if not lock.acquire(timeout=LOCK_WAIT_S):
            raise Busy(f"request {key[:16]} is being served already")
        return lock

    def _forget(self, key: str) -> None:
        with self._locks_guard:
            lock = self._locks.get(key)
            if lock is not None and not lock.locked():
                self._locks.pop(key, None)

    def _maybe_prune(self) -> None:
        """Every ``PRUNE_EVERY_MS``, drop stored responses no request can be accepted for any
        more (created more than twice the time window ago)."""
        now_ms = self.clock_ms()
        with self._locks_guard:
            if now_ms - self._pruned_at_ms < PRUNE_EVERY_MS:
                return
            self._pruned_at_ms = now_ms
        self.store.prune(now_ms - 2 * self.config.skew_ms - PRUNE_MARGIN_MS)

    def _maybe_crash(self, step: str) -> None:
        if self._fault == step:
            os.kill(os.getpid(), signal.SIGKILL)

    # -- HTTP ---------------------------------------------------------------------------------

    def app(self) -> Starlette:
        """The ASGI app; the TLS peer certificate comes from the connection (see ``serve``)."""

        async def fetch(request: Request) -> Response:
            peer = _client_key(request)
            try:
                body = await _read_body(request, REQUEST_BYTES_MAX)
                done = await run_in_threadpool(self.handle_fetch, self._peers.get(peer), body)
            except JinglianError as exc:
                _log_refused(peer, exc)
                return JSONResponse(exc.to_dict(), status_code=exc.http_status)
            except httpx.TransportError as exc:
                error = Busy(f"the chain node cannot be reached: {exc}")
                _log_refused(peer, error)
                return JSONResponse(error.to_dict(), status_code=error.http_status)
            _LOG.info(
                "delivered %s bytes as delivery %s (request %s) to %s",
                done.size,
                done.delivery,
                done.request_hash[:16],
                peer,
                extra={
                    LOG_EVENT_ATTRIBUTE: {
                        "event": "delivered",
                        "delivery": done.delivery,
                        "request_hash": done.request_hash,
                        "response_hash": done.response_hash,
                        "size": done.size,
                        "peer": _peer_text(peer),
                    }
                },
            )
            headers = {
                HEADER_DELIVERY: str(done.delivery),
                HEADER_REQUEST_HASH: done.request_hash,
                HEADER_RESPONSE_HASH: done.response_hash,
                HEADER_SIZE: str(done.size),
            }
            return Response(done.envelope, media_type="application/octet-stream", headers=headers)

        async def health(request: Request) -> Response:
            return JSONResponse(
                {"org": self.org, "chain_id": self.chain_id, "url": self.config.url}
            )

        return Starlette(
            routes=[
                Route(FETCH_PATH, fetch, methods=["POST"]),
                Route(HEALTH_PATH, health, methods=["GET"]),
            ]
        )

    def tls_context(self) -> ssl.SSLContext:
        """The server's TLS context: TLS 1.3, client certificate required, member CAs trusted."""
        if self._tls is None:
            cas = [] if self.gm else list(self.member_cas().values())
            self._tls = server_tls_context(self.config, cas)
        return self._tls

    def uvicorn_config(self) -> uvicorn.Config:
        """uvicorn settings: this app, mutual TLS, the peer-certificate-capturing protocol."""
        context = self.tls_context()
        return uvicorn.Config(
            self.app(),
            host=self.config.host,
            port=self.config.port,
            http=_peer_protocol(self._peers),
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
            ssl_context_factory=lambda _config, _default: context,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )

    def run(self) -> None:
        """Serve in the foreground until SIGTERM or SIGINT (then finish in-flight fetches and
        return normally, so ``jinglian exchange run`` exits 0)."""
        server = _Server(self.uvicorn_config())
        asyncio.run(server.serve())
        self.client.close()


def _log_refused(peer: Any, error: JinglianError) -> None:
    """Log a refused fetch: its peer, error code and reason (see ``LOG_EVENT_ATTRIBUTE``)."""
    _LOG.warning(
        "refused fetch from %s: %s: %s",
        peer,
        error.code,
        error.message,
        extra={
            LOG_EVENT_ATTRIBUTE: {
                "event": "refused",
                "peer": _peer_text(peer),
                "code": error.code,
                "message": error.message,
            }
        },
    )


class _Server(uvicorn.Server):
    """uvicorn, except that a stop signal ends ``serve`` without being raised again at exit."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def server_tls_context(config: ExchangeConfig, cas: list[Certificate]) -> ssl.SSLContext:
    """TLS 1.3 server context presenting the service's certificate and requiring a client's
    chaining to ``cas``; with no ``cas`` (gm chains) no client certificate is asked for."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED if cas else ssl.CERT_NONE
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
        if cas:
            context.load_verify_locations(cadata=_pem_bundle(cas))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"exchange TLS setup ({config.tls_cert}): {exc}") from None
    return context


def _pin(config: ExchangeConfig) -> bytes:
    try:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(config.tls_cert.read_text())).digest()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"exchange TLS certificate {config.tls_cert}: {exc}") from None


def _pem_bundle(cas: list[Certificate]) -> str:
    return "".join(ssl.DER_cert_to_PEM_cert(ca.der) for ca in cas)


def _client_key(request: Request) -> Any:
    client = request.scope.get("client")
    return tuple(client) if client else None


def _peer_text(peer: Any) -> str | None:
    """A connection key of ``_client_key`` as ``host:port`` (None when the server had none)."""
    return None if peer is None else f"{peer[0]}:{peer[1]}"


async def _read_body(request: Request, bytes_max: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > bytes_max):
        raise TooLarge(f"fetch request is over {bytes_max} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > bytes_max:
            raise TooLarge(f"fetch request is over {bytes_max} bytes")
    return bytes(body)


def _peer_protocol(peers: dict[Any, bytes]) -> type[H11Protocol]:
    """An HTTP/1.1 protocol that records each TLS connection's client certificate by address."""

    class PeerCertificateProtocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
            if self.client is not None and der:
                peers[tuple(self.client)] = der

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client is not None:
                peers.pop(tuple(self.client), None)
            super().connection_lost(exc)

    return PeerCertificateProtocol
