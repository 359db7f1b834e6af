"""Interoperability with the OpenSSL command line tool, both ways, for both suites.

OpenSSL 3.0's tool computes the SM2 Z value with an *empty* signer ID unless it
is given ``distid``; jinglian uses the standard default ID ``1234567812345678``
everywhere, certificates included (ADR 0003). So the tool needs
``-sigopt/-vfyopt distid:1234567812345678`` here, and a certificate it signs
without that option is refused by jinglian.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jinglian.crypto import (
    Certificate,
    PrivateKey,
    Suite,
    get_suite,
    issue_ca_certificate,
    issue_certificate,
    load_certificate,
    validate_certificate,
)
from jinglian.crypto.certs import CERTIFICATE_BYTES_MAX
from jinglian.types.errors import CryptoError

from .conftest import NOW_MS, run_openssl

DISTID = "distid:1234567812345678"
DIGESTS = {"default": "-sha256", "gm": "-sm3"}
AT_NOW = ("-attime", str(NOW_MS // 1000 + 60))
"""Verify chains at the fixed issuing time, not at the wall clock."""


def digest_options(suite: Suite, option: str) -> list[str]:
    """The dgst arguments for the suite's hash, with the SM2 signer ID when it applies."""
    if suite.name == "gm":
        return [DIGESTS[suite.name], option, DISTID]
    return [DIGESTS[suite.name]]


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_openssl_verifies_our_signature(suite: Suite, key: PrivateKey, tmp_path: Path) -> None:
    message = write(tmp_path / "message", b"jinglian interop \x00\xff" * 10)
    signature = write(tmp_path / "sig", key.sign(message.read_bytes()))
    public = write(tmp_path / "pub.der", key.public_key().to_der())
    result = run_openssl(
        "dgst", *digest_options(suite, "-sigopt"), "-verify", public, "-keyform", "DER",
        "-signature", signature, message,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"Verified OK" in result.stdout
    signature.write_bytes(key.sign(b"something else"))
    result = run_openssl(
        "dgst", *digest_options(suite, "-sigopt"), "-verify", public, "-keyform", "DER",
        "-signature", signature, message,
    )  # fmt: skip
    assert result.returncode != 0


def test_openssl_pkeyutl_verifies_our_sm2_signature(tmp_path: Path) -> None:
    key = get_suite("gm").generate_key()
    message = write(tmp_path / "message", b"pkeyutl one-shot")
    signature = write(tmp_path / "sig", key.sign(message.read_bytes()))
    public = write(tmp_path / "pub.der", key.public_key().to_der())
    result = run_openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", public, "-keyform", "DER", "-rawin",
        "-digest", "sm3", "-pkeyopt", DISTID, "-in", message, "-sigfile", signature,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"Signature Verified Successfully" in result.stdout


def test_we_verify_openssl_signatures_with_its_own_keys(suite: Suite, tmp_path: Path) -> None:
    algorithm = ["-algorithm", "SM2"] if suite.name == "gm" else ["-algorithm", "EC"]
    curve = [] if suite.name == "gm" else ["-pkeyopt", "ec_paramgen_curve:P-256"]
    key_path = tmp_path / "key.pem"
    assert run_openssl("genpkey", *algorithm, *curve, "-out", key_path).returncode == 0
    message = write(tmp_path / "message", b"signed by the openssl tool")
    signature = tmp_path / "sig"
    result = run_openssl(
        "dgst", *digest_options(suite, "-sigopt"), "-sign", key_path, "-out", signature, message
    )
    assert result.returncode == 0, result.stderr
    public_der = run_openssl("pkey", "-in", key_path, "-pubout", "-outform", "DER").stdout
    public = suite.load_public_key(public_der)
    assert public.verify(signature.read_bytes(), message.read_bytes())
    assert not public.verify(signature.read_bytes(), b"another message")
    loaded = suite.load_private_key(key_path.read_bytes())
    assert loaded.public_key() == public


def test_openssl_reads_our_private_keys(suite: Suite, key: PrivateKey, tmp_path: Path) -> None:
    key_path = write(tmp_path / "key.pem", key.to_pem())
    result = run_openssl("pkey", "-in", key_path, "-pubout", "-outform", "DER")
    assert result.returncode == 0, result.stderr
    assert result.stdout == key.public_key().to_der()


def test_openssl_verifies_our_default_chain(tmp_path: Path) -> None:
    suite = get_suite("default")
    _, ca_cert, cert = make_chain(suite)
    ca_path, cert_path = (
        write(tmp_path / "ca.pem", ca_cert.pem),
        write(tmp_path / "c.pem", cert.pem),
    )
    result = run_openssl(
        "verify", *AT_NOW, "-check_ss_sig", "-x509_strict", "-CAfile", ca_path, cert_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(b": OK")


def test_openssl_verifies_our_gm_chain(tmp_path: Path) -> None:
    suite = get_suite("gm")
    ca_key, ca_cert, cert = make_chain(suite)
    ca_path, cert_path = (
        write(tmp_path / "ca.pem", ca_cert.pem),
        write(tmp_path / "c.pem", cert.pem),
    )
    result = run_openssl(
        "verify", *AT_NOW, "-x509_strict", "-vfyopt", DISTID, "-CAfile", ca_path, cert_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(b": OK")
    # The tool applies -vfyopt to the leaf only, so check the CA's self-signature directly.
    tbs = write(tmp_path / "tbs", ca_cert.tbs_der)
    signature = write(tmp_path / "sig", ca_cert.signature)
    public = write(tmp_path / "pub.der", ca_key.public_key().to_der())
    result = run_openssl(
        "dgst", "-sm3", "-sigopt", DISTID, "-verify", public, "-keyform", "DER",
        "-signature", signature, tbs,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("suite_name", ["default", "gm"])
def test_openssl_refuses_a_chain_from_an_impostor_ca(suite_name: str, tmp_path: Path) -> None:
    suite = get_suite(suite_name)
    _, ca_cert, _ = make_chain(suite)
    _, _, forged = make_chain(suite)
    ca_path = write(tmp_path / "ca.pem", ca_cert.pem)
    cert_path = write(tmp_path / "c.pem", forged.pem)
    result = run_openssl("verify", *AT_NOW, "-vfyopt", DISTID, "-CAfile", ca_path, cert_path)
    assert result.returncode != 0


def openssl_gm_ca(tmp_path: Path, sigopt: list[str]) -> tuple[Path, Path]:
    key_path = tmp_path / "ca-key.pem"
    assert run_openssl("genpkey", "-algorithm", "SM2", "-out", key_path).returncode == 0
    ca_path = tmp_path / "ca.pem"
    result = run_openssl(
        "req", "-x509", "-new", "-key", key_path, "-sm3", *sigopt, "-days", "30",
        "-subj", "/O=org1/OU=ca/CN=ca.org1",
        "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        "-out", ca_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return key_path, ca_path


def openssl_gm_leaf(tmp_path: Path, ca: tuple[Path, Path], sigopt: list[str]) -> Path:
    key_path, csr_path, cert_path = tmp_path / "k.pem", tmp_path / "c.csr", tmp_path / "c.pem"
    assert run_openssl("genpkey", "-algorithm", "SM2", "-out", key_path).returncode == 0
    result = run_openssl(
        "req", "-new", "-key", key_path, "-sm3", "-subj", "/O=org1/OU=client/CN=bob",
        "-out", csr_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    extensions = write(tmp_path / "ext.cnf", "basicConstraints=critical,CA:FALSE\n")
    result = run_openssl(
        "x509", "-req", "-in", csr_path, "-CA", ca[1], "-CAkey", ca[0], "-sm3", *sigopt,
        "-days", "10", "-extfile", extensions, "-out", cert_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return cert_path


def test_we_validate_a_gm_chain_made_by_openssl(tmp_path: Path) -> None:
    sigopt = ["-sigopt", DISTID]
    ca = openssl_gm_ca(tmp_path, sigopt)
    ca_cert = load_certificate(ca[1].read_bytes())
    cert = load_certificate(openssl_gm_leaf(tmp_path, ca, sigopt).read_bytes())
    assert (ca_cert.suite_name, ca_cert.role, cert.role, cert.common_name) == (
        "gm",
        "ca",
        "client",
        "bob",
    )
    at_ms = cert.not_before_ms + 1000
    validate_certificate(ca_cert, ca_cert, at_ms)
    validate_certificate(cert, ca_cert, at_ms)


def test_openssl_default_empty_signer_id_is_refused(tmp_path: Path) -> None:
    ca = openssl_gm_ca(tmp_path, [])
    ca_cert = load_certificate(ca[1].read_bytes())
    cert = load_certificate(openssl_gm_leaf(tmp_path, ca, []).read_bytes())
    with pytest.raises(CryptoError, match="signature does not verify"):
        validate_certificate(cert, ca_cert, cert.not_before_ms + 1000)


def test_openssl_parses_our_certificates(suite: Suite, tmp_path: Path) -> None:
    _, _, cert = make_chain(suite)
    result = run_openssl("x509", "-noout", "-subject", "-ext", "subjectAltName", "-in",
                         write(tmp_path / "c.pem", cert.pem))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert b"O = org1, OU = consensus, CN = node1" in result.stdout
    assert b"DNS:node1.org1.example" in result.stdout
    assert len(cert.der) < CERTIFICATE_BYTES_MAX


def make_chain(suite: Suite) -> tuple[PrivateKey, Certificate, Certificate]:
    """A fresh CA for org1 and a TLS consensus certificate it issued."""
    ca_key = suite.generate_key()
    ca_cert = issue_ca_certificate(suite, ca_key, "org1", now_ms=NOW_MS)
    cert = issue_certificate(
        suite, ca_key, ca_cert, suite.generate_key().public_key(), "org1", "consensus", "node1",
        tls=True, dns_names=["node1.org1.example"], ip_addresses=["10.0.0.1"], now_ms=NOW_MS,
    )  # fmt: skip
    return ca_key, ca_cert, cert
