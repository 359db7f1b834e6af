"""gm chains: TLS on pinned P-256 transport keys, identity from the SM2 binding (ADR 0011).

Two nodes of ``create_network(..., crypto="gm")`` talk over real TLS on
127.0.0.1. The refusals drive the client side by hand (:class:`RawClient`) so
each one forges exactly one thing; after every refusal the server still
delivers an honest client's frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jinglian.crypto import (
    Certificate,
    PrivateKey,
    get_suite,
    issue_ca_certificate,
    issue_certificate,
    load_certificate,
)
from jinglian.network.binding import (
    BINDING_FRAME_BYTES_MAX,
    BINDING_HELLO_TYPE,
    BINDING_NONCE_BYTES,
    BINDING_PROOF_TYPE,
    SuiteBinding,
    compute_binding_message,
    compute_transcript,
    decode_hello,
    decode_proof,
    encode_hello,
    encode_proof,
    issue_transport_certificate,
    read_binding_frame,
)
from jinglian.network.framing import encode_frame
from jinglian.network.tls import (
    TRANSPORT_CERT_FILE,
    TRANSPORT_KEY_FILE,
    TRANSPORT_PEERS_FILE,
    PeerIdentity,
    PeerTls,
    create_client_context,
    load_peer_tls,
)
from jinglian.network.transport import connect
from jinglian.node.init import create_network
from jinglian.types.errors import ConfigError, InvalidInput, UnknownIdentity
from tests.network.support import HOST, Harness, run, until


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gm tbft network of two organisations: node1, node3 of org1; node2, node4 of org2."""
    root = tmp_path_factory.mktemp("gm") / "net"
    create_network(root, orgs=2, crypto="gm", consensus="tbft")
    return root / "nodes"


def _member_cert(node_dir: Path) -> Certificate:
    return load_certificate((node_dir / "tls.pem").read_bytes())


def _binding(tls: PeerTls) -> SuiteBinding:
    assert tls.binding is not None
    return tls.binding


def _fake_member(org: str, name: str) -> tuple[PrivateKey, Certificate]:
    """An SM2 consensus certificate from a self-made CA that claims ``org``."""
    suite = get_suite("gm")
    ca_key, key = suite.generate_key(), suite.generate_key()
    ca = issue_ca_certificate(suite, ca_key, org)
    cert = issue_certificate(suite, ca_key, ca, key.public_key(), org, "consensus", name, tls=True)
    return key, cert


class RawClient:
    """The client side of the binding, step by step, so a test can forge any part of it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        ssl_object = writer.get_extra_info("ssl_object")
        server_transport = ssl_object.getpeercert(binary_form=True)
        assert server_transport is not None
        self.server_transport: bytes = server_transport

    @classmethod
    async def open(cls, tls: PeerTls, port: int) -> RawClient:
        """TLS with ``tls``'s client context, nothing more."""
        reader, writer = await asyncio.open_connection(
            HOST, port, ssl=tls.client_context, server_hostname=HOST
        )
        return cls(reader, writer)

    async def send(self, message_type: int, payload: bytes) -> None:
        self.writer.write(encode_frame(message_type, payload))
        await self.writer.drain()

    async def hello(self, nonce: bytes) -> bytes:
        """Send our HELLO, return the server's nonce."""
        await self.send(BINDING_HELLO_TYPE, encode_hello(nonce))
        return decode_hello(await read_binding_frame(self.reader, BINDING_HELLO_TYPE))

    async def closed_by_server(self) -> None:
        """Read until the server closes (whatever it sent, it accepted nothing)."""
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            while await asyncio.wait_for(self.reader.read(65536), 5):
                pass
        self.writer.close()


def _proof(
    binding: SuiteBinding,
    *,
    client_transport: bytes,
    server_transport: bytes,
    client_nonce: bytes,
    server_nonce: bytes,
) -> bytes:
    transcript = compute_transcript(
        "gm", client_transport, server_transport, client_nonce, server_nonce
    )
    signature = binding.key.sign(compute_binding_message(b"client", transcript))
    return encode_proof(binding.certificate.der, signature)


async def _honest_exchange(binding: SuiteBinding, raw: RawClient, nonce: bytes) -> bytes:
    """Run the client side as PeerClient would; returns the PROOF payload sent."""
    server_nonce = await raw.hello(nonce)
    proof = _proof(
        binding,
        client_transport=binding.transport_der,
        server_transport=raw.server_transport,
        client_nonce=nonce,
        server_nonce=server_nonce,
    )
    await raw.send(BINDING_PROOF_TYPE, proof)
    return proof


async def _still_serving(harness: Harness, tls: PeerTls) -> None:
    """An honest client's frame still arrives."""
    client = connect(tls, HOST, harness.server.port)
    client.send(7, b"still serving")
    await asyncio.wait_for(harness.arrived.wait(), 5)
    assert harness.received[-1][1:] == (7, b"still serving")
    await client.close()


def _refusal_test(
    nodes: Path,
    attack: Callable[[PeerTls, int], Awaitable[None]],
    reason: str,
    *,
    server_tls: PeerTls | None = None,
) -> None:
    """Run ``attack(client tls of node2, port)`` against node1; it must be refused for ``reason``.

    Afterwards node3 (honest) still gets a frame through.
    """
    node2, node3 = load_peer_tls(nodes / "node2"), load_peer_tls(nodes / "node3")

    async def body() -> None:
        harness = Harness(server_tls or load_peer_tls(nodes / "node1"))
        await harness.server.start(HOST, 0)
        await attack(node2, harness.server.port)
        await until(lambda: harness.server.stats.connections_refused == 1)
        assert reason in harness.server.stats.last_refusal, harness.server.stats.last_refusal
        assert harness.received == [] and harness.server.stats.connections_accepted == 0
        await _still_serving(harness, node3)
        assert harness.server.stats.connections_refused == 1
        await harness.server.close()

    run(body)


def test_gm_nodes_exchange_frames_as_their_sm2_identity(nodes: Path) -> None:
    node1, node2 = load_peer_tls(nodes / "node1"), load_peer_tls(nodes / "node2")
    member1, member2 = _member_cert(nodes / "node1"), _member_cert(nodes / "node2")

    async def body() -> None:
        harness = Harness(node1)
        await harness.server.start(HOST, 0)
        client = connect(node2, HOST, harness.server.port)
        client.send(1, b"hello over gm")
        await asyncio.wait_for(harness.arrived.wait(), 5)
        peer, message_type, payload = harness.received[0]
        assert peer == PeerIdentity("org2", "consensus", member2.cert_id, "node2")
        assert member2.suite_name == "gm"
        assert (message_type, payload) == (1, b"hello over gm")
        assert client.peer == PeerIdentity("org1", "consensus", member1.cert_id, "node1")
        assert harness.server.stats.connections_accepted == 1
        assert client.stats.connections_refused == 0
        await client.close()
        await harness.server.close()

    run(body)


def test_load_peer_tls_sets_up_the_binding_for_gm_only(nodes: Path, tmp_path: Path) -> None:
    tls = load_peer_tls(nodes / "node1")
    binding = _binding(tls)
    assert binding.certificate == _member_cert(nodes / "node1")
    transport = load_certificate((nodes / "node1" / TRANSPORT_CERT_FILE).read_bytes())
    assert transport.suite_name == "default" and transport.der == binding.transport_der
    default = tmp_path / "default"
    create_network(default, 1, consensus="solo")
    assert load_peer_tls(default / "nodes" / "node1").binding is None


def test_invalid_gm_directory_without_transport_key(nodes: Path, tmp_path: Path) -> None:
    node_dir = tmp_path / "node"
    node_dir.mkdir()
    for name in ("ca.pem", "tls.pem", "tls.key", TRANSPORT_PEERS_FILE):
        (node_dir / name).write_bytes((nodes / "node1" / name).read_bytes())
    with pytest.raises(ConfigError, match=TRANSPORT_CERT_FILE):
        load_peer_tls(node_dir)


def test_invalid_tls_authenticate_refuses_on_gm(nodes: Path) -> None:
    with pytest.raises(UnknownIdentity, match="binding"):
        load_peer_tls(nodes / "node1").authenticate(None)


def test_invalid_non_member_ca_refused(nodes: Path) -> None:
    key, cert = _fake_member("org2", "node2")

    async def attack(node2: PeerTls, port: int) -> None:
        intruder = dataclasses.replace(
            node2, binding=SuiteBinding(cert, key, _binding(node2).transport_der)
        )
        client = connect(intruder, HOST, port, backoff_ms_min=5_000)
        client.send(1, b"let me in")
        await until(lambda: client.stats.connections_accepted == 1)
        await client.close()

    _refusal_test(nodes, attack, "unknown_identity")


def test_invalid_client_refuses_server_with_non_member_ca(nodes: Path) -> None:
    node1 = load_peer_tls(nodes / "node1")
    key, cert = _fake_member("org1", "node1")
    intruder = dataclasses.replace(
        node1, binding=SuiteBinding(cert, key, _binding(node1).transport_der)
    )

    async def body() -> None:
        harness = Harness(intruder)
        await harness.server.start(HOST, 0)
        client = connect(
            load_peer_tls(nodes / "node2"), HOST, harness.server.port, backoff_ms_min=50
        )
        await until(lambda: client.stats.connections_refused >= 1)
        assert (
            "unknown_identity" in client.stats.last_refusal and "org1" in client.stats.last_refusal
        )
        assert client.stats.connections_accepted == 0 and not client.connected.is_set()
        await client.close()
        await harness.server.close()

    run(body)


def test_invalid_revoked_member_certificate_refused(nodes: Path) -> None:
    revoked = _member_cert(nodes / "node2").cert_id
    server_tls = load_peer_tls(nodes / "node1", is_revoked=lambda cert_id: cert_id == revoked)

    async def attack(node2: PeerTls, port: int) -> None:
        raw = await RawClient.open(node2, port)
        await _honest_exchange(_binding(node2), raw, bytes(BINDING_NONCE_BYTES))
        await raw.closed_by_server()

    _refusal_test(nodes, attack, "certificate_revoked", server_tls=server_tls)


def test_invalid_replayed_proof_refused(nodes: Path) -> None:
    """A HELLO and PROOF recorded from one (accepted) connection do not open another."""
    node1, node2 = load_peer_tls(nodes / "node1"), load_peer_tls(nodes / "node2")

    async def body() -> None:
        harness = Harness(node1)
        await harness.server.start(HOST, 0)
        nonce = b"\x01" * BINDING_NONCE_BYTES
        first = await RawClient.open(node2, harness.server.port)
        proof = await _honest_exchange(_binding(node2), first, nonce)
        await read_binding_frame(first.reader, BINDING_PROOF_TYPE)
        await until(lambda: harness.server.stats.connections_accepted == 1)
        replay = await RawClient.open(node2, harness.server.port)
        await replay.hello(nonce)
        await replay.send(BINDING_PROOF_TYPE, proof)
        await replay.closed_by_server()
        first.writer.close()
        await until(lambda: harness.server.stats.connections_refused == 1)
        assert harness.server.stats.connections_accepted == 1
        assert "does not cover this connection" in harness.server.stats.last_refusal
        await _still_serving(harness, node2)
        await harness.server.close()

    run(body)


@pytest.mark.parametrize("swapped", ["client", "server"])
def test_invalid_proof_over_other_transport_certificate(nodes: Path, swapped: str) -> None:
    """A proof made for a connection with another transport certificate: a relay in the middle."""
    other = (nodes / "node4" / TRANSPORT_CERT_FILE).read_text()
    other_der = ssl.PEM_cert_to_DER_cert(other)

    async def attack(node2: PeerTls, port: int) -> None:
        binding = _binding(node2)
        raw = await RawClient.open(node2, port)
        nonce = b"\x02" * BINDING_NONCE_BYTES
        server_nonce = await raw.hello(nonce)
        proof = _proof(
            binding,
            client_transport=other_der if swapped == "client" else binding.transport_der,
            server_transport=other_der if swapped == "server" else raw.server_transport,
            client_nonce=nonce,
            server_nonce=server_nonce,
        )
        await raw.send(BINDING_PROOF_TYPE, proof)
        await raw.closed_by_server()

    _refusal_test(nodes, attack, "does not cover this connection")


def test_invalid_proof_signed_as_the_server_refused(nodes: Path) -> None:
    """A proof signed for the other side (a reflected proof) does not verify."""

    async def attack(node2: PeerTls, port: int) -> None:
        binding = _binding(node2)
        raw = await RawClient.open(node2, port)
        nonce = b"\x03" * BINDING_NONCE_BYTES
        server_nonce = await raw.hello(nonce)
        transcript = compute_transcript(
            "gm", binding.transport_der, raw.server_transport, nonce, server_nonce
        )
        signature = binding.key.sign(compute_binding_message(b"server", transcript))
        await raw.send(BINDING_PROOF_TYPE, encode_proof(binding.certificate.der, signature))
        await raw.closed_by_server()

    _refusal_test(nodes, attack, "does not cover this connection")


def test_invalid_unpinned_transport_certificate_refused_by_tls(nodes: Path, tmp_path: Path) -> None:
    """A member's SM2 identity does not help a transport certificate the network never pinned."""
    key, cert = issue_transport_certificate("org2", "consensus", "node2", ip_addresses=(HOST,))
    (tmp_path / "t.pem").write_text(cert.pem)
    (tmp_path / "t.key").write_bytes(key.to_pem())
    trust = (nodes / "node2" / TRANSPORT_PEERS_FILE).read_text()
    context = create_client_context(tmp_path / "t.pem", tmp_path / "t.key", trust, pinned=True)

    async def attack(node2: PeerTls, port: int) -> None:
        stranger = dataclasses.replace(node2, client_context=context)
        with contextlib.suppress(ConnectionError, ssl.SSLError, InvalidInput):
            raw = await RawClient.open(stranger, port)
            await raw.hello(b"\x04" * BINDING_NONCE_BYTES)

    _refusal_test(nodes, attack, "TLS handshake failed")


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x00\x00\x00\x05\x01abcd", "expected binding frame type"),
        (encode_frame(BINDING_HELLO_TYPE, b"\x02" + bytes(BINDING_NONCE_BYTES)), "version"),
        (encode_frame(BINDING_HELLO_TYPE, b"short"), "binding hello of 5 bytes"),
        (b"\x00\x00\x00\x00", "length 0"),
        (b"\x00\x00\x00\x09\xf0", "closed the connection"),
    ],
    ids=["wrong-type", "wrong-version", "short-hello", "empty", "truncated"],
)
def test_invalid_garbage_hello_refused(nodes: Path, frame: bytes, reason: str) -> None:
    async def attack(node2: PeerTls, port: int) -> None:
        raw = await RawClient.open(node2, port)
        raw.writer.write(frame)
        await raw.writer.drain()
        if reason == "closed the connection":
            raw.writer.close()
            return
        await raw.closed_by_server()

    _refusal_test(nodes, attack, reason)


@pytest.mark.parametrize(
    ("proof", "reason"),
    [
        (b"\xff", "too short"),
        (b"\x00\x00" + b"sig", "certificate of 0 bytes"),
        (b"\x00\x10" + b"abc", "ends inside its certificate"),
        (b"\x00\x03abc", "signature of 0 bytes"),
        (b"\x00\x03abc" + bytes(73), "signature of 73 bytes"),
        (b"\x00\x03abc" + b"sig", "unusable"),
    ],
    ids=["short", "no-cert", "cut-cert", "no-signature", "long-signature", "junk-cert"],
)
def test_invalid_garbage_proof_refused(nodes: Path, proof: bytes, reason: str) -> None:
    async def attack(node2: PeerTls, port: int) -> None:
        raw = await RawClient.open(node2, port)
        await raw.hello(b"\x05" * BINDING_NONCE_BYTES)
        await raw.send(BINDING_PROOF_TYPE, proof)
        await raw.closed_by_server()

    _refusal_test(nodes, attack, reason)


def test_invalid_echoed_nonce_refused(nodes: Path) -> None:
    """A client that sends the server's nonce back (it cannot know it first) is refused."""

    async def attack(node2: PeerTls, port: int) -> None:
        raw = await RawClient.open(node2, port)
        server_nonce = decode_hello(await read_binding_frame(raw.reader, BINDING_HELLO_TYPE))
        await raw.send(BINDING_HELLO_TYPE, encode_hello(server_nonce))
        await raw.closed_by_server()

    _refusal_test(nodes, attack, "our own binding nonce")


def test_invalid_oversized_binding_frame_refused_before_its_body(nodes: Path) -> None:
    async def attack(node2: PeerTls, port: int) -> None:
        raw = await RawClient.open(node2, port)
        await raw.hello(b"\x06" * BINDING_NONCE_BYTES)
        raw.writer.write(struct.pack(">I", BINDING_FRAME_BYTES_MAX + 1) + b"\xf1")
        await raw.writer.drain()
        await raw.closed_by_server()

    _refusal_test(nodes, attack, "too_large")


@pytest.mark.parametrize("sent", ["nothing", "hello"])
def test_invalid_binding_that_never_arrives_times_out(nodes: Path, sent: str) -> None:
    node1 = load_peer_tls(nodes / "node1")
    impatient = dataclasses.replace(
        node1, binding=dataclasses.replace(_binding(node1), timeout_ms=200)
    )

    async def attack(node2: PeerTls, port: int) -> None:
        raw = await RawClient.open(node2, port)
        if sent == "hello":
            await raw.hello(b"\x07" * BINDING_NONCE_BYTES)
        await raw.closed_by_server()

    _refusal_test(nodes, attack, "timeout", server_tls=impatient)


# --- the codec and transcript on their own -------------------------------------------

nonces = st.binary(min_size=BINDING_NONCE_BYTES, max_size=BINDING_NONCE_BYTES)


@given(nonces)
def test_hello_round_trip(nonce: bytes) -> None:
    assert decode_hello(encode_hello(nonce)) == nonce


@given(st.binary(min_size=1, max_size=2048), st.binary(min_size=1, max_size=72))
def test_proof_round_trip(cert: bytes, signature: bytes) -> None:
    assert decode_proof(encode_proof(cert, signature)) == (cert, signature)


def test_transcript_orders_by_side_and_names_the_signer() -> None:
    a, b = b"\x0a" * BINDING_NONCE_BYTES, b"\x0b" * BINDING_NONCE_BYTES
    transcript = compute_transcript("gm", b"client cert", b"server cert", a, b)
    assert transcript != compute_transcript("gm", b"server cert", b"client cert", a, b)
    assert transcript != compute_transcript("gm", b"client cert", b"server cert", b, a)
    assert compute_binding_message(b"client", transcript) != compute_binding_message(
        b"server", transcript
    )


def test_read_binding_frame_refuses_oversized_length() -> None:
    async def body() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(struct.pack(">I", BINDING_FRAME_BYTES_MAX + 1))
        with pytest.raises(InvalidInput, match="BINDING_FRAME_BYTES_MAX"):
            await read_binding_frame(reader, BINDING_PROOF_TYPE)

    run(body)


def test_transport_files_are_pinned_and_private(nodes: Path) -> None:
    bundle = (nodes / "node1" / TRANSPORT_PEERS_FILE).read_text()
    for node_dir in sorted(nodes.iterdir()):
        transport = (node_dir / TRANSPORT_CERT_FILE).read_text()
        assert transport in bundle
        assert (node_dir / TRANSPORT_KEY_FILE).stat().st_mode & 0o077 == 0
        assert (node_dir / TRANSPORT_PEERS_FILE).read_text() == bundle
