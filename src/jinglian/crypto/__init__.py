"""jinglian.crypto: hashes, signatures, certificates, Merkle trees and encryption.

Everything cryptographic in jinglian goes through a :class:`Suite`, picked
per chain in the genesis file with :func:`get_suite`:

- ``default``: ECDSA P-256 with SHA-256, SHA-256, AES-256-GCM (ADR 0002);
- ``gm``: SM2 with SM3, SM3, SM4-GCM, through OpenSSL's libcrypto (ADR 0003).

Main types: :class:`PrivateKey` / :class:`PublicKey` (from a suite),
:class:`Certificate` (X.509 v3, organisation in ``O``, role in ``OU``, name in
``CN``; see :data:`ROLES`), and the RFC 6962 Merkle functions, which take the
suite's ``hash`` as ``hash_fn``. :func:`seal` / :func:`open_sealed` encrypt a
payload to a certificate's public key (ECIES with AES-256-GCM on ``default``,
SM2 encryption with SM4-GCM on ``gm``; :mod:`jinglian.crypto.sealing`).

This package imports only the standard library, ``cryptography``, libcrypto
(through ctypes) and the error tree ``jinglian.types.errors``. Unusable
keys, certificates and ciphertexts raise ``CryptoError``; ``verify_*``
functions and ``PublicKey.verify`` return False instead of raising.
"""

from __future__ import annotations

from jinglian.crypto.certs import (
    ROLES,
    Certificate,
    issue_ca_certificate,
    issue_certificate,
    load_certificate,
    validate_certificate,
)
from jinglian.crypto.keys import PrivateKey, PublicKey
from jinglian.crypto.merkle import merkle_proof, merkle_root, verify_merkle_proof
from jinglian.crypto.sealing import open_sealed, seal
from jinglian.crypto.suite import SUITE_NAMES, Suite, get_suite

__all__ = [  # noqa: RUF022 (plain sorted order, checked by tests/crypto/test_suite.py)
    "Certificate",
    "PrivateKey",
    "PublicKey",
    "ROLES",
    "SUITE_NAMES",
    "Suite",
    "get_suite",
    "issue_ca_certificate",
    "issue_certificate",
    "load_certificate",
    "merkle_proof",
    "merkle_root",
    "open_sealed",
    "seal",
    "validate_certificate",
    "verify_merkle_proof",
]
