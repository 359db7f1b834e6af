"""An in-memory network: CAs, identities and genesis, with real keys and certificates."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from jinglian.crypto import (
    Certificate,
    PrivateKey,
    Suite,
    get_suite,
    issue_ca_certificate,
    issue_certificate,
)
from jinglian.types import (
    ChainConfig,
    ChainParams,
    Endorsement,
    Org,
    Tx,
    TxBody,
    ValidatorInfo,
    encode_tx_body,
    make_tx,
)

__all__ = ["TestIdentity", "TestNetwork", "make_test_network"]


@dataclass(frozen=True)
class TestIdentity:
    """A member identity: key and certificate."""

    __test__ = False  # not a pytest test class

    key: PrivateKey
    cert: Certificate
    suite: Suite

    def sign(
        self,
        chain_id: str,
        contract: str,
        method: str,
        args: dict[str, Any] | None = None,
        *,
        now_ms: int | None = None,
        expiry_ms: int = 60_000,
        nonce: bytes | None = None,
        by_id: bool = False,
        cosigners: tuple[TestIdentity, ...] = (),
    ) -> Tx:
        """A signed transaction from this identity (optionally co-signed)."""
        now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        body = TxBody(
            chain_id=chain_id,
            sender=self.cert.cert_id,
            contract=contract,
            method=method,
            args=args or {},
            nonce=os.urandom(16) if nonce is None else nonce,
            timestamp_ms=now_ms,
            expires_ms=now_ms + expiry_ms,
        )
        payload = encode_tx_body(body)
        endorsements = tuple(
            Endorsement(
                signer=i.cert.cert_id if by_id else i.cert.der, signature=i.key.sign(payload)
            )
            for i in (self, *cosigners)
        )
        return make_tx(self.suite.hash, payload, endorsements)


@dataclass
class TestNetwork:
    """Organisations, their CAs and identities, and a genesis config."""

    __test__ = False  # not a pytest test class

    suite: Suite
    genesis: ChainConfig
    cas: dict[str, TestIdentity] = field(default_factory=dict)
    identities: dict[str, TestIdentity] = field(default_factory=dict)
    """``"org1/admin"``, ``"org1/client"``, ``"org1/node1"`` ..."""

    def __getitem__(self, name: str) -> TestIdentity:
        return self.identities[name]

    def issue(self, org: str, role: str, name: str, validity_days: int = 365) -> TestIdentity:
        """Issue one more identity from an organisation's CA."""
        ca = self.cas[org]
        key = self.suite.generate_key()
        cert = issue_certificate(
            self.suite,
            ca.key,
            ca.cert,
            key.public_key(),
            org,
            role,
            name,
            validity_days=validity_days,
        )
        return TestIdentity(key=key, cert=cert, suite=self.suite)


def make_test_network(
    crypto: str = "default",
    orgs: int = 1,
    chain_id: str = "test",
    params: ChainParams | None = None,
) -> TestNetwork:
    """A network of ``orgs`` organisations, each with an admin, a client and one node (solo: one validator)."""
    suite = get_suite(crypto)
    network = TestNetwork(suite=suite, genesis=None)  # type: ignore[arg-type]
    for number in range(1, orgs + 1):
        org = f"org{number}"
        ca_key = suite.generate_key()
        network.cas[org] = TestIdentity(ca_key, issue_ca_certificate(suite, ca_key, org), suite)
        network.identities[f"{org}/admin"] = network.issue(org, "admin", f"admin.{org}")
        network.identities[f"{org}/client"] = network.issue(org, "client", f"client.{org}")
        network.identities[f"{org}/node{number}"] = network.issue(org, "consensus", f"node{number}")
    network.genesis = ChainConfig(
        chain_id=chain_id,
        crypto=crypto,
        genesis_time_ms=time.time_ns() // 1_000_000 - 1000,
        orgs=tuple(Org(o, o.upper(), ca.cert.pem) for o, ca in network.cas.items()),
        validators=(ValidatorInfo("node1", "org1", network["org1/node1"].cert.pem),),
        params=params or ChainParams(),
    )
    return network
