"""The requester's side: fetch granted data from the provider's exchange service.

:func:`fetch` is the whole path for one grant: find the provider's service
on chain, connect with mutual TLS (our member certificate; trusting only the
provider's CA from the chain configuration), send a signed request, decrypt
the envelope, compare its hash with the delivery the provider recorded on
chain, record ``confirm`` on chain, and save the data. On gm chains, whose
SM2 certificates TLS cannot use, the service's transport certificate is the
one pinned by its URL on chain, and our certificate travels in the signed
request instead of the handshake. A resent request is
byte-identical (same nonce and signature), so a retry after a dropped
connection gets the same delivery, never a second one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from jinglian.apps import directory
from jinglian.client import Client, Identity
from jinglian.crypto import Suite, get_suite, open_sealed
from jinglian.exchange import sources as _sources  # noqa: F401  (registers SourceError's code)
from jinglian.exchange.protocol import (
    FETCH_PATH,
    HEADER_DELIVERY,
    FetchRequest,
    request_hash,
    response_hash,
    signing_bytes,
)
from jinglian.exchange.setup import PIN_PREFIX
from jinglian.types.errors import (
    ConfigError,
    ContractFailed,
    CryptoError,
    DecodeError,
    InvalidInput,
    JinglianError,
    NotFound,
    PayloadMismatch,
    Timeout,
    UnknownIdentity,
    error_from_code,
)

__all__ = ["FETCH_ATTEMPTS", "FETCH_TIMEOUT_S", "FetchResult", "fetch", "new_request"]

FETCH_TIMEOUT_S: Final = 120.0
"""How long one attempt may take (the service waits for the deliver commit)."""

FETCH_ATTEMPTS: Final = 3
"""Attempts of the same request when the connection fails (not when the service refuses)."""

RETRY_PAUSE_S: Final = 1.0
"""Pause before resending after a failed connection."""

PIN_BYTES: Final = 32
"""A pin is a SHA-256 digest."""

PROBE_TIMEOUT_S: Final = 2.0
"""How long the certificate probe waits for the service to drop the connection."""

ENVELOPE_BYTES_MAX: Final = (1 << 30) + 4096
"""The largest envelope accepted from a service."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A fetched, verified and confirmed delivery."""

    grant: int
    delivery: int
    provider: str
    catalog: str
    request_hash: str
    """Hex ``H(signed request)`` (the delivery's ``request_hash`` on chain)."""
    payload_hash: str
    """Hex ``H(request_hash || data)``; equal to the chain's ``response_hash``."""
    size: int
    """Bytes of data."""
    status: str
    """The delivery's status on chain after ``confirm``: ``confirmed``."""
    path: Path | None
    """Where the data was saved, if ``out_path`` was given."""
    data: bytes | None
    """The data, if no ``out_path`` was given."""


def fetch(
    client: Client,
    grant_id: int,
    out_path: Path | str | None = None,
    *,
    identity: Identity | None = None,
    contract: str = directory.CONTRACT_NAME,
    request: FetchRequest | None = None,
    timeout_s: float = FETCH_TIMEOUT_S,
    now_ms: int | None = None,
) -> FetchResult:
    """Fetch the data of grant ``grant_id``, verify it against the chain, confirm it, save it.

    ``client`` reads the chain and signs ``confirm`` (an admin or client of
    the requesting department); ``identity`` (default: the client's) is the
    member certificate presented over TLS, that signs the request and whose
    key the data is sealed to. ``out_path`` receives the data (written
    atomically); without it the data is in the result. ``now_ms`` is the
    request's time (default: the wall clock). ``request`` resends a request
    made by :func:`new_request` (byte-identical, so the service answers it
    from its store and the chain keeps one delivery): how a requester
    finishes a fetch that failed mid-way (``Timeout``) without a second
    delivery.

    Refusals arrive as the service's typed error (``NotFound``,
    ``PermissionDenied``, ``ReplayedRequest``, ``CertificateRevoked``, ...);
    a handshake the service refuses raises ``UnknownIdentity``. Data whose
    hash is not the delivery's ``response_hash`` is confirmed on chain as a
    mismatch and raises ``PayloadMismatch``.
    """
    me = _identity(client, identity)
    info = client.chain_info()
    suite = get_suite(info["crypto"])
    grant = _grant(client, grant_id, contract)
    provider = str(grant["provider"])
    url, pin = _endpoint(client, provider, contract, suite)
    if request is None:
        request = _signed_request(me, info["chain_id"], grant_id, provider, now_ms, pin)
    elif (request.grant, request.cert_id, request.provider) != (grant_id, me.cert_id, provider):
        raise InvalidInput("the request to resend is not this grant's request by this identity")
    req_hash = request_hash(suite, request)
    if pin is None:
        context = _client_context(me, _org_ca(client, provider))
    else:
        context = _pinned_context(url, pin)
    reply = _post(url + FETCH_PATH, request.to_json(), context, timeout_s)
    try:
        delivery_id = int(reply.headers.get(HEADER_DELIVERY, ""))
    except ValueError:
        raise DecodeError("the exchange service named no delivery") from None
    record = directory.get_delivery(client, delivery_id, contract=contract)
    if record["grant"] != grant_id or record["request_hash"] != req_hash.hex():
        raise PayloadMismatch(
            f"delivery {delivery_id} on chain is not of this request (grant "
            f"{record['grant']}, request hash {record['request_hash'][:16]})"
        )
    data, payload_hash = _open(suite, me, reply.content, req_hash)
    if data is None or payload_hash.hex() != record["response_hash"]:
        if record["status"] == "delivered":
            directory.confirm(client, delivery_id, payload_hash, contract=contract)
        raise PayloadMismatch(
            f"delivery {delivery_id}: the data received hashes to {payload_hash.hex()[:16]}, the "
            f"chain records {record['response_hash'][:16]}; confirmed on chain as a mismatch"
        )
    # saved before confirming: the chain never says "received" for data we failed to keep
    path = _save(Path(out_path), data) if out_path is not None else None
    if record["status"] == "delivered":
        directory.confirm(client, delivery_id, payload_hash, contract=contract)
    status = directory.get_delivery(client, delivery_id, contract=contract)["status"]
    return FetchResult(
        grant=grant_id,
        delivery=delivery_id,
        provider=provider,
        catalog=str(grant["catalog"]),
        request_hash=req_hash.hex(),
        payload_hash=payload_hash.hex(),
        size=len(data),
        status=str(status),
        path=path,
        data=None if out_path is not None else data,
    )


def new_request(
    client: Client,
    grant_id: int,
    *,
    identity: Identity | None = None,
    contract: str = directory.CONTRACT_NAME,
    now_ms: int | None = None,
) -> FetchRequest:
    """A signed request for grant ``grant_id``, to pass to :func:`fetch` (and again on retry)."""
    me = _identity(client, identity)
    grant = _grant(client, grant_id, contract)
    info = client.chain_info()
    provider = str(grant["provider"])
    _, pin = _endpoint(client, provider, contract, get_suite(info["crypto"]))
    return _signed_request(me, str(info["chain_id"]), grant_id, provider, now_ms, pin)


def _identity(client: Client, identity: Identity | None) -> Identity:
    me = identity or client.identity
    if me is None:
        raise ConfigError("fetch needs an identity: the client has none")
    return me


def _grant(client: Client, grant_id: int, contract: str) -> dict[str, Any]:
    try:
        return directory.get_grant(client, grant_id, contract=contract)
    except ContractFailed as exc:
        raise NotFound(exc.message) from None


def _signed_request(
    me: Identity,
    chain_id: str,
    grant_id: int,
    provider: str,
    now_ms: int | None,
    pin: bytes | None,
) -> FetchRequest:
    """A signed request; with a ``pin`` (gm chains) it carries our certificate and the pin."""
    moment = int(time.time() * 1000) if now_ms is None else now_ms
    request = FetchRequest.new(chain_id, grant_id, provider, me.cert_id, moment)
    if pin is not None:
        request = dataclasses.replace(request, cert=me.cert.der, server=pin)
    return dataclasses.replace(request, signature=me.key.sign(signing_bytes(request)))


def _endpoint(
    client: Client, provider: str, contract: str, suite: Suite
) -> tuple[str, bytes | None]:
    """The provider's service URL from the chain, and (gm chains) its pinned TLS hash."""
    endpoint = directory.exchange(client, provider, contract=contract)
    if not endpoint or endpoint.get("status") == "retired" or not endpoint.get("url"):
        raise NotFound(f"{provider} publishes no exchange service on chain")
    url, _, fragment = str(endpoint["url"]).partition("#")
    url = url.rstrip("/")
    if suite.name != "gm":
        return url, None
    if not fragment.startswith(PIN_PREFIX):
        raise ConfigError(
            f"{provider}'s exchange URL on chain pins no TLS certificate (#{PIN_PREFIX})"
        )
    try:
        pin = bytes.fromhex(fragment.removeprefix(PIN_PREFIX))
    except ValueError:
        pin = b""
    if len(pin) != PIN_BYTES:
        raise ConfigError(f"{provider}'s exchange URL on chain has a malformed TLS pin")
    return url, pin


def _pinned_context(url: str, pin: bytes) -> ssl.SSLContext:
    """TLS 1.3 trusting exactly the certificate whose SHA-256 the chain pins (gm chains)."""
    parsed = httpx.URL(url)
    try:
        pem = ssl.get_server_certificate((parsed.host, parsed.port or 443), timeout=PROBE_TIMEOUT_S)
    except OSError as exc:
        raise Timeout(f"the exchange service at {url} cannot be reached: {exc}") from None
    if hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).digest() != pin:
        raise UnknownIdentity(
            f"the exchange service at {url} presents a TLS certificate not pinned on chain"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=pem)
    return context


def _open(
    suite: Suite, me: Identity, envelope: bytes, req_hash: bytes
) -> tuple[bytes | None, bytes]:
    """The data and ``H(request_hash || data)``; for an envelope that does not open, None
    and the hash of the envelope as received (which cannot match)."""
    try:
        data = open_sealed(me.key, envelope, req_hash)
    except CryptoError:
        return None, response_hash(suite, req_hash, envelope)
    return data, response_hash(suite, req_hash, data)


def _org_ca(client: Client, org: str) -> str:
    document = client.query("chain_config", "get").value
    for entry in document["orgs"]:
        if entry["id"] == org:
            return str(entry["ca_cert"])
    raise NotFound(f"{org} is not a member organisation of the chain")


def _post(url: str, body: bytes, context: ssl.SSLContext, timeout_s: float) -> httpx.Response:
    last: Exception | None = None
    with httpx.Client(verify=context, timeout=timeout_s) as http:
        for attempt in range(FETCH_ATTEMPTS):
            if attempt:
                time.sleep(RETRY_PAUSE_S)
            try:
                reply = http.post(url, content=body, headers={"content-type": "application/json"})
            except httpx.TransportError as exc:
                if _tls_refusal(exc) or _refuses_certificate(url, context):
                    raise UnknownIdentity(
                        f"the exchange service at {url} refused the TLS handshake: {exc}"
                    ) from None
                last = exc
                continue
            if reply.status_code != 200:
                raise _error_of(reply)
            if len(reply.content) > ENVELOPE_BYTES_MAX:
                raise DecodeError(f"the envelope is over {ENVELOPE_BYTES_MAX} bytes")
            return reply
    raise Timeout(
        f"the exchange service at {url} did not answer in {FETCH_ATTEMPTS} attempts: {last}"
    )


def _refuses_certificate(url: str, context: ssl.SSLContext) -> bool:
    """Whether the service drops a fresh connection right after the handshake: what a TLS 1.3
    server does to a client certificate it does not trust (the alert often never arrives). A
    healthy service waits for the request; a dead one refuses the TCP connection."""
    parsed = httpx.URL(url)
    try:
        raw = socket.create_connection((parsed.host, parsed.port or 443), PROBE_TIMEOUT_S)
        with raw, context.wrap_socket(raw, server_hostname=parsed.host) as tls:
            return tls.recv(1) == b""
    except ssl.SSLError:
        return True
    except OSError:
        return False


def _tls_refusal(exc: httpx.TransportError) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc).lower()
    return "alert" in text or "certificate" in text


def _error_of(reply: httpx.Response) -> JinglianError:
    try:
        body: Any = reply.json()
        return error_from_code(str(body["code"]), str(body["message"]))
    except (ValueError, KeyError, TypeError):
        return JinglianError(f"the exchange service answered HTTP {reply.status_code}")


def _client_context(me: Identity, ca_pem: str) -> ssl.SSLContext:
    """TLS 1.3, presenting ``me`` and trusting only ``ca_pem`` (the provider's CA)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=ca_pem)
    with tempfile.TemporaryDirectory(prefix="jinglian-fetch-") as scratch:
        cert_path, key_path = Path(scratch) / "cert.pem", Path(scratch) / "key.pem"
        cert_path.write_text(ssl.DER_cert_to_PEM_cert(me.cert.der))
        key_path.touch(mode=0o600)
        key_path.write_bytes(me.key.to_pem())
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise ConfigError(f"TLS cannot present {me!r}: {exc}") from None
    return context


def _save(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = path.resolve()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path
