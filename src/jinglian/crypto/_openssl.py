"""A narrow ctypes binding to the system libcrypto (OpenSSL 3) for the gm suite.

``cryptography`` cannot make SM2 keys, so SM2 keys, SM2-with-SM3 signatures
and SM2/SM3 X.509 certificates go through the same ``libcrypto.so.3`` that
Python's ``_hashlib`` links (ADR 0003). Everything here is a thin, typed
wrapper over the EVP and X509 APIs; no elliptic-curve arithmetic happens in
Python.

Memory rules: every OpenSSL object made here is freed on every path, either
by an ``ExitStack`` callback in the function that made it or, for long-lived
keys, by the finalizer of the :class:`Pkey` that owns it. Pointers are plain
``int`` values (``c_void_p``) and never escape this module except inside a
``Pkey``. ctypes releases the GIL during each call, so verification runs in
parallel in a thread pool; every call uses its own context objects and only
shares the read-only ``EVP_PKEY``.
"""

# The bound functions keep their C names (d2i_PUBKEY, ...), so grep finds them in OpenSSL docs.
# ruff: noqa: N816

from __future__ import annotations

import ctypes
import ctypes.util
import weakref
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from jinglian.types.errors import CryptoError

__all__ = [
    "OPENSSL_VERSION_MIN",
    "PKEY_CRYPT_BYTES_MAX",
    "Pkey",
    "build_certificate",
    "decode_private_key",
    "decode_public_key",
    "encode_private_key",
    "encode_public_key",
    "generate_key",
    "openssl_version",
    "pkey_decrypt",
    "pkey_encrypt",
    "sign",
    "verify",
]

OPENSSL_VERSION_MIN = 0x3000_0000
"""The oldest libcrypto this binding accepts (3.0.0: EVP_PKEY_CTX_new_from_name and friends)."""

_ERROR_STRING_BYTES = 256
_SIGNATURE_BYTES_MAX = 80
"""An SM2 or ECDSA P-256 DER signature is at most 72 bytes."""

_c_void_p = ctypes.c_void_p
_c_char_p = ctypes.c_char_p
_c_int = ctypes.c_int
_c_long = ctypes.c_long
_c_size_t = ctypes.c_size_t


def _find_libcrypto() -> str:
    """The path of the libcrypto that ``_hashlib`` already loaded, so both agree."""
    import _hashlib  # noqa: F401  (loads libcrypto into this process)

    try:
        with open("/proc/self/maps", encoding="ascii", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").split(" ")[-1]
                if "/libcrypto.so" in path:
                    return path
    except OSError:
        pass
    return ctypes.util.find_library("crypto") or "libcrypto.so.3"


def _load_libcrypto() -> ctypes.CDLL:
    lib = ctypes.CDLL(_find_libcrypto())
    lib.OpenSSL_version_num.restype = ctypes.c_ulong
    lib.OpenSSL_version_num.argtypes = []
    version = int(lib.OpenSSL_version_num())
    if version < OPENSSL_VERSION_MIN:
        raise CryptoError(f"libcrypto {version:#x} is too old for the gm suite; need OpenSSL 3")
    return lib


_LIB = _load_libcrypto()


def _bind(name: str, restype: Any, *argtypes: Any) -> Any:
    function = getattr(_LIB, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


_PP = ctypes.POINTER(_c_void_p)
_PCP = ctypes.POINTER(_c_char_p)

_OpenSSL_version = _bind("OpenSSL_version", _c_char_p, _c_int)
_ERR_get_error = _bind("ERR_get_error", ctypes.c_ulong)
_ERR_error_string_n = _bind("ERR_error_string_n", None, ctypes.c_ulong, _c_char_p, _c_size_t)
_ERR_clear_error = _bind("ERR_clear_error", None)

_EVP_PKEY_CTX_new_from_name = _bind(
    "EVP_PKEY_CTX_new_from_name", _c_void_p, _c_void_p, _c_char_p, _c_char_p
)
_EVP_PKEY_CTX_free = _bind("EVP_PKEY_CTX_free", None, _c_void_p)
_EVP_PKEY_CTX_set1_id = _bind("EVP_PKEY_CTX_set1_id", _c_int, _c_void_p, _c_char_p, _c_int)
_EVP_PKEY_keygen_init = _bind("EVP_PKEY_keygen_init", _c_int, _c_void_p)
_EVP_PKEY_generate = _bind("EVP_PKEY_generate", _c_int, _c_void_p, _PP)
_EVP_PKEY_free = _bind("EVP_PKEY_free", None, _c_void_p)
_EVP_PKEY_is_a = _bind("EVP_PKEY_is_a", _c_int, _c_void_p, _c_char_p)
_d2i_PUBKEY = _bind("d2i_PUBKEY", _c_void_p, _c_void_p, _PCP, _c_long)
_i2d_PUBKEY = _bind("i2d_PUBKEY", _c_int, _c_void_p, _PCP)
_d2i_PKCS8_PRIV_KEY_INFO = _bind("d2i_PKCS8_PRIV_KEY_INFO", _c_void_p, _c_void_p, _PCP, _c_long)
_i2d_PKCS8_PRIV_KEY_INFO = _bind("i2d_PKCS8_PRIV_KEY_INFO", _c_int, _c_void_p, _PCP)
_PKCS8_PRIV_KEY_INFO_free = _bind("PKCS8_PRIV_KEY_INFO_free", None, _c_void_p)
_EVP_PKCS82PKEY = _bind("EVP_PKCS82PKEY", _c_void_p, _c_void_p)
_EVP_PKEY2PKCS8 = _bind("EVP_PKEY2PKCS8", _c_void_p, _c_void_p)

_EVP_MD_CTX_new = _bind("EVP_MD_CTX_new", _c_void_p)
_EVP_MD_CTX_free = _bind("EVP_MD_CTX_free", None, _c_void_p)
_EVP_DigestSignInit_ex = _bind(
    "EVP_DigestSignInit_ex",
    _c_int,
    _c_void_p,
    _PP,
    _c_char_p,
    _c_void_p,
    _c_char_p,
    _c_void_p,
    _c_void_p,
)
_EVP_DigestVerifyInit_ex = _bind(
    "EVP_DigestVerifyInit_ex",
    _c_int,
    _c_void_p,
    _PP,
    _c_char_p,
    _c_void_p,
    _c_char_p,
    _c_void_p,
    _c_void_p,
)
_EVP_DigestSign = _bind(
    "EVP_DigestSign", _c_int, _c_void_p, _c_char_p, ctypes.POINTER(_c_size_t), _c_char_p, _c_size_t
)
_EVP_DigestVerify = _bind(
    "EVP_DigestVerify", _c_int, _c_void_p, _c_char_p, _c_size_t, _c_char_p, _c_size_t
)

_X509_new = _bind("X509_new", _c_void_p)
_X509_free = _bind("X509_free", None, _c_void_p)
_X509_set_version = _bind("X509_set_version", _c_int, _c_void_p, _c_long)
_X509_get_serialNumber = _bind("X509_get_serialNumber", _c_void_p, _c_void_p)
_BN_bin2bn = _bind("BN_bin2bn", _c_void_p, _c_char_p, _c_int, _c_void_p)
_BN_free = _bind("BN_free", None, _c_void_p)
_BN_to_ASN1_INTEGER = _bind("BN_to_ASN1_INTEGER", _c_void_p, _c_void_p, _c_void_p)
_X509_getm_notBefore = _bind("X509_getm_notBefore", _c_void_p, _c_void_p)
_X509_getm_notAfter = _bind("X509_getm_notAfter", _c_void_p, _c_void_p)
_ASN1_TIME_set = _bind("ASN1_TIME_set", _c_void_p, _c_void_p, ctypes.c_int64)
_d2i_X509_NAME = _bind("d2i_X509_NAME", _c_void_p, _c_void_p, _PCP, _c_long)
_X509_NAME_free = _bind("X509_NAME_free", None, _c_void_p)
_X509_set_subject_name = _bind("X509_set_subject_name", _c_int, _c_void_p, _c_void_p)
_X509_set_issuer_name = _bind("X509_set_issuer_name", _c_int, _c_void_p, _c_void_p)
_X509_set_pubkey = _bind("X509_set_pubkey", _c_int, _c_void_p, _c_void_p)
_OBJ_txt2obj = _bind("OBJ_txt2obj", _c_void_p, _c_char_p, _c_int)
_ASN1_OBJECT_free = _bind("ASN1_OBJECT_free", None, _c_void_p)
_ASN1_OCTET_STRING_new = _bind("ASN1_OCTET_STRING_new", _c_void_p)
_ASN1_OCTET_STRING_free = _bind("ASN1_OCTET_STRING_free", None, _c_void_p)
_ASN1_OCTET_STRING_set = _bind("ASN1_OCTET_STRING_set", _c_int, _c_void_p, _c_char_p, _c_int)
_X509_EXTENSION_create_by_OBJ = _bind(
    "X509_EXTENSION_create_by_OBJ", _c_void_p, _c_void_p, _c_void_p, _c_int, _c_void_p
)
_X509_EXTENSION_free = _bind("X509_EXTENSION_free", None, _c_void_p)
_X509_add_ext = _bind("X509_add_ext", _c_int, _c_void_p, _c_void_p, _c_int)
_X509_sign_ctx = _bind("X509_sign_ctx", _c_int, _c_void_p, _c_void_p)
_i2d_X509 = _bind("i2d_X509", _c_int, _c_void_p, _PCP)


def openssl_version() -> str:
    """The version text of the loaded libcrypto, e.g. ``OpenSSL 3.0.19 27 Jan 2026``."""
    return bytes(_OpenSSL_version(0)).decode("ascii", "replace")


def _error_text() -> str:
    """Drain this thread's OpenSSL error queue into one line."""
    reasons: list[str] = []
    buffer = ctypes.create_string_buffer(_ERROR_STRING_BYTES)
    while code := int(_ERR_get_error()):
        _ERR_error_string_n(code, buffer, _ERROR_STRING_BYTES)
        reasons.append(buffer.value.decode("ascii", "replace"))
    return "; ".join(reasons) or "no detail from OpenSSL"


def _fail(what: str) -> CryptoError:
    return CryptoError(f"{what} failed: {_error_text()}")


def _check_ptr(pointer: int | None, what: str) -> int:
    if not pointer:
        raise _fail(what)
    return pointer


def _check_ok(result: int, what: str) -> None:
    if result <= 0:
        raise _fail(what)


class Pkey:
    """An owned ``EVP_PKEY*``, freed when this object is collected."""

    __slots__ = ("__weakref__", "ptr")

    def __init__(self, pointer: int) -> None:
        self.ptr = pointer
        # Not at exit: the process is ending and libcrypto may be cleaning up already.
        weakref.finalize(self, _EVP_PKEY_free, pointer).atexit = False

    def is_a(self, key_type: str) -> bool:
        """Whether OpenSSL classifies this key as ``key_type`` (e.g. ``SM2``)."""
        return int(_EVP_PKEY_is_a(self.ptr, key_type.encode("ascii"))) == 1


def generate_key(key_type: str) -> Pkey:
    """Make a fresh key pair of an OpenSSL key type such as ``SM2``."""
    with ExitStack() as stack:
        ctx = _check_ptr(
            _EVP_PKEY_CTX_new_from_name(None, key_type.encode("ascii"), None), "keygen context"
        )
        stack.callback(_EVP_PKEY_CTX_free, ctx)
        _check_ok(_EVP_PKEY_keygen_init(ctx), "keygen init")
        out = _c_void_p()
        _check_ok(_EVP_PKEY_generate(ctx, ctypes.byref(out)), "key generation")
        return Pkey(_check_ptr(out.value, "key generation"))


def _decode(decoder: Any, free: Any, der: bytes, what: str) -> int:
    """Run an OpenSSL ``d2i_*`` function; the input must be consumed exactly."""
    cursor = _c_char_p(der)
    start = ctypes.cast(cursor, _c_void_p).value or 0
    pointer = decoder(None, ctypes.byref(cursor), len(der))
    if not pointer:
        raise _fail(f"decoding {what}")
    end = ctypes.cast(cursor, _c_void_p).value or 0
    if end - start != len(der):
        free(pointer)
        _ERR_clear_error()
        raise CryptoError(f"decoding {what} failed: trailing bytes after the DER value")
    return int(pointer)


def _encode(encoder: Any, pointer: int, what: str) -> bytes:
    """Run an OpenSSL ``i2d_*`` function into a fresh buffer."""
    size = int(encoder(pointer, None))
    if size <= 0:
        raise _fail(f"encoding {what}")
    buffer = ctypes.create_string_buffer(size)
    cursor = ctypes.cast(buffer, _c_char_p)
    if int(encoder(pointer, ctypes.byref(cursor))) != size:
        raise _fail(f"encoding {what}")
    return buffer.raw


def decode_public_key(spki_der: bytes) -> Pkey:
    """Load a SubjectPublicKeyInfo DER value."""
    return Pkey(_decode(_d2i_PUBKEY, _EVP_PKEY_free, spki_der, "public key"))


def encode_public_key(pkey: Pkey) -> bytes:
    """The SubjectPublicKeyInfo DER value of a key."""
    return _encode(_i2d_PUBKEY, pkey.ptr, "public key")


def decode_private_key(pkcs8_der: bytes) -> Pkey:
    """Load an unencrypted PKCS#8 PrivateKeyInfo DER value."""
    info = _decode(_d2i_PKCS8_PRIV_KEY_INFO, _PKCS8_PRIV_KEY_INFO_free, pkcs8_der, "private key")
    try:
        return Pkey(_check_ptr(_EVP_PKCS82PKEY(info), "private key conversion"))
    finally:
        _PKCS8_PRIV_KEY_INFO_free(info)


def encode_private_key(pkey: Pkey) -> bytes:
    """The unencrypted PKCS#8 PrivateKeyInfo DER value of a private key."""
    info = _check_ptr(_EVP_PKEY2PKCS8(pkey.ptr), "private key conversion")
    try:
        return _encode(_i2d_PKCS8_PRIV_KEY_INFO, info, "private key")
    finally:
        _PKCS8_PRIV_KEY_INFO_free(info)


def _init_md_ctx(stack: ExitStack, init: Any, pkey: Pkey, md_name: bytes, dist_id: bytes) -> int:
    """A digest-sign or digest-verify context with the signer ID set, freed by ``stack``."""
    mctx = _check_ptr(_EVP_MD_CTX_new(), "digest context")
    stack.callback(_EVP_MD_CTX_free, mctx)
    pctx = _c_void_p()
    _check_ok(init(mctx, ctypes.byref(pctx), md_name, None, None, pkey.ptr, None), "signature init")
    _check_ok(_EVP_PKEY_CTX_set1_id(pctx, dist_id, len(dist_id)), "setting the signer ID")
    return mctx


def sign(pkey: Pkey, md_name: bytes, dist_id: bytes, message: bytes) -> bytes:
    """A DER signature of ``message`` (SM2: over SM3(Z || message), Z from ``dist_id``)."""
    with ExitStack() as stack:
        mctx = _init_md_ctx(stack, _EVP_DigestSignInit_ex, pkey, md_name, dist_id)
        buffer = ctypes.create_string_buffer(_SIGNATURE_BYTES_MAX)
        size = _c_size_t(_SIGNATURE_BYTES_MAX)
        _check_ok(
            _EVP_DigestSign(mctx, buffer, ctypes.byref(size), message, len(message)), "signing"
        )
        return buffer.raw[: size.value]


def verify(pkey: Pkey, md_name: bytes, dist_id: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is valid; any malformed signature is simply not valid."""
    with ExitStack() as stack:
        mctx = _init_md_ctx(stack, _EVP_DigestVerifyInit_ex, pkey, md_name, dist_id)
        result = int(_EVP_DigestVerify(mctx, signature, len(signature), message, len(message)))
        if result != 1:
            _ERR_clear_error()
        return result == 1


def _new_name(stack: ExitStack, name_der: bytes) -> int:
    name = _decode(_d2i_X509_NAME, _X509_NAME_free, name_der, "X.509 name")
    stack.callback(_X509_NAME_free, name)
    return name


def _set_serial(x509: int, serial: int) -> None:
    serial_bytes = serial.to_bytes((serial.bit_length() + 7) // 8 or 1, "big")
    bignum = _check_ptr(_BN_bin2bn(serial_bytes, len(serial_bytes), None), "serial number")
    try:
        _check_ptr(_BN_to_ASN1_INTEGER(bignum, _X509_get_serialNumber(x509)), "serial number")
    finally:
        _BN_free(bignum)


def _add_extension(x509: int, oid: str, critical: bool, value_der: bytes) -> None:
    with ExitStack() as stack:
        obj = _check_ptr(_OBJ_txt2obj(oid.encode("ascii"), 1), f"extension OID {oid}")
        stack.callback(_ASN1_OBJECT_free, obj)
        octets = _check_ptr(_ASN1_OCTET_STRING_new(), "extension value")
        stack.callback(_ASN1_OCTET_STRING_free, octets)
        _check_ok(_ASN1_OCTET_STRING_set(octets, value_der, len(value_der)), "extension value")
        extension = _check_ptr(
            _X509_EXTENSION_create_by_OBJ(None, obj, int(critical), octets), f"extension {oid}"
        )
        stack.callback(_X509_EXTENSION_free, extension)
        _check_ok(_X509_add_ext(x509, extension, -1), f"adding extension {oid}")


def build_certificate(
    *,
    subject_der: bytes,
    issuer_der: bytes,
    serial: int,
    not_before_s: int,
    not_after_s: int,
    public_key: Pkey,
    extensions: Sequence[tuple[str, bool, bytes]],
    signer: Pkey,
    md_name: bytes,
    dist_id: bytes,
) -> bytes:
    """Make and sign an X.509 v3 certificate; return its DER.

    Names and extension values arrive already DER-encoded (by ``cryptography``)
    so both suites put byte-identical names and extensions in their certificates.
    """
    with ExitStack() as stack:
        x509 = _check_ptr(_X509_new(), "certificate")
        stack.callback(_X509_free, x509)
        _check_ok(_X509_set_version(x509, 2), "certificate version")
        _set_serial(x509, serial)
        _check_ptr(_ASN1_TIME_set(_X509_getm_notBefore(x509), not_before_s), "notBefore")
        _check_ptr(_ASN1_TIME_set(_X509_getm_notAfter(x509), not_after_s), "notAfter")
        _check_ok(_X509_set_subject_name(x509, _new_name(stack, subject_der)), "subject")
        _check_ok(_X509_set_issuer_name(x509, _new_name(stack, issuer_der)), "issuer")
        _check_ok(_X509_set_pubkey(x509, public_key.ptr), "certificate public key")
        for oid, critical, value_der in extensions:
            _add_extension(x509, oid, critical, value_der)
        mctx = _init_md_ctx(stack, _EVP_DigestSignInit_ex, signer, md_name, dist_id)
        _check_ok(_X509_sign_ctx(x509, mctx), "certificate signing")
        return _encode(_i2d_X509, x509, "certificate")


# -- public-key encryption (SM2 encryption, GB/T 32918.4) ----------------------------------------

_EVP_PKEY_CTX_new_from_pkey = _bind(
    "EVP_PKEY_CTX_new_from_pkey", _c_void_p, _c_void_p, _c_void_p, _c_char_p
)
_EVP_PKEY_encrypt_init = _bind("EVP_PKEY_encrypt_init", _c_int, _c_void_p)
_EVP_PKEY_encrypt = _bind(
    "EVP_PKEY_encrypt",
    _c_int,
    _c_void_p,
    _c_char_p,
    ctypes.POINTER(_c_size_t),
    _c_char_p,
    _c_size_t,
)
_EVP_PKEY_decrypt_init = _bind("EVP_PKEY_decrypt_init", _c_int, _c_void_p)
_EVP_PKEY_decrypt = _bind(
    "EVP_PKEY_decrypt",
    _c_int,
    _c_void_p,
    _c_char_p,
    ctypes.POINTER(_c_size_t),
    _c_char_p,
    _c_size_t,
)

PKEY_CRYPT_BYTES_MAX = 4096
"""The largest input :func:`pkey_encrypt` and :func:`pkey_decrypt` take: they wrap short keys."""


def _pkey_crypt(pkey: Pkey, init: Any, crypt: Any, data: bytes, what: str) -> bytes:
    if len(data) > PKEY_CRYPT_BYTES_MAX:
        raise CryptoError(f"{what}: input is over {PKEY_CRYPT_BYTES_MAX} bytes")
    with ExitStack() as stack:
        ctx = _check_ptr(_EVP_PKEY_CTX_new_from_pkey(None, pkey.ptr, None), f"{what} context")
        stack.callback(_EVP_PKEY_CTX_free, ctx)
        _check_ok(init(ctx), f"{what} init")
        size = _c_size_t(0)
        _check_ok(crypt(ctx, None, ctypes.byref(size), data, len(data)), what)
        buffer = ctypes.create_string_buffer(max(size.value, 1))
        _check_ok(crypt(ctx, buffer, ctypes.byref(size), data, len(data)), what)
        return buffer.raw[: size.value]


def pkey_encrypt(pkey: Pkey, plaintext: bytes) -> bytes:
    """Public-key encryption of a short ``plaintext`` (SM2 keys: GB/T 32918.4 with SM3, DER)."""
    return _pkey_crypt(pkey, _EVP_PKEY_encrypt_init, _EVP_PKEY_encrypt, plaintext, "encryption")


def pkey_decrypt(pkey: Pkey, ciphertext: bytes) -> bytes:
    """The plaintext of :func:`pkey_encrypt`'s output; CryptoError if it does not decrypt."""
    try:
        return _pkey_crypt(
            pkey, _EVP_PKEY_decrypt_init, _EVP_PKEY_decrypt, ciphertext, "decryption"
        )
    except CryptoError:
        _ERR_clear_error()
        raise
