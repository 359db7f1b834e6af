"""Sealing: hybrid public-key encryption of a payload to a member certificate's key.

``seal(public_key, plaintext, aad)`` encrypts ``plaintext`` so that only the
holder of the matching private key can read it, and binds ``aad`` (data the
caller authenticates but does not send, e.g. a request hash) into the tag;
``open_sealed(private_key, envelope, aad)`` reverses it. The scheme follows
the key's suite:

========  ===================================================  ============
suite     key encapsulation                                    payload
========  ===================================================  ============
default   ECIES: ephemeral P-256 ECDH, HKDF-SHA256 -> 32 bytes  AES-256-GCM
gm        SM2 public-key encryption (GB/T 32918.4, SM3) of a    SM4-GCM
          random 16-byte key
========  ===================================================  ============

Envelope (all integers big-endian), self-describing and versioned::

    magic     4   b"JLSL"
    version   1   1
    suite     1   1 = default, 2 = gm
    kem       1   1 = ecdh-p256-hkdf-sha256, 2 = sm2-encrypt-sm3
    aead      1   1 = aes-256-gcm, 2 = sm4-gcm
    key_len   2   bytes of the key block (default: 65, the ephemeral point;
                  gm: the DER SM2 ciphertext of the content key, at most 200)
    key       key_len
    nonce     12
    body_len  8   bytes of ciphertext || 16-byte tag (at most PLAINTEXT_BYTES_MAX + 16)
    body      body_len

The AEAD's associated data is the whole header (magic to ``body_len``) then
the caller's ``aad``, so no header byte and no byte of ``aad`` can change
without the tag failing. On ``default`` the HKDF ``info`` also binds the
ephemeral point and the recipient's public key (SubjectPublicKeyInfo DER), so
a key block cannot be moved to another recipient. Every refusal (bad magic,
unknown version or algorithm, a suite that is not the key's, wrong lengths,
truncation, trailing bytes, a wrong key, altered bytes or a wrong ``aad``)
raises ``CryptoError``; nothing is returned unless the tag verified.
"""

from __future__ import annotations

import os
import struct
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from jinglian.crypto import _openssl, _p256, _sm2
from jinglian.crypto.keys import PrivateKey, PublicKey
from jinglian.crypto.suite import AEAD_NONCE_SIZE, AEAD_TAG_SIZE, get_suite
from jinglian.types.errors import CryptoError

__all__ = [
    "SEAL_HEADER_BYTES_MAX",
    "SEAL_MAGIC",
    "SEAL_OVERHEAD_BYTES_MAX",
    "SEAL_PLAINTEXT_BYTES_MAX",
    "SEAL_VERSION",
    "open_sealed",
    "seal",
    "sealed_size",
]

SEAL_MAGIC: Final = b"JLSL"
"""The first four bytes of every envelope."""

SEAL_VERSION: Final = 1
"""The envelope format this module writes and reads."""

SEAL_PLAINTEXT_BYTES_MAX: Final = 1 << 30
"""The largest payload sealed or opened (1 GiB): bounds what a hostile length field can ask for."""

KEY_BLOCK_BYTES_MAX: Final = 200
"""The largest key block read: an SM2 ciphertext of a 16-byte key is about 125 bytes of DER."""

_P256_POINT_BYTES: Final = 65
_SM4_KEY_BYTES: Final = 16
_AES_KEY_BYTES: Final = 32
_FIXED: Final = struct.Struct(">4sBBBBH")
"""magic, version, suite, kem, aead, key_len."""
_BODY_LEN: Final = struct.Struct(">Q")

SEAL_HEADER_BYTES_MAX: Final = _FIXED.size + KEY_BLOCK_BYTES_MAX + AEAD_NONCE_SIZE + _BODY_LEN.size
"""The largest header (everything before the body)."""

SEAL_OVERHEAD_BYTES_MAX: Final = SEAL_HEADER_BYTES_MAX + AEAD_TAG_SIZE
"""The most an envelope is longer than its plaintext."""

_HKDF_INFO: Final = b"jinglian seal v1 ecdh-p256-hkdf-sha256 aes-256-gcm"
_SUITE_IDS: Final = {"default": 1, "gm": 2}
_ALGORITHMS: Final = {"default": (1, 1), "gm": (2, 2)}
"""suite -> (kem id, aead id)."""


def sealed_size(suite_name: str, plaintext_bytes: int) -> int:
    """The exact envelope size for a plaintext of ``plaintext_bytes`` (``default``) or an
    upper bound (``gm``, whose SM2 key block varies by a few bytes)."""
    key_block = _P256_POINT_BYTES if suite_name == "default" else KEY_BLOCK_BYTES_MAX
    return _FIXED.size + key_block + AEAD_NONCE_SIZE + _BODY_LEN.size + plaintext_bytes + 16


def seal(public_key: PublicKey, plaintext: bytes, aad: bytes = b"") -> bytes:
    """Encrypt ``plaintext`` to ``public_key`` (of either suite), binding ``aad``; the envelope."""
    if len(plaintext) > SEAL_PLAINTEXT_BYTES_MAX:
        raise CryptoError(f"payload is over {SEAL_PLAINTEXT_BYTES_MAX} bytes")
    suite_name = public_key.suite_name
    suite = get_suite(suite_name)
    if isinstance(public_key, _p256.P256PublicKey):
        ephemeral = ec.generate_private_key(ec.SECP256R1())
        key_block = ephemeral.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        shared = ephemeral.exchange(ec.ECDH(), public_key.key)
        content_key = _derive(shared, key_block, public_key.to_der())
    elif isinstance(public_key, _sm2.Sm2PublicKey):
        content_key = os.urandom(_SM4_KEY_BYTES)
        key_block = _openssl.pkey_encrypt(public_key.pkey, content_key)
        if len(key_block) > KEY_BLOCK_BYTES_MAX:
            raise CryptoError("SM2 key block is longer than an envelope may hold")
    else:
        raise CryptoError(f"cannot seal to a {type(public_key).__name__}")
    nonce = os.urandom(AEAD_NONCE_SIZE)
    header = _header(suite_name, key_block, nonce, len(plaintext) + AEAD_TAG_SIZE)
    body = suite.aead_encrypt(content_key, nonce, plaintext, header + aad)
    return header + body


def open_sealed(private_key: PrivateKey, envelope: bytes, aad: bytes = b"") -> bytes:
    """The plaintext of an envelope sealed to ``private_key``'s public key with the same ``aad``.

    ``CryptoError`` for anything but an intact envelope for this key and ``aad``.
    """
    view = memoryview(envelope)
    if len(view) < _FIXED.size:
        raise CryptoError("sealed envelope is truncated (no header)")
    magic, version, suite_id, kem_id, aead_id, key_len = _FIXED.unpack_from(view, 0)
    if magic != SEAL_MAGIC:
        raise CryptoError("not a sealed envelope (bad magic)")
    if version != SEAL_VERSION:
        raise CryptoError(f"sealed envelope version {version} is not supported (need 1)")
    suite_name = private_key.suite_name
    if suite_id != _SUITE_IDS[suite_name]:
        raise CryptoError(f"sealed envelope is for suite id {suite_id}, the key is {suite_name}")
    if (kem_id, aead_id) != _ALGORITHMS[suite_name]:
        raise CryptoError(
            f"sealed envelope names algorithms {kem_id}/{aead_id}, not {suite_name}'s"
        )
    if key_len > KEY_BLOCK_BYTES_MAX or (suite_name == "default" and key_len != _P256_POINT_BYTES):
        raise CryptoError(f"sealed envelope key block of {key_len} bytes is not valid")
    body_at = _FIXED.size + key_len + AEAD_NONCE_SIZE + _BODY_LEN.size
    if len(view) < body_at:
        raise CryptoError("sealed envelope is truncated (header)")
    key_block = bytes(view[_FIXED.size : _FIXED.size + key_len])
    nonce = bytes(view[_FIXED.size + key_len : _FIXED.size + key_len + AEAD_NONCE_SIZE])
    (body_len,) = _BODY_LEN.unpack_from(view, body_at - _BODY_LEN.size)
    if not AEAD_TAG_SIZE <= body_len <= SEAL_PLAINTEXT_BYTES_MAX + AEAD_TAG_SIZE:
        raise CryptoError(f"sealed envelope body length {body_len} is out of bounds")
    if len(view) != body_at + body_len:
        raise CryptoError(
            f"sealed envelope is {len(view)} bytes; its header says {body_at + body_len}"
        )
    header = bytes(view[:body_at])
    content_key = _unwrap(private_key, key_block)
    suite = get_suite(suite_name)
    return suite.aead_decrypt(content_key, nonce, bytes(view[body_at:]), header + aad)


def _header(suite_name: str, key_block: bytes, nonce: bytes, body_len: int) -> bytes:
    kem_id, aead_id = _ALGORITHMS[suite_name]
    fixed = _FIXED.pack(
        SEAL_MAGIC, SEAL_VERSION, _SUITE_IDS[suite_name], kem_id, aead_id, len(key_block)
    )
    return fixed + key_block + nonce + _BODY_LEN.pack(body_len)


def _derive(shared: bytes, ephemeral_point: bytes, recipient_spki: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=_AES_KEY_BYTES,
        salt=None,
        info=_HKDF_INFO + ephemeral_point + recipient_spki,
    )
    return hkdf.derive(shared)


def _unwrap(private_key: PrivateKey, key_block: bytes) -> bytes:
    """The content key from the key block, for ``private_key``; CryptoError if it is not one."""
    if isinstance(private_key, _p256.P256PrivateKey):
        try:
            ephemeral = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_block)
        except ValueError:
            raise CryptoError("sealed envelope's ephemeral key is not a P-256 point") from None
        shared = private_key.key.exchange(ec.ECDH(), ephemeral)
        return _derive(shared, key_block, private_key.public_key().to_der())
    if isinstance(private_key, _sm2.Sm2PrivateKey):
        try:
            content_key = _openssl.pkey_decrypt(private_key.pkey, key_block)
        except CryptoError:
            raise CryptoError(
                "sealed envelope's key block does not decrypt with this key"
            ) from None
        if len(content_key) != _SM4_KEY_BYTES:
            raise CryptoError("sealed envelope's key block holds no SM4 key")
        return content_key
    raise CryptoError(f"cannot open an envelope with a {type(private_key).__name__}")
