"""The ``identity`` system contract: registered certificates and their revocation.

State, in the ``identity`` namespace:

- ``cert:<hex id>`` -- the DER certificate (a byte string), written by the
  ledger when a transaction carrying the full certificate is included;
- ``revoked:<hex id>`` -- ``{"height", "by", "reason"}`` once revoked.

Methods:

- ``revoke(cert_id, reason="", cert=None)`` -- governed (resource
  ``cert.revoke``, by default ``SELF``: an admin of the certificate's own
  organisation, or whatever the policy in force asks). The certificate is
  found among the registered ones, or given in full as ``cert`` (DER bytes)
  when it never transacted. From the next block on, the mempool, every block
  and the peer network refuse it.
- ``get(cert_id)`` -- query: organisation, role and name of a registered certificate.
- ``revoked(cert_id)`` -- query: the revocation record, or ``None``.
"""

from __future__ import annotations

from jinglian.crypto import Certificate, load_certificate
from jinglian.execution._context import Context
from jinglian.execution.native import NativeContract
from jinglian.execution.sdk import invoke, query
from jinglian.execution.system._govern import authorize, record_action
from jinglian.types.codec import Value
from jinglian.types.errors import CryptoError, InvalidInput, NotFound

__all__ = [
    "CERT_PREFIX",
    "IDENTITY",
    "IDENTITY_NAME",
    "REASON_CHARS_MAX",
    "REVOKED_PREFIX",
]

IDENTITY_NAME = "identity"
CERT_PREFIX = "cert:"
REVOKED_PREFIX = "revoked:"
REASON_CHARS_MAX = 256


def _cert_id(value: object) -> str:
    if type(value) is not str or len(value) != 64 or value.strip("0123456789abcdef"):
        raise InvalidInput("cert_id must be 64 lowercase hex characters")
    return value


def _find_certificate(ctx: Context, cert_id: str, cert: object) -> Certificate:
    der = ctx.state.get(CERT_PREFIX + cert_id) if cert is None else cert
    if der is None:
        raise NotFound(f"certificate {cert_id} is not registered; pass it in full as 'cert'")
    if type(der) is not bytes:
        raise InvalidInput("cert must be the DER certificate as bytes")
    try:
        found = load_certificate(der)
    except CryptoError as exc:
        raise InvalidInput(f"cert cannot be read: {exc.message}") from exc
    if found.cert_id.hex() != cert_id:
        raise InvalidInput("cert does not match cert_id")
    return found


@invoke
def revoke(ctx: Context, cert_id: object, reason: object = "", cert: object = None) -> Value:
    """Revoke a certificate, as the ``cert.revoke`` policy allows (by default its own org's admin)."""
    cert_id = _cert_id(cert_id)
    if type(reason) is not str or len(reason) > REASON_CHARS_MAX:
        raise InvalidInput(f"reason must be text of at most {REASON_CHARS_MAX} characters")
    target = _find_certificate(ctx, cert_id, cert)
    approvals = authorize(ctx, "cert.revoke", target.org_id)
    if ctx.state.has(REVOKED_PREFIX + cert_id):
        raise InvalidInput(f"certificate {cert_id} is already revoked")
    record: dict[str, Value] = {"height": ctx.block_height, "by": ctx.sender.id, "reason": reason}
    ctx.state.set(REVOKED_PREFIX + cert_id, record)
    ctx.emit("revoked", {"cert_id": cert_id, "org": target.org_id, "reason": reason})
    record_action(
        ctx,
        "cert.revoke",
        {"cert_id": cert_id, "org": target.org_id, "reason": reason},
        approvals,
    )
    return record


@query
def get(ctx: Context, cert_id: object) -> Value:
    """Organisation, role and common name of a registered certificate."""
    found = _find_certificate(ctx, _cert_id(cert_id), None)
    return {
        "org": found.org_id,
        "role": found.role,
        "common_name": found.common_name,
        "der": found.der,
    }


@query
def revoked(ctx: Context, cert_id: object) -> Value:
    """The revocation record of a certificate, or ``None``."""
    return ctx.state.get(REVOKED_PREFIX + _cert_id(cert_id))


IDENTITY = NativeContract(IDENTITY_NAME, {"revoke": revoke, "get": get, "revoked": revoked})
"""The identity contract as the runtime runs it."""
