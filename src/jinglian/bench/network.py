"""The network under test: a fresh devnet in a temporary directory, or one attached to.

``open_target`` yields a ``Target``: the network directory (keys and
certificates to sign with), the API endpoints load goes to, and the node
process ids when the nodes run on this machine as a devnet (for CPU and
memory). ``prepare_chain`` deploys what the workload calls, registers the
signer's certificate (so transactions cite it by id) and, for ``query``,
writes the keys it will read.
"""

from __future__ import annotations

import contextlib
import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jinglian.apps.evidence import deploy_evidence_contract
from jinglian.bench.workloads import QUERY_KEYS, Workload, read_contract_source
from jinglian.client import (
    Client,
    find_network_dir,
    invoke_governed,
    load_network,
    local_approvers,
)
from jinglian.client.identity import Identity
from jinglian.testing.loadgen.signing import kv_set_args
from jinglian.testing.loadgen.submit import register_certificate
from jinglian.testing.process import NodeProcessError, detached_devnet, devnet_pids
from jinglian.types.errors import ConfigError

__all__ = ["ADMIN_IDENTITY", "SETUP_BATCH_TXS", "Target", "open_target", "prepare_chain"]

ADMIN_IDENTITY = "org1/admin"
"""Who deploys the workload's contract."""
SETUP_BATCH_TXS = 500
"""Transactions per request while ``query`` writes its keys."""
SETUP_TIMEOUT_S = 120.0
ERROR_LINE_CHARS_MAX = 300
"""A failed network start is reported with at most this much of its last output line."""

_NO_NETWORK = (
    "no network to attach to: pass --net DIR (a network directory, for its keys), set "
    "JINGLIAN_NET or run inside a network directory; or leave out --endpoint and --net "
    "to start a fresh network"
)


@dataclass(frozen=True, slots=True)
class Target:
    """The network a run loads."""

    net_dir: Path
    """Its directory: manifest, genesis, identities."""
    endpoints: tuple[str, ...]
    """API base URLs requests go to, in turn; the first also gives the block stream."""
    pids: dict[str, int]
    """Node name -> process id, when the nodes are a devnet on this machine."""
    chain_id: str
    crypto: str
    consensus: str
    nodes: int
    """Nodes in the network's manifest."""
    fresh: bool
    """Started for this run (and stopped after it)."""


@contextlib.contextmanager
def open_target(
    nodes: int,
    crypto: str,
    *,
    net: Path | None = None,
    endpoint: str | None = None,
    keep: bool = False,
) -> Iterator[Target]:
    """Attach to ``net``/``endpoint``, or start a fresh devnet of ``nodes`` and stop it after.

    ``keep`` leaves a fresh devnet running (its directory is then reported).
    """
    if net is not None or endpoint is not None:
        yield _attach(net, endpoint)
        return
    work = Path(tempfile.mkdtemp(prefix="jinglian-bench-"))
    try:
        with _devnet(work / "net", nodes, crypto, keep) as net_dir:
            yield _target(net_dir, None, fresh=True)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def _devnet(net_dir: Path, nodes: int, crypto: str, keep: bool) -> Iterator[Path]:
    """``detached_devnet``, its start failure turned into one ``ConfigError`` line."""
    try:
        devnet = detached_devnet(net_dir, nodes, crypto, keep=keep)
        running = devnet.__enter__()
    except NodeProcessError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        last = lines[-1][:ERROR_LINE_CHARS_MAX] if lines else "no output"
        raise ConfigError(
            f"could not start a fresh {nodes}-node network in {net_dir}: {last}"
        ) from exc
    try:
        yield running
    finally:
        devnet.__exit__(None, None, None)


def _attach(net: Path | None, endpoint: str | None) -> Target:
    net_dir = find_network_dir(net)
    if net_dir is None:
        raise ConfigError(_NO_NETWORK)
    return _target(net_dir, endpoint, fresh=False)


def _target(net_dir: Path, endpoint: str | None, *, fresh: bool) -> Target:
    network = load_network(net_dir)
    endpoints = (endpoint.rstrip("/"),) if endpoint else tuple(n.api_url for n in network.nodes)
    pids: dict[str, int] = {}
    if endpoint is None:
        with contextlib.suppress(ConfigError, OSError):
            pids = devnet_pids(net_dir)
    return Target(
        net_dir=net_dir,
        endpoints=endpoints,
        pids=pids,
        chain_id=network.chain_id,
        crypto=network.crypto,
        consensus=network.consensus,
        nodes=len(network.nodes),
        fresh=fresh,
    )


def prepare_chain(target: Target, workload: Workload, identity: str, by_id: bool) -> list[str]:
    """Deploy ``kv`` and the workload's contract if missing, register ``identity``'s certificate
    when ``by_id``; for ``query`` write ``QUERY_KEYS`` keys and return them.

    Deploying is a governed action: the network's local admin identities
    approve it, as ``jinglian devnet up`` does for the evidence contract.
    """
    network = load_network(target.net_dir)
    admin = Identity.from_network(target.net_dir, ADMIN_IDENTITY)
    approvers = local_approvers(network, first_org=admin.cert.org_id)
    url = target.endpoints[0]
    with Client(url, admin) as client:
        deployed = set(client.query("contracts", "list").value)
        if "kv" not in deployed:
            _deploy(client, "kv", _kv_source(), approvers)
        if workload.contract not in deployed | {"kv"}:
            if workload.source is None:
                deploy_evidence_contract(client, workload.contract, approvers=approvers)
            else:
                _deploy(client, workload.contract, read_contract_source(workload), approvers)
    if by_id:
        register_certificate(url, target.net_dir, identity, target.chain_id)
    if workload.is_query:
        return _write_query_keys(target, identity)
    return []


def _deploy(client: Client, name: str, source: str, approvers: list[Identity]) -> None:
    invoke_governed(
        client, "contracts", "deploy", {"name": name, "source": source}, approvers=approvers
    )


def _kv_source() -> str:
    from jinglian.bench.workloads import WORKLOADS

    return read_contract_source(WORKLOADS["kv"])


def _write_query_keys(target: Target, identity_name: str) -> list[str]:
    """Commit ``QUERY_KEYS`` ``kv.set`` transactions; their keys."""
    identity = Identity.from_network(target.net_dir, identity_name)
    rng = random.Random(random.SystemRandom().getrandbits(64))
    keys, txs = [], []
    for _ in range(QUERY_KEYS):
        args = kv_set_args(rng)
        keys.append(args["key"])
        txs.append(identity.sign_tx(target.chain_id, "kv", "set", args))
    with Client(target.endpoints[0], identity) as client:
        for first in range(0, len(txs), SETUP_BATCH_TXS):
            ids = client.submit_many(txs[first : first + SETUP_BATCH_TXS])
            for tx_id in ids:
                if isinstance(tx_id, Exception):
                    raise tx_id
                client.wait_tx(tx_id, timeout=SETUP_TIMEOUT_S)
    return keys
