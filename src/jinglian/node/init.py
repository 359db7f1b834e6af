"""Create a network directory: keys, certificates, genesis, node settings, manifest.

``create_network(DIR, orgs=N)`` (the logic of ``jinglian init``) writes::

    DIR/genesis.json                     the chain config document (pretty JSON)
    DIR/network.json                     manifest for clients (jinglian.client.network)
    DIR/orgs/<org>/ca/ca.key, ca.pem     the organisation's CA
    DIR/orgs/<org>/users/admin/          key.pem, cert.pem (role admin)
    DIR/orgs/<org>/users/client/         key.pem, cert.pem (role client)
    DIR/nodes/<node>/node.toml           node settings (node.config)
    DIR/nodes/<node>/sign.key, sign.pem  signing key; role consensus for validators, else common
    DIR/nodes/<node>/tls.key, tls.pem    TLS certificate for localhost, 127.0.0.1 and the node name
    DIR/nodes/<node>/ca.pem              bundle of every member CA
    DIR/nodes/<node>/tls-transport.key,  gm only: ECDSA P-256 transport key and certificate
        tls-transport.pem                (Python's ssl cannot use SM2; ADR 0011)
    DIR/nodes/<node>/tls-transport-peers.pem  gm only: every node's transport certificate
    DIR/nodes/<node>/data/               the node's ledger (empty)

Organisations are ``org1..orgN`` and nodes ``node1..nodeM``, assigned to
organisations round-robin. ``solo`` has one validator (node1 of org1);
``tbft`` has one validator per organisation and at least four (with fewer
organisations, nodes are added round-robin until four validators exist), so
the network tolerates one faulty validator. Node ``i`` (from 0) listens on API
port ``api_port + i`` and peer port ``p2p_port + i``; every node lists all
others as peers, as ``name@host:port``. Private keys are written 0600. The directory is built next
to ``DIR`` and renamed into place, so a failure leaves nothing half-made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinglian.crypto import (
    Certificate,
    PrivateKey,
    Suite,
    get_suite,
    issue_ca_certificate,
    issue_certificate,
)
from jinglian.network.binding import issue_transport_certificate
from jinglian.network.tls import TRANSPORT_CERT_FILE, TRANSPORT_KEY_FILE, TRANSPORT_PEERS_FILE
from jinglian.node.config import NodeConfig, save_node_config
from jinglian.types import (
    ChainConfig,
    ChainParams,
    ConsensusParams,
    Org,
    ValidatorInfo,
    parse_chain_config,
)
from jinglian.types.errors import ConfigError

__all__ = [
    "API_PORT_BASE",
    "DEFAULT_CHAIN_ID",
    "INIT_NODES_MAX",
    "INIT_ORGS_MAX",
    "MANIFEST_VERSION",
    "P2P_PORT_BASE",
    "TBFT_BLOCK_TXS_MAX",
    "TBFT_VALIDATORS_MIN",
    "USER_ROLES",
    "CreatedNetwork",
    "OrgKeys",
    "create_network",
    "create_org_identities",
]

DEFAULT_CHAIN_ID = "jinglian-dev"
API_PORT_BASE = 8601
P2P_PORT_BASE = 9601
INIT_ORGS_MAX = 64
"""Most organisations ``jinglian init`` creates."""
INIT_NODES_MAX = 64
"""Most nodes ``jinglian init`` creates."""
TBFT_BLOCK_TXS_MAX = 2_000
"""``block_txs_max`` of a new ``tbft`` chain: the proposer builds a block and every validator
re-executes it within one propose timeout (3 s). Uncapped, a backlog made 10,000-transaction
blocks that took longer than that on two cores, so rounds failed under load."""
NODES_PER_ORG_MAX = 16
TBFT_VALIDATORS_MIN = 4
"""Validators a ``tbft`` network gets at least: 3f+1 with f = 1."""
MANIFEST_VERSION = 1
USER_ROLES = ("admin", "client")
"""The users every organisation gets, ``orgs/<org>/users/<role>/``: one identity per role."""


@dataclass(frozen=True, slots=True)
class CreatedNetwork:
    """What ``create_network`` wrote."""

    root: Path
    """The network directory."""
    config: ChainConfig
    """The genesis chain configuration."""
    manifest: dict[str, Any]
    """The content of ``network.json``."""


@dataclass(frozen=True, slots=True)
class OrgKeys:
    """An organisation ``create_org_identities`` made: its id and its CA (which issues its
    nodes' and users' certificates)."""

    id: str
    """The organisation's id, e.g. ``org3``."""
    ca_key: PrivateKey
    """The CA's private key (also written to ``orgs/<id>/ca/ca.key``)."""
    ca_cert: Certificate
    """The CA's self-signed certificate (``orgs/<id>/ca/ca.pem``)."""


@dataclass(frozen=True, slots=True)
class _NodePlan:
    name: str
    org: str
    validator: bool
    api_port: int
    p2p_port: int


def create_network(
    out_dir: Path,
    orgs: int,
    *,
    crypto: str = "default",
    consensus: str = "tbft",
    chain_id: str = DEFAULT_CHAIN_ID,
    nodes_per_org: int = 1,
    host: str = "127.0.0.1",
    api_port: int = API_PORT_BASE,
    p2p_port: int = P2P_PORT_BASE,
) -> CreatedNetwork:
    """Write a complete network directory at ``out_dir``; ``ConfigError`` explains any refusal."""
    _check_options(orgs, crypto, consensus, nodes_per_org)
    plans = _plan_nodes(orgs, nodes_per_org, consensus, api_port, p2p_port)
    _check_target(out_dir)
    staging = out_dir.parent / f".{out_dir.name}.init-{os.getpid()}"
    try:
        config, manifest = _write_network(
            staging, get_suite(crypto), chain_id, orgs, plans, consensus, host
        )
        _move_into_place(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return CreatedNetwork(root=out_dir, config=config, manifest=manifest)


def _check_options(orgs: int, crypto: str, consensus: str, nodes_per_org: int) -> None:
    if not 1 <= orgs <= INIT_ORGS_MAX:
        raise ConfigError(f"--orgs must be between 1 and {INIT_ORGS_MAX}, not {orgs}")
    if crypto not in ("default", "gm"):
        raise ConfigError(f"crypto suite {crypto!r} is unknown; use 'default' or 'gm'")
    if consensus not in ("solo", "tbft"):
        raise ConfigError(f"consensus {consensus!r} is unknown; use 'solo' or 'tbft'")
    if not 1 <= nodes_per_org <= NODES_PER_ORG_MAX:
        raise ConfigError(f"--nodes-per-org must be between 1 and {NODES_PER_ORG_MAX}")


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(
            f"{out_dir} already exists and is not empty; choose a new directory or remove it"
        )


def _plan_nodes(
    orgs: int, nodes_per_org: int, consensus: str, api_port: int, p2p_port: int
) -> list[_NodePlan]:
    """Node names, organisations (round-robin), validator flags and ports."""
    count = orgs * nodes_per_org
    validators = 1
    if consensus == "tbft":
        validators = max(orgs, TBFT_VALIDATORS_MIN)
        count = max(count, validators)
    if count > INIT_NODES_MAX:
        raise ConfigError(f"{count} nodes requested; at most {INIT_NODES_MAX}")
    if max(api_port, p2p_port) + count - 1 > 65535 or min(api_port, p2p_port) < 1:
        raise ConfigError("ports out of range; choose lower --api-port / --p2p-port")
    return [
        _NodePlan(
            name=f"node{i + 1}",
            org=f"org{i % orgs + 1}",
            validator=i < validators,
            api_port=api_port + i,
            p2p_port=p2p_port + i,
        )
        for i in range(count)
    ]


def _write_network(
    root: Path,
    suite: Suite,
    chain_id: str,
    org_count: int,
    plans: list[_NodePlan],
    consensus: str,
    host: str,
) -> tuple[ChainConfig, dict[str, Any]]:
    root.mkdir(parents=True)
    orgs = {
        f"org{i}": create_org_identities(root, suite, f"org{i}") for i in range(1, org_count + 1)
    }
    bundle = "".join(org.ca_cert.pem for org in orgs.values())
    validators = []
    for plan in plans:
        sign_cert = _create_node(root, suite, orgs[plan.org], plan, plans, bundle, host)
        if plan.validator:
            validators.append(ValidatorInfo(name=plan.name, org=plan.org, cert=sign_cert.pem))
    if suite.name == "gm":
        _create_transport_certificates(root, plans, host)
    config = ChainConfig(
        chain_id=chain_id,
        crypto=suite.name,
        genesis_time_ms=int(time.time() * 1000),
        orgs=tuple(
            Org(id=o.id, name=f"Organisation {o.id[3:]}", ca_cert=o.ca_cert.pem)
            for o in orgs.values()
        ),
        validators=tuple(validators),
        consensus=ConsensusParams(type=consensus),
        params=ChainParams(block_txs_max=TBFT_BLOCK_TXS_MAX)
        if consensus == "tbft"
        else ChainParams(),
    )
    parse_chain_config(config.to_value())
    _write_text(root / "genesis.json", json.dumps(config.to_value(), indent=2) + "\n")
    manifest = _manifest(config, plans, list(orgs), host)
    _write_text(root / "network.json", json.dumps(manifest, indent=2) + "\n")
    return config, manifest


def create_org_identities(root: Path, suite: Suite, org_id: str) -> OrgKeys:
    """Create organisation ``org_id``'s CA and its users (one per ``USER_ROLES`` role) under
    ``root/orgs/<org_id>/``, in the layout of ``create_network``: ``ca/ca.key``, ``ca/ca.pem``,
    ``users/<role>/key.pem``, ``users/<role>/cert.pem`` (keys 0600; certificates issued by the
    CA, role ``admin`` or ``client``, common name ``<role>.<org_id>``). ``suite`` is the
    chain's crypto suite.

    ``create_network`` makes every organisation with it; adding a member to a running network
    (``org.add``, e.g. ``jinglian directory demo``) makes the new one's keys with it too, and
    writes them into ``network.json`` itself. Never overwrites a key (``FileExistsError``);
    both callers build into a fresh directory and rename it into place, so a failure leaves
    nothing half-made. Returns the CA, which issues the organisation's node certificates.
    """
    ca_dir = root / "orgs" / org_id / "ca"
    ca_key = suite.generate_key()
    ca_cert = issue_ca_certificate(suite, ca_key, org_id)
    _write_pair(ca_dir, "ca.key", ca_key, "ca.pem", ca_cert)
    org = OrgKeys(id=org_id, ca_key=ca_key, ca_cert=ca_cert)
    for role in USER_ROLES:
        key = suite.generate_key()
        cert = _issue(suite, org, key, role, f"{role}.{org_id}")
        _write_pair(root / "orgs" / org_id / "users" / role, "key.pem", key, "cert.pem", cert)
    return org


def _issue(
    suite: Suite, org: OrgKeys, key: PrivateKey, role: str, name: str, **tls: Any
) -> Certificate:
    return issue_certificate(
        suite, org.ca_key, org.ca_cert, key.public_key(), org.id, role, name, **tls
    )


def _create_node(
    root: Path,
    suite: Suite,
    org: OrgKeys,
    plan: _NodePlan,
    plans: list[_NodePlan],
    ca_bundle: str,
    host: str,
) -> Certificate:
    """Keys, certificates and ``node.toml`` of one node; returns its signing certificate."""
    node_dir = root / "nodes" / plan.name
    role = "consensus" if plan.validator else "common"
    sign_key = suite.generate_key()
    sign_cert = _issue(suite, org, sign_key, role, plan.name)
    _write_pair(node_dir, "sign.key", sign_key, "sign.pem", sign_cert)
    tls_key = suite.generate_key()
    dns, ips = _tls_names(plan.name, host)
    tls_cert = _issue(
        suite, org, tls_key, role, plan.name, tls=True, dns_names=dns, ip_addresses=ips
    )
    _write_pair(node_dir, "tls.key", tls_key, "tls.pem", tls_cert)
    _write_text(node_dir / "ca.pem", ca_bundle)
    (node_dir / "data").mkdir()
    peers = tuple(f"{p.name}@{host}:{p.p2p_port}" for p in plans if p.name != plan.name)
    save_node_config(
        NodeConfig(
            root=node_dir,
            name=plan.name,
            org=plan.org,
            api_host=host,
            api_port=plan.api_port,
            p2p_host=host,
            p2p_port=plan.p2p_port,
            peers=peers,
        )
    )
    return sign_cert


def _create_transport_certificates(root: Path, plans: list[_NodePlan], host: str) -> None:
    """gm chains: each node's P-256 transport key and certificate, and the pinned bundle of all."""
    certs = []
    for plan in plans:
        dns, ips = _tls_names(plan.name, host)
        role = "consensus" if plan.validator else "common"
        key, cert = issue_transport_certificate(
            plan.org, role, plan.name, dns_names=dns, ip_addresses=ips
        )
        node_dir = root / "nodes" / plan.name
        _write_pair(node_dir, TRANSPORT_KEY_FILE, key, TRANSPORT_CERT_FILE, cert)
        certs.append(cert.pem)
    for plan in plans:
        _write_text(root / "nodes" / plan.name / TRANSPORT_PEERS_FILE, "".join(certs))


def _tls_names(node_name: str, host: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    dns, ips = ["localhost", node_name], ["127.0.0.1"]
    try:
        ipaddress.ip_address(host)
    except ValueError:
        dns.append(host)
    else:
        ips.append(host)
    return tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(ips))


def _manifest(
    config: ChainConfig, plans: list[_NodePlan], org_ids: list[str], host: str
) -> dict[str, Any]:
    """The ``network.json`` document (paths relative to the network directory)."""
    identities = {
        f"{org}/{role}": {
            "org": org,
            "role": role,
            "cert": f"orgs/{org}/users/{role}/cert.pem",
            "key": f"orgs/{org}/users/{role}/key.pem",
        }
        for org in org_ids
        for role in USER_ROLES
    }
    nodes = [
        {
            "name": p.name,
            "org": p.org,
            "validator": p.validator,
            "dir": f"nodes/{p.name}",
            "api_url": f"http://{_url_host(host)}:{p.api_port}",
            "p2p": f"{host}:{p.p2p_port}",
        }
        for p in plans
    ]
    return {
        "version": MANIFEST_VERSION,
        "chain_id": config.chain_id,
        "crypto": config.crypto,
        "consensus": config.consensus.type,
        "genesis": "genesis.json",
        "nodes": nodes,
        "identities": identities,
        "default_identity": f"{org_ids[0]}/admin",
    }


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _write_pair(
    directory: Path, key_name: str, key: PrivateKey, cert_name: str, cert: Certificate
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    _write_secret(directory / key_name, key.to_pem())
    _write_text(directory / cert_name, cert.pem)


def _write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` readable by its owner only (0600) and write ``data``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _move_into_place(staging: Path, out_dir: Path) -> None:
    """Rename the finished directory to ``out_dir`` (which may exist if empty)."""
    if out_dir.exists():
        out_dir.rmdir()
    os.replace(staging, out_dir)
