"""The libcrypto binding frees what it allocates: RSS stays flat over many calls."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable

import pytest

from jinglian.crypto import _openssl, _sm2, get_suite, issue_ca_certificate, issue_certificate
from jinglian.types.errors import CryptoError

from .conftest import NOW_MS

RSS_GROWTH_BYTES_MAX = 1024 * 1024
"""A leaked EVP_MD_CTX with its SM2 context is hundreds of bytes; thousands of calls
each leaking one would grow RSS by megabytes."""

MESSAGE = b"a transaction payload of a typical size " * 5


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            resident_pages = int(statm.read().split()[1])
    except OSError:
        pytest.skip("needs /proc/self/statm")
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def rss_growth(operations: list[Callable[[], object]], calls: int) -> int:
    """RSS growth over ``calls`` calls cycling through ``operations``, after a warm-up."""
    for i in range(calls // 10):
        operations[i % len(operations)]()
    gc.collect()
    before = rss_bytes()
    for i in range(calls):
        operations[i % len(operations)]()
    gc.collect()
    return rss_bytes() - before


def expect_crypto_error(operation: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            operation()
        except CryptoError:
            return
        raise AssertionError("expected a CryptoError")

    return run


def test_sm2_sign_verify_and_key_codecs_do_not_leak() -> None:
    key = _sm2.generate_key()
    public = key.public_key()
    signature = key.sign(MESSAGE)
    public_der = public.to_der()
    private_der = _openssl.encode_private_key(key.pkey)
    operations: list[Callable[[], object]] = [
        lambda: key.sign(MESSAGE),
        lambda: public.verify(signature, MESSAGE),
        lambda: public.verify(signature, MESSAGE + b"!"),
        lambda: public.verify(b"\x30\x06\x02\x01\x01\x02\x01\x01", MESSAGE),
        lambda: public.verify(b"garbage", MESSAGE),
        lambda: _openssl.decode_public_key(public_der),
        lambda: _openssl.encode_public_key(key.pkey),
        lambda: _openssl.decode_private_key(private_der),
        expect_crypto_error(lambda: _openssl.decode_public_key(public_der + b"\x00")),
        expect_crypto_error(lambda: _openssl.decode_public_key(public_der[:-1])),
    ]
    growth = rss_growth(operations, 20_000)
    assert growth < RSS_GROWTH_BYTES_MAX, f"RSS grew by {growth} bytes"


def test_sm2_certificate_building_does_not_leak() -> None:
    suite = get_suite("gm")
    ca_key = suite.generate_key()
    ca_cert = issue_ca_certificate(suite, ca_key, "org1", now_ms=NOW_MS)
    public = suite.generate_key().public_key()

    def issue() -> object:
        return issue_certificate(
            suite, ca_key, ca_cert, public, "org1", "consensus", "node1",
            tls=True, dns_names=["node1"], ip_addresses=["10.0.0.1"], now_ms=NOW_MS,
        )  # fmt: skip

    growth = rss_growth([issue], 1_000)
    assert growth < RSS_GROWTH_BYTES_MAX, f"RSS grew by {growth} bytes"
