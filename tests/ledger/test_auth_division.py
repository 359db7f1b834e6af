"""The authenticated signer carries the division its certificate names."""

from __future__ import annotations

import time

from jinglian.crypto import issue_certificate
from jinglian.ledger.auth import TxAuthenticator
from jinglian.testing import TestNetwork
from jinglian.testing.network import TestIdentity


def test_signer_carries_the_certificate_division(network: TestNetwork) -> None:
    ca = network.cas["org1"]
    key = network.suite.generate_key()
    cert = issue_certificate(
        network.suite, ca.key, ca.cert, key.public_key(), "org1", "client", "li.na",
        division="flood",
    )  # fmt: skip
    member = TestIdentity(key=key, cert=cert, suite=network.suite)
    auth = TxAuthenticator(network.suite, lambda: network.genesis, lambda _: None, lambda _: False)
    now_ms = time.time_ns() // 1_000_000
    chain_id = network.genesis.chain_id
    tx = member.sign(chain_id, "kv", "set", {"key": "a"}, now_ms=now_ms)
    (signer,) = auth.authenticate(tx, now_ms, ("client",))
    assert (signer.org, signer.role, signer.division) == ("org1", "client", "flood")
    plain = network["org1/client"].sign(chain_id, "kv", "set", {"key": "a"}, now_ms=now_ms)
    assert auth.authenticate(plain, now_ms, ("client",))[0].division == ""
