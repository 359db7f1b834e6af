"""Identities: loading certificate and key, signing transactions in both suites."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jinglian.client import Identity
from jinglian.crypto import get_suite, load_certificate
from jinglian.types import decode_tx
from jinglian.types.errors import ConfigError, CryptoError


@pytest.mark.parametrize(("which", "suite"), [("network_dir", "default"), ("gm_dir", "gm")])
def test_sign_tx_in_each_suite(which: str, suite: str, request: pytest.FixtureRequest) -> None:
    net_dir = request.getfixturevalue(which)
    identity = Identity.from_network(net_dir, "org1/client")
    assert identity.suite.name == suite
    tx = identity.sign_tx("jinglian-dev", "kv", "put", {"key": "a", "value": 1}, now_ms=1000)
    hash_fn = get_suite(suite).hash
    again = decode_tx(tx.encoded, hash_fn)
    assert again.id == hash_fn(again.payload)
    assert again.body.sender == hash_fn(identity.cert.der) == identity.cert_id
    assert again.body.timestamp_ms == 1000 and again.body.expires_ms == 301_000
    assert len(again.body.nonce) == 16
    signer = again.endorsements[0]
    assert signer.signer == identity.cert.der
    assert load_certificate(signer.signer).public_key.verify(signer.signature, again.payload)


def test_sign_options(network_dir: Path) -> None:
    identity = Identity.from_network(network_dir)
    a = identity.sign_tx("c", "kv", "m", include_cert=False, nonce=b"n", expiry_s=5, now_ms=0)
    assert a.endorsements[0].signer == identity.cert_id
    assert a.body.nonce == b"n" and a.body.expires_ms == 5000
    b = identity.sign_tx("c", "kv", "m")
    c = identity.sign_tx("c", "kv", "m")
    assert b.id != c.id
    assert "org1/admin" in repr(identity)


def test_key_of_another_identity_is_refused(network_dir: Path) -> None:
    users = network_dir / "orgs" / "org1" / "users"
    with pytest.raises(CryptoError, match="does not belong"):
        Identity.load(users / "admin" / "cert.pem", users / "client" / "key.pem")


def test_key_of_another_suite_is_refused(network_dir: Path, gm_dir: Path) -> None:
    cert = network_dir / "orgs" / "org1" / "users" / "admin" / "cert.pem"
    key = gm_dir / "orgs" / "org1" / "users" / "admin" / "key.pem"
    with pytest.raises(CryptoError):
        Identity.load(cert, key)


def test_missing_or_junk_files(tmp_path: Path, network_dir: Path) -> None:
    users = network_dir / "orgs" / "org1" / "users" / "admin"
    with pytest.raises(ConfigError, match="cannot read"):
        Identity.load(tmp_path / "none.pem", users / "key.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(CryptoError):
        Identity.load(junk, users / "key.pem")
    shutil.copy(users / "cert.pem", tmp_path / "cert.pem")
    with pytest.raises(CryptoError):
        Identity.load(tmp_path / "cert.pem", junk)
