"""The exchange on a gm chain: SM2 member certificates travel in the signed request (TLS cannot
carry them), the service's P-256 transport certificate is pinned on chain, and the payload is
sealed with SM2 encryption and SM4-GCM; verified against SM3 hashes on chain."""

from __future__ import annotations

import dataclasses
import json

import pytest

from jinglian.apps import directory
from jinglian.client import Identity
from jinglian.crypto import get_suite
from jinglian.exchange import fetch, new_request
from jinglian.exchange.fetch import _pinned_context, _signed_request
from jinglian.exchange.protocol import FETCH_PATH
from jinglian.types.errors import PermissionDenied, ReplayedRequest
from tests.exchange.conftest import OPEN, PLAN, World, csv_rows
from tests.exchange.test_exchange import expected_csv

pytestmark = pytest.mark.slow


def test_gm_round_trip_pinned_tls_and_sm3_hashes(gm_world: World) -> None:
    world = gm_world
    with world.client("org1/admin") as client:
        url = directory.exchange(client, "org1")["url"]  # type: ignore[index]
    assert "#tls-sha256=" in url
    grant = world.request(OPEN, ["parcel", "land_use"])["grant"]
    with world.client("org2/client") as client:
        result = fetch(client, grant)
    data = result.data or b""
    assert data.decode() == expected_csv(["parcel", "land_use"], csv_rows())
    sm3 = get_suite("gm")
    assert result.payload_hash == sm3.hash(bytes.fromhex(result.request_hash) + data).hex()
    with world.client("org1/admin") as client:
        [record] = directory.deliveries(client, grant)
    assert (record["status"], record["response_hash"]) == ("confirmed", result.payload_hash)


def test_gm_conditional_sqlite_and_refusals(gm_world: World) -> None:
    world = gm_world
    asked = world.request(PLAN, ["owner"])
    with world.client("org1/admin") as admin:
        directory.approve(admin, asked["id"])
    with world.client("org3/client") as client, pytest.raises(PermissionDenied, match="org2's"):
        fetch(client, asked["id"])
    with world.client("org2/client") as client:
        request = new_request(client, asked["id"])
        result = fetch(client, asked["id"], request=request)
        assert json.loads(result.data or b"")[0] == {"owner": "o0"}
        with pytest.raises(ReplayedRequest):
            fetch(client, asked["id"], request=request)


def test_gm_requests_must_carry_a_matching_certificate_and_pin(gm_world: World) -> None:
    import httpx

    world = gm_world
    grant = world.request(OPEN, ["parcel"])["grant"]
    me = Identity.from_network(world.net, "org2/client")
    other = Identity.from_network(world.net, "org3/client")
    with world.client("org1/admin") as client:
        url, _, fragment = directory.exchange(client, "org1")["url"].partition("#")  # type: ignore[index]
        chain_id = client.chain_info()["chain_id"]
    pin = bytes.fromhex(fragment.removeprefix("tls-sha256="))
    good = _signed_request(me, chain_id, grant, "org1", None, pin)
    unsigned_cert = dataclasses.replace(good, cert=other.cert.der)  # org3's cert, org2's signature
    wrong_pin = _signed_request(me, chain_id, grant, "org1", None, bytes(32))
    no_cert = dataclasses.replace(good, cert=None)
    context = _pinned_context(url, pin)
    with httpx.Client(verify=context, timeout=30) as http:
        for bad in (unsigned_cert, wrong_pin, no_cert):
            reply = http.post(url + FETCH_PATH, content=bad.to_json())
            assert (reply.status_code, reply.json()["code"]) == (401, "unauthenticated"), bad
    with world.client("org1/admin") as client:
        assert directory.deliveries(client, grant) == []
    with world.client("org2/client") as client:
        assert fetch(client, grant, request=good).status == "confirmed"
