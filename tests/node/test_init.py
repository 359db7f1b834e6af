"""``create_network``: a complete, valid network directory, or a clear refusal."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from jinglian.crypto import get_suite, load_certificate, validate_certificate
from jinglian.node.config import load_node_config
from jinglian.node.init import USER_ROLES, create_network, create_org_identities
from jinglian.types import parse_chain_config
from jinglian.types.errors import ConfigError

OPENSSL = shutil.which("openssl")
SM2_DEFAULT_ID = "distid:1234567812345678"
"""GM/T 0009 default user id; OpenSSL 3.0's `verify` needs it named for SM2 certificates."""


def _genesis(net: Path):  # type: ignore[no-untyped-def]
    return parse_chain_config(json.loads((net / "genesis.json").read_text()))


def test_default_network_layout(tmp_path: Path) -> None:
    net = tmp_path / "net"
    started = time.monotonic()
    created = create_network(net, 4)
    assert time.monotonic() - started < 2.0
    config = _genesis(net)
    assert config == created.config
    assert config.crypto == "default" and config.consensus.type == "tbft"
    assert [o.id for o in config.orgs] == ["org1", "org2", "org3", "org4"]
    assert [v.name for v in config.validators] == ["node1", "node2", "node3", "node4"]
    for org in ("org1", "org4"):
        for name in ("ca/ca.key", "ca/ca.pem", "users/admin/key.pem", "users/client/cert.pem"):
            assert (net / "orgs" / org / name).is_file()
    for node in ("node1", "node4"):
        for name in ("node.toml", "sign.key", "sign.pem", "tls.key", "tls.pem", "ca.pem"):
            assert (net / "nodes" / node / name).is_file()
        assert (net / "nodes" / node / "data").is_dir()
    assert not list(tmp_path.glob(".net.init-*"))


def test_node_settings(tmp_path: Path) -> None:
    create_network(tmp_path / "net", 4)
    config = load_node_config(tmp_path / "net" / "nodes" / "node2")
    assert config.name == "node2" and config.org == "org2"
    assert config.api_port == 8602 and config.p2p_port == 9602
    assert config.peers == ("node1@127.0.0.1:9601", "node3@127.0.0.1:9603", "node4@127.0.0.1:9604")
    assert config.path(config.genesis) == (tmp_path / "net" / "genesis.json").resolve()


def test_manifest(tmp_path: Path) -> None:
    created = create_network(tmp_path / "net", 2, chain_id="test-chain", api_port=18000)
    manifest = json.loads((tmp_path / "net" / "network.json").read_text())
    assert manifest == created.manifest
    assert manifest["chain_id"] == "test-chain"
    assert manifest["default_identity"] == "org1/admin"
    assert manifest["nodes"][1] == {
        "name": "node2",
        "org": "org2",
        "validator": True,
        "dir": "nodes/node2",
        "api_url": "http://127.0.0.1:18001",
        "p2p": "127.0.0.1:9602",
    }
    assert manifest["identities"]["org2/client"] == {
        "org": "org2",
        "role": "client",
        "cert": "orgs/org2/users/client/cert.pem",
        "key": "orgs/org2/users/client/key.pem",
    }


@pytest.mark.parametrize(
    ("orgs", "consensus", "per_org", "expected"),
    [
        (1, "solo", 1, ["org1"]),
        (3, "solo", 1, ["org1"]),
        (1, "tbft", 1, ["org1", "org1", "org1", "org1"]),
        (2, "tbft", 1, ["org1", "org2", "org1", "org2"]),
        (5, "tbft", 1, ["org1", "org2", "org3", "org4", "org5"]),
        (2, "tbft", 3, ["org1", "org2", "org1", "org2"]),
    ],
)
def test_validator_placement(
    tmp_path: Path, orgs: int, consensus: str, per_org: int, expected: list[str]
) -> None:
    created = create_network(tmp_path / "n", orgs, consensus=consensus, nodes_per_org=per_org)
    assert [v.org for v in created.config.validators] == expected
    nodes = created.manifest["nodes"]
    assert len(nodes) == max(orgs * per_org, len(expected))
    assert [n["name"] for n in nodes if n["validator"]] == [
        v.name for v in created.config.validators
    ]


def test_non_validators_get_common_role(tmp_path: Path) -> None:
    create_network(tmp_path / "n", 2, consensus="solo")
    assert load_certificate((tmp_path / "n/nodes/node1/sign.pem").read_bytes()).role == "consensus"
    assert load_certificate((tmp_path / "n/nodes/node2/sign.pem").read_bytes()).role == "common"


@pytest.mark.parametrize("crypto", ["default", "gm"])
def test_certificates_chain_to_their_ca(tmp_path: Path, crypto: str) -> None:
    net = tmp_path / "net"
    create_network(net, 2, crypto=crypto)
    now = int(time.time() * 1000)
    config = _genesis(net)
    for org in config.orgs:
        ca = load_certificate(org.ca_cert.encode())
        assert ca.org_id == org.id and ca.suite_name == crypto
        for role in ("admin", "client"):
            cert = load_certificate(
                (net / "orgs" / org.id / "users" / role / "cert.pem").read_bytes()
            )
            assert cert.role == role
            validate_certificate(cert, ca, now)
    for validator in config.validators:
        cert = load_certificate(validator.cert.encode())
        assert cert.role == "consensus" and cert.common_name == validator.name
        validate_certificate(
            cert, load_certificate(config.org(validator.org).ca_cert.encode()), now
        )  # type: ignore[union-attr]
        tls = (net / "nodes" / validator.name / "tls.pem").read_bytes()
        validate_certificate(
            load_certificate(tls), load_certificate(config.org(validator.org).ca_cert.encode()), now
        )  # type: ignore[union-attr]


@pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")
@pytest.mark.parametrize("crypto", ["default", "gm"])
def test_openssl_verifies_certificates(tmp_path: Path, crypto: str) -> None:
    net = tmp_path / "net"
    create_network(net, 1, crypto=crypto)
    ca = net / "orgs" / "org1" / "ca" / "ca.pem"
    extra = ["-vfyopt", SM2_DEFAULT_ID] if crypto == "gm" else []
    for cert in ("users/admin/cert.pem", "users/client/cert.pem"):
        result = subprocess.run(
            [OPENSSL, "verify", *extra, "-CAfile", str(ca), str(net / "orgs" / "org1" / cert)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    tls = net / "nodes" / "node1" / "tls.pem"
    text = subprocess.run(
        [OPENSSL, "x509", "-in", str(tls), "-noout", "-ext", "subjectAltName"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text


@pytest.mark.parametrize("crypto", ["default", "gm"])
def test_transport_certificates_for_gm_only(tmp_path: Path, crypto: str) -> None:
    """gm nodes get a P-256 transport key for TLS and the pinned bundle of every node's (ADR 0011)."""
    net = tmp_path / "net"
    create_network(net, 2, crypto=crypto, consensus="solo", nodes_per_org=2)
    nodes = sorted((net / "nodes").iterdir())
    names = ("tls-transport.key", "tls-transport.pem", "tls-transport-peers.pem")
    if crypto == "default":
        assert not [n for n in nodes for name in names if (n / name).exists()]
        return
    bundle = (nodes[0] / "tls-transport-peers.pem").read_text()
    for node in nodes:
        member = load_certificate((node / "tls.pem").read_bytes())
        transport = load_certificate((node / "tls-transport.pem").read_bytes())
        assert (transport.suite_name, member.suite_name) == ("default", "gm")
        assert (transport.org_id, transport.role, transport.common_name) == (
            member.org_id, member.role, member.common_name,
        )  # fmt: skip
        assert not transport.is_ca and transport.pem in bundle
        assert (node / "tls-transport-peers.pem").read_text() == bundle
        assert stat.S_IMODE((node / "tls-transport.key").stat().st_mode) == 0o600
    assert bundle.count("BEGIN CERTIFICATE") == len(nodes) == 4


def test_private_keys_are_owner_only(tmp_path: Path) -> None:
    net = tmp_path / "net"
    create_network(net, 2)
    keys = [*net.rglob("*.key"), *net.rglob("key.pem")]
    assert len(keys) == 2 * 3 + 4 * 2
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_existing_empty_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    create_network(tmp_path / "net", 1, consensus="solo")
    assert (tmp_path / "net" / "genesis.json").is_file()


def test_invalid_non_empty_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        create_network(tmp_path / "net", 1)
    assert sorted(p.name for p in (tmp_path / "net").iterdir()) == ["keep.txt"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"orgs": 0}, "--orgs"),
        ({"orgs": 65}, "--orgs"),
        ({"orgs": 1, "crypto": "rsa"}, "crypto suite"),
        ({"orgs": 1, "consensus": "raft"}, "consensus"),
        ({"orgs": 1, "nodes_per_org": 0}, "--nodes-per-org"),
        ({"orgs": 1, "chain_id": "Bad Chain!"}, "chain id"),
        ({"orgs": 4, "api_port": 65534}, "ports"),
    ],
)
def test_invalid_options_leave_nothing(
    tmp_path: Path, kwargs: dict[str, object], reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason):
        create_network(tmp_path / "net", **kwargs)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("crypto", ["default", "gm"])
def test_create_org_identities_writes_a_ca_and_its_users(tmp_path: Path, crypto: str) -> None:
    suite = get_suite(crypto)
    org = create_org_identities(tmp_path, suite, "org7")
    base = tmp_path / "orgs" / "org7"
    assert org.id == "org7"
    assert load_certificate((base / "ca" / "ca.pem").read_bytes()).pem == org.ca_cert.pem
    for role in USER_ROLES:
        cert = load_certificate((base / "users" / role / "cert.pem").read_bytes())
        assert (cert.org_id, cert.role, cert.common_name) == ("org7", role, f"{role}.org7")
        validate_certificate(cert, org.ca_cert, int(time.time() * 1000))
    for key in (base / "ca" / "ca.key", *(base / "users" / r / "key.pem" for r in USER_ROLES)):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    with pytest.raises(FileExistsError):
        create_org_identities(tmp_path, suite, "org7")
    assert load_certificate((base / "ca" / "ca.pem").read_bytes()).pem == org.ca_cert.pem
