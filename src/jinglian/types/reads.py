"""Signed reads: how a REST client proves who is reading (ADR 0016).

Every read of chain data (blocks, transactions, state, queries, events, the
stream) is governed by the chain's ``query`` or ``subscribe`` policy, so the
reader signs the request with a member certificate. Three headers carry it:

- ``X-Jinglian-Signer``: the reader's certificate, base64 DER, or the hex
  certificate id of a certificate registered on chain;
- ``X-Jinglian-Time``: the signing time, Unix milliseconds;
- ``X-Jinglian-Signature``: base64 signature over ``read_sign_bytes``.

The signed bytes are the canonical encoding of ``["jinglian-read/1", METHOD,
TARGET, H(body), time]``, where TARGET is the request's path with its query
string exactly as sent and H the chain's hash. A node accepts a signature
within ``clock_skew_ms_max`` of its clock, once.
"""

from __future__ import annotations

from collections.abc import Callable

from jinglian.types import codec

__all__ = [
    "READ_DOMAIN",
    "SIGNATURE_HEADER",
    "SIGNER_HEADER",
    "TIME_HEADER",
    "read_sign_bytes",
]

READ_DOMAIN = "jinglian-read/1"
SIGNER_HEADER = "X-Jinglian-Signer"
TIME_HEADER = "X-Jinglian-Time"
SIGNATURE_HEADER = "X-Jinglian-Signature"


def read_sign_bytes(
    hash_fn: Callable[[bytes], bytes], method: str, target: str, body: bytes, time_ms: int
) -> bytes:
    """The bytes a reader signs for one request."""
    return codec.encode_trusted([READ_DOMAIN, method.upper(), target, hash_fn(body), time_ms])
