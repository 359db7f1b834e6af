"""SM2 signatures with SM3 (GB/T 32918): the gm suite's keys, on libcrypto through ctypes.

Every signature covers ``SM3(Z || message)``, where ``Z`` hashes the signer ID
together with the curve and the public key. The signer ID is the standard
default ``1234567812345678`` (GM/T 0009), the same value OpenSSL uses for
SM2 certificates, so signatures and certificates interoperate with other
SM2 implementations.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re

from jinglian.crypto import _openssl
from jinglian.crypto.keys import PrivateKey, PublicKey
from jinglian.types.errors import CryptoError

__all__ = [
    "DEFAULT_SIGNER_ID",
    "PRIVATE_KEY_PEM_BYTES_MAX",
    "PUBLIC_KEY_CACHE_SIZE",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "generate_key",
    "load_private_key",
    "load_public_key",
]

DEFAULT_SIGNER_ID = b"1234567812345678"
"""The SM2 signer ID hashed into Z (GM/T 0009-2012 default)."""

PUBLIC_KEY_CACHE_SIZE = 4096
"""How many loaded public keys :func:`load_public_key` keeps, most recently used first."""

PRIVATE_KEY_PEM_BYTES_MAX = 4096
"""The largest PEM private key accepted; an SM2 PKCS#8 PEM is about 250 bytes."""

SIGNATURE_BYTES_MAX = 72
"""A DER SEQUENCE of two 256-bit INTEGERs is at most 72 bytes."""

_SUITE_NAME = "gm"
_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
"""SubjectPublicKeyInfo up to the point: id-ecPublicKey, the SM2 curve, a 66-byte BIT STRING."""
_SPKI_BYTES = len(_SPKI_PREFIX) + 65
_SM2 = "SM2"
_SM3 = b"SM3"
_PEM_PRIVATE_KEY = re.compile(
    rb"\A\s*-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PRIVATE KEY-----\s*\Z"
)


class Sm2PublicKey(PublicKey):
    """An SM2 verifying key."""

    __slots__ = ("_der", "_pkey")
    suite_name = _SUITE_NAME

    def __init__(self, pkey: _openssl.Pkey, der: bytes) -> None:
        self._pkey = pkey
        self._der = der

    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` is a valid SM2-with-SM3 signature of ``message``."""
        if len(signature) > SIGNATURE_BYTES_MAX:
            return False
        return _openssl.verify(self._pkey, _SM3, DEFAULT_SIGNER_ID, signature, message)

    def to_der(self) -> bytes:
        """The canonical SubjectPublicKeyInfo DER."""
        return self._der

    @property
    def pkey(self) -> _openssl.Pkey:
        """The libcrypto key object (for X.509 building)."""
        return self._pkey


class Sm2PrivateKey(PrivateKey):
    """An SM2 signing key."""

    __slots__ = ("_pkey", "_public")
    suite_name = _SUITE_NAME

    def __init__(self, pkey: _openssl.Pkey) -> None:
        if not pkey.is_a(_SM2):
            raise CryptoError("the gm suite needs an SM2 private key")
        self._pkey = pkey
        self._public = load_public_key(_openssl.encode_public_key(pkey))

    def sign(self, message: bytes) -> bytes:
        """An SM2-with-SM3 signature of ``message``, DER-encoded."""
        return _openssl.sign(self._pkey, _SM3, DEFAULT_SIGNER_ID, message)

    def public_key(self) -> Sm2PublicKey:
        """The matching verifying key."""
        return self._public

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM."""
        body = base64.encodebytes(_openssl.encode_private_key(self._pkey))
        return b"-----BEGIN PRIVATE KEY-----\n" + body + b"-----END PRIVATE KEY-----\n"

    @property
    def pkey(self) -> _openssl.Pkey:
        """The libcrypto key object (for X.509 building)."""
        return self._pkey


def generate_key() -> Sm2PrivateKey:
    """A fresh random SM2 key pair."""
    return Sm2PrivateKey(_openssl.generate_key(_SM2))


def load_private_key(pem: bytes) -> Sm2PrivateKey:
    """Load an unencrypted PKCS#8 PEM SM2 private key."""
    if len(pem) > PRIVATE_KEY_PEM_BYTES_MAX:
        raise CryptoError(f"private key PEM is over {PRIVATE_KEY_PEM_BYTES_MAX} bytes")
    match = _PEM_PRIVATE_KEY.match(pem)
    if match is None:
        raise CryptoError("not an unencrypted PKCS#8 PEM private key (BEGIN PRIVATE KEY)")
    try:
        der = base64.b64decode(re.sub(rb"\s+", b"", match.group(1)), validate=True)
    except binascii.Error:
        raise CryptoError("private key PEM has invalid base64") from None
    return Sm2PrivateKey(_openssl.decode_private_key(der))


@functools.lru_cache(maxsize=PUBLIC_KEY_CACHE_SIZE)
def load_public_key(spki_der: bytes) -> Sm2PublicKey:
    """Load an SM2 SubjectPublicKeyInfo DER value; only the canonical encoding is accepted."""
    if len(spki_der) != _SPKI_BYTES or not spki_der.startswith(_SPKI_PREFIX):
        raise CryptoError("not an SM2 public key in canonical DER (uncompressed point)")
    pkey = _openssl.decode_public_key(spki_der)
    if not pkey.is_a(_SM2):
        raise CryptoError("the gm suite needs an SM2 public key")
    if _openssl.encode_public_key(pkey) != spki_der:
        raise CryptoError("public key is not in canonical DER (uncompressed point)")
    return Sm2PublicKey(pkey, spki_der)
