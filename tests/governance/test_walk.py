"""The governance walk of docs/governance.md, from the CLI only, on three organisations' BFT nodes.

A real network made by ``jinglian init --orgs 3 --consensus tbft`` (one
validator per organisation, no devnet auto-approval), each node its own
process. Every step is a ``jinglian`` command as an organisation's operator
would type it:

1. org1 proposes deploying ``kv``; org2 votes yes: 2 of 3 is a majority, so
   the vote deploys it;
2. org1 (the deployer) sets a policy on ``kv.set``: 2 organisations' signatures;
   a call signed by one is refused, one endorsed by a second organisation
   (``tx create`` / ``tx sign`` / ``tx submit``) commits;
3. a fourth organisation is added by proposal and votes;
4. org2 revokes its client's certificate; that client's next transaction is
   refused;
5. ``config show --history`` lists every step with its approvals.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jinglian.client import Identity
from jinglian.client.network import load_network
from jinglian.crypto import get_suite, issue_ca_certificate
from jinglian.node.init import create_network
from jinglian.testing.process import NodeProcess, find_free_ports

REPO = Path(__file__).resolve().parents[2]
KV_SOURCE = REPO / "examples" / "contracts" / "kv.py"
ORGS = 3
NODES_MAX = 4
CLI_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("walk") / "net"
    first = find_free_ports(2 * NODES_MAX)  # a BFT network has at least four nodes
    create_network(root, ORGS, consensus="tbft", api_port=first, p2p_port=first + NODES_MAX)
    nodes = [NodeProcess(node_dir) for node_dir in sorted((root / "nodes").iterdir())]
    try:
        for node in nodes:
            node.start()
        yield root
    finally:
        for node in nodes:
            node.close()


def jl(net: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``jinglian ARGS --net NET``; check the exit status."""
    done = subprocess.run(
        [sys.executable, "-m", "jinglian.cli", *args, "--net", str(net)],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    if ok:
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    else:
        assert done.returncode != 0, f"{args} should have failed: {done.stdout}"
        assert "Traceback" not in done.stderr
    return done


def jl_json(net: Path, *args: str) -> Any:
    return json.loads(jl(net, *args, "--json").stdout)


def test_the_walk(net: Path, tmp_path: Path) -> None:
    # 1. Deploy by proposal: org1 proposes, org2 votes, 2 of 3 organisations decide.
    proposal = jl_json(
        net,
        "proposal", "create", "contract.deploy",
        "--args", '{"name": "kv"}', "--arg-file", f"source={KV_SOURCE}",
        "--identity", "org1/admin",
    )["proposal"]  # fmt: skip
    number = proposal["id"]
    assert proposal["status"] == "open"
    refused = jl(net, "tx", "invoke", "kv", "set", "--args", '{"key": "a", "value": 1}', ok=False)
    assert "unknown_contract" in refused.stderr or "no contract" in refused.stderr
    voted = jl_json(net, "proposal", "vote", str(number), "yes", "--identity", "org2/admin")
    voted = voted["proposal"]
    assert voted["status"] == "executed"
    jl(net, "proposal", "vote", str(number), "yes", "--identity", "org3/admin", ok=False)

    # 2. A method policy: kv.set needs two organisations' signatures.
    jl(net, "contract", "policy", "kv", "set", "--rule", "2", "--roles", "admin,client",
       "--identity", "org1/admin")  # fmt: skip
    single = jl(net, "tx", "invoke", "kv", "set", "--args", '{"key": "a", "value": 1}',
                "--identity", "org1/client", ok=False)  # fmt: skip
    assert "policy_not_satisfied" in single.stderr or "needs 2 of 3" in single.stderr
    payload = tmp_path / "set.json"
    jl(net, "tx", "create", "kv", "set", "--args", '{"key": "a", "value": 2}', "-o", str(payload),
       "--identity", "org1/client")  # fmt: skip
    jl(net, "tx", "sign", str(payload), "--identity", "org2/client")
    jl(net, "tx", "submit", str(payload))
    assert jl_json(net, "query", "kv", "get", "--args", '{"key": "a"}')["value"] == 2

    # 3. A fourth organisation, by proposal.
    suite = get_suite("default")
    ca_file = tmp_path / "org4-ca.pem"
    ca_file.write_text(issue_ca_certificate(suite, suite.generate_key(), "org4").pem)
    added = jl_json(
        net,
        "proposal", "create", "org.add",
        "--args", '{"id": "org4", "name": "Organisation 4"}', "--arg-file", f"ca_cert={ca_file}",
        "--identity", "org2/admin",
    )["proposal"]  # fmt: skip
    jl(net, "proposal", "vote", str(added["id"]), "yes", "--identity", "org3/admin")
    config = jl_json(net, "config", "show")
    assert [o["id"] for o in config["config"]["orgs"]] == ["org1", "org2", "org3", "org4"]

    # 4. Revoke a client's certificate: its next transaction is refused.
    jl(
        net,
        "tx",
        "invoke",
        "kv",
        "set",
        "--args",
        '{"key": "b", "value": 0}',
        "--identity",
        "org2/client",
        ok=False,
    )  # fmt: skip  (one signature: the policy again)
    # A transaction org2's client made and org1's client endorsed before the revocation...
    after = tmp_path / "after.json"
    jl(net, "tx", "create", "kv", "set", "--args", '{"key": "b", "value": 1}', "-o", str(after),
       "--identity", "org2/client")  # fmt: skip
    jl(net, "tx", "sign", str(after), "--identity", "org1/client")
    cert_id = Identity.from_network(net, "org2/client").cert_id.hex()
    jl(net, "tx", "invoke", "identity", "revoke", "--args",
       json.dumps({"cert_id": cert_id, "reason": "laptop lost"}), "--identity", "org2/admin")  # fmt: skip
    # ...is refused once the certificate is revoked.
    refused = jl(net, "tx", "submit", str(after), ok=False)
    assert "certificate_revoked" in refused.stderr, refused.stderr
    # Its reads too: every read is signed, and the node checks the signer.
    reading = jl(
        net, "query", "kv", "get", "--args", '{"key": "a"}', "--identity", "org2/client", ok=False
    )
    assert "certificate_revoked" in reading.stderr, reading.stderr
    api = load_network(net).node("node1").api_url
    assert httpx.get(f"{api}/api/v1/blocks/latest").status_code == 401  # unsigned

    # 5. Every step is in the history, with who approved it.
    history = jl_json(net, "config", "show", "--history")["history"]
    actions = [entry["action"] for entry in reversed(history)]
    assert actions == ["contract.deploy", "contract.set_policy", "org.add", "cert.revoke"]
    deploy = history[-1]
    assert deploy["proposal"] == number
    assert sorted(a["org"] for a in deploy["approvals"]) == ["org1", "org2"]
