"""ECDSA over NIST P-256 with SHA-256: the default suite's keys, on ``cryptography``."""

from __future__ import annotations

import functools

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from jinglian.crypto.keys import PrivateKey, PublicKey
from jinglian.types.errors import CryptoError

__all__ = [
    "PUBLIC_KEY_CACHE_SIZE",
    "P256PrivateKey",
    "P256PublicKey",
    "generate_key",
    "load_private_key",
    "load_public_key",
]

PUBLIC_KEY_CACHE_SIZE = 4096
"""How many loaded public keys :func:`load_public_key` keeps, most recently used first."""

_SUITE_NAME = "default"
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_DER = serialization.Encoding.DER
_SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


class P256PublicKey(PublicKey):
    """An ECDSA P-256 verifying key."""

    __slots__ = ("_der", "_key")
    suite_name = _SUITE_NAME

    def __init__(self, key: ec.EllipticCurvePublicKey) -> None:
        self._key = key
        self._der = key.public_bytes(_DER, _SPKI)

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is a valid ECDSA-SHA256 signature of ``message``."""
        try:
            self._key.verify(signature, message, _ECDSA_SHA256)
        except InvalidSignature:
            return False
        return True

    def to_der(self) -> bytes:
        """The canonical SubjectPublicKeyInfo DER."""
        return self._der

    @property
    def key(self) -> ec.EllipticCurvePublicKey:
        """The ``cryptography`` key object (for X.509 building)."""
        return self._key


class P256PrivateKey(PrivateKey):
    """An ECDSA P-256 signing key."""

    __slots__ = ("_key", "_public")
    suite_name = _SUITE_NAME

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self._public = P256PublicKey(key.public_key())

    def sign(self, message: bytes) -> bytes:
        """An ECDSA-SHA256 signature of ``message``, DER-encoded."""
        return self._key.sign(message, _ECDSA_SHA256)

    def public_key(self) -> P256PublicKey:
        """The matching verifying key."""
        return self._public

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def key(self) -> ec.EllipticCurvePrivateKey:
        """The ``cryptography`` key object (for X.509 building)."""
        return self._key


def generate_key() -> P256PrivateKey:
    """A fresh random P-256 key pair."""
    return P256PrivateKey(ec.generate_private_key(ec.SECP256R1()))


def load_private_key(pem: bytes) -> P256PrivateKey:
    """Load an unencrypted P-256 private key from PEM (PKCS#8 or SEC 1)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise CryptoError(f"not a usable unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CryptoError("the default suite needs an ECDSA P-256 private key")
    return P256PrivateKey(key)


@functools.lru_cache(maxsize=PUBLIC_KEY_CACHE_SIZE)
def load_public_key(spki_der: bytes) -> P256PublicKey:
    """Load a P-256 SubjectPublicKeyInfo DER value; only the canonical encoding is accepted."""
    try:
        key = serialization.load_der_public_key(spki_der)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CryptoError(f"not a usable public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise CryptoError("the default suite needs an ECDSA P-256 public key")
    public_key = P256PublicKey(key)
    if public_key.to_der() != spki_der:
        raise CryptoError("public key is not in canonical DER (uncompressed point)")
    return public_key
