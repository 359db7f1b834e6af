"""Mutual TLS between peers, and who the peer on the other end is.

Both sides use TLS 1.3 only, both present a certificate (``CERT_REQUIRED``
both ways), and both trust the member CA bundle of the node directory. The
TLS library's chain check is not the last word: after the handshake
:meth:`PeerTls.authenticate` parses the peer certificate, finds the CA of the
organisation named in its subject among the *member* CAs (one per
organisation) and checks the signature with
:func:`~jinglian.crypto.validate_certificate`. A CA that someone made up with
a member's organisation name, even one that slipped into a trust bundle, so
proves nothing. Only the ``consensus`` and ``common`` roles may be peers; an
optional ``is_revoked(cert_id)`` callback refuses revoked certificates.

Only the default suite (ECDSA P-256) is supported: Python's ``ssl`` cannot use
SM2 certificates (see ADR 0010 for the plan for gm chains).
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from jinglian.crypto import Certificate, load_certificate, validate_certificate
from jinglian.types.errors import (
    CertificateExpired,
    CertificateRevoked,
    ConfigError,
    CryptoError,
    PermissionDenied,
    UnknownIdentity,
)

__all__ = [
    "MEMBER_ORGS_MAX",
    "PEER_ROLES",
    "TRUST_BUNDLE_BYTES_MAX",
    "PeerIdentity",
    "PeerTls",
    "create_client_context",
    "create_server_context",
    "load_member_cas",
    "load_peer_tls",
]

PEER_ROLES: Final = ("consensus", "common")
"""The certificate roles that may open or accept a peer connection."""

MEMBER_ORGS_MAX: Final = 256
"""The most member organisations (CA certificates) a trust bundle may hold."""

TRUST_BUNDLE_BYTES_MAX: Final = MEMBER_ORGS_MAX * 16 * 1024
"""The largest CA bundle read: ``MEMBER_ORGS_MAX`` certificates of the largest size."""

_PEM_BLOCK: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL
)

IsRevoked = Callable[[bytes], bool]
"""Answers whether a certificate id (``Certificate.cert_id``) is revoked."""


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    """Who is on the other end of an authenticated connection."""

    org: str
    """The member organisation whose CA issued the peer's certificate."""
    role: str
    """``consensus`` or ``common``."""
    cert_id: bytes
    """The suite hash of the peer's TLS certificate (32 bytes)."""
    common_name: str
    """The node name from the certificate's ``CN``."""


@dataclass(frozen=True, slots=True)
class PeerTls:
    """Everything a node needs to open and accept authenticated peer connections."""

    server_context: ssl.SSLContext
    """For ``start_tls``/``start_server`` on accepted connections."""
    client_context: ssl.SSLContext
    """For outgoing connections."""
    member_cas: Mapping[str, Certificate]
    """Organisation id -> its CA certificate: the authority the application check uses."""
    is_revoked: IsRevoked | None = None
    """Refuses a peer whose certificate id it answers True for."""
    clock_ms: Callable[[], int] = field(default=lambda: time.time_ns() // 1_000_000)
    """The wall clock, for certificate validity periods."""

    def authenticate(self, ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> PeerIdentity:
        """The identity of a handshaken peer, or ``PermissionDenied`` (or a subclass) why not."""
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            raise UnknownIdentity("peer presented no certificate")
        try:
            cert = load_certificate(der)
        except CryptoError as exc:
            raise UnknownIdentity(f"peer certificate is unusable: {exc.message}") from None
        return self.authenticate_certificate(cert)

    def authenticate_certificate(self, cert: Certificate) -> PeerIdentity:
        """Check a parsed peer certificate against the member CAs, role and revocation."""
        ca = self.member_cas.get(cert.org_id)
        if ca is None:
            raise UnknownIdentity(f"peer organisation {cert.org_id!r} is not a member")
        now_ms = self.clock_ms()
        if not cert.not_before_ms <= now_ms <= cert.not_after_ms:
            raise CertificateExpired(f"peer certificate of {cert.common_name!r} is not valid now")
        try:
            validate_certificate(cert, ca, now_ms)
        except CryptoError as exc:
            raise UnknownIdentity(
                f"peer certificate does not chain to the CA of {cert.org_id!r}: {exc.message}"
            ) from None
        if cert.role not in PEER_ROLES:
            raise PermissionDenied(f"role {cert.role!r} may not be a peer")
        if self.is_revoked is not None and self.is_revoked(cert.cert_id):
            raise CertificateRevoked(f"peer certificate {cert.cert_id.hex()[:16]} is revoked")
        return PeerIdentity(cert.org_id, cert.role, cert.cert_id, cert.common_name)


def load_member_cas(bundle_pem: bytes) -> dict[str, Certificate]:
    """Organisation id -> CA certificate from a PEM bundle; ``ConfigError`` if it is not one.

    Each certificate must be a CA, and each organisation may appear once: two
    CAs with one organisation name in a bundle is a forgery or a mistake.
    """
    if len(bundle_pem) > TRUST_BUNDLE_BYTES_MAX:
        raise ConfigError(f"CA bundle is over {TRUST_BUNDLE_BYTES_MAX} bytes")
    blocks = _PEM_BLOCK.findall(bundle_pem)
    if not blocks or len(blocks) > MEMBER_ORGS_MAX:
        raise ConfigError(f"CA bundle holds {len(blocks)} certificates; 1..{MEMBER_ORGS_MAX}")
    cas: dict[str, Certificate] = {}
    for block in blocks:
        try:
            ca = load_certificate(block)
        except CryptoError as exc:
            raise ConfigError(f"CA bundle: {exc.message}") from None
        if not ca.is_ca:
            raise ConfigError(f"CA bundle: {ca.common_name!r} is not a CA certificate")
        if ca.org_id in cas:
            raise ConfigError(f"CA bundle: two CAs claim organisation {ca.org_id!r}")
        cas[ca.org_id] = ca
    return cas


def create_server_context(cert_path: Path, key_path: Path, trust_pem: str) -> ssl.SSLContext:
    """TLS 1.3 server context that requires a client certificate chaining to ``trust_pem``."""
    context = _base_context(ssl.PROTOCOL_TLS_SERVER, cert_path, key_path, trust_pem)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def create_client_context(cert_path: Path, key_path: Path, trust_pem: str) -> ssl.SSLContext:
    """TLS 1.3 client context that presents our certificate and checks the server's name."""
    context = _base_context(ssl.PROTOCOL_TLS_CLIENT, cert_path, key_path, trust_pem)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def load_peer_tls(
    node_dir: Path,
    *,
    member_cas: Mapping[str, Certificate] | None = None,
    trust_pem: str | None = None,
    is_revoked: IsRevoked | None = None,
) -> PeerTls:
    """The TLS setup of a node directory (``tls.pem``, ``tls.key``, ``ca.pem``).

    ``member_cas`` defaults to the CAs of ``ca.pem``; pass the ones of the
    genesis file when they are known. ``trust_pem`` (default: ``ca.pem``) is
    what the TLS library trusts; it never decides identity on its own.
    """
    bundle = (node_dir / "ca.pem").read_bytes()
    cas = dict(member_cas) if member_cas is not None else load_member_cas(bundle)
    trust = trust_pem if trust_pem is not None else bundle.decode("ascii")
    cert_path, key_path = node_dir / "tls.pem", node_dir / "tls.key"
    return PeerTls(
        server_context=create_server_context(cert_path, key_path, trust),
        client_context=create_client_context(cert_path, key_path, trust),
        member_cas=cas,
        is_revoked=is_revoked,
    )


def _base_context(
    protocol: ssl._SSLMethod, cert_path: Path, key_path: Path, trust_pem: str
) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    try:
        context.load_cert_chain(cert_path, key_path)
        context.load_verify_locations(cadata=trust_pem)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"TLS setup from {cert_path.parent}: {exc}") from None
    return context
