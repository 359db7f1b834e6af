"""A signing identity: an X.509 certificate and its private key.

``Identity.sign_tx`` builds the transaction body (sender = certificate id),
signs its canonical payload and returns the wire-ready ``Tx``;
``Identity.endorse`` adds this identity's signature to a transaction someone
else created (several organisations approving one governed call). The crypto
suite follows from the certificate's key (P-256 for ``default``, SM2 for
``gm``), so the same code signs for either kind of chain.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinglian.client.network import load_network
from jinglian.crypto import Certificate, PrivateKey, get_suite, load_certificate
from jinglian.crypto.suite import Suite
from jinglian.types import Endorsement, Tx, TxBody, encode_tx_body, make_tx
from jinglian.types.errors import (
    ConfigError,
    CryptoError,
    InvalidTransaction,
    JinglianError,
    TooLarge,
    WrongChain,
)
from jinglian.types.tx import ENDORSEMENTS_MAX

__all__ = ["DEFAULT_EXPIRY_S", "NONCE_BYTES", "Identity"]

DEFAULT_EXPIRY_S = 300
"""Seconds a signed transaction stays valid unless the caller says otherwise."""
NONCE_BYTES = 16
"""Random bytes in a default nonce."""
PEM_BYTES_MAX = 64 * 1024


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(PEM_BYTES_MAX + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    if len(data) > PEM_BYTES_MAX:
        raise ConfigError(f"{what} {path} is larger than {PEM_BYTES_MAX} bytes")
    return data


def _load_key(key_pem: bytes, cert: Certificate) -> tuple[Suite, PrivateKey]:
    """The certificate's suite and the private key loaded in it; refuses a foreign key."""
    suite = get_suite(cert.suite_name)
    try:
        key = suite.load_private_key(key_pem)
    except (ValueError, TypeError) as exc:
        raise CryptoError(f"private key is not a {suite.name}-suite PEM key: {exc}") from exc
    if key.public_key().to_der() != cert.public_key.to_der():
        raise CryptoError("the private key does not belong to the certificate")
    return suite, key


@dataclass(frozen=True, slots=True, repr=False)
class Identity:
    """A certificate, its private key and the crypto suite they belong to."""

    cert: Certificate
    """The X.509 certificate (its ``cert_id`` is the sender id)."""
    key: PrivateKey
    """The matching private key."""
    suite: Suite
    """``default`` or ``gm``, detected from the key."""

    def __repr__(self) -> str:
        return f"Identity({self.cert.org_id}/{self.cert.role} {self.cert.common_name})"

    @classmethod
    def load(cls, cert_path: Path | str, key_path: Path | str) -> Identity:
        """Read a PEM certificate and PEM private key."""
        cert_path, key_path = Path(cert_path), Path(key_path)
        cert_pem = _read(cert_path, "certificate")
        try:
            cert = load_certificate(cert_pem)
        except JinglianError as exc:
            raise CryptoError(f"certificate {cert_path}: {exc.message}") from exc
        suite, key = _load_key(_read(key_path, "private key"), cert)
        return cls(cert=cert, key=key, suite=suite)

    @classmethod
    def from_network(cls, net_dir: Path | str, name: str | None = None) -> Identity:
        """The identity ``name`` (e.g. ``org1/admin``) of a ``jinglian init`` network."""
        entry = load_network(Path(net_dir)).identity(name)
        return cls.load(entry.cert, entry.key)

    @property
    def cert_id(self) -> bytes:
        """The sender id: chain hash of the DER certificate."""
        return self.suite.hash(self.cert.der)

    def sign_tx(
        self,
        chain_id: str,
        contract: str,
        method: str,
        args: dict[str, Any] | None = None,
        *,
        expiry_s: int = DEFAULT_EXPIRY_S,
        nonce: bytes | None = None,
        include_cert: bool = True,
        now_ms: int | None = None,
    ) -> Tx:
        """A signed transaction calling ``contract.method(**args)`` on ``chain_id``.

        ``include_cert`` puts the whole certificate in the endorsement (needed
        until the chain has registered it); otherwise the certificate id.
        """
        timestamp = int(time.time() * 1000) if now_ms is None else now_ms
        body = TxBody(
            chain_id=chain_id,
            sender=self.cert_id,
            contract=contract,
            method=method,
            args=dict(args or {}),
            nonce=os.urandom(NONCE_BYTES) if nonce is None else nonce,
            timestamp_ms=timestamp,
            expires_ms=timestamp + expiry_s * 1000,
        )
        payload = encode_tx_body(body)
        signer = self.cert.der if include_cert else self.cert_id
        endorsement = Endorsement(signer=signer, signature=self.key.sign(payload))
        return make_tx(self.suite.hash, payload, (endorsement,))

    def endorse(self, tx: Tx, chain_id: str | None = None) -> Tx:
        """``tx`` with this identity's endorsement (its full certificate) appended.

        Refuses (``WrongChain``) a transaction for another chain than
        ``chain_id`` or of another crypto suite, (``InvalidTransaction``) one
        this certificate already endorsed, and (``TooLarge``) one that already
        holds ``ENDORSEMENTS_MAX`` endorsements. The payload is not changed, so
        every earlier signature stays valid and the transaction id is the same.
        """
        if chain_id is not None and tx.body.chain_id != chain_id:
            raise WrongChain(f"the transaction is for chain {tx.body.chain_id!r}, not {chain_id!r}")
        if self.suite.hash(tx.payload) != tx.id:
            raise WrongChain(
                f"the transaction was not made with the {self.suite.name} crypto suite of "
                f"{self.cert.org_id}/{self.cert.role}'s certificate"
            )
        if any(e.signer in (self.cert.der, self.cert_id) for e in tx.endorsements):
            raise InvalidTransaction(
                f"the transaction is already endorsed by {self.cert.org_id}/{self.cert.role} "
                f"({self.cert.common_name})"
            )
        if len(tx.endorsements) >= ENDORSEMENTS_MAX:
            raise TooLarge(f"the transaction already holds {ENDORSEMENTS_MAX} endorsements")
        endorsement = Endorsement(signer=self.cert.der, signature=self.key.sign(tx.payload))
        return make_tx(self.suite.hash, tx.payload, (*tx.endorsements, endorsement))
