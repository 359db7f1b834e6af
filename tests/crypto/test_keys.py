"""Keys of both suites: sign/verify, encodings, and refusal of bad keys and signatures."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinglian.crypto import SUITE_NAMES, PrivateKey, PublicKey, Suite, _openssl, get_suite
from jinglian.types.errors import CryptoError

SPKI_PREFIXES = {
    "default": "3059301306072a8648ce3d020106082a8648ce3d030107034200",
    "gm": "3059301306072a8648ce3d020106082a811ccf5501822d034200",
}


def test_sign_verify_round_trip(suite: Suite, key: PrivateKey) -> None:
    public = key.public_key()
    for message in (b"", b"transfer 10 to bob", bytes(range(256)) * 40):
        signature = key.sign(message)
        assert signature[0] == 0x30 and len(signature) <= 72
        assert public.verify(signature, message)
        assert not public.verify(signature, message + b"\x00")
    assert key.suite_name == public.suite_name == suite.name


def test_signatures_are_randomised_and_all_verify(key: PrivateKey) -> None:
    signatures = {key.sign(b"same message") for _ in range(4)}
    assert len(signatures) == 4
    assert all(key.public_key().verify(s, b"same message") for s in signatures)


def test_another_key_does_not_verify(suite: Suite, key: PrivateKey) -> None:
    other = suite.generate_key().public_key()
    assert not other.verify(key.sign(b"m"), b"m")


def test_signature_of_the_other_suite_does_not_verify(key: PrivateKey) -> None:
    other_name = next(name for name in SUITE_NAMES if name != key.suite_name)
    other = get_suite(other_name).generate_key()
    assert not key.public_key().verify(other.sign(b"m"), b"m")


@settings(max_examples=200, deadline=None)
@given(garbage=st.binary(max_size=120), position=st.integers(0, 200))
def test_garbage_and_altered_signatures_return_false(garbage: bytes, position: int) -> None:
    for name in SUITE_NAMES:
        key = KEYS[name]
        public = key.public_key()
        assert not public.verify(garbage, b"message")
        signature = SIGNATURES[name]
        altered = bytearray(signature)
        altered[position % len(signature)] ^= 1 << (position % 8)
        assert not public.verify(bytes(altered), b"message")
        assert not public.verify(signature + garbage[:1] + b"\x00", b"message")
        assert not public.verify(signature[: position % len(signature)], b"message")


KEYS = {name: get_suite(name).generate_key() for name in SUITE_NAMES}
SIGNATURES = {name: key.sign(b"message") for name, key in KEYS.items()}


def test_huge_signature_returns_false(key: PrivateKey) -> None:
    assert not key.public_key().verify(b"\x30" + b"\xff" * 100_000, b"m")


def test_private_key_pem_round_trip(suite: Suite, key: PrivateKey) -> None:
    pem = key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    assert pem.endswith(b"-----END PRIVATE KEY-----\n")
    loaded = suite.load_private_key(pem)
    assert loaded.public_key() == key.public_key()
    assert key.public_key().verify(loaded.sign(b"m"), b"m")
    assert b"PRIVATE" not in repr(key).encode()


def test_public_key_der_round_trip_and_equality(suite: Suite, key: PrivateKey) -> None:
    der = key.public_key().to_der()
    assert der.hex().startswith(SPKI_PREFIXES[suite.name])
    assert len(der) == 91
    loaded = suite.load_public_key(der)
    assert loaded == key.public_key()
    assert hash(loaded) == hash(key.public_key())
    assert loaded != suite.generate_key().public_key()
    assert loaded != der
    assert len({loaded, key.public_key()}) == 1


def test_loading_the_same_public_key_is_cached(suite: Suite, key: PrivateKey) -> None:
    der = key.public_key().to_der()
    assert suite.load_public_key(bytes(der)) is suite.load_public_key(bytes(der))


def test_keys_of_the_other_suite_are_refused(suite: Suite) -> None:
    other_name = next(name for name in SUITE_NAMES if name != suite.name)
    other = get_suite(other_name).generate_key()
    with pytest.raises(CryptoError):
        suite.load_public_key(other.public_key().to_der())
    with pytest.raises(CryptoError):
        suite.load_private_key(other.to_pem())


@pytest.mark.parametrize(
    "junk",
    [b"", b"\x30\x00", b"\x30\x59" + b"\x00" * 89, b"not a key", b"\x30" * 91],
)
def test_invalid_public_keys_are_crypto_errors(suite: Suite, junk: bytes) -> None:
    with pytest.raises(CryptoError):
        suite.load_public_key(junk)


def test_point_off_the_curve_is_refused(suite: Suite, key: PrivateKey) -> None:
    der = bytearray(key.public_key().to_der())
    der[-1] ^= 1
    with pytest.raises(CryptoError):
        suite.load_public_key(bytes(der))


def test_trailing_bytes_after_a_public_key_are_refused(suite: Suite, key: PrivateKey) -> None:
    with pytest.raises(CryptoError):
        suite.load_public_key(key.public_key().to_der() + b"\x00")


def test_compressed_point_is_refused(suite: Suite, key: PrivateKey) -> None:
    der = key.public_key().to_der()
    point = der[-65:]
    compressed_point = bytes([2 + (point[-1] & 1)]) + point[1:33]
    header = bytes.fromhex(SPKI_PREFIXES[suite.name])[2:-3]
    compressed = bytes([0x30, len(header) + 3 + 33]) + header + b"\x03\x22\x00" + compressed_point
    with pytest.raises(CryptoError):
        suite.load_public_key(compressed)


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        b"x" * 100_000,
    ],
)
def test_invalid_private_keys_are_crypto_errors(suite: Suite, junk: bytes) -> None:
    with pytest.raises(CryptoError):
        suite.load_private_key(junk)


def test_public_key_pem_is_not_a_private_key(suite: Suite, key: PrivateKey) -> None:
    with pytest.raises(CryptoError):
        suite.load_private_key(key.public_key().to_der())


def test_openssl_errors_do_not_linger_after_a_failed_verify() -> None:
    public = KEYS["gm"].public_key()
    assert not public.verify(b"\x30\x06\x02\x01\x01\x02\x01\x01", b"m")
    assert _openssl._error_text() == "no detail from OpenSSL"


def test_public_key_type_is_abstract() -> None:
    with pytest.raises(TypeError):
        PublicKey()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        PrivateKey()  # type: ignore[abstract]


def test_concurrent_verification_gives_correct_answers(suite: Suite, key: PrivateKey) -> None:
    # The gm binding releases the GIL inside libcrypto; shared keys must stay correct.
    public = suite.load_public_key(key.public_key().to_der())
    signature = key.sign(b"m")
    jobs = [(signature, b"m", True), (signature, b"n", False), (b"\x30\x00", b"m", False)] * 40

    def check(job: tuple[bytes, bytes, bool]) -> bool:
        return public.verify(job[0], job[1]) == job[2]

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(check, jobs))
