"""``jinglian exchange init``: the service's TLS certificate, its config file, its URL on chain."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jinglian.apps import directory
from jinglian.client import Client, load_network
from jinglian.crypto import (
    Certificate,
    PrivateKey,
    get_suite,
    issue_certificate,
    load_certificate,
)
from jinglian.exchange.config import CONFIG_FILE, ExchangeConfig, load_config, render_config
from jinglian.types.errors import ConfigError, CryptoError

__all__ = [
    "PIN_PREFIX",
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "TLS_VALIDITY_DAYS",
    "InitResult",
    "init_exchange",
    "pin_of",
    "transport_certificate",
]

PIN_PREFIX: Final = "tls-sha256="
"""gm chains: the URL fragment that pins the service's TLS certificate (``#tls-sha256=<hex>``)."""

TLS_CERT_FILE: Final = "tls/exchange.pem"
TLS_KEY_FILE: Final = "tls/exchange.key"
TLS_VALIDITY_DAYS: Final = 365
"""Validity of the certificate ``init`` issues; re-run ``init --force`` to renew."""


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``init_exchange`` wrote and published."""

    config: ExchangeConfig
    published: bool


def init_exchange(
    directory_path: Path,
    net: Path,
    identity: str,
    *,
    host: str,
    port: int,
    public_host: str | None = None,
    names: Sequence[str] = (),
    sources: Mapping[str, Mapping[str, str]] | None = None,
    node: str | None = None,
    contract: str = directory.CONTRACT_NAME,
    publish: bool = True,
    force: bool = False,
) -> InitResult:
    """Write ``exchange.toml`` and a TLS certificate into ``directory_path``; publish the URL.

    The certificate is a member certificate (role ``common``, CN
    ``exchange.<org>``) issued by ``NET/orgs/<org>/ca``, which must be local;
    its subjectAltName holds ``public_host`` (default ``host``),
    ``localhost``, ``127.0.0.1`` and ``names``. On gm chains it is a P-256
    transport certificate instead (:func:`transport_certificate`), pinned by
    the URL's ``#tls-sha256=`` fragment. ``publish`` records
    ``https://public_host:port`` with ``set_exchange`` (``identity`` must be
    an admin). An existing config is kept unless ``force``.
    """
    directory_path = directory_path.resolve()
    net = net.resolve()
    config_path = directory_path / CONFIG_FILE
    if config_path.exists() and not force:
        raise ConfigError(f"{config_path} exists; pass --force to replace it")
    network = load_network(net)
    entry = network.identity(identity)
    org = entry.org
    suite = get_suite(network.crypto)
    shown = public_host or host
    dns, ips = _alt_names([shown, "localhost", "127.0.0.1", *names])
    (directory_path / "tls").mkdir(parents=True, exist_ok=True)
    url = f"https://{_url_host(shown)}:{port}"
    if suite.name == "default":
        ca_cert, ca_key = _local_ca(net, org)
        key = suite.generate_key()
        cert = issue_certificate(
            suite,
            ca_key,
            ca_cert,
            key.public_key(),
            org,
            "common",
            f"exchange.{org}",
            validity_days=TLS_VALIDITY_DAYS,
            tls=True,
            dns_names=dns,
            ip_addresses=ips,
        )
        key_pem, cert_pem = key.to_pem(), cert.pem
    else:
        key_pem, cert_pem = transport_certificate(f"exchange.{org}", dns, ips)
        url += f"#{PIN_PREFIX}{pin_of(cert_pem)}"
    key_path = directory_path / TLS_KEY_FILE
    key_path.unlink(missing_ok=True)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_pem)
    (directory_path / TLS_CERT_FILE).write_text(cert_pem)
    values: dict[str, str | int | None] = {
        "net": str(net),
        "identity": identity,
        "node": node,
        "contract": contract,
        "host": host,
        "port": port,
        "url": url,
        "tls_cert": TLS_CERT_FILE,
        "tls_key": TLS_KEY_FILE,
        "state_dir": "state",
    }
    text = render_config(values, {k: dict(v) for k, v in (sources or {}).items()})
    config_path.write_text(text)
    config = load_config(config_path)
    if publish:
        with Client.from_network(net, identity, node) as client:
            directory.set_exchange(client, url, contract=contract)
    return InitResult(config=config, published=publish)


def transport_certificate(
    common_name: str, dns: Sequence[str], ips: Sequence[str]
) -> tuple[bytes, str]:
    """A self-signed ECDSA P-256 TLS certificate (key PEM, cert PEM) for a gm chain's service.

    Python's TLS cannot use SM2 keys, so on gm chains the service's TLS key is
    a P-256 *transport* key whose certificate proves nothing by itself: its
    SHA-256 is published with the URL on chain (``#tls-sha256=...``) by the
    department's admin, and requesters accept only that certificate.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    alt: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    alt += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=TLS_VALIDITY_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def pin_of(cert_pem: str) -> str:
    """Hex SHA-256 of a PEM certificate's DER: what a gm service's URL pins."""
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert_pem)).hexdigest()


def _local_ca(net: Path, org: str) -> tuple[Certificate, PrivateKey]:
    ca_dir = net / "orgs" / org / "ca"
    try:
        ca_cert = load_certificate((ca_dir / "ca.pem").read_bytes())
        ca_key = get_suite(ca_cert.suite_name).load_private_key((ca_dir / "ca.key").read_bytes())
    except (OSError, CryptoError) as exc:
        raise ConfigError(
            f"the CA of {org} must be local ({ca_dir}/ca.pem, ca.key): {exc}"
        ) from None
    return ca_cert, ca_key


def _alt_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    dns: list[str] = []
    ips: list[str] = []
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name not in dns:
                dns.append(name)
            continue
        if name not in ips:
            ips.append(name)
    return dns, ips


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host
