"""Peer transport over real TLS on 127.0.0.1: who gets in, who is refused, what is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from pathlib import Path

import pytest

from jinglian.crypto import get_suite, issue_ca_certificate, issue_certificate, load_certificate
from jinglian.network.framing import FRAME_BYTES_MAX
from jinglian.network.tls import PeerTls, load_member_cas, load_peer_tls
from jinglian.network.transport import PEER_SEND_QUEUE_MAX, connect
from jinglian.node.init import create_network
from jinglian.types.errors import Busy, ConfigError
from tests.network.support import HOST, Harness, run, until


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("net") / "a"
    create_network(root, 2, consensus="solo")
    return root / "nodes"


@pytest.fixture(scope="module")
def other_network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("net") / "b"
    create_network(root, 1, consensus="solo")
    return root / "nodes"


def _write_identity(out: Path, org: str, role: str, *, ca_org: str | None = None) -> Path:
    """A node directory whose TLS certificate comes from a self-made CA of ``ca_org``."""
    suite = get_suite("default")
    ca_key, key = suite.generate_key(), suite.generate_key()
    ca = issue_ca_certificate(suite, ca_key, ca_org or org)
    cert = issue_certificate(
        suite, ca_key, ca, key.public_key(), org, role, "intruder", tls=True,
        dns_names=("localhost",), ip_addresses=(HOST,),
    )  # fmt: skip
    out.mkdir(parents=True)
    (out / "tls.pem").write_text(cert.pem)
    (out / "tls.key").write_bytes(key.to_pem())
    (out / "ca.pem").write_text(ca.pem)
    return out


def test_two_nodes_exchange_frames(network: Path) -> None:
    async def body() -> None:
        a, b = load_peer_tls(network / "node1"), load_peer_tls(network / "node2")
        harness_a, harness_b = Harness(a), Harness(b)
        await harness_a.server.start(HOST, 0)
        await harness_b.server.start(HOST, 0)
        to_a = connect(b, HOST, harness_a.server.port)
        to_b = connect(a, HOST, harness_b.server.port)
        to_a.send(1, b"hello a")
        to_b.send(2, b"hello b")
        to_a.send(3, bytes(100_000))
        await until(lambda: len(harness_a.received) == 2 and len(harness_b.received) == 1)
        peer, message_type, payload = harness_a.received[0]
        assert (peer.org, peer.common_name, message_type, payload) == (
            "org2", "node2", 1, b"hello a",
        )  # fmt: skip
        assert harness_a.received[1][1:] == (3, bytes(100_000))
        assert peer.role in ("consensus", "common")
        assert harness_b.received[0][0].common_name == "node1"
        assert to_a.peer is not None and to_a.peer.common_name == "node1"
        await to_a.close()
        await to_b.close()
        await harness_a.server.close()
        await harness_b.server.close()

    run(body)


async def _refused_by_server(server_tls: PeerTls, client_tls: PeerTls) -> str:
    harness = Harness(server_tls)
    await harness.server.start(HOST, 0)
    client = connect(client_tls, HOST, harness.server.port, backoff_ms_min=50)
    client.send(1, b"let me in")
    await until(lambda: harness.server.stats.connections_refused >= 1)
    await client.close()
    await harness.server.close()
    assert harness.received == []
    assert harness.server.stats.connections_accepted == 0
    return harness.server.stats.last_refusal


def test_invalid_other_network_refused_by_tls(network: Path, other_network: Path) -> None:
    async def body() -> None:
        reason = await _refused_by_server(
            load_peer_tls(network / "node1"),
            load_peer_tls(
                other_network / "node1", trust_pem=(network / "node1/ca.pem").read_text()
            ),
        )
        assert "TLS handshake failed" in reason

    run(body)


def test_invalid_self_made_ca_claiming_member_org(network: Path, tmp_path: Path) -> None:
    """The fake CA is in every trust bundle, so only the application check can stop it."""
    fake = _write_identity(tmp_path / "fake", "org1", "consensus")
    members = network / "node1"
    trust = (members / "ca.pem").read_text() + (fake / "ca.pem").read_text()

    async def body() -> None:
        server_tls = load_peer_tls(members, trust_pem=trust)
        intruder = load_peer_tls(fake, trust_pem=trust)
        reason = await _refused_by_server(server_tls, intruder)
        assert "unknown_identity" in reason and "org1" in reason
        # And the other way round: our client refuses an intruding server.
        intruder_server = Harness(intruder)
        await intruder_server.server.start(HOST, 0)
        client = connect(server_tls, HOST, intruder_server.server.port, backoff_ms_min=50)
        await until(lambda: client.stats.connections_refused >= 1)
        assert "unknown_identity" in client.stats.last_refusal
        assert client.stats.connections_accepted == 0
        await client.close()
        await intruder_server.server.close()

    run(body)


def test_invalid_bundle_with_two_cas_for_one_org(network: Path, tmp_path: Path) -> None:
    fake = _write_identity(tmp_path / "fake", "org1", "consensus")
    bundle = (network / "node1/ca.pem").read_bytes() + (fake / "ca.pem").read_bytes()
    with pytest.raises(ConfigError):
        load_member_cas(bundle)


@pytest.mark.parametrize("role", ["admin", "client"])
def test_invalid_role_refused(network: Path, tmp_path: Path, role: str) -> None:
    # A self-made org that *is* a member in the server's eyes: only the role differs.
    ident = _write_identity(tmp_path / role, "orgx", role)
    member_tls = load_peer_tls(network / "node1")
    cas = dict(member_tls.member_cas) | load_member_cas((ident / "ca.pem").read_bytes())
    trust = (network / "node1/ca.pem").read_text() + (ident / "ca.pem").read_text()

    async def body() -> None:
        server_tls = load_peer_tls(network / "node1", member_cas=cas, trust_pem=trust)
        reason = await _refused_by_server(server_tls, load_peer_tls(ident, trust_pem=trust))
        assert "permission_denied" in reason and role in reason

    run(body)


def test_invalid_revoked_certificate_refused(network: Path) -> None:
    revoked = load_peer_tls(network / "node2")
    node2_id = load_certificate((network / "node2/tls.pem").read_bytes()).cert_id

    async def body() -> None:
        server_tls = load_peer_tls(network / "node1", is_revoked=lambda cid: cid == node2_id)
        reason = await _refused_by_server(server_tls, revoked)
        assert "certificate_revoked" in reason

    run(body)


def test_oversized_frame_closes_only_that_connection(network: Path) -> None:
    async def body() -> None:
        harness = Harness(load_peer_tls(network / "node1"))
        await harness.server.start(HOST, 0)
        tls2 = load_peer_tls(network / "node2")
        reader, writer = await asyncio.open_connection(
            HOST, harness.server.port, ssl=tls2.client_context, server_hostname=HOST
        )
        writer.write(struct.pack(">I", FRAME_BYTES_MAX + 1) + b"\x01")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
        await until(lambda: harness.server.stats.protocol_errors == 1)
        assert "too_large" in harness.server.stats.last_refusal
        good = connect(tls2, HOST, harness.server.port)
        good.send(9, b"still serving")
        await asyncio.wait_for(harness.arrived.wait(), 5)
        assert harness.received[0][1:] == (9, b"still serving")
        await good.close()
        await harness.server.close()

    run(body)


def test_invalid_garbage_before_handshake(network: Path) -> None:
    async def body() -> None:
        harness = Harness(load_peer_tls(network / "node1"))
        await harness.server.start(HOST, 0)
        reader, writer = await asyncio.open_connection(HOST, harness.server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
        await writer.drain()
        # The server closes: end of stream or a reset, never a hang or a frame.
        with contextlib.suppress(ConnectionError):
            await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await until(lambda: harness.server.stats.connections_refused == 1)
        assert "TLS handshake failed" in harness.server.stats.last_refusal
        assert harness.received == []
        await harness.server.close()

    run(body)


def test_send_queue_is_bounded(network: Path) -> None:
    async def body() -> None:
        with socket.socket() as unused:
            unused.bind((HOST, 0))
            port = unused.getsockname()[1]
        client = connect(load_peer_tls(network / "node1"), HOST, port, backoff_ms_min=50)
        for _ in range(PEER_SEND_QUEUE_MAX):
            client.send(1, b"x")
        with pytest.raises(Busy):
            client.send(1, b"x")
        await until(lambda: client.stats.connections_refused >= 2)
        await client.close()

    run(body)
