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

gm chains (ADR 0011): Python's ``ssl`` cannot use SM2 certificates, so TLS
runs with each node's ECDSA P-256 *transport* certificate
(``tls-transport.pem``), trusting the pinned transport certificates of
``tls-transport-peers.pem``, and the SM2 member certificate (``tls.pem``) is
proved by the binding exchange of :mod:`~jinglian.network.binding`.
:meth:`PeerTls.authenticate_connection` does whichever the chain needs; the
member certificate then goes through the same check as on default chains.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from jinglian.crypto import Certificate, get_suite, load_certificate, validate_certificate
from jinglian.network.binding import SuiteBinding, exchange_binding
from jinglian.types.errors import (
    CertificateExpired,
    CertificateRevoked,
    ConfigError,
    CryptoError,
    PermissionDenied,
    Timeout,
    UnknownIdentity,
)

__all__ = [
    "MEMBER_ORGS_MAX",
    "PEER_ROLES",
    "TRANSPORT_CERT_FILE",
    "TRANSPORT_KEY_FILE",
    "TRANSPORT_PEERS_FILE",
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

TRANSPORT_KEY_FILE: Final = "tls-transport.key"
"""gm node directories: the node's ECDSA P-256 transport key."""

TRANSPORT_CERT_FILE: Final = "tls-transport.pem"
"""gm node directories: the transport certificate TLS presents (it proves no identity)."""

TRANSPORT_PEERS_FILE: Final = "tls-transport-peers.pem"
"""gm node directories: the transport certificates of the network's nodes, pinned by TLS."""

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
    binding: SuiteBinding | None = None
    """gm chains: our member identity, proved after TLS by the binding exchange; else None."""

    async def authenticate_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, is_client: bool
    ) -> PeerIdentity:
        """The identity of the peer on a handshaken connection, or a ``JinglianError`` why not.

        Default chains: :meth:`authenticate` on the TLS certificate. gm chains:
        the binding exchange (bounded by ``binding.timeout_ms``, else
        ``Timeout``), then the same check of the proved member certificate.
        ``OSError`` (``ssl.SSLError``) if the connection fails meanwhile.
        """
        ssl_object = writer.get_extra_info("ssl_object")
        if self.binding is None:
            return self.authenticate(ssl_object)
        peer_transport = ssl_object.getpeercert(binary_form=True) if ssl_object else None
        if not peer_transport:
            raise UnknownIdentity("peer presented no transport certificate")
        try:
            async with asyncio.timeout(self.binding.timeout_ms / 1000):
                cert = await exchange_binding(
                    self.binding,
                    reader,
                    writer,
                    is_client=is_client,
                    peer_transport_der=peer_transport,
                )
        except TimeoutError:
            raise Timeout(
                f"peer did not complete the identity binding in {self.binding.timeout_ms} ms"
            ) from None
        return self.authenticate_certificate(cert)

    def authenticate(self, ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> PeerIdentity:
        """The identity of a handshaken peer, or ``PermissionDenied`` (or a subclass) why not.

        Default chains only: on a gm chain the TLS certificate is a transport
        key that proves nothing, so this refuses (use :meth:`authenticate_connection`).
        """
        if self.binding is not None:
            raise UnknownIdentity("a gm peer's identity comes from its binding, not from TLS")
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


def create_server_context(
    cert_path: Path, key_path: Path, trust_pem: str, *, pinned: bool = False
) -> ssl.SSLContext:
    """TLS 1.3 server context that requires a client certificate chaining to ``trust_pem``.

    ``pinned``: ``trust_pem`` holds the peers' own certificates, each trusted as
    it is (``VERIFY_X509_PARTIAL_CHAIN``), not CAs.
    """
    context = _base_context(ssl.PROTOCOL_TLS_SERVER, cert_path, key_path, trust_pem, pinned)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def create_client_context(
    cert_path: Path, key_path: Path, trust_pem: str, *, pinned: bool = False
) -> ssl.SSLContext:
    """TLS 1.3 client context that presents our certificate and checks the server's name.

    ``pinned`` as for :func:`create_server_context`.
    """
    context = _base_context(ssl.PROTOCOL_TLS_CLIENT, cert_path, key_path, trust_pem, pinned)
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
    genesis file when they are known. ``trust_pem`` is what the TLS library
    trusts; it never decides identity on its own. On default chains it
    defaults to ``ca.pem``. A node directory whose ``tls.pem`` is SM2 is of a
    gm chain: TLS then uses ``tls-transport.pem``/``.key`` and ``trust_pem``
    defaults to the pinned ``tls-transport-peers.pem`` (ADR 0011).
    """
    bundle = (node_dir / "ca.pem").read_bytes()
    cas = dict(member_cas) if member_cas is not None else load_member_cas(bundle)
    cert_path, key_path = node_dir / "tls.pem", node_dir / "tls.key"
    member_cert = _load_member_certificate(cert_path)
    if member_cert.suite_name == "gm":
        return _load_bound_tls(node_dir, member_cert, cas, trust_pem, is_revoked)
    trust = trust_pem if trust_pem is not None else bundle.decode("ascii")
    return PeerTls(
        server_context=create_server_context(cert_path, key_path, trust),
        client_context=create_client_context(cert_path, key_path, trust),
        member_cas=cas,
        is_revoked=is_revoked,
    )


def _load_member_certificate(cert_path: Path) -> Certificate:
    try:
        return load_certificate(cert_path.read_bytes())
    except (CryptoError, OSError) as exc:
        raise ConfigError(f"TLS certificate {cert_path}: {exc}") from None


def _load_bound_tls(
    node_dir: Path,
    member_cert: Certificate,
    member_cas: dict[str, Certificate],
    trust_pem: str | None,
    is_revoked: IsRevoked | None,
) -> PeerTls:
    """A gm node's setup: transport-keyed TLS plus the binding of its SM2 member certificate."""
    cert_path, key_path = node_dir / TRANSPORT_CERT_FILE, node_dir / TRANSPORT_KEY_FILE
    try:
        trust = (
            trust_pem if trust_pem is not None else (node_dir / TRANSPORT_PEERS_FILE).read_text()
        )
        transport_der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
        member_key = get_suite(member_cert.suite_name).load_private_key(
            (node_dir / "tls.key").read_bytes()
        )
    except (CryptoError, OSError, ValueError) as exc:
        raise ConfigError(
            f"gm node directory {node_dir} needs {TRANSPORT_CERT_FILE}, {TRANSPORT_KEY_FILE}, "
            f"{TRANSPORT_PEERS_FILE} and an SM2 tls.key (see ADR 0011): {exc}"
        ) from None
    if member_key.public_key() != member_cert.public_key:
        raise ConfigError(f"{node_dir / 'tls.key'} is not the key of tls.pem")
    binding = SuiteBinding(certificate=member_cert, key=member_key, transport_der=transport_der)
    return PeerTls(
        server_context=create_server_context(cert_path, key_path, trust, pinned=True),
        client_context=create_client_context(cert_path, key_path, trust, pinned=True),
        member_cas=member_cas,
        is_revoked=is_revoked,
        binding=binding,
    )


def _base_context(
    protocol: ssl._SSLMethod, cert_path: Path, key_path: Path, trust_pem: str, pinned: bool
) -> ssl.SSLContext:
    context = ssl.SSLContext(protocol)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3
    if pinned:
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    try:
        context.load_cert_chain(cert_path, key_path)
        context.load_verify_locations(cadata=trust_pem)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"TLS setup from {cert_path.parent}: {exc}") from None
    return context
