"""``TxAuthenticator.preverify``: block sync checks signatures ahead, and refuses nothing early.

A pre-check only fills the cache of checked signatures; every refusal (a forged signature, a
role the policy does not allow, a certificate revoked or expired at the block's time) is still
raised by ``authenticate`` when the block is applied.
"""

from __future__ import annotations

import time

import pytest

from jinglian.ledger.auth import TxAuthenticator
from jinglian.testing import TestNetwork
from jinglian.types import Endorsement, Tx, make_tx
from jinglian.types.errors import (
    CertificateExpired,
    CertificateRevoked,
    InvalidSignature,
    PermissionDenied,
)


def now() -> int:
    return time.time_ns() // 1_000_000


class CountingKey:
    """Wraps a public key and counts signature checks."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.checks = 0

    def verify(self, signature: bytes, message: bytes) -> bool:
        self.checks += 1
        return self.inner.verify(signature, message)  # type: ignore[attr-defined,no-any-return]


def authenticator(network: TestNetwork, revoked: set[bytes]) -> TxAuthenticator:
    return TxAuthenticator(
        network.suite, lambda: network.genesis, lambda _: None, lambda cert: cert in revoked
    )


def signed(network: TestNetwork, who: str = "org1/client") -> Tx:
    return network[who].sign(network.genesis.chain_id, "kv", "set", {"key": "a"}, now_ms=now())


def test_a_preverified_signature_is_not_checked_again(network: TestNetwork) -> None:
    auth = authenticator(network, set())
    tx = signed(network)
    cert = auth.certificate(tx.endorsements[0].signer)
    counting = CountingKey(cert.public_key)
    object.__setattr__(cert, "public_key", counting)
    try:
        auth.preverify(tx, now())
        auth.preverify(tx, now())
        assert counting.checks == 1
        (signer,) = auth.authenticate(tx, now(), ("client",))
        assert counting.checks == 1
        assert (signer.org, signer.role) == ("org1", "client")
    finally:
        object.__setattr__(cert, "public_key", counting.inner)


def test_a_forged_signature_passes_preverify_silently_and_is_refused_at_apply(
    network: TestNetwork,
) -> None:
    auth = authenticator(network, set())
    good = signed(network, "org1/admin")
    forged = make_tx(
        network.suite.hash,
        good.payload,
        (Endorsement(good.endorsements[0].signer, network["org1/client"].key.sign(good.payload)),),
    )
    auth.preverify(forged, now())
    with pytest.raises(InvalidSignature):
        auth.authenticate(forged, now(), ("admin", "client"))


def test_preverify_does_not_grant_a_role(network: TestNetwork) -> None:
    auth = authenticator(network, set())
    tx = signed(network)
    auth.preverify(tx, now())
    with pytest.raises(PermissionDenied):
        auth.authenticate(tx, now(), ("admin",))


def test_a_certificate_revoked_after_preverify_is_refused_at_apply(network: TestNetwork) -> None:
    revoked: set[bytes] = set()
    auth = authenticator(network, revoked)
    tx = signed(network)
    auth.preverify(tx, now())
    revoked.add(network["org1/client"].cert.cert_id)
    with pytest.raises(CertificateRevoked):
        auth.authenticate(tx, now(), ("client",))


def test_a_block_time_outside_the_certificate_is_refused_at_apply(network: TestNetwork) -> None:
    auth = authenticator(network, set())
    tx = signed(network)
    auth.preverify(tx, now())
    after = network["org1/client"].cert.not_after_ms + 1
    with pytest.raises(CertificateExpired):
        auth.authenticate(tx, after, ("client",))
