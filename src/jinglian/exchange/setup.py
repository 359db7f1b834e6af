"""``jinglian exchange init``: the service's TLS certificate, its config file, its URL on chain."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from jinglian.apps import directory
from jinglian.client import Client, load_network
from jinglian.crypto import get_suite, issue_certificate, load_certificate
from jinglian.exchange.config import CONFIG_FILE, ExchangeConfig, load_config, render_config
from jinglian.types.errors import ConfigError, CryptoError

__all__ = ["TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_VALIDITY_DAYS", "InitResult", "init_exchange"]

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
    ``localhost``, ``127.0.0.1`` and ``names``. ``publish`` records
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
    ca_dir = net / "orgs" / org / "ca"
    try:
        ca_cert = load_certificate((ca_dir / "ca.pem").read_bytes())
        suite = get_suite(ca_cert.suite_name)
        ca_key = suite.load_private_key((ca_dir / "ca.key").read_bytes())
    except (OSError, CryptoError) as exc:
        raise ConfigError(
            f"the CA of {org} must be local ({ca_dir}/ca.pem, ca.key): {exc}"
        ) from None
    if suite.name != "default":
        raise ConfigError(
            "the exchange service runs on default-suite chains; TLS cannot use gm (SM2) "
            "certificates here (docs/exchange.md)"
        )
    shown = public_host or host
    dns, ips = _alt_names([shown, "localhost", "127.0.0.1", *names])
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
    (directory_path / "tls").mkdir(parents=True, exist_ok=True)
    key_path = directory_path / TLS_KEY_FILE
    key_path.unlink(missing_ok=True)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key.to_pem())
    (directory_path / TLS_CERT_FILE).write_text(cert.pem)
    url = f"https://{_url_host(shown)}:{port}"
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
