"""Sealing to a public key: round trips on both suites (up to 64 MiB), and every bad envelope,
wrong key, wrong aad or truncation refused with CryptoError."""

from __future__ import annotations

import os
import struct
import sys
import time

import pytest

from jinglian.crypto import Suite, get_suite, open_sealed, seal
from jinglian.crypto.sealing import (
    SEAL_MAGIC,
    SEAL_OVERHEAD_BYTES_MAX,
    SEAL_PLAINTEXT_BYTES_MAX,
    sealed_size,
)
from jinglian.types.errors import CryptoError

BIG_BYTES = 64 * 1024 * 1024
AAD = b"request-hash"


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 4096, 1_000_003])
def test_round_trip(suite: Suite, size: int) -> None:
    key = suite.generate_key()
    plaintext = os.urandom(size)
    envelope = seal(key.public_key(), plaintext, AAD)
    assert envelope.startswith(SEAL_MAGIC)
    assert len(envelope) <= size + SEAL_OVERHEAD_BYTES_MAX
    assert len(envelope) <= sealed_size(suite.name, size)
    assert open_sealed(key, envelope, AAD) == plaintext
    assert seal(key.public_key(), plaintext, AAD) != envelope, "a fresh key per envelope"


def test_64_mib_round_trip_and_throughput(suite: Suite) -> None:
    key = suite.generate_key()
    plaintext = os.urandom(BIG_BYTES)
    started = time.perf_counter()
    envelope = seal(key.public_key(), plaintext, AAD)
    sealed_s = time.perf_counter() - started
    started = time.perf_counter()
    opened = open_sealed(key, envelope, AAD)
    opened_s = time.perf_counter() - started
    assert opened == plaintext
    mib = BIG_BYTES / (1024 * 1024)
    print(f"{suite.name}: seal {mib / sealed_s:.0f} MiB/s, open {mib / opened_s:.0f} MiB/s")


def test_a_wrong_key_is_refused(suite: Suite) -> None:
    key, other = suite.generate_key(), suite.generate_key()
    envelope = seal(key.public_key(), b"secret rows", AAD)
    with pytest.raises(CryptoError):
        open_sealed(other, envelope, AAD)


def test_a_key_of_the_other_suite_is_refused(suite: Suite) -> None:
    other_suite = get_suite("gm" if suite.name == "default" else "default")
    envelope = seal(suite.generate_key().public_key(), b"secret rows", AAD)
    with pytest.raises(CryptoError, match="suite"):
        open_sealed(other_suite.generate_key(), envelope, AAD)


def test_a_wrong_aad_is_refused(suite: Suite) -> None:
    key = suite.generate_key()
    envelope = seal(key.public_key(), b"secret rows", AAD)
    for aad in (b"", AAD + b"x", AAD[:-1]):
        with pytest.raises(CryptoError, match="decryption failed"):
            open_sealed(key, envelope, aad)


def test_every_flipped_byte_is_refused(suite: Suite) -> None:
    key = suite.generate_key()
    envelope = seal(key.public_key(), b"0123456789abcdef" * 3, AAD)
    for index in range(len(envelope)):
        altered = bytearray(envelope)
        altered[index] ^= 0x01
        with pytest.raises(CryptoError):
            open_sealed(key, bytes(altered), AAD)


def test_truncation_and_trailing_bytes_are_refused(suite: Suite) -> None:
    key = suite.generate_key()
    envelope = seal(key.public_key(), b"x" * 100, AAD)
    for cut in (0, 3, 9, 30, len(envelope) - 17, len(envelope) - 1):
        with pytest.raises(CryptoError):
            open_sealed(key, envelope[:cut], AAD)
    with pytest.raises(CryptoError, match="header says"):
        open_sealed(key, envelope + b"\0", AAD)


def test_bad_headers_are_refused_before_any_work(suite: Suite) -> None:
    key = suite.generate_key()
    envelope = seal(key.public_key(), b"x", AAD)
    cases = {
        "bad magic": b"XXXX" + envelope[4:],
        "version": envelope[:4] + b"\x02" + envelope[5:],
        "algorithms": envelope[:6] + b"\x09" + envelope[7:],
        "key block": envelope[:8] + struct.pack(">H", 999) + envelope[10:],
    }
    for message, bad in cases.items():
        with pytest.raises(CryptoError, match=message):
            open_sealed(key, bad, AAD)
    key_len = struct.unpack(">H", envelope[8:10])[0]
    at = 10 + key_len + 12
    huge = envelope[:at] + struct.pack(">Q", SEAL_PLAINTEXT_BYTES_MAX + 17) + envelope[at + 8 :]
    with pytest.raises(CryptoError, match="out of bounds"):
        open_sealed(key, huge, AAD)


def test_an_oversized_payload_is_refused_before_encrypting(
    suite: Suite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the package's ``seal`` is the function; the module is in sys.modules
    monkeypatch.setattr(sys.modules["jinglian.crypto.sealing"], "SEAL_PLAINTEXT_BYTES_MAX", 10)
    with pytest.raises(CryptoError, match="over 10 bytes"):
        seal(suite.generate_key().public_key(), b"x" * 11, AAD)
