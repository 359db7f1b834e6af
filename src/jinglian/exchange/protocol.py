"""The fetch protocol's messages and the hashes the chain records (``docs/exchange.md``).

A fetch request is a small JSON object signed by the requester's member key::

    {"v": 1, "chain_id": "...", "grant": 7, "provider": "org1",
     "cert_id": "<64 hex>", "nonce": "<32 hex>", "time_ms": 1763700000000,
     "signature": "<hex DER>"}

On gm chains two more signed fields: ``cert`` (hex DER of the requester's
SM2 member certificate, which Python's TLS cannot present) and ``server``
(hex SHA-256 of the service's TLS certificate, as pinned in its URL on
chain), so a request is good for that one service only.

The signature covers :func:`signing_bytes`: a fixed tag, then the fields
other than ``signature`` as JSON with sorted keys and no spaces. Hashes use
the chain's hash ``H`` (SHA-256 on ``default`` chains, SM3 on ``gm``):

- ``request_hash = H(signing_bytes || signature)``: fixed by the request's
  content, so a resent request has the same hash and a fresh nonce gives a
  new one (``deliver`` is idempotent by it);
- ``response_hash = H(request_hash || plaintext)``: what ``deliver`` records
  and what the requester recomputes after decrypting and sends to
  ``confirm`` (the chain compares the two);
- ``size``: the plaintext's length in bytes (what the requester saves).

The envelope sealed to the requester's certificate key uses
``request_hash`` as associated data, so an envelope cannot be replayed as the
answer to another request.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Final

from jinglian.crypto import Suite
from jinglian.types.errors import DecodeError, InvalidInput, TooLarge

__all__ = [
    "FETCH_PATH",
    "HEALTH_PATH",
    "NONCE_BYTES",
    "PROTOCOL_VERSION",
    "REQUEST_BYTES_MAX",
    "FetchRequest",
    "parse_request",
    "request_hash",
    "response_hash",
    "signing_bytes",
]

PROTOCOL_VERSION: Final = 1
"""The ``v`` field of every request this module writes and accepts."""

REQUEST_BYTES_MAX: Final = 8 * 1024
"""The largest request body the service reads; a real one is about 400 bytes."""

NONCE_BYTES: Final = 16
"""Random bytes in a request's nonce."""

FETCH_PATH: Final = "/v1/fetch"
"""POST a signed request; the answer is the sealed envelope."""

HEALTH_PATH: Final = "/v1/health"
"""GET: the service's department and chain."""

HEADER_DELIVERY: Final = "x-jinglian-delivery"
HEADER_REQUEST_HASH: Final = "x-jinglian-request-hash"
HEADER_RESPONSE_HASH: Final = "x-jinglian-response-hash"
HEADER_SIZE: Final = "x-jinglian-size"

_SIGNING_TAG: Final = b"jinglian exchange fetch v1\n"
_HEX: Final = re.compile(r"[0-9a-f]*")
_FIELDS: Final = ("v", "chain_id", "grant", "provider", "cert_id", "nonce", "time_ms", "signature")
_GM_FIELDS: Final = ("cert", "server")
"""gm chains only: the member certificate (TLS cannot carry it) and the pinned server hash."""
CERT_HEX_CHARS_MAX: Final = 2 * 3072
_SIGNATURE_HEX_MAX: Final = 2 * 80
_TEXT_CHARS_MAX: Final = 64
_INT_MAX: Final = (1 << 62) - 1


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """A signed fetch request (see the module docstring)."""

    chain_id: str
    grant: int
    provider: str
    cert_id: bytes
    nonce: bytes
    time_ms: int
    signature: bytes = b""
    cert: bytes | None = None
    """gm chains: the requester's SM2 member certificate (DER), which TLS cannot carry."""
    server: bytes | None = None
    """gm chains: SHA-256 of the service's TLS certificate, as pinned on chain."""

    def fields(self) -> dict[str, Any]:
        """The signed fields (everything but the signature) as JSON values."""
        found: dict[str, Any] = {
            "v": PROTOCOL_VERSION,
            "chain_id": self.chain_id,
            "grant": self.grant,
            "provider": self.provider,
            "cert_id": self.cert_id.hex(),
            "nonce": self.nonce.hex(),
            "time_ms": self.time_ms,
        }
        if self.cert is not None:
            found["cert"] = self.cert.hex()
        if self.server is not None:
            found["server"] = self.server.hex()
        return found

    def to_json(self) -> bytes:
        """The request body sent to the service."""
        return json.dumps(
            {**self.fields(), "signature": self.signature.hex()}, separators=(",", ":")
        ).encode()

    @classmethod
    def new(
        cls, chain_id: str, grant: int, provider: str, cert_id: bytes, time_ms: int
    ) -> FetchRequest:
        """An unsigned request with a fresh random nonce."""
        return cls(chain_id, grant, provider, cert_id, os.urandom(NONCE_BYTES), time_ms)


def signing_bytes(request: FetchRequest) -> bytes:
    """What the requester signs: a fixed tag, then the fields as sorted, compact JSON."""
    body = json.dumps(request.fields(), sort_keys=True, separators=(",", ":"))
    return _SIGNING_TAG + body.encode()


def request_hash(suite: Suite, request: FetchRequest) -> bytes:
    """``H(signing_bytes || signature)``: the hash ``deliver`` is idempotent by."""
    return suite.hash(signing_bytes(request) + request.signature)


def response_hash(suite: Suite, req_hash: bytes, plaintext: bytes) -> bytes:
    """``H(request_hash || plaintext)``: recorded by ``deliver``, recomputed by the requester."""
    hasher = suite.new_hasher()
    hasher.update(req_hash)
    hasher.update(plaintext)
    return hasher.digest()


def parse_request(body: bytes) -> FetchRequest:
    """A request from its JSON body; ``TooLarge``, ``DecodeError`` or ``InvalidInput`` if bad.

    Only the shape is checked here; the signature, the time and the grant are
    the service's checks.
    """
    if len(body) > REQUEST_BYTES_MAX:
        raise TooLarge(f"fetch request is over {REQUEST_BYTES_MAX} bytes")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeError(f"fetch request is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidInput("fetch request must be a JSON object")
    unknown = sorted(set(value) - set(_FIELDS) - set(_GM_FIELDS))
    missing = [name for name in _FIELDS if name not in value]
    if unknown or missing:
        raise InvalidInput(f"fetch request fields: unknown {unknown}, missing {missing}")
    if value["v"] != PROTOCOL_VERSION or type(value["v"]) is not int:
        raise InvalidInput(f"fetch request version {value['v']!r} is not {PROTOCOL_VERSION}")
    return FetchRequest(
        chain_id=_text(value, "chain_id"),
        grant=_int(value, "grant", 1),
        provider=_text(value, "provider"),
        cert_id=_hex(value, "cert_id", 64, 64),
        nonce=_hex(value, "nonce", 2 * NONCE_BYTES, 2 * NONCE_BYTES),
        time_ms=_int(value, "time_ms", 0),
        signature=_hex(value, "signature", 2, _SIGNATURE_HEX_MAX),
        cert=_hex(value, "cert", 2, CERT_HEX_CHARS_MAX) if "cert" in value else None,
        server=_hex(value, "server", 64, 64) if "server" in value else None,
    )


def _text(value: dict[str, Any], name: str) -> str:
    found = value[name]
    if not isinstance(found, str) or not 0 < len(found) <= _TEXT_CHARS_MAX:
        raise InvalidInput(f"{name} must be text of 1 to {_TEXT_CHARS_MAX} characters")
    return found


def _int(value: dict[str, Any], name: str, low: int) -> int:
    found = value[name]
    if type(found) is not int or not low <= found <= _INT_MAX:
        raise InvalidInput(f"{name} must be an integer from {low} to {_INT_MAX}")
    return found


def _hex(value: dict[str, Any], name: str, chars_min: int, chars_max: int) -> bytes:
    found = value[name]
    if (
        not isinstance(found, str)
        or not chars_min <= len(found) <= chars_max
        or len(found) % 2
        or not _HEX.fullmatch(found)
    ):
        raise InvalidInput(f"{name} must be {chars_min} to {chars_max} lower-case hex characters")
    return bytes.fromhex(found)
