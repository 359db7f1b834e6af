"""Just enough DER to cut an X.509 certificate into the parts we check, and to glue it back.

``cryptography`` parses certificates of both suites but gives no raw
SubjectPublicKeyInfo and no inner signature algorithm; these few functions
slice them out of bytes it has already accepted. Nothing here decodes
numbers or points.
"""

from __future__ import annotations

from typing import NamedTuple

from jinglian.types.errors import CryptoError

__all__ = [
    "Element",
    "bit_string_bytes",
    "certificate_parts",
    "children",
    "encode_certificate",
    "public_key_parts",
    "tbs_fields",
]

_LENGTH_BYTES_MAX = 4
_TAG_SEQUENCE = 0x30
_TAG_BIT_STRING = 0x03
_TAG_VERSION = 0xA0


class Element(NamedTuple):
    """One DER element inside a larger buffer."""

    tag: int
    """The identifier octet (only low-tag-number form is supported)."""
    start: int
    """Offset of the identifier octet."""
    content: int
    """Offset of the first content octet."""
    end: int
    """Offset just past the last content octet."""


def _read(data: bytes, pos: int, limit: int) -> Element:
    if pos + 2 > limit:
        raise CryptoError("truncated DER")
    tag, length = data[pos], data[pos + 1]
    content = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= _LENGTH_BYTES_MAX or content + count > limit:
            raise CryptoError("bad DER length")
        length = int.from_bytes(data[content : content + count], "big")
        content += count
    if content + length > limit:
        raise CryptoError("truncated DER")
    return Element(tag, pos, content, content + length)


def children(data: bytes, parent: Element) -> list[Element]:
    """The elements directly inside a constructed element."""
    found: list[Element] = []
    pos = parent.content
    while pos < parent.end:
        element = _read(data, pos, parent.end)
        found.append(element)
        pos = element.end
    return found


def _sequence(data: bytes) -> Element:
    element = _read(data, 0, len(data))
    if element.tag != _TAG_SEQUENCE or element.end != len(data):
        raise CryptoError("expected exactly one DER SEQUENCE")
    return element


def certificate_parts(cert_der: bytes) -> tuple[bytes, bytes, bytes]:
    """``(tbs_certificate, signature_algorithm, signature_value)``, each as its DER element."""
    parts = children(cert_der, _sequence(cert_der))
    if len(parts) != 3:
        raise CryptoError("a certificate has exactly three parts")
    tbs, algorithm, signature = (cert_der[part.start : part.end] for part in parts)
    return tbs, algorithm, signature


def tbs_fields(tbs_der: bytes) -> list[bytes]:
    """The TBSCertificate fields after the version: serial, signature, issuer, validity,
    subject, subjectPublicKeyInfo, then any extensions, each as its DER element."""
    fields = children(tbs_der, _sequence(tbs_der))
    if fields and fields[0].tag == _TAG_VERSION:
        fields = fields[1:]
    if len(fields) < 6:
        raise CryptoError("TBSCertificate is missing fields")
    return [tbs_der[field.start : field.end] for field in fields]


def public_key_parts(spki_der: bytes) -> tuple[bytes, bytes]:
    """``(algorithm, key)`` of a SubjectPublicKeyInfo: the AlgorithmIdentifier DER element
    and the subjectPublicKey BIT STRING contents (the encoded point)."""
    parts = children(spki_der, _sequence(spki_der))
    if len(parts) != 2 or parts[0].tag != _TAG_SEQUENCE or parts[1].tag != _TAG_BIT_STRING:
        raise CryptoError("malformed SubjectPublicKeyInfo")
    algorithm = spki_der[parts[0].start : parts[0].end]
    return algorithm, bit_string_bytes(spki_der[parts[1].start : parts[1].end])


def bit_string_bytes(bit_string_der: bytes) -> bytes:
    """The contents of a BIT STRING element that holds whole bytes (no unused bits)."""
    element = _read(bit_string_der, 0, len(bit_string_der))
    if element.tag != _TAG_BIT_STRING or element.end != len(bit_string_der):
        raise CryptoError("expected a DER BIT STRING")
    bits = bit_string_der[element.content : element.end]
    if not bits or bits[0] != 0:
        raise CryptoError("BIT STRING has unused bits")
    return bits[1:]


def _encode(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    size_bytes = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size_bytes)]) + size_bytes + content


def encode_certificate(tbs_der: bytes, algorithm_der: bytes, signature: bytes) -> bytes:
    """A Certificate SEQUENCE from its signed part, signature algorithm and signature bytes."""
    signature_value = _encode(_TAG_BIT_STRING, b"\x00" + signature)
    return _encode(_TAG_SEQUENCE, tbs_der + algorithm_der + signature_value)
