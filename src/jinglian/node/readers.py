"""Who may read: signed REST reads checked against the ``query`` and ``subscribe`` policies.

``ReadGuard.authorize`` takes the three signed-read headers
(``types.reads``) and the bytes the reader signed, and returns the reader or
raises why not:

- ``Unauthenticated`` (401): a header is missing or malformed, the time is
  outside ``clock_skew_ms_max`` of the node's clock, or the signature does not
  verify;
- ``UnknownIdentity``, ``CertificateExpired``, ``CertificateRevoked``: the
  certificate does not chain to a member CA in force, is out of its validity,
  or was revoked (from the block after the revocation);
- ``ReplayedRequest``: this exact signature was accepted before (the guard
  remembers signatures for twice the skew window, bounded);
- ``PolicyNotSatisfied``: the reader's organisation and role do not meet the
  resource's policy in the chain config in force.

Certificates are resolved by the ledger's authenticator, so they are parsed
and chain-checked once and forgotten when the config changes.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from jinglian.crypto import Certificate, get_suite
from jinglian.ledger import Signer
from jinglian.types import ChainConfig
from jinglian.types.errors import (
    CertificateExpired,
    CertificateRevoked,
    PolicyNotSatisfied,
    ReplayedRequest,
    Unauthenticated,
)
from jinglian.types.policy import satisfied
from jinglian.types.reads import SIGNATURE_HEADER, SIGNER_HEADER, TIME_HEADER, read_sign_bytes
from jinglian.types.tx import CERT_BYTES_MAX, CERT_ID_BYTES, SIGNATURE_BYTES_MAX

__all__ = ["READ_RESOURCES", "SEEN_SIGNATURES_MAX", "ReadGuard", "ReadRequest"]

READ_RESOURCES = ("query", "subscribe")
SEEN_SIGNATURES_MAX = 200_000
"""How many accepted read signatures a node remembers to refuse replays."""
HEADER_CHARS_MAX = 4 * CERT_BYTES_MAX // 3 + 4


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One REST read as received: what was signed, and the signed-read headers (any may be
    missing)."""

    method: str
    """HTTP method."""
    target: str
    """Path and query string exactly as sent."""
    body: bytes
    """Request body (empty for a GET)."""
    signer: str | None
    time: str | None
    signature: str | None


class ReadGuard:
    """Checks signed reads for one node."""

    def __init__(
        self,
        config: Callable[[], ChainConfig],
        certificate: Callable[[bytes], Certificate],
        is_revoked: Callable[[bytes], bool],
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        """``certificate`` resolves a signer field (DER or registered id) to a checked member
        certificate or raises (``TxAuthenticator.certificate``)."""
        self._config = config
        self._certificate = certificate
        self._is_revoked = is_revoked
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._seen: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    def authorize(self, resource: str, headers: ReadRequest) -> Signer:
        """The reader of a request, or the reason it may not read ``resource``."""
        assert resource in READ_RESOURCES
        config = self._config()
        policy = config.policy(resource)
        if headers.signer is None and headers.signature is None and headers.time is None:
            raise Unauthenticated(
                f"reading needs a member's signature ({resource} policy: {policy.describe()}); "
                f"send {SIGNER_HEADER}, {TIME_HEADER} and {SIGNATURE_HEADER} "
                "(the SDK and the CLI sign with your identity)"
            )
        signer_bytes, time_ms, signature = _parse(headers)
        now = self._clock_ms()
        skew = config.params.clock_skew_ms_max
        if abs(now - time_ms) > skew:
            raise Unauthenticated(
                f"the read was signed at {time_ms}, more than {skew} ms from the node's clock; "
                "check the client clock and sign again"
            )
        cert = self._certificate(signer_bytes)
        if not cert.not_before_ms <= now <= cert.not_after_ms:
            raise CertificateExpired(
                f"certificate of {cert.common_name!r} ({cert.org_id}) is not valid now"
            )
        if self._is_revoked(cert.cert_id):
            raise CertificateRevoked(
                f"certificate of {cert.common_name!r} ({cert.org_id}) has been revoked"
            )
        signed = read_sign_bytes(
            get_suite(config.crypto).hash, headers.method, headers.target, headers.body, time_ms
        )
        if not cert.public_key.verify(signature, signed):
            raise Unauthenticated("the read signature does not verify over this request")
        ok, why = satisfied(policy, config.member_ids(), [(cert.org_id, cert.role)], cert.org_id)
        if not ok:
            raise PolicyNotSatisfied(f"{resource}: {why}")
        self._remember(signature, now, skew)
        return Signer(cert.org_id, cert.role, cert.cert_id, cert.common_name)

    def _remember(self, signature: bytes, now: int, skew: int) -> None:
        with self._lock:
            if signature in self._seen:
                raise ReplayedRequest("this signed read was already answered; sign each request")
            self._seen[signature] = now
            horizon = now - 2 * skew
            while self._seen and (
                len(self._seen) > SEEN_SIGNATURES_MAX or next(iter(self._seen.values())) < horizon
            ):
                self._seen.popitem(last=False)


def _parse(headers: ReadRequest) -> tuple[bytes, int, bytes]:
    if headers.signer is None or headers.time is None or headers.signature is None:
        raise Unauthenticated(
            f"a signed read carries all of {SIGNER_HEADER}, {TIME_HEADER} and {SIGNATURE_HEADER}"
        )
    if len(headers.signer) > HEADER_CHARS_MAX or len(headers.signature) > HEADER_CHARS_MAX:
        raise Unauthenticated("a signed-read header is too long")
    text = headers.signer.strip()
    if len(text) == 2 * CERT_ID_BYTES and all(c in "0123456789abcdef" for c in text):
        signer = bytes.fromhex(text)
    else:
        signer = _b64(text, SIGNER_HEADER, CERT_BYTES_MAX)
    if not headers.time.isdigit() or len(headers.time) > 15:
        raise Unauthenticated(f"{TIME_HEADER} must be Unix milliseconds")
    return signer, int(headers.time), _b64(headers.signature, SIGNATURE_HEADER, SIGNATURE_BYTES_MAX)


def _b64(text: str, name: str, limit: int) -> bytes:
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise Unauthenticated(f"{name} is not base64") from None
    if not data or len(data) > limit:
        raise Unauthenticated(f"{name} must be 1 to {limit} bytes")
    return data
