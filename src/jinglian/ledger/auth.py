"""Who signed a transaction, and may they?

``TxAuthenticator.authenticate`` resolves the sender's certificate (carried in
the transaction, or registered on chain by an earlier transaction), checks that
it chains to the CA of a member organisation in the chain config and is valid at
the given time, that its role may submit transactions, and that every
endorsement's signature verifies over the payload bytes.

Signature checks are the most expensive work a node does per transaction, so
each transaction is verified once per node: successful results are remembered
by transaction id (a bounded cache), and parsed certificates by certificate id.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from jinglian.crypto import Certificate, Suite, load_certificate, validate_certificate
from jinglian.types import ChainConfig, Endorsement, Tx
from jinglian.types.errors import (
    CertificateExpired,
    CertificateRevoked,
    CryptoError,
    InvalidSignature,
    JinglianError,
    PermissionDenied,
    UnknownIdentity,
)
from jinglian.types.tx import CERT_ID_BYTES

__all__ = ["VERIFIED_TXS_MAX", "Signer", "TxAuthenticator"]

VERIFIED_TXS_MAX = 200_000
"""How many verified transaction ids a node remembers."""
CERTS_CACHED_MAX = 10_000
"""How many parsed and chain-checked certificates a node remembers."""


@dataclass(frozen=True, slots=True)
class Signer:
    """An authenticated signer of a transaction."""

    org: str
    """Organisation id from the certificate subject (``O``)."""
    role: str
    """Role from the certificate subject (``OU``)."""
    cert_id: bytes
    """Chain hash of the DER certificate."""
    common_name: str
    """``CN`` of the certificate."""
    division: str = ""
    """Division id from the certificate's second ``OU``; ``""`` when it has none."""


class TxAuthenticator:
    """Checks transaction signatures and identities against the chain config."""

    def __init__(
        self,
        suite: Suite,
        config: Callable[[], ChainConfig],
        registered_cert: Callable[[bytes], bytes | None],
        is_revoked: Callable[[bytes], bool],
    ) -> None:
        self._suite = suite
        self._config = config
        self._registered_cert = registered_cert
        self._is_revoked = is_revoked
        self._verified: OrderedDict[bytes, tuple[Signer, ...]] = OrderedDict()
        self._certs: OrderedDict[bytes, Certificate] = OrderedDict()

    def authenticate(self, tx: Tx, at_ms: int, roles: tuple[str, ...]) -> tuple[Signer, ...]:
        """Return the signers (sender first) or raise the reason the transaction is refused."""
        signers = self._signers(tx, at_ms)
        if signers[0].role not in roles:
            raise PermissionDenied(
                f"role {signers[0].role!r} may not do this; allowed roles: {', '.join(roles)}"
            )
        return signers

    def preverify(self, tx: Tx, at_ms: int) -> None:
        """Check ``tx``'s signatures now, so that ``authenticate`` later finds them checked.

        Block sync calls this on helper threads for the transactions of blocks it has yet to
        apply; a refusal is left for ``authenticate`` to raise when the block is applied.
        """
        if tx.id not in self._verified:
            with contextlib.suppress(JinglianError):
                self._signers(tx, at_ms)

    def _signers(self, tx: Tx, at_ms: int) -> tuple[Signer, ...]:
        signers = self._verified.get(tx.id)
        if signers is None:
            signers = tuple(self._check_endorsement(tx, e, at_ms) for e in tx.endorsements)
            if signers[0].cert_id != tx.body.sender:
                raise InvalidSignature("the first endorsement is not by the transaction's sender")
            if len({s.cert_id for s in signers}) != len(signers):
                raise InvalidSignature("the same certificate endorses the transaction twice")
            self._remember(tx.id, signers)
        else:
            self._check_still_valid(signers, at_ms)
        return signers

    def certificate(self, signer: bytes) -> Certificate:
        """Resolve a signer field (certificate id or DER) to a checked member certificate.

        Certificates are cached under the hash of the bytes they arrived as; the
        certificate id is that of the canonical (low-S) DER, which may differ.
        """
        arrived_as = signer if len(signer) == CERT_ID_BYTES else self._suite.hash(signer)
        cert = self._certs.get(arrived_as)
        if cert is not None:
            return cert
        der = signer if len(signer) != CERT_ID_BYTES else self._registered_cert(signer)
        if der is None:
            raise UnknownIdentity(f"certificate {signer.hex()} is not registered on this chain")
        try:
            cert = load_certificate(der)
        except CryptoError as exc:
            raise UnknownIdentity(
                f"the signer's certificate cannot be read: {exc.message}"
            ) from exc
        self._check_chain(cert)
        self._certs[arrived_as] = cert
        self._certs[cert.cert_id] = cert
        while len(self._certs) > CERTS_CACHED_MAX:
            self._certs.popitem(last=False)
        return cert

    def forget_certificates(self) -> None:
        """Drop cached certificate checks (call when organisations or CAs change)."""
        self._certs.clear()
        self._verified.clear()

    def _check_endorsement(self, tx: Tx, endorsement: Endorsement, at_ms: int) -> Signer:
        cert = self.certificate(endorsement.signer)
        self._check_usable(cert, at_ms)
        if not cert.public_key.verify(endorsement.signature, tx.payload):
            raise InvalidSignature(
                f"signature by {cert.common_name!r} ({cert.org_id}) does not verify"
            )
        return Signer(
            org=cert.org_id,
            role=cert.role,
            cert_id=cert.cert_id,
            common_name=cert.common_name,
            division=cert.division,
        )

    def _check_chain(self, cert: Certificate) -> None:
        config = self._config()
        if cert.suite_name != config.crypto:
            raise UnknownIdentity(
                f"certificate uses the {cert.suite_name!r} suite; this chain uses {config.crypto!r}"
            )
        org = config.org(cert.org_id)
        if org is None:
            raise UnknownIdentity(f"organisation {cert.org_id!r} is not a member of this chain")
        ca = load_certificate(org.ca_cert.encode())
        try:
            validate_certificate(cert, ca, at_ms=cert.not_before_ms)
        except CryptoError as exc:
            raise UnknownIdentity(
                f"certificate of {cert.common_name!r} does not chain to the CA of {cert.org_id!r}: {exc.message}"
            ) from exc

    def _check_still_valid(self, signers: tuple[Signer, ...], at_ms: int) -> None:
        for signer in signers:
            self._check_usable(self.certificate(signer.cert_id), at_ms)

    def _check_usable(self, cert: Certificate, at_ms: int) -> None:
        _check_validity(cert, at_ms)
        if self._is_revoked(cert.cert_id):
            raise CertificateRevoked(
                f"certificate of {cert.common_name!r} ({cert.org_id}) has been revoked"
            )

    def _remember(self, tx_id: bytes, signers: tuple[Signer, ...]) -> None:
        self._verified[tx_id] = signers
        if len(self._verified) > VERIFIED_TXS_MAX:
            self._verified.popitem(last=False)


def _check_validity(cert: Certificate, at_ms: int) -> None:
    if not cert.not_before_ms <= at_ms <= cert.not_after_ms:
        raise CertificateExpired(
            f"certificate of {cert.common_name!r} ({cert.org_id}) is not valid at this time"
        )
