"""Binding a gm node's SM2 identity to a TLS 1.3 connection keyed with ECDSA P-256 (ADR 0011).

Python's ``ssl`` cannot use SM2 certificates, so on a gm chain TLS runs with
each node's *transport* certificate (ECDSA P-256, pinned: the TLS layer trusts
the transport certificates of the network's nodes, each as it is) and proves
nothing about identity. Right after the handshake both sides run this
exchange, each writing two frames and reading two, before any application
frame::

    HELLO  (type BINDING_HELLO_TYPE)  version (1 byte) || nonce (32 fresh bytes)
    PROOF  (type BINDING_PROOF_TYPE)  certificate length (2 bytes, big-endian)
                                      || SM2 member TLS certificate (DER, tls.pem)
                                      || signature

Each side writes its HELLO, reads the peer's, then writes its PROOF and reads
the peer's. The signature is made with the member key over
:func:`compute_binding_message`: a context string, the signer's side
(``client`` or ``server``) and the transcript of :func:`compute_transcript`,
which hashes both transport certificates as this connection's TLS handshake
saw them (dialler's first) and appends both nonces (dialler's first).
Python's ``ssl`` has no TLS exporter, so the transport certificates stand in
for it: a man in the middle cannot present the server's transport certificate
without its key, and the nonces make every transcript fresh, so a proof from
another connection, or relayed from one with other transport certificates,
does not verify. The receiver then checks the member certificate against the
member CAs like any peer certificate (:meth:`PeerTls.authenticate_certificate`).

The two frame types share the frame format of :mod:`~jinglian.network.framing`
but not the application's type space: they are read only before the first
application frame, with the much smaller bound ``BINDING_FRAME_BYTES_MAX``.
"""

from __future__ import annotations

import asyncio
import secrets
import struct
from dataclasses import dataclass
from typing import Final

from jinglian.crypto import (
    Certificate,
    PrivateKey,
    get_suite,
    issue_ca_certificate,
    issue_certificate,
    load_certificate,
)
from jinglian.crypto.certs import CERTIFICATE_BYTES_MAX
from jinglian.network.framing import FRAME_HEADER_BYTES, encode_frame
from jinglian.types.errors import CryptoError, InvalidInput, TooLarge, UnknownIdentity

__all__ = [
    "BINDING_CONTEXT",
    "BINDING_FRAME_BYTES_MAX",
    "BINDING_HELLO_TYPE",
    "BINDING_NONCE_BYTES",
    "BINDING_PROOF_TYPE",
    "BINDING_SIGNATURE_BYTES_MAX",
    "BINDING_TIMEOUT_MS",
    "BINDING_VERSION",
    "TRANSPORT_SUITE",
    "SuiteBinding",
    "compute_binding_message",
    "compute_transcript",
    "decode_hello",
    "decode_proof",
    "encode_hello",
    "encode_proof",
    "exchange_binding",
    "issue_transport_certificate",
    "read_binding_frame",
]

BINDING_HELLO_TYPE: Final = 0xF0
"""The frame type of a HELLO (version and nonce)."""

BINDING_PROOF_TYPE: Final = 0xF1
"""The frame type of a PROOF (member certificate and signature)."""

BINDING_VERSION: Final = 1
"""The binding protocol version a HELLO carries; any other is refused."""

BINDING_NONCE_BYTES: Final = 32
"""Fresh random bytes each side contributes to the transcript."""

BINDING_SIGNATURE_BYTES_MAX: Final = 72
"""The longest signature: a DER SEQUENCE of two 256-bit INTEGERs (SM2 or ECDSA P-256)."""

BINDING_FRAME_BYTES_MAX: Final = 1 + 2 + CERTIFICATE_BYTES_MAX + BINDING_SIGNATURE_BYTES_MAX
"""The largest binding frame body: type byte, certificate length, certificate, signature."""

BINDING_TIMEOUT_MS: Final = 10_000
"""How long the whole exchange may take after the TLS handshake."""

BINDING_CONTEXT: Final = b"jinglian peer binding v1\x00"
"""Starts every signed binding message, so the signature means nothing anywhere else."""

TRANSPORT_SUITE: Final = "default"
"""The suite of transport keys: ECDSA P-256, which Python's ``ssl`` can use."""

_SIGNERS: Final = (b"client", b"server")
_HELLO: Final = struct.Struct(f">B{BINDING_NONCE_BYTES}s")
_CERT_LENGTH: Final = struct.Struct(">H")
_FRAME_LENGTH: Final = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class SuiteBinding:
    """What a gm node needs to prove its member identity on a transport-keyed connection."""

    certificate: Certificate
    """Our member TLS certificate (``tls.pem``, SM2, issued by our organisation's CA)."""
    key: PrivateKey
    """The key of ``certificate``; signs the binding message."""
    transport_der: bytes
    """Our transport certificate (``tls-transport.pem``) as DER, exactly as TLS sends it."""
    timeout_ms: int = BINDING_TIMEOUT_MS
    """How long the exchange may take before the connection is refused."""


def issue_transport_certificate(
    org_id: str,
    role: str,
    common_name: str,
    *,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
) -> tuple[PrivateKey, Certificate]:
    """A fresh ECDSA P-256 transport key and its certificate, issued by no organisation CA.

    The certificate carries the node's names (so TLS host name checks work as
    on default chains) and is signed by a one-off issuer key that is dropped
    here: nothing else ever chains to that issuer, so peers trust the
    certificate only by pinning it (``VERIFY_X509_PARTIAL_CHAIN``).
    """
    suite = get_suite(TRANSPORT_SUITE)
    issuer_key, key = suite.generate_key(), suite.generate_key()
    issuer = issue_ca_certificate(suite, issuer_key, org_id)
    cert = issue_certificate(
        suite, issuer_key, issuer, key.public_key(), org_id, role, common_name,
        tls=True, dns_names=dns_names, ip_addresses=ip_addresses,
    )  # fmt: skip
    return key, cert


def compute_transcript(
    suite_name: str,
    client_transport_der: bytes,
    server_transport_der: bytes,
    client_nonce: bytes,
    server_nonce: bytes,
) -> bytes:
    """What both sides of one connection sign: both transport certificate hashes, both nonces.

    The hashes are of the member suite ``suite_name`` (``gm``: SM3). The order is fixed (the
    dialler's first), so both sides compute the same bytes.
    """
    assert len(client_nonce) == len(server_nonce) == BINDING_NONCE_BYTES
    suite = get_suite(suite_name)
    return (
        suite.hash(client_transport_der)
        + suite.hash(server_transport_der)
        + client_nonce
        + server_nonce
    )


def compute_binding_message(signer: bytes, transcript: bytes) -> bytes:
    """The bytes ``signer`` (``b"client"`` or ``b"server"``) signs over ``transcript``.

    Naming the side stops a proof from being reflected back to its maker.
    """
    assert signer in _SIGNERS
    return BINDING_CONTEXT + signer + b"\x00" + transcript


def encode_hello(nonce: bytes) -> bytes:
    """The payload of a HELLO carrying ``nonce``."""
    assert len(nonce) == BINDING_NONCE_BYTES
    return _HELLO.pack(BINDING_VERSION, nonce)


def decode_hello(payload: bytes) -> bytes:
    """The nonce of a HELLO payload; ``InvalidInput`` for any other shape or version."""
    if len(payload) != _HELLO.size:
        raise InvalidInput(f"binding hello of {len(payload)} bytes; expected {_HELLO.size}")
    version, nonce = _HELLO.unpack(payload)
    if version != BINDING_VERSION:
        raise InvalidInput(f"binding version {version}; this node speaks {BINDING_VERSION}")
    return bytes(nonce)


def encode_proof(certificate_der: bytes, signature: bytes) -> bytes:
    """The payload of a PROOF: the member certificate and the binding signature."""
    assert 0 < len(certificate_der) <= CERTIFICATE_BYTES_MAX
    assert 0 < len(signature) <= BINDING_SIGNATURE_BYTES_MAX
    return _CERT_LENGTH.pack(len(certificate_der)) + certificate_der + signature


def decode_proof(payload: bytes) -> tuple[bytes, bytes]:
    """``(certificate DER, signature)`` of a PROOF payload; ``InvalidInput`` if malformed."""
    if len(payload) < _CERT_LENGTH.size:
        raise InvalidInput("binding proof is too short for its certificate length")
    (cert_bytes,) = _CERT_LENGTH.unpack_from(payload)
    if not 0 < cert_bytes <= CERTIFICATE_BYTES_MAX:
        raise InvalidInput(f"binding proof certificate of {cert_bytes} bytes")
    certificate_der = payload[_CERT_LENGTH.size : _CERT_LENGTH.size + cert_bytes]
    signature = payload[_CERT_LENGTH.size + cert_bytes :]
    if len(certificate_der) != cert_bytes:
        raise InvalidInput("binding proof ends inside its certificate")
    if not 0 < len(signature) <= BINDING_SIGNATURE_BYTES_MAX:
        raise InvalidInput(f"binding proof signature of {len(signature)} bytes")
    return certificate_der, signature


async def read_binding_frame(reader: asyncio.StreamReader, expected_type: int) -> bytes:
    """The payload of the next frame, which must be of ``expected_type``.

    The length is checked against ``BINDING_FRAME_BYTES_MAX`` before the body
    is read (``TooLarge``); a zero length, another type or a stream that ends
    raise ``InvalidInput``.
    """
    try:
        header = await reader.readexactly(FRAME_HEADER_BYTES)
        (body_bytes,) = _FRAME_LENGTH.unpack(header)
        if body_bytes > BINDING_FRAME_BYTES_MAX:
            raise TooLarge(
                f"binding frame of {body_bytes} bytes is over "
                f"BINDING_FRAME_BYTES_MAX={BINDING_FRAME_BYTES_MAX}"
            )
        if body_bytes == 0:
            raise InvalidInput("binding frame of length 0 has no type")
        body = await reader.readexactly(body_bytes)
    except asyncio.IncompleteReadError:
        raise InvalidInput("peer closed the connection during the identity binding") from None
    if body[0] != expected_type:
        raise InvalidInput(f"expected binding frame type {expected_type}, got {body[0]}")
    return body[1:]


async def exchange_binding(
    binding: SuiteBinding,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    is_client: bool,
    peer_transport_der: bytes,
) -> Certificate:
    """Prove our identity and check the peer's proof; returns the peer's member certificate.

    The returned certificate's key signed this connection's transcript; the
    caller still checks it against the member CAs, role and revocation.
    Raises ``InvalidInput`` for malformed frames and ``UnknownIdentity`` for
    a proof that does not verify. The caller bounds the time.
    """
    our_nonce = secrets.token_bytes(BINDING_NONCE_BYTES)
    await _send(writer, BINDING_HELLO_TYPE, encode_hello(our_nonce))
    peer_nonce = decode_hello(await read_binding_frame(reader, BINDING_HELLO_TYPE))
    if peer_nonce == our_nonce:
        raise InvalidInput("peer sent our own binding nonce back")
    ours, theirs = (binding.transport_der, our_nonce), (peer_transport_der, peer_nonce)
    (client_der, client_nonce), (server_der, server_nonce) = (
        (ours, theirs) if is_client else (theirs, ours)
    )
    suite_name = binding.certificate.suite_name
    transcript = compute_transcript(suite_name, client_der, server_der, client_nonce, server_nonce)
    our_side, peer_side = _SIGNERS if is_client else _SIGNERS[::-1]
    signature = binding.key.sign(compute_binding_message(our_side, transcript))
    await _send(writer, BINDING_PROOF_TYPE, encode_proof(binding.certificate.der, signature))
    cert_der, peer_signature = decode_proof(await read_binding_frame(reader, BINDING_PROOF_TYPE))
    peer_message = compute_binding_message(peer_side, transcript)
    return _validate_proof(suite_name, cert_der, peer_signature, peer_message)


def _validate_proof(
    suite_name: str, certificate_der: bytes, signature: bytes, message: bytes
) -> Certificate:
    """The proof's certificate if it is of our suite and its key signed ``message``."""
    try:
        cert = load_certificate(certificate_der)
    except CryptoError as exc:
        raise UnknownIdentity(f"peer member certificate is unusable: {exc.message}") from None
    if cert.suite_name != suite_name:
        raise UnknownIdentity(f"peer member certificate is {cert.suite_name}, not {suite_name}")
    if not cert.public_key.verify(signature, message):
        raise UnknownIdentity(
            f"binding signature of {cert.common_name!r} does not cover this connection"
        )
    return cert


async def _send(writer: asyncio.StreamWriter, message_type: int, payload: bytes) -> None:
    writer.write(encode_frame(message_type, payload))
    await writer.drain()
