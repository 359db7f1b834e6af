"""The exchange service against a real solo node of three departments: deliveries from CSV,
SQLite and PostgreSQL sources, every refusal of the issue, crashes mid-delivery, malformed
requests; and what the chain shows after each (one delivery, never a confirmed one without data)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import ssl
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from jinglian.apps import directory
from jinglian.cli import cli
from jinglian.client import Identity
from jinglian.crypto import (
    get_suite,
    issue_ca_certificate,
    issue_certificate,
    load_certificate,
    seal,
)
from jinglian.exchange import ExchangeService, fetch, load_config, new_request, request_hash
from jinglian.exchange.fetch import _client_context
from jinglian.exchange.protocol import FETCH_PATH, REQUEST_BYTES_MAX
from jinglian.types.errors import (
    CertificateRevoked,
    ConfigError,
    NotFound,
    PayloadMismatch,
    PermissionDenied,
    ReplayedRequest,
    Timeout,
    UnknownIdentity,
)
from tests.exchange.conftest import ITEMS, OPEN, PG, PLAN, World, csv_rows

pytestmark = pytest.mark.slow
DAY_MS = 86_400_000


def deliveries(world: World, grant: int) -> list[dict[str, Any]]:
    with world.client("org1/admin") as client:
        return directory.deliveries(client, grant)


def expected_csv(items: list[str], rows: list[list[str]]) -> str:
    picks = [ITEMS.index(code) for code in items]
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(items)
    writer.writerows([[row[i] for i in picks] for row in rows])
    return out.getvalue()


def post_raw(world: World, body: bytes, identity: Identity) -> httpx.Response:
    """POST ``body`` to org1's exchange as ``identity`` over mutual TLS."""
    with world.client("org1/admin") as client:
        url = directory.exchange(client, "org1")["url"]  # type: ignore[index]
        ca = next(o for o in client.query("chain_config", "get").value["orgs"] if o["id"] == "org1")
    context = _client_context(identity, ca["ca_cert"])
    with httpx.Client(verify=context, timeout=30) as http:
        return http.post(url + FETCH_PATH, content=body)


# -- deliveries -------------------------------------------------------------------------------


def test_unconditional_csv_delivery_is_verified_and_confirmed(world: World, tmp_path: Path) -> None:
    grant = world.request(OPEN, ["parcel", "area_m2"])["grant"]
    assert grant is not None
    with world.client("org2/client") as client:
        result = fetch(client, grant, tmp_path / "landuse.csv")
    saved = (tmp_path / "landuse.csv").read_bytes().decode()
    assert saved == expected_csv(["parcel", "area_m2"], csv_rows())
    assert "land_use" not in saved and "owner" not in saved, "only the granted items"
    [record] = deliveries(world, grant)
    assert (record["id"], record["status"]) == (result.delivery, "confirmed")
    assert record["response_hash"] == record["payload_hash"] == result.payload_hash
    assert record["size"] == result.size == len(saved.encode())
    assert record["request_hash"] == result.request_hash
    suite = get_suite("default")
    assert (
        result.payload_hash == suite.hash(bytes.fromhex(result.request_hash) + saved.encode()).hex()
    )


def test_conditional_sqlite_delivery_after_approval(world: World) -> None:
    asked = world.request(PLAN, ["owner", "parcel"])
    assert asked["status"] == "pending" and asked["grant"] is None
    with world.client("org2/client") as client, pytest.raises(NotFound, match="no grant"):
        fetch(client, asked["id"])
    with world.client("org1/admin") as admin:
        directory.approve(admin, asked["id"])
    with world.client("org2/client") as client:
        result = fetch(client, asked["id"])
    rows = json.loads(result.data or b"")
    assert len(rows) == len(csv_rows())
    assert rows[0] == {"owner": "o0", "parcel": "P00000"}
    assert list(rows[0]) == ["owner", "parcel"], "grant order"
    assert deliveries(world, asked["id"])[0]["status"] == "confirmed"


def test_postgresql_source(world: World, postgres_url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.begin() as db:
        db.execute(sqlalchemy.text("DROP TABLE IF EXISTS parcels"))
        db.execute(
            sqlalchemy.text(
                "CREATE TABLE parcels (parcel text, land_use text, area_m2 int, owner text)"
            )
        )
        for row in csv_rows(50):
            db.execute(
                sqlalchemy.text("INSERT INTO parcels VALUES (:p, :l, :a, :o)"),
                {"p": row[0], "l": row[1], "a": int(row[2]), "o": row[3]},
            )
    engine.dispose()
    url = postgres_url  # the plain URL: sources pick the pinned psycopg driver
    with open(world.service.config, "a") as handle:
        handle.write(
            f'\n[sources."{PG}"]\nurl = "{url}"\n'
            'query = "SELECT parcel, land_use, area_m2 FROM parcels ORDER BY parcel"\nformat = "csv"\n'
        )
    world.service.restart()
    grant = world.request(PG, ["land_use", "area_m2"])["grant"]
    with world.client("org2/client") as client:
        result = fetch(client, grant)
    assert (result.data or b"").decode() == expected_csv(["land_use", "area_m2"], csv_rows(50))
    # a granted item the table lacks is an error, never a shorter payload
    grant = world.request(PG, ["owner"])["grant"]
    with world.client("org2/client") as client, pytest.raises(ConfigError, match="no column"):
        fetch(client, grant)
    assert deliveries(world, grant) == []


# -- refusals ---------------------------------------------------------------------------------


def test_revoked_grant_and_another_departments_grant_are_refused(world: World) -> None:
    grant = world.request(OPEN, ["parcel"])["grant"]
    with (
        world.client("org3/client") as client,
        pytest.raises(PermissionDenied, match="org2's, not org3's"),
    ):
        fetch(client, grant)
    with world.client("org1/admin") as admin:
        directory.revoke_grant(admin, grant, "plan superseded")
    with world.client("org2/client") as client, pytest.raises(PermissionDenied, match="revoked"):
        fetch(client, grant)
    assert deliveries(world, grant) == []


def test_expired_grant_is_refused(world: World, tmp_path: Path) -> None:
    """The service's own clock two days on: a one-day grant has ended (the chain agrees later)."""
    grant = world.request(OPEN, ["parcel"], days=1)["grant"]
    later_ms = int(time.time() * 1000) + 2 * DAY_MS
    config = dataclasses.replace(load_config(world.service.config), state_dir=tmp_path)
    requester = Identity.from_network(world.net, "org2/client")
    with world.client("org2/client") as client:
        request = new_request(client, grant, now_ms=later_ms)
    service = ExchangeService(config, clock_ms=lambda: later_ms)
    with pytest.raises(PermissionDenied, match="expired"):
        service.handle_fetch(requester.cert.der, request.to_json())
    with world.client("org2/client") as client:
        assert directory.get_grant(client, grant)["status"] == "active", (
            "the chain's clock is today"
        )
    assert deliveries(world, grant) == []


def test_replayed_and_stale_requests_are_refused(world: World) -> None:
    grant = world.request(OPEN, ["parcel"])["grant"]
    requester = Identity.from_network(world.net, "org2/client")
    with world.client("org2/client") as client:
        request = new_request(client, grant)
        fetch(client, grant, request=request)
        with pytest.raises(ReplayedRequest, match="already confirmed"):
            fetch(client, grant, request=request)
        stale = new_request(client, grant, now_ms=int(time.time() * 1000) - 600_000)
        with pytest.raises(ReplayedRequest, match="window"):
            fetch(client, grant, request=stale)
    reply = post_raw(world, request.to_json(), requester)
    assert (reply.status_code, reply.json()["code"]) == (403, "replayed_request")
    assert len(deliveries(world, grant)) == 1


def test_foreign_ca_and_revoked_certificates_are_refused(world: World, tmp_path: Path) -> None:
    grant = world.request(OPEN, ["parcel"])["grant"]
    suite = get_suite("default")
    # a CA someone made up with org2's name
    fake_key = suite.generate_key()
    fake_ca = issue_ca_certificate(suite, fake_key, "org2")
    key = suite.generate_key()
    cert = issue_certificate(
        suite, fake_key, fake_ca, key.public_key(), "org2", "client", "mallory"
    )
    forged = Identity(cert=cert, key=key, suite=suite)
    with world.client("org2/client") as client, pytest.raises(UnknownIdentity, match="TLS"):
        fetch(client, grant, identity=forged)
    # a real org2 certificate, revoked on chain
    ca_dir = world.net / "orgs" / "org2" / "ca"
    ca = load_certificate((ca_dir / "ca.pem").read_bytes())
    ca_key = suite.load_private_key((ca_dir / "ca.key").read_bytes())
    key = suite.generate_key()
    cert = issue_certificate(suite, ca_key, ca, key.public_key(), "org2", "client", "leaver")
    leaver = Identity(cert=cert, key=key, suite=suite)
    with world.client("org2/client") as client:
        assert fetch(client, grant, identity=leaver).status == "confirmed", "valid before revoking"
    with world.client("org2/admin") as admin:
        admin.invoke(
            "identity",
            "revoke",
            {"cert_id": cert.cert_id.hex(), "reason": "left", "cert": cert.der},
        )
    with world.client("org2/client") as client, pytest.raises(CertificateRevoked):
        fetch(client, grant, identity=leaver)
    assert len(deliveries(world, grant)) == 1


def test_malformed_requests_get_typed_4xx_and_the_service_keeps_serving(world: World) -> None:
    grant = world.request(OPEN, ["parcel"])["grant"]
    requester = Identity.from_network(world.net, "org2/client")
    with world.client("org2/client") as client:
        good = new_request(client, grant)
    body = json.loads(good.to_json())
    bad_signature = dict(
        body, signature=body["signature"][:-2] + ("00" if body["signature"][-2:] != "00" else "01")
    )
    cases = [
        (b"x" * (REQUEST_BYTES_MAX + 1), 413, "too_large"),
        (b"{not json", 400, "decode_error"),
        (b'["a list"]', 400, "invalid_input"),
        (
            json.dumps({k: v for k, v in body.items() if k != "nonce"}).encode(),
            400,
            "invalid_input",
        ),
        (json.dumps(dict(body, grant="7")).encode(), 400, "invalid_input"),
        (json.dumps(dict(body, grant=999)).encode(), 401, "unauthenticated"),
        (json.dumps(bad_signature).encode(), 401, "unauthenticated"),
        (json.dumps(dict(body, chain_id="other")).encode(), 401, "unauthenticated"),
    ]
    for raw, status, code in cases:
        reply = post_raw(world, raw, requester)
        assert (reply.status_code, reply.json()["code"]) == (status, code), raw[:80]
    # another org's certificate signing for org2's certificate id
    other = Identity.from_network(world.net, "org3/client")
    reply = post_raw(world, good.to_json(), other)
    assert (reply.status_code, reply.json()["code"]) == (401, "unauthenticated")
    assert deliveries(world, grant) == []
    with world.client("org2/client") as client:
        assert fetch(client, grant, request=good).status == "confirmed"


# -- crashes mid-delivery -----------------------------------------------------------------------


def test_killed_between_store_and_deliver_then_retry_completes_once(world: World) -> None:
    grant = world.request(OPEN, ITEMS)["grant"]
    world.service.restart(fault="after_store")
    with world.client("org2/client") as client:
        request = new_request(client, grant)
        with pytest.raises(Timeout):
            fetch(client, grant, request=request)
        assert world.service.wait_killed() != 0
        assert deliveries(world, grant) == [], "nothing recorded before deliver"
        world.service.restart()
        result = fetch(client, grant, request=request)
    assert (result.data or b"").decode() == expected_csv(ITEMS, csv_rows())
    [record] = deliveries(world, grant)
    assert (record["id"], record["status"]) == (result.delivery, "confirmed")


def test_killed_between_deliver_and_release_then_retry_completes_once(world: World) -> None:
    grant = world.request(OPEN, ["owner"])["grant"]
    world.service.restart(fault="after_deliver")
    with world.client("org2/client") as client:
        request = new_request(client, grant)
        with pytest.raises(Timeout):
            fetch(client, grant, request=request)
        world.service.wait_killed()
        [record] = deliveries(world, grant)
        assert record["status"] == "delivered", "recorded, not completed: no data was released"
        world.service.restart()
        result = fetch(client, grant, request=request)
    [record] = deliveries(world, grant)
    assert (record["id"], record["status"]) == (result.delivery, "confirmed")
    assert (result.data or b"").decode() == expected_csv(["owner"], csv_rows())


def test_a_tampered_payload_is_detected_reported_and_confirmed_as_mismatch(world: World) -> None:
    grant = world.request(OPEN, ["parcel"])["grant"]
    world.service.restart(fault="after_deliver")
    requester = Identity.from_network(world.net, "org2/client")
    with world.client("org2/client") as client:
        request = new_request(client, grant)
        with pytest.raises(Timeout):
            fetch(client, grant, request=request)
        world.service.wait_killed()
        # the stored envelope swapped for other data, validly sealed to the requester
        req_hash = request_hash(get_suite("default"), request)
        stored = world.exchange_dir / "state" / "responses" / f"{req_hash.hex()}.sealed"
        assert stored.exists()
        stored.write_bytes(seal(requester.cert.public_key, b"parcel\r\nFORGED\r\n", req_hash))
        world.service.restart()
        with pytest.raises(PayloadMismatch, match="mismatch"):
            fetch(client, grant, request=request)
    [record] = deliveries(world, grant)
    assert record["status"] == "mismatch"
    assert record["payload_hash"] != record["response_hash"]


def test_a_corrupted_envelope_is_confirmed_as_mismatch(world: World) -> None:
    grant = world.request(OPEN, ["parcel"])["grant"]
    world.service.restart(fault="after_deliver")
    with world.client("org2/client") as client:
        request = new_request(client, grant)
        with pytest.raises(Timeout):
            fetch(client, grant, request=request)
        world.service.wait_killed()
        req_hash = request_hash(get_suite("default"), request)
        stored = world.exchange_dir / "state" / "responses" / f"{req_hash.hex()}.sealed"
        damaged = bytearray(stored.read_bytes())
        damaged[-20] ^= 0xFF
        stored.write_bytes(bytes(damaged))
        world.service.restart()
        with pytest.raises(PayloadMismatch):
            fetch(client, grant, request=request)
    assert deliveries(world, grant)[0]["status"] == "mismatch"


# -- setup ------------------------------------------------------------------------------------


def test_status_command_and_published_url(world: World) -> None:
    result = CliRunner().invoke(
        cli, ["exchange", "status", "--config", str(world.service.config), "--json"]
    )
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["up"] is True and status["published"]["url"] == status["url"]
    assert OPEN in status["sources"]


def test_run_json_prints_serving_deliveries_and_refusals_as_json_lines(world: World) -> None:
    world.service.log.write_bytes(b"")
    world.service.restart(json_output=True)
    try:
        grant = world.request(OPEN, ["parcel"])["grant"]
        with world.client("org2/client") as client:
            request = new_request(client, grant)
            result = fetch(client, grant, request=request)
            with pytest.raises(ReplayedRequest):
                fetch(client, grant, request=request)
    finally:
        world.service.restart()
    lines = world.service.log.read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    serving, delivered, refused = events[0], events[1], events[-1]
    url = load_config(world.service.config).url
    assert (serving["event"], serving["org"], serving["url"]) == ("serving", "org1", url)
    assert delivered["event"] == "delivered"
    assert (delivered["delivery"], delivered["size"]) == (result.delivery, result.size)
    assert delivered["request_hash"] == result.request_hash
    assert delivered["peer"].startswith("127.0.0.1:")
    assert (refused["event"], refused["code"]) == ("refused", "replayed_request")
    assert all(isinstance(event["time_ms"], int) for event in events[1:])


def test_init_certificates_per_suite_and_refusals(tmp_path: Path) -> None:
    from jinglian.exchange import init_exchange
    from jinglian.exchange.setup import pin_of
    from jinglian.node.init import create_network

    for crypto in ("default", "gm"):
        create_network(
            tmp_path / crypto, 1, crypto=crypto, consensus="solo", api_port=1, p2p_port=2
        )
        out = tmp_path / f"x-{crypto}"
        done = init_exchange(
            out, tmp_path / crypto, "org1/admin", host="10.0.0.7", port=8650, publish=False
        )
        cert_pem = done.config.tls_cert.read_text()
        parsed = x509.load_pem_x509_certificate(cert_pem.encode())
        sans = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} == {
            "10.0.0.7",
            "127.0.0.1",
        }
        assert isinstance(parsed.public_key(), ec.EllipticCurvePublicKey), "TLS needs P-256"
        assert oct(done.config.tls_key.stat().st_mode & 0o777) == "0o600"
        if crypto == "default":
            assert done.config.url == "https://10.0.0.7:8650"
            assert load_certificate(cert_pem.encode()).org_id == "org1"
        else:
            assert done.config.url == f"https://10.0.0.7:8650#tls-sha256={pin_of(cert_pem)}"
        with pytest.raises(ConfigError, match="exists"):
            init_exchange(out, tmp_path / crypto, "org1/admin", host="h", port=1, publish=False)
    (tmp_path / "default" / "orgs" / "org1" / "ca" / "ca.key").unlink()
    with pytest.raises(ConfigError, match="must be local"):
        init_exchange(tmp_path / "y", tmp_path / "default", "org1/admin", host="h", port=1)


def test_server_refuses_a_client_without_certificate(world: World) -> None:
    with world.client("org1/admin") as client:
        url = directory.exchange(client, "org1")["url"]  # type: ignore[index]
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with httpx.Client(verify=context, timeout=10) as http, pytest.raises(httpx.TransportError):
        http.post(url + FETCH_PATH, content=b"{}")


def test_one_mib_csv_fetch_end_to_end_time(world: World) -> None:
    """Median of five fetches of a 1 MiB CSV (request, deliver commit, decrypt, confirm commit)."""
    rows = csv_rows(1)[0]
    big = world.data / "big.csv"
    line = ",".join(rows) + "\r\n"
    big.write_text(",".join(ITEMS) + "\r\n" + line * ((1 << 20) // len(line)))
    grant = world.request(OPEN, ITEMS)["grant"]
    config = world.service.config.read_text()
    world.service.config.write_text(config.replace("landuse.csv", "big.csv"))
    try:
        world.service.restart()
        times = []
        with world.client("org2/client") as client:
            for _ in range(5):
                started = time.perf_counter()
                result = fetch(client, grant)
                times.append(time.perf_counter() - started)
                assert result.size == big.stat().st_size and result.status == "confirmed"
    finally:
        world.service.config.write_text(config)
        world.service.restart()
    median = sorted(times)[len(times) // 2]
    print(f"1 MiB CSV fetch: median {median * 1000:.0f} ms of {[round(t * 1000) for t in times]}")
    assert median < 10.0
