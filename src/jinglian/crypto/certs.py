"""X.509 v3 certificates: each organisation's CA and the identities it issues.

Every organisation of a consortium runs a CA; the CA certifies the keys of
the organisation's nodes, admins and clients. A subject always carries the
organisation id in ``O``, the role in ``OU`` (one of :data:`ROLES`, or ``ca``
for the CA itself) and a name in ``CN``. An end-entity certificate may carry a
second ``OU``, the division (a sub-unit of the organisation) its holder acts
for: X.509's organizationalUnitName is the standard attribute for a sub-unit,
and a division id is never a role word, so the two ``OU`` values cannot be
confused. CA certificates have
``basicConstraints CA:TRUE, pathlen:0``, so a CA issues end-entity
certificates only; end-entity certificates carry ``digitalSignature`` key
usage, and TLS certificates add serverAuth + clientAuth and the node's
names and addresses.

Both suites make byte-identical names and extensions (``cryptography``
encodes them); the default suite signs with ``cryptography``, the gm suite
with SM2-with-SM3 through libcrypto. Identity is decided by signatures, not
names: :func:`validate_certificate` checks the CA's signature, so a CA that
someone made up with a member's organisation name proves nothing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jinglian.crypto import _der, _openssl, _p256, _sm2
from jinglian.crypto.keys import PrivateKey, PublicKey
from jinglian.crypto.suite import Suite, get_suite
from jinglian.types.errors import CryptoError

__all__ = [
    "CA_ROLE",
    "CERTIFICATE_BYTES_MAX",
    "DIVISION_CHARS_MAX",
    "NAME_CHARS_MAX",
    "ROLES",
    "SAN_ENTRIES_MAX",
    "VALIDITY_DAYS_MAX",
    "Certificate",
    "issue_ca_certificate",
    "issue_certificate",
    "load_certificate",
    "validate_certificate",
]

ROLES: Final = ("admin", "client", "consensus", "common")
"""The roles an end-entity certificate can carry in its ``OU``."""

CA_ROLE: Final = "ca"
"""The ``OU`` of every CA certificate."""

DIVISION_CHARS_MAX: Final = 64
"""The longest division id a certificate's second ``OU`` may carry (the X.520 bound for OU)."""

CERTIFICATE_BYTES_MAX: Final = 16 * 1024
"""The largest certificate :func:`load_certificate` reads, PEM or DER."""

NAME_CHARS_MAX: Final = 64
"""The longest organisation id or common name (the X.520 upper bound for O and CN)."""

SAN_ENTRIES_MAX: Final = 32
"""The most DNS names plus IP addresses one TLS certificate may carry."""

VALIDITY_DAYS_MAX: Final = 36_500
"""The longest validity period a certificate may be issued with."""

_SECONDS_PER_DAY: Final = 86_400
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ORG_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DIVISION_ID: Final = re.compile(rf"[A-Za-z0-9._-]{{1,{DIVISION_CHARS_MAX}}}")
_DNS_NAME: Final = re.compile(
    r"(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_DNS_NAME_CHARS_MAX: Final = 253

_SIGNATURE_OIDS: Final = {"default": "1.2.840.10045.4.3.2", "gm": "1.2.156.10197.1.501"}
"""ecdsa-with-SHA256 and SM2-with-SM3, by suite."""

_KEY_ALGORITHMS: Final = {
    bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107"): "default",
    bytes.fromhex("301306072a8648ce3d020106082a811ccf5501822d"): "gm",
}
"""The SubjectPublicKeyInfo AlgorithmIdentifier (id-ecPublicKey with the P-256 or
the SM2 curve) that names each suite."""

_PARSE_ERRORS: Final = (
    ValueError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
"""What ``cryptography`` raises for malformed certificates (not all are ValueErrors)."""

_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
"""The order n of the P-256 base point (FIPS 186-4 D.1.2.3)."""

_KEY_TYPES: Final = {
    "default": (_p256.P256PrivateKey, _p256.P256PublicKey),
    "gm": (_sm2.Sm2PrivateKey, _sm2.Sm2PublicKey),
}


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Certificate:
    """A parsed jinglian certificate; make one with :func:`load_certificate` or an ``issue_*``.

    Equal and hashed by its DER bytes.
    """

    der: bytes
    """The certificate as DER. For ECDSA the signature is put in low-S form first (as
    Hyperledger Fabric's MSP does), so one certificate has one DER and one id."""
    pem: str
    """The certificate as PEM text."""
    org_id: str
    """The organisation id from the subject's ``O``."""
    role: str
    """The role from the subject's ``OU``: one of :data:`ROLES`, or ``ca``."""
    common_name: str
    """The name from the subject's ``CN``."""
    division: str
    """The division id from the subject's second ``OU``, or ``""`` when it has none
    (always ``""`` for a CA)."""
    is_ca: bool
    """Whether basicConstraints says CA:TRUE (exactly when ``role`` is ``ca``)."""
    not_before_ms: int
    """Start of the validity period, Unix milliseconds (whole seconds)."""
    not_after_ms: int
    """End of the validity period, inclusive, Unix milliseconds (whole seconds)."""
    public_key: PublicKey
    """The certified key, of the certificate's suite."""
    cert_id: bytes
    """The suite hash of ``der`` (32 bytes): the certificate's identifier on chain."""
    suite_name: str
    """The suite of the certified key and of the signature: ``default`` or ``gm``."""
    serial: int
    """The serial number the CA chose."""
    issuer_der_name: bytes
    """The issuer Name as DER, exactly as signed."""
    subject_der_name: bytes
    """The subject Name as DER, exactly as signed."""
    tbs_der: bytes
    """The signed part (TBSCertificate) as DER."""
    signature: bytes
    """The issuer's signature over ``tbs_der`` (DER-encoded ``(r, s)``, low-S for ECDSA)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Certificate):
            return NotImplemented
        return self.der == other.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"<Certificate {_describe(self)} {self.suite_name} id={self.cert_id[:8].hex()}>"


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def load_certificate(data: bytes) -> Certificate:
    """Parse one certificate from PEM or DER; the suite follows from the key's curve.

    Raises CryptoError for anything that is not a well-formed jinglian
    certificate: junk, more than :data:`CERTIFICATE_BYTES_MAX` bytes, an
    unknown key or signature algorithm, a subject without one ``O``, ``CN``
    and role ``OU`` (plus at most one division ``OU``), an unknown role, a
    malformed division, a CA with a division, or a role that disagrees with
    basicConstraints.
    """
    if len(data) > CERTIFICATE_BYTES_MAX:
        raise CryptoError(f"certificate is over {CERTIFICATE_BYTES_MAX} bytes")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            parsed = x509.load_pem_x509_certificate(data)
        else:
            parsed = x509.load_der_x509_certificate(data)
        return _certificate_from(parsed)
    except _PARSE_ERRORS as exc:
        raise CryptoError(f"not a usable X.509 certificate: {exc}") from None


def _certificate_from(parsed: x509.Certificate) -> Certificate:
    der = parsed.public_bytes(Encoding.DER)
    tbs, outer_algorithm, signature_value = _der.certificate_parts(der)
    signature = _der.bit_string_bytes(signature_value)
    _, algorithm, issuer, _, subject, spki, *_ = _der.tbs_fields(tbs)
    suite = _suite_of_key(spki)
    if algorithm != outer_algorithm:
        raise CryptoError("certificate's inner and outer signature algorithms differ")
    if parsed.signature_algorithm_oid.dotted_string != _SIGNATURE_OIDS[suite.name]:
        raise CryptoError(f"certificate signature algorithm does not match its {suite.name} key")
    if suite.name == "default" and (low_s := _low_s_signature(signature)) != signature:
        canonical = _der.encode_certificate(tbs, outer_algorithm, low_s)
        return _certificate_from(x509.load_der_x509_certificate(canonical))
    if parsed.version is not x509.Version.v3:
        raise CryptoError("certificate is not X.509 v3")
    org_id, role, division, common_name = _subject_fields(parsed.subject)
    is_ca = _is_ca(parsed)
    if (role == CA_ROLE) != is_ca:
        raise CryptoError(f"certificate role {role!r} disagrees with basicConstraints CA={is_ca}")
    if is_ca and division:
        raise CryptoError(f"a CA certificate cannot carry a division (OU {division!r})")
    return Certificate(
        der=der,
        pem=parsed.public_bytes(Encoding.PEM).decode("ascii"),
        org_id=org_id,
        role=role,
        common_name=common_name,
        division=division,
        is_ca=is_ca,
        not_before_ms=_to_ms(parsed.not_valid_before_utc),
        not_after_ms=_to_ms(parsed.not_valid_after_utc),
        public_key=suite.load_public_key(spki),
        cert_id=suite.hash(der),
        suite_name=suite.name,
        serial=parsed.serial_number,
        issuer_der_name=issuer,
        subject_der_name=subject,
        tbs_der=tbs,
        signature=signature,
    )


def _low_s_signature(signature: bytes) -> bytes:
    """The ECDSA signature with ``s`` replaced by ``n - s`` when ``s > n / 2``.

    ``(r, s)`` and ``(r, n - s)`` are both valid, so without this one
    certificate would have two DER encodings and two certificate ids.
    """
    r, s = decode_dss_signature(signature)
    if s <= _P256_ORDER // 2:
        return signature
    return encode_dss_signature(r, _P256_ORDER - s)


def _suite_of_key(spki_der: bytes) -> Suite:
    algorithm, _ = _der.public_key_parts(spki_der)
    name = _KEY_ALGORITHMS.get(algorithm)
    if name is None:
        raise CryptoError("certificate key is neither ECDSA P-256 nor SM2")
    return get_suite(name)


def _subject_fields(subject: x509.Name) -> tuple[str, str, str, str]:
    """The subject's organisation, role, division (``""`` if none) and common name."""
    values: list[str] = []
    for oid, label in ((NameOID.ORGANIZATION_NAME, "O"), (NameOID.COMMON_NAME, "CN")):
        attributes = subject.get_attributes_for_oid(oid)
        if len(attributes) != 1 or not isinstance(attributes[0].value, str):
            raise CryptoError(f"certificate subject needs exactly one {label}")
        values.append(attributes[0].value)
    org_id, common_name = values
    units = subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not all(isinstance(unit.value, str) for unit in units):
        raise CryptoError("certificate subject OU values must be text")
    unit_values = [str(unit.value) for unit in units]
    roles = [unit for unit in unit_values if unit == CA_ROLE or unit in ROLES]
    if len(roles) != 1:
        if not roles and len(unit_values) == 1:
            raise CryptoError(
                f"certificate role (OU) {unit_values[0]!r} is not one of {', '.join(ROLES)}, ca"
            )
        raise CryptoError("certificate subject needs exactly one OU that is a role")
    if len(unit_values) > 2:
        raise CryptoError("certificate subject has at most one division OU besides the role")
    role = roles[0]
    divisions = [unit for unit in unit_values if unit != role]
    division = divisions[0] if divisions else ""
    if division:
        _check_division(division)
    return org_id, role, division, common_name


def _check_division(division: str) -> None:
    """Raise CryptoError unless ``division`` is a well-formed division id."""
    if not _DIVISION_ID.fullmatch(division):
        raise CryptoError(
            f"division {division!r} must be 1 to {DIVISION_CHARS_MAX} letters, digits, "
            "'_', '.' or '-'"
        )
    if division == CA_ROLE or division in ROLES:
        raise CryptoError(f"division {division!r} is a role word")


def _is_ca(parsed: x509.Certificate) -> bool:
    try:
        constraints = parsed.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _to_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _format_ms(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe(cert: Certificate) -> str:
    return f"{cert.role} certificate {cert.common_name!r} of {cert.org_id!r}"


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def validate_certificate(cert: Certificate, ca: Certificate, at_ms: int) -> None:
    """Raise CryptoError unless ``ca`` issued ``cert`` and both are valid at ``at_ms``.

    Checks that ``ca`` is a CA of the same suite and organisation, that the
    issuer name matches the CA's subject, that ``cert`` is not itself a CA
    (unless it is ``ca``, checking a self-signed root), that both validity
    periods contain ``at_ms``, and that the CA's key verifies the signature.
    """
    subject = _describe(cert)
    if not ca.is_ca:
        raise CryptoError(f"{_describe(ca)} is not a CA certificate")
    if cert.suite_name != ca.suite_name:
        raise CryptoError(f"{subject} is {cert.suite_name} but its CA is {ca.suite_name}")
    if cert.issuer_der_name != ca.subject_der_name or cert.org_id != ca.org_id:
        raise CryptoError(f"{subject} was not issued by {_describe(ca)} (issuer name differs)")
    if cert.is_ca and cert != ca:
        raise CryptoError(f"{subject} is a CA certificate; a CA issues end-entity ones only")
    _check_period(ca, at_ms)
    _check_period(cert, at_ms)
    if not ca.public_key.verify(cert.signature, cert.tbs_der):
        raise CryptoError(f"{subject}: signature does not verify with the key of {_describe(ca)}")


def _check_period(cert: Certificate, at_ms: int) -> None:
    if at_ms < cert.not_before_ms:
        raise CryptoError(f"{_describe(cert)} is not valid before {_format_ms(cert.not_before_ms)}")
    if at_ms > cert.not_after_ms:
        raise CryptoError(f"{_describe(cert)} expired at {_format_ms(cert.not_after_ms)}")


# ---------------------------------------------------------------------------
# Issuing
# ---------------------------------------------------------------------------

_Extensions = list[tuple[x509.ExtensionType, bool]]


@dataclass(frozen=True, slots=True)
class _Draft:
    """Everything in a certificate except the signature."""

    subject: x509.Name
    issuer: x509.Name
    public_key: PublicKey
    not_before_s: int
    not_after_s: int
    extensions: _Extensions


def issue_ca_certificate(
    suite: Suite,
    key: PrivateKey,
    org_id: str,
    validity_days: int = 3650,
    now_ms: int | None = None,
) -> Certificate:
    """A self-signed CA certificate for organisation ``org_id`` (CN ``ca.<org_id>``).

    ``now_ms`` (default: the wall clock) starts the validity period.
    """
    _check_key(suite, key)
    _check_org_id(org_id)
    name = _name(org_id, CA_ROLE, f"ca.{org_id}")
    not_before_s, not_after_s = _period(now_ms, validity_days)
    key_id = _key_identifier(key.public_key())
    extensions: _Extensions = [
        (x509.BasicConstraints(ca=True, path_length=0), True),
        (_key_usage(cert_sign=True), True),
        (x509.SubjectKeyIdentifier(key_id), False),
        (x509.AuthorityKeyIdentifier(key_id, None, None), False),
    ]
    draft = _Draft(name, name, key.public_key(), not_before_s, not_after_s, extensions)
    return _sign(suite, draft, key)


def issue_certificate(
    suite: Suite,
    ca_key: PrivateKey,
    ca_cert: Certificate,
    public_key: PublicKey,
    org_id: str,
    role: str,
    common_name: str,
    validity_days: int = 365,
    tls: bool = False,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    now_ms: int | None = None,
    division: str = "",
) -> Certificate:
    """An end-entity certificate for ``public_key``, signed by the CA of ``org_id``.

    ``org_id`` must be the CA's own organisation and ``role`` one of
    :data:`ROLES`. A non-empty ``division`` is written as a second subject
    ``OU``: the holder acts for that division of the organisation. ``tls=True`` makes a TLS certificate (serverAuth and
    clientAuth, with ``dns_names`` and ``ip_addresses`` as subjectAltName).
    The validity period starts at ``now_ms`` (default: the wall clock) and is
    cut short to end no later than the CA's.
    """
    _check_issuer(suite, ca_key, ca_cert)
    _check_key(suite, public_key)
    if org_id != ca_cert.org_id:
        raise CryptoError(f"the CA of {ca_cert.org_id!r} cannot issue for {org_id!r}")
    if role not in ROLES:
        raise CryptoError(f"role {role!r} is not one of {', '.join(ROLES)}")
    _check_text("common name", common_name)
    if division:
        _check_division(division)
    not_before_s, not_after_s = _period(now_ms, validity_days)
    if not ca_cert.not_before_ms <= not_before_s * 1000 <= ca_cert.not_after_ms:
        raise CryptoError(f"{_describe(ca_cert)} is not valid at {_format_ms(not_before_s * 1000)}")
    not_after_s = min(not_after_s, ca_cert.not_after_ms // 1000)
    issuer = x509.load_der_x509_certificate(ca_cert.der).subject
    extensions = _end_entity_extensions(
        public_key, ca_cert.public_key, tls, dns_names, ip_addresses
    )
    subject = _name(org_id, role, common_name, division)
    draft = _Draft(subject, issuer, public_key, not_before_s, not_after_s, extensions)
    cert = _sign(suite, draft, ca_key)
    if cert.issuer_der_name != ca_cert.subject_der_name:
        raise CryptoError(f"{_describe(ca_cert)} has a subject name that does not round-trip")
    return cert


def _check_key(suite: Suite, key: PrivateKey | PublicKey) -> None:
    private_type, public_type = _KEY_TYPES[suite.name]
    if not isinstance(key, private_type | public_type):
        raise CryptoError(f"a {key.suite_name} key cannot be used with the {suite.name} suite")


def _check_issuer(suite: Suite, ca_key: PrivateKey, ca_cert: Certificate) -> None:
    _check_key(suite, ca_key)
    if not ca_cert.is_ca:
        raise CryptoError(f"{_describe(ca_cert)} is not a CA certificate")
    if ca_cert.public_key != ca_key.public_key():
        raise CryptoError(f"the CA key does not match {_describe(ca_cert)}")


def _check_text(what: str, value: str) -> None:
    if not 0 < len(value) <= NAME_CHARS_MAX or not value.isprintable():
        raise CryptoError(f"{what} must be 1 to {NAME_CHARS_MAX} printable characters")


def _check_org_id(org_id: str) -> None:
    _check_text("organisation id", org_id)
    if not _ORG_ID.fullmatch(org_id):
        raise CryptoError(
            f"organisation id {org_id!r} must start with a letter or digit and use only "
            "letters, digits, '.', '_' and '-'"
        )


def _period(now_ms: int | None, validity_days: int) -> tuple[int, int]:
    if not 0 < validity_days <= VALIDITY_DAYS_MAX:
        raise CryptoError(f"validity must be 1 to {VALIDITY_DAYS_MAX} days")
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    if now_ms < 0:
        raise CryptoError("certificate validity cannot start before 1970")
    not_before_s = now_ms // 1000
    return not_before_s, not_before_s + validity_days * _SECONDS_PER_DAY


def _name(org_id: str, role: str, common_name: str, division: str = "") -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_id),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
    ]
    if division:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, division))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _key_identifier(public_key: PublicKey) -> bytes:
    """RFC 5280 section 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits."""
    _, point = _der.public_key_parts(public_key.to_der())
    return hashlib.sha1(point, usedforsecurity=False).digest()


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _end_entity_extensions(
    public_key: PublicKey,
    ca_public_key: PublicKey,
    tls: bool,
    dns_names: Sequence[str],
    ip_addresses: Sequence[str],
) -> _Extensions:
    extensions: _Extensions = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (_key_usage(cert_sign=False), True),
        (x509.SubjectKeyIdentifier(_key_identifier(public_key)), False),
        (x509.AuthorityKeyIdentifier(_key_identifier(ca_public_key), None, None), False),
    ]
    if not tls:
        if dns_names or ip_addresses:
            raise CryptoError("DNS names and IP addresses belong in TLS certificates (tls=True)")
        return extensions
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    extensions.append((x509.ExtendedKeyUsage(usages), False))
    alt_names = _alt_names(dns_names, ip_addresses)
    if alt_names:
        extensions.append((x509.SubjectAlternativeName(alt_names), False))
    return extensions


def _alt_names(dns_names: Sequence[str], ip_addresses: Sequence[str]) -> list[x509.GeneralName]:
    if len(dns_names) + len(ip_addresses) > SAN_ENTRIES_MAX:
        raise CryptoError(f"a certificate carries at most {SAN_ENTRIES_MAX} names and addresses")
    names: list[x509.GeneralName] = []
    for dns_name in dns_names:
        if len(dns_name) > _DNS_NAME_CHARS_MAX or not _DNS_NAME.fullmatch(dns_name):
            raise CryptoError(f"{dns_name!r} is not a valid DNS name")
        names.append(x509.DNSName(dns_name))
    for address in ip_addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            raise CryptoError(f"{address!r} is not a valid IP address") from None
    return names


def _sign(suite: Suite, draft: _Draft, signer: PrivateKey) -> Certificate:
    if isinstance(signer, _sm2.Sm2PrivateKey):
        der = _sign_gm(draft, signer)
    else:
        assert isinstance(signer, _p256.P256PrivateKey)
        der = _sign_default(draft, signer)
    cert = load_certificate(der)
    assert cert.suite_name == suite.name
    return cert


def _sign_default(draft: _Draft, signer: _p256.P256PrivateKey) -> bytes:
    public_key = draft.public_key
    assert isinstance(public_key, _p256.P256PublicKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(draft.subject)
        .issuer_name(draft.issuer)
        .public_key(public_key.key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_EPOCH + timedelta(seconds=draft.not_before_s))
        .not_valid_after(_EPOCH + timedelta(seconds=draft.not_after_s))
    )
    for extension, critical in draft.extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(signer.key, hashes.SHA256()).public_bytes(Encoding.DER)


def _sign_gm(draft: _Draft, signer: _sm2.Sm2PrivateKey) -> bytes:
    public_key = draft.public_key
    assert isinstance(public_key, _sm2.Sm2PublicKey)
    return _openssl.build_certificate(
        subject_der=draft.subject.public_bytes(),
        issuer_der=draft.issuer.public_bytes(),
        serial=x509.random_serial_number(),
        not_before_s=draft.not_before_s,
        not_after_s=draft.not_after_s,
        public_key=public_key.pkey,
        extensions=[
            (extension.oid.dotted_string, critical, extension.public_bytes())
            for extension, critical in draft.extensions
        ],
        signer=signer.pkey,
        md_name=b"SM3",
        dist_id=_sm2.DEFAULT_SIGNER_ID,
    )
