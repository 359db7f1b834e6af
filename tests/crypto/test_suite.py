"""Suites: names, hashes with standard vectors, incremental hashing, AEAD."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jinglian.crypto
from jinglian.crypto import SUITE_NAMES, Suite, get_suite
from jinglian.crypto.suite import AEAD_NONCE_SIZE, AEAD_TAG_SIZE, HASH_SIZE
from jinglian.types.errors import CryptoError

EXPECTED_EXPORTS = [
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


def test_exported_members_are_exactly_the_public_api() -> None:
    assert jinglian.crypto.__all__ == EXPECTED_EXPORTS
    assert sorted(jinglian.crypto.__all__) == jinglian.crypto.__all__
    public = {name for name in vars(jinglian.crypto) if not name.startswith("_")}
    modules = {"certs", "keys", "merkle", "suite", "annotations", "state_proof", "sealing"}
    assert public - modules == set(EXPECTED_EXPORTS)


def test_suite_names_and_parameters() -> None:
    assert SUITE_NAMES == ("default", "gm")
    default, gm = get_suite("default"), get_suite("gm")
    assert (default.hash_name, default.signature_name, default.cipher_name) == (
        "sha256",
        "ecdsa-p256-sha256",
        "aes-256-gcm",
    )
    assert (gm.hash_name, gm.signature_name, gm.cipher_name) == ("sm3", "sm2-sm3", "sm4-gcm")
    assert (default.aead_key_size, gm.aead_key_size) == (32, 16)


def test_one_frozen_instance_per_name(suite: Suite) -> None:
    assert get_suite(suite.name) is suite
    with pytest.raises(dataclasses.FrozenInstanceError):
        suite.name = "other"  # type: ignore[misc]
    assert suite.name in repr(suite)


@pytest.mark.parametrize("name", ["", "Default", "sm2", "ed25519", None, 1])
def test_invalid_suite_name_is_a_crypto_error(name: object) -> None:
    with pytest.raises(CryptoError, match="unknown crypto suite"):
        get_suite(name)  # type: ignore[arg-type]


# GB/T 32905-2016 appendix A.
SM3_VECTORS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
    (b"", "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"),
]


@pytest.mark.parametrize(("message", "digest"), SM3_VECTORS)
def test_sm3_standard_vectors(message: bytes, digest: str) -> None:
    gm = get_suite("gm")
    assert gm.hash(message).hex() == digest
    hasher = gm.new_hasher()
    for i in range(len(message)):
        hasher.update(message[i : i + 1])
    assert hasher.digest().hex() == digest


def test_sha256_standard_vector() -> None:
    default = get_suite("default")
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert default.hash(b"abc").hex() == expected


@settings(max_examples=50)
@given(st.lists(st.binary(max_size=300), max_size=5))
def test_incremental_hash_equals_one_shot(chunks: list[bytes]) -> None:
    for name in SUITE_NAMES:
        suite = get_suite(name)
        hasher = suite.new_hasher()
        for chunk in chunks:
            hasher.update(chunk)
        digest = suite.hash(b"".join(chunks))
        assert hasher.digest() == digest
        assert len(digest) == HASH_SIZE
    assert get_suite("default").hash(b"".join(chunks)) == hashlib.sha256(b"".join(chunks)).digest()


def test_hashers_are_independent(suite: Suite) -> None:
    first, second = suite.new_hasher(), suite.new_hasher()
    first.update(b"a")
    assert second.digest() == suite.hash(b"")
    assert first.digest() == suite.hash(b"a")


@settings(max_examples=40)
@given(plaintext=st.binary(max_size=200), aad=st.binary(max_size=40))
def test_aead_round_trip(plaintext: bytes, aad: bytes) -> None:
    for name in SUITE_NAMES:
        suite = get_suite(name)
        key, nonce = b"\x07" * suite.aead_key_size, b"\x01" * AEAD_NONCE_SIZE
        sealed = suite.aead_encrypt(key, nonce, plaintext, aad)
        assert len(sealed) == len(plaintext) + AEAD_TAG_SIZE
        assert suite.aead_decrypt(key, nonce, sealed, aad) == plaintext


def test_aead_refuses_any_tampering(suite: Suite) -> None:
    key, nonce = bytes(range(suite.aead_key_size)), b"\x09" * AEAD_NONCE_SIZE
    sealed = suite.aead_encrypt(key, nonce, b"shared ledger data", b"header")
    for position in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x80
        with pytest.raises(CryptoError, match="decryption failed"):
            suite.aead_decrypt(key, nonce, bytes(tampered), b"header")
    other_key = bytes(reversed(key))
    attempts = [
        (other_key, nonce, sealed, b"header"),
        (key, b"\x08" * AEAD_NONCE_SIZE, sealed, b"header"),
        (key, nonce, sealed, b"headers"),
        (key, nonce, sealed[:-1], b"header"),
        (key, nonce, sealed + b"\x00", b"header"),
    ]
    for attempt in attempts:
        with pytest.raises(CryptoError, match="decryption failed"):
            suite.aead_decrypt(*attempt)
    with pytest.raises(CryptoError, match="shorter than its authentication tag"):
        suite.aead_decrypt(key, nonce, sealed[: AEAD_TAG_SIZE - 1], b"header")


def test_aead_checks_key_and_nonce_sizes(suite: Suite) -> None:
    nonce = b"\x00" * AEAD_NONCE_SIZE
    for size in (0, 16 if suite.aead_key_size == 32 else 32, suite.aead_key_size + 1):
        with pytest.raises(CryptoError, match="-byte key"):
            suite.aead_encrypt(b"k" * size, nonce, b"x", b"")
    for size in (0, 8, 16):
        with pytest.raises(CryptoError, match="-byte nonce"):
            suite.aead_encrypt(b"k" * suite.aead_key_size, b"n" * size, b"x", b"")


def test_sm4_gcm_matches_rfc_8998() -> None:
    # RFC 8998 appendix A.1.
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plaintext = bytes.fromhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    )
    ciphertext = bytes.fromhex(
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
    )
    tag = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")
    gm = get_suite("gm")
    assert gm.aead_encrypt(key, nonce, plaintext, aad) == ciphertext + tag
    assert gm.aead_decrypt(key, nonce, ciphertext + tag, aad) == plaintext
