"""The two key types every suite provides: :class:`PrivateKey` and :class:`PublicKey`.

Each suite has its own implementation (ECDSA P-256 in ``_p256``, SM2 in
``_sm2``); callers only ever see these two abstract types and get concrete
keys from a :class:`~jinglian.crypto.suite.Suite`.

Signatures are DER-encoded ``(r, s)`` in both suites. They are not unique: a
valid signature can be re-encoded into another valid one (``s`` to ``n - s``),
so an identifier that must be stable (a transaction id) hashes the signed
payload, never the signature bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

__all__ = ["PrivateKey", "PublicKey"]


class PublicKey(ABC):
    """A verifying key; equal and hashed by its SubjectPublicKeyInfo DER."""

    __slots__ = ()

    suite_name: ClassVar[str]
    """The name of the suite this key belongs to (``default`` or ``gm``)."""

    @abstractmethod
    def verify(self, signature: bytes, message: bytes) -> bool:
        """Whether ``signature`` signs ``message``; False for any bad or garbage signature."""

    @abstractmethod
    def to_der(self) -> bytes:
        """The key as canonical SubjectPublicKeyInfo DER (uncompressed point)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self.to_der() == other.to_der()

    def __hash__(self) -> int:
        return hash(self.to_der())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.suite_name} {self.to_der()[-32:].hex()}>"


class PrivateKey(ABC):
    """A signing key; never printed, compared or hashed by its secret."""

    __slots__ = ()

    suite_name: ClassVar[str]
    """The name of the suite this key belongs to (``default`` or ``gm``)."""

    @abstractmethod
    def sign(self, message: bytes) -> bytes:
        """A DER-encoded ``(r, s)`` signature over ``message`` (hashed by the suite)."""

    @abstractmethod
    def public_key(self) -> PublicKey:
        """The matching verifying key."""

    @abstractmethod
    def to_pem(self) -> bytes:
        """The key as unencrypted PKCS#8 PEM (``BEGIN PRIVATE KEY``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.suite_name} for {self.public_key()!r}>"
