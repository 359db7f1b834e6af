"""Certificates: issuing, loading, and validation that refuses every forgery we can think of."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from jinglian.crypto import (
    ROLES,
    SUITE_NAMES,
    Certificate,
    PrivateKey,
    Suite,
    _der,
    get_suite,
    issue_ca_certificate,
    issue_certificate,
    load_certificate,
    validate_certificate,
)
from jinglian.crypto.certs import CA_ROLE, CERTIFICATE_BYTES_MAX
from jinglian.types.errors import CryptoError

from .conftest import DAY_MS, NOW_MS


def issue(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate, role: str = "client", **kwargs: object
) -> tuple[PrivateKey, Certificate]:
    key = suite.generate_key()
    options: dict[str, object] = {"now_ms": NOW_MS, **kwargs}
    cert = issue_certificate(
        suite,
        ca_key,
        ca_cert,
        key.public_key(),
        "org1",
        role,
        "alice",
        **options,  # type: ignore[arg-type]
    )
    return key, cert


def test_ca_certificate_fields(suite: Suite, ca_key: PrivateKey, ca_cert: Certificate) -> None:
    assert (ca_cert.org_id, ca_cert.role, ca_cert.common_name) == ("org1", CA_ROLE, "ca.org1")
    assert ca_cert.is_ca
    assert ca_cert.suite_name == suite.name
    assert ca_cert.public_key == ca_key.public_key()
    assert ca_cert.not_before_ms == NOW_MS // 1000 * 1000
    assert ca_cert.not_after_ms == ca_cert.not_before_ms + 3650 * DAY_MS
    assert ca_cert.cert_id == suite.hash(ca_cert.der)
    assert ca_cert.issuer_der_name == ca_cert.subject_der_name
    assert ca_cert.serial > 0
    validate_certificate(ca_cert, ca_cert, NOW_MS)


@pytest.mark.parametrize("role", ROLES)
def test_end_entity_certificate_fields(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate, role: str
) -> None:
    key, cert = issue(suite, ca_key, ca_cert, role)
    assert (cert.org_id, cert.role, cert.common_name, cert.is_ca) == ("org1", role, "alice", False)
    assert cert.public_key == key.public_key()
    assert cert.issuer_der_name == ca_cert.subject_der_name
    assert cert.not_after_ms - cert.not_before_ms == 365 * DAY_MS
    assert cert.serial != ca_cert.serial
    validate_certificate(cert, ca_cert, NOW_MS + DAY_MS)


def test_signing_certificate_extensions(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate
) -> None:
    _, cert = issue(suite, ca_key, ca_cert)
    parsed = x509.load_der_x509_certificate(cert.der)
    usage = parsed.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):
        parsed.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    ca = x509.load_der_x509_certificate(ca_cert.der)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = parsed.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest


def test_tls_certificate_extensions(suite: Suite, ca_key: PrivateKey, ca_cert: Certificate) -> None:
    _, cert = issue(
        suite,
        ca_key,
        ca_cert,
        "consensus",
        tls=True,
        dns_names=["node1.org1.example", "localhost"],
        ip_addresses=["127.0.0.1", "::1"],
    )
    parsed = x509.load_der_x509_certificate(cert.der)
    usages = parsed.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {x509.OID_SERVER_AUTH, x509.OID_CLIENT_AUTH}
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["node1.org1.example", "localhost"]
    assert [str(a) for a in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]


def test_both_suites_encode_names_and_extensions_identically() -> None:
    parsed = []
    for name in SUITE_NAMES:
        suite = get_suite(name)
        ca_key = suite.generate_key()
        ca_cert = issue_ca_certificate(suite, ca_key, "org1", now_ms=NOW_MS)
        _, cert = issue(suite, ca_key, ca_cert, "consensus", tls=True, dns_names=["n1"])
        parsed.append(x509.load_der_x509_certificate(cert.der))
    default, gm = parsed
    assert default.subject.public_bytes() == gm.subject.public_bytes()
    assert default.issuer.public_bytes() == gm.issuer.public_bytes()
    assert [e.oid for e in default.extensions] == [e.oid for e in gm.extensions]
    assert [e.critical for e in default.extensions] == [e.critical for e in gm.extensions]
    assert default.not_valid_before_utc == gm.not_valid_before_utc


def test_load_accepts_pem_and_der(ca_cert: Certificate) -> None:
    assert load_certificate(ca_cert.der) == ca_cert
    assert load_certificate(ca_cert.pem.encode()) == ca_cert
    assert load_certificate(b"\n  " + ca_cert.pem.encode() + b"\n") == ca_cert
    assert hash(load_certificate(ca_cert.der)) == hash(ca_cert)
    assert ca_cert.pem.startswith("-----BEGIN CERTIFICATE-----\n")
    assert "ca.org1" in repr(ca_cert)


@pytest.mark.parametrize(
    "junk",
    [
        b"",
        b"\x30\x00",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"hello",
        b"\x30\x82\xff\xff" + b"\x00" * 100,
    ],
)
def test_junk_is_a_crypto_error(junk: bytes) -> None:
    with pytest.raises(CryptoError):
        load_certificate(junk)


def test_oversized_input_is_refused(ca_cert: Certificate) -> None:
    padded = ca_cert.pem.encode() + b"\n" * (CERTIFICATE_BYTES_MAX + 1 - len(ca_cert.pem))
    with pytest.raises(CryptoError, match="over"):
        load_certificate(padded)


def test_trailing_bytes_after_der_are_refused(ca_cert: Certificate) -> None:
    with pytest.raises(CryptoError):
        load_certificate(ca_cert.der + b"\x00")


def test_every_single_byte_change_is_refused_or_fails_validation(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate
) -> None:
    _, cert = issue(suite, ca_key, ca_cert)
    for position in range(len(cert.der)):
        tampered = bytearray(cert.der)
        tampered[position] ^= 0x01
        try:
            loaded = load_certificate(bytes(tampered))
            validate_certificate(loaded, ca_cert, NOW_MS)
        except CryptoError:
            continue
        pytest.fail(f"tampered byte {position} still validates")


def test_another_ca_with_the_same_org_name_is_refused(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate
) -> None:
    impostor_key = suite.generate_key()
    impostor_ca = issue_ca_certificate(suite, impostor_key, "org1", now_ms=NOW_MS)
    assert impostor_ca.subject_der_name == ca_cert.subject_der_name
    _, forged = issue(suite, impostor_key, impostor_ca, "admin")
    with pytest.raises(CryptoError, match="signature does not verify"):
        validate_certificate(forged, ca_cert, NOW_MS)
    with pytest.raises(CryptoError, match="is a CA certificate"):
        validate_certificate(impostor_ca, ca_cert, NOW_MS)
    validate_certificate(forged, impostor_ca, NOW_MS)


def test_certificate_of_another_org_is_refused(suite: Suite, ca_cert: Certificate) -> None:
    other_key = suite.generate_key()
    other_ca = issue_ca_certificate(suite, other_key, "org2", now_ms=NOW_MS)
    key = suite.generate_key()
    cert = issue_certificate(
        suite, other_key, other_ca, key.public_key(), "org2", "admin", "bob", now_ms=NOW_MS
    )
    with pytest.raises(CryptoError, match="not issued by"):
        validate_certificate(cert, ca_cert, NOW_MS)


def test_validity_period_is_enforced(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate
) -> None:
    _, cert = issue(suite, ca_key, ca_cert, validity_days=10)
    validate_certificate(cert, ca_cert, cert.not_before_ms)
    validate_certificate(cert, ca_cert, cert.not_after_ms)
    with pytest.raises(CryptoError, match="expired at"):
        validate_certificate(cert, ca_cert, cert.not_after_ms + 1)
    with pytest.raises(CryptoError, match="not valid before"):
        validate_certificate(cert, ca_cert, cert.not_before_ms - 1)


def test_expired_ca_fails_its_certificates(suite: Suite, ca_key: PrivateKey) -> None:
    short_ca = issue_ca_certificate(suite, ca_key, "org1", validity_days=2, now_ms=NOW_MS)
    _, cert = issue(suite, ca_key, short_ca, validity_days=365)
    assert cert.not_after_ms == short_ca.not_after_ms
    with pytest.raises(CryptoError, match="expired"):
        validate_certificate(cert, short_ca, NOW_MS + 3 * DAY_MS)
    with pytest.raises(CryptoError, match="is not valid at"):
        issue(suite, ca_key, short_ca, now_ms=NOW_MS + 3 * DAY_MS)


def test_end_entity_is_not_a_ca(suite: Suite, ca_key: PrivateKey, ca_cert: Certificate) -> None:
    key, cert = issue(suite, ca_key, ca_cert, "admin")
    with pytest.raises(CryptoError, match="not a CA"):
        validate_certificate(cert, cert, NOW_MS)
    with pytest.raises(CryptoError, match="not a CA"):
        issue_certificate(suite, key, cert, key.public_key(), "org1", "client", "x", now_ms=NOW_MS)


def test_certificate_of_the_other_suite_is_refused(ca_cert: Certificate) -> None:
    other_name = next(name for name in SUITE_NAMES if name != ca_cert.suite_name)
    other = get_suite(other_name)
    other_key = other.generate_key()
    other_ca = issue_ca_certificate(other, other_key, "org1", now_ms=NOW_MS)
    with pytest.raises(CryptoError, match="but its CA is"):
        validate_certificate(other_ca, ca_cert, NOW_MS)


def test_invalid_issuing_arguments(suite: Suite, ca_key: PrivateKey, ca_cert: Certificate) -> None:
    public = suite.generate_key().public_key()
    good: dict[str, object] = {"org_id": "org1", "role": "client", "common_name": "alice"}
    bad_cases: list[tuple[dict[str, object], str]] = [
        ({"role": "ca"}, "role"),
        ({"role": "root"}, "role"),
        ({"org_id": "org2"}, "cannot issue"),
        ({"common_name": ""}, "common name"),
        ({"common_name": "x" * 65}, "common name"),
        ({"common_name": "a\nb"}, "common name"),
        ({"validity_days": 0}, "validity"),
        ({"validity_days": 36_501}, "validity"),
        ({"dns_names": ["a.example"]}, "TLS"),
        ({"tls": True, "dns_names": ["a b"]}, "DNS name"),
        ({"tls": True, "dns_names": ["a,DNS:evil"]}, "DNS name"),
        ({"tls": True, "dns_names": ["-a.example"]}, "DNS name"),
        ({"tls": True, "ip_addresses": ["999.1.1.1"]}, "IP address"),
        ({"tls": True, "dns_names": ["a"] * 33}, "at most"),
    ]
    for change, message in bad_cases:
        arguments = {**good, "now_ms": NOW_MS, **change}
        with pytest.raises(CryptoError, match=message):
            issue_certificate(suite, ca_key, ca_cert, public, **arguments)  # type: ignore[arg-type]


def test_invalid_org_ids_for_a_ca(suite: Suite, ca_key: PrivateKey) -> None:
    for org_id in ("", "-org", "org 1", "org/1", "o" * 65, "机构"):
        with pytest.raises(CryptoError, match="organisation id"):
            issue_ca_certificate(suite, ca_key, org_id, now_ms=NOW_MS)


def test_mismatched_ca_key_or_suite_is_refused(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate
) -> None:
    stranger = suite.generate_key()
    with pytest.raises(CryptoError, match="does not match"):
        issue_certificate(
            suite, stranger, ca_cert, stranger.public_key(), "org1", "client", "x", now_ms=NOW_MS
        )
    other = get_suite(next(name for name in SUITE_NAMES if name != suite.name))
    with pytest.raises(CryptoError, match="cannot be used"):
        issue_ca_certificate(other, ca_key, "org1", now_ms=NOW_MS)
    with pytest.raises(CryptoError, match="cannot be used"):
        issue_certificate(
            suite,
            ca_key,
            ca_cert,
            other.generate_key().public_key(),
            "org1",
            "client",
            "x",
            now_ms=NOW_MS,
        )


def test_unicode_common_name_round_trips(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate
) -> None:
    key = suite.generate_key()
    cert = issue_certificate(
        suite, ca_key, ca_cert, key.public_key(), "org1", "client", "张三", now_ms=NOW_MS
    )
    assert load_certificate(cert.der).common_name == "张三"


def test_certificate_is_frozen(ca_cert: Certificate) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        ca_cert.role = "admin"  # type: ignore[misc]


def foreign_certificate(subject: list[x509.NameAttribute], ca: bool | None) -> bytes:
    """A P-256 certificate made directly with cryptography, to feed odd shapes to the loader."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(subject))
        .issuer_name(x509.Name(subject))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(x509.load_der_x509_certificate(CA_DER).not_valid_before_utc)
        .not_valid_after(x509.load_der_x509_certificate(CA_DER).not_valid_after_utc)
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


CA_DER = issue_ca_certificate(
    get_suite("default"), get_suite("default").generate_key(), "org1", now_ms=NOW_MS
).der
ORG = x509.NameAttribute(NameOID.ORGANIZATION_NAME, "org1")
OU_CA = x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "ca")
OU_CLIENT = x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "client")
CN = x509.NameAttribute(NameOID.COMMON_NAME, "x")


@pytest.mark.parametrize(
    ("subject", "ca", "message"),
    [
        ([ORG, CN], True, "exactly one OU"),
        ([OU_CA, CN], True, "exactly one O"),
        ([ORG, OU_CA], True, "exactly one CN"),
        ([ORG, ORG, OU_CA, CN], True, "exactly one O"),
        ([ORG, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "root"), CN], True, "role"),
        ([ORG, OU_CA, CN], False, "disagrees"),
        ([ORG, OU_CA, CN], None, "disagrees"),
        ([ORG, OU_CLIENT, CN], True, "disagrees"),
    ],
)
def test_loader_refuses_certificates_that_are_not_jinglian_shaped(
    subject: list[x509.NameAttribute], ca: bool | None, message: str
) -> None:
    with pytest.raises(CryptoError, match=message):
        load_certificate(foreign_certificate(subject, ca))


def test_loader_refuses_other_key_types() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([ORG, OU_CA, CN])
    parsed = x509.load_der_x509_certificate(CA_DER)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(parsed.not_valid_before_utc)
        .not_valid_after(parsed.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        .sign(key, None)
    )
    with pytest.raises(CryptoError, match="neither ECDSA P-256 nor SM2"):
        load_certificate(cert.public_bytes(Encoding.DER))


P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def test_ecdsa_certificates_have_one_encoding() -> None:
    suite = get_suite("default")
    ca_key = suite.generate_key()
    ca_cert = issue_ca_certificate(suite, ca_key, "org1", now_ms=NOW_MS)
    _, cert = issue(suite, ca_key, ca_cert)
    r, s = decode_dss_signature(cert.signature)
    assert s <= P256_ORDER // 2
    high_s = encode_dss_signature(r, P256_ORDER - s)
    tbs, algorithm, _ = _der.certificate_parts(cert.der)
    twin_der = _der.encode_certificate(tbs, algorithm, high_s)
    assert twin_der != cert.der
    assert x509.load_der_x509_certificate(twin_der).signature == high_s
    twin = load_certificate(twin_der)
    assert twin == cert
    assert twin.cert_id == cert.cert_id
    validate_certificate(twin, ca_cert, NOW_MS)


def test_signature_with_unused_bits_is_refused(ca_cert: Certificate) -> None:
    tbs, algorithm, _ = _der.certificate_parts(ca_cert.der)
    der = bytearray(_der.encode_certificate(tbs, algorithm, ca_cert.signature))
    unused_bits_at = len(der) - len(ca_cert.signature) - 1
    assert der[unused_bits_at] == 0
    der[unused_bits_at] = 1
    with pytest.raises(CryptoError):
        load_certificate(bytes(der))


GM_SUITE = get_suite("gm")
GM_CA_KEY = GM_SUITE.generate_key()
GM_CA = issue_ca_certificate(GM_SUITE, GM_CA_KEY, "org1", now_ms=NOW_MS)
GM_CERT = issue_certificate(
    GM_SUITE, GM_CA_KEY, GM_CA, GM_SUITE.generate_key().public_key(), "org1", "client", "c",
    now_ms=NOW_MS,
)  # fmt: skip
DEFAULT_CA_KEY = get_suite("default").generate_key()
DEFAULT_CA = issue_ca_certificate(get_suite("default"), DEFAULT_CA_KEY, "org1", now_ms=NOW_MS)


@settings(max_examples=300, deadline=None)
@given(
    suite_name=st.sampled_from(SUITE_NAMES),
    start=st.integers(0, 600),
    length=st.integers(1, 8),
    replacement=st.binary(min_size=0, max_size=8),
)
def test_mangled_certificates_raise_only_crypto_errors(
    suite_name: str, start: int, length: int, replacement: bytes
) -> None:
    ca = GM_CA if suite_name == "gm" else DEFAULT_CA
    original = GM_CERT.der if suite_name == "gm" else ca.der
    start %= len(original)
    mangled = original[:start] + replacement + original[start + length :]
    try:
        cert = load_certificate(mangled)
        validate_certificate(cert, ca, NOW_MS)
    except CryptoError:
        return
    assert cert.tbs_der in original and cert.signature in original


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_are_crypto_errors(data: bytes) -> None:
    with pytest.raises(CryptoError):
        load_certificate(data)


OU_FLOOD = x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "flood")


def test_division_is_issued_and_parsed(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate
) -> None:
    _, cert = issue(suite, ca_key, ca_cert, division="flood-control.2")
    assert (cert.role, cert.division, cert.common_name) == ("client", "flood-control.2", "alice")
    assert load_certificate(cert.pem.encode()).division == "flood-control.2"
    units = x509.load_der_x509_certificate(cert.der).subject.get_attributes_for_oid(
        NameOID.ORGANIZATIONAL_UNIT_NAME
    )
    assert [unit.value for unit in units] == ["client", "flood-control.2"]
    validate_certificate(cert, ca_cert, NOW_MS + DAY_MS)


def test_certificates_without_a_division_parse_as_before(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate
) -> None:
    _, cert = issue(suite, ca_key, ca_cert)
    assert cert.division == ""
    assert ca_cert.division == ""
    assert len(x509.load_der_x509_certificate(cert.der).subject) == 3


@pytest.mark.parametrize(
    ("division", "message"),
    [
        ("admin", "role word"),
        ("ca", "role word"),
        ("consensus", "role word"),
        ("flood control", "letters, digits"),
        ("洪水", "letters, digits"),
        ("x" * 65, "1 to 64"),
    ],
)
def test_bad_divisions_are_not_issued(
    suite: Suite, ca_key: PrivateKey, ca_cert: Certificate, division: str, message: str
) -> None:
    with pytest.raises(CryptoError, match=message):
        issue(suite, ca_key, ca_cert, division=division)


@pytest.mark.parametrize(
    ("subject", "ca", "message"),
    [
        ([ORG, OU_CLIENT, OU_FLOOD, OU_FLOOD, CN], False, "at most one division"),
        (
            [
                ORG,
                OU_CLIENT,
                OU_FLOOD,
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "b"),
                CN,
            ],
            False,
            "at most one division",
        ),
        ([ORG, OU_CLIENT, OU_CLIENT, CN], False, "exactly one OU that is a role"),
        (
            [ORG, OU_FLOOD, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "b"), CN],
            False,
            "role",
        ),
        (
            [ORG, OU_CLIENT, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "a b"), CN],
            False,
            "letters, digits",
        ),
        ([ORG, OU_CA, OU_FLOOD, CN], True, "CA certificate cannot carry a division"),
    ],
)
def test_loader_refuses_bad_division_shapes(
    subject: list[x509.NameAttribute], ca: bool | None, message: str
) -> None:
    with pytest.raises(CryptoError, match=message):
        load_certificate(foreign_certificate(subject, ca))


def test_foreign_division_certificate_parses() -> None:
    cert = load_certificate(foreign_certificate([ORG, OU_CLIENT, OU_FLOOD, CN], False))
    assert (cert.role, cert.division) == ("client", "flood")
