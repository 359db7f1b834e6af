"""Crypto suites: one named bundle of hash, signature and cipher per chain.

A chain picks its suite in the genesis file and uses it for everything:
transaction and vote signatures, certificates, block and Merkle hashes,
encryption of shared data. Two suites exist, each a single frozen instance:

========  ===========  ===================  ============  ============
name      hash         signature            cipher        AEAD key
========  ===========  ===================  ============  ============
default   SHA-256      ECDSA P-256 SHA-256  AES-256-GCM   32 bytes
gm        SM3          SM2 with SM3         SM4-GCM       16 bytes
========  ===========  ===================  ============  ============

ADR 0002 explains the default signature choice, ADR 0003 the gm suite.
AEAD output is ``ciphertext || tag`` with a 16-byte tag and a 12-byte nonce;
a nonce must never repeat under one key.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Final, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jinglian.crypto import _p256, _sm2
from jinglian.crypto.keys import PrivateKey, PublicKey
from jinglian.types.errors import CryptoError

__all__ = [
    "AEAD_NONCE_SIZE",
    "AEAD_TAG_SIZE",
    "HASH_SIZE",
    "SUITE_NAMES",
    "Hasher",
    "Suite",
    "get_suite",
]

HASH_SIZE: Final = 32
"""Bytes in a digest of either suite's hash."""

AEAD_NONCE_SIZE: Final = 12
"""Bytes in an AEAD nonce (the GCM standard size)."""

AEAD_TAG_SIZE: Final = 16
"""Bytes in an AEAD authentication tag, appended to the ciphertext."""

SUITE_NAMES: Final = ("default", "gm")
"""The names :func:`get_suite` accepts."""


class Hasher(Protocol):
    """An incremental hash: feed bytes with ``update``, read the digest with ``digest``."""

    def update(self, data: bytes, /) -> None:
        """Absorb more input."""

    def digest(self) -> bytes:
        """The digest of everything absorbed so far."""


@dataclass(frozen=True, slots=True, repr=False)
class Suite(ABC):
    """A named bundle of hash, signature scheme and AEAD cipher; get one with :func:`get_suite`."""

    name: str
    """``default`` or ``gm``; what the genesis file names."""
    hash_name: str
    """``sha256`` or ``sm3``."""
    signature_name: str
    """``ecdsa-p256-sha256`` or ``sm2-sm3``."""
    cipher_name: str
    """``aes-256-gcm`` or ``sm4-gcm``."""
    aead_key_size: int
    """Bytes in an AEAD key: 32 for AES-256-GCM, 16 for SM4-GCM."""

    def __repr__(self) -> str:
        return f"<Suite {self.name}: {self.signature_name}, {self.hash_name}, {self.cipher_name}>"

    @abstractmethod
    def hash(self, data: bytes) -> bytes:
        """The 32-byte digest of ``data``."""

    @abstractmethod
    def new_hasher(self) -> Hasher:
        """A fresh incremental hasher for this suite's hash."""

    @abstractmethod
    def generate_key(self) -> PrivateKey:
        """A fresh random signing key."""

    @abstractmethod
    def load_private_key(self, pem: bytes) -> PrivateKey:
        """A signing key from unencrypted PEM; CryptoError if unusable or of the other suite."""

    @abstractmethod
    def load_public_key(self, spki_der: bytes) -> PublicKey:
        """A verifying key from canonical SubjectPublicKeyInfo DER (cached); else CryptoError."""

    @abstractmethod
    def _seal(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes: ...

    @abstractmethod
    def _open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes: ...

    def aead_encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt and authenticate ``plaintext`` (and ``aad``); returns ``ciphertext || tag``."""
        self._check_key_and_nonce(key, nonce)
        return self._seal(key, nonce, plaintext, aad)

    def aead_decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        """The plaintext of ``ciphertext || tag``; CryptoError if anything was altered."""
        self._check_key_and_nonce(key, nonce)
        if len(ciphertext) < AEAD_TAG_SIZE:
            raise CryptoError("ciphertext is shorter than its authentication tag")
        try:
            return self._open(key, nonce, ciphertext, aad)
        except InvalidTag:
            raise CryptoError(
                "decryption failed: wrong key or nonce, or altered ciphertext or data"
            ) from None

    def _check_key_and_nonce(self, key: bytes, nonce: bytes) -> None:
        if len(key) != self.aead_key_size:
            raise CryptoError(f"{self.cipher_name} needs a {self.aead_key_size}-byte key")
        if len(nonce) != AEAD_NONCE_SIZE:
            raise CryptoError(f"{self.cipher_name} needs a {AEAD_NONCE_SIZE}-byte nonce")


@dataclass(frozen=True, slots=True, repr=False)
class _DefaultSuite(Suite):
    """SHA-256, ECDSA P-256, AES-256-GCM."""

    def hash(self, data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    def new_hasher(self) -> Hasher:
        return hashlib.sha256()

    def generate_key(self) -> PrivateKey:
        return _p256.generate_key()

    def load_private_key(self, pem: bytes) -> PrivateKey:
        return _p256.load_private_key(pem)

    def load_public_key(self, spki_der: bytes) -> PublicKey:
        return _p256.load_public_key(spki_der)

    def _seal(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return AESGCM(key).encrypt(nonce, plaintext, aad)

    def _open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        return AESGCM(key).decrypt(nonce, sealed, aad)


_SM3_EMPTY = hashlib.new("sm3")
"""Never updated; copied for each digest, which skips the by-name lookup of ``hashlib.new``."""


@dataclass(frozen=True, slots=True, repr=False)
class _GmSuite(Suite):
    """SM3, SM2, SM4-GCM."""

    def hash(self, data: bytes) -> bytes:
        hasher = _SM3_EMPTY.copy()
        hasher.update(data)
        return hasher.digest()

    def new_hasher(self) -> Hasher:
        return _SM3_EMPTY.copy()

    def generate_key(self) -> PrivateKey:
        return _sm2.generate_key()

    def load_private_key(self, pem: bytes) -> PrivateKey:
        return _sm2.load_private_key(pem)

    def load_public_key(self, spki_der: bytes) -> PublicKey:
        return _sm2.load_public_key(spki_der)

    def _seal(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        return ciphertext + encryptor.tag

    def _open(self, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        ciphertext, tag = sealed[:-AEAD_TAG_SIZE], sealed[-AEAD_TAG_SIZE:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(ciphertext) + decryptor.finalize()


_SUITES: Final[dict[str, Suite]] = {
    "default": _DefaultSuite(
        name="default",
        hash_name="sha256",
        signature_name="ecdsa-p256-sha256",
        cipher_name="aes-256-gcm",
        aead_key_size=32,
    ),
    "gm": _GmSuite(
        name="gm",
        hash_name="sm3",
        signature_name="sm2-sm3",
        cipher_name="sm4-gcm",
        aead_key_size=16,
    ),
}


def get_suite(name: str) -> Suite:
    """The suite called ``name`` (one of :data:`SUITE_NAMES`); CryptoError for any other name."""
    try:
        return _SUITES[name]
    except (KeyError, TypeError):
        raise CryptoError(
            f"unknown crypto suite {name!r}; expected one of {', '.join(SUITE_NAMES)}"
        ) from None
