"""The governance commands: payload files offline, then a real three-organisation solo network.

Offline: ``tx create|sign|show`` against an unreachable endpoint, and every
way a payload file can be malformed, each one error line and exit code 1.
Online: ``jinglian init --orgs 3 --consensus solo`` and ``jinglian node
start`` (a real process); deploys refused for too few organisations, then
approved by a payload file, by a proposal and votes, and by devnet
auto-approval; a method policy; freeze; ``config show`` with history and
proofs.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from jinglian.cli import cli
from jinglian.client import Client, invoke_governed, load_network, local_approvers
from jinglian.testing.process import NodeProcess, find_free_ports

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "contracts"
KV = EXAMPLES / "kv.py"
UNREACHABLE = "http://127.0.0.1:9"
_names = count(1)


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert result.stderr == "" or "Traceback" not in result.stderr
    return result.stdout


def _one_error_line(result: Result, code: str, exit_code: int = 1) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and lines[0].endswith(f"({code})"), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def _name(prefix: str = "c") -> str:
    return f"{prefix}{next(_names)}"


# -- offline: payload files ----------------------------------------------------------------------


@pytest.fixture()
def created(network_dir: Path, tmp_path: Path) -> Path:
    """A payload file of a deploy signed by org1's admin (no node needed)."""
    path = tmp_path / "deploy.json"
    result = _run(
        "tx", "create", "contracts", "deploy", "--args", '{"name": "kv"}',
        "--arg-file", f"source={KV}", "-o", str(path),
        "--net", str(network_dir), "--endpoint", UNREACHABLE,
    )  # fmt: skip
    out = _ok(result)
    assert "signed by  1. org1/admin (admin.org1)" in out
    assert "policy     not checked: no node answered" in out
    return path


def _offline(net: Path, *args: str) -> Result:
    return _run(*args, "--net", str(net), "--endpoint", UNREACHABLE)


def test_create_sign_show_offline(network_dir: Path, created: Path) -> None:
    document = json.loads(created.read_text())
    assert document["format"] == "jinglian-tx-payload" and document["version"] == 1
    assert document["args"]["source"] == KV.read_text()
    signed = _ok(_offline(network_dir, "tx", "sign", str(created), "--identity", "org2/admin"))
    assert "           2. org2/admin (admin.org2)" in signed
    shown = json.loads(_ok(_offline(network_dir, "tx", "show", str(created), "--json")))
    assert [e["org"] for e in shown["endorsements"]] == ["org1", "org2"]
    assert shown["resource"] == "contract.deploy" and shown["policy"] is None
    assert shown["tx_id"] == document["tx_id"] and shown["expired"] is False
    again = _offline(network_dir, "tx", "sign", str(created), "--identity", "org2/admin")
    assert "already endorsed by org2/admin" in _one_error_line(again, "invalid_transaction")


def test_create_refuses_to_overwrite_and_bad_arg_files(network_dir: Path, created: Path) -> None:
    base = ("tx", "create", "kv", "set", "-o", str(created))
    assert "exists; pass --force" in _one_error_line(_offline(network_dir, *base), "invalid_input")
    _ok(_offline(network_dir, *base, "--force"))
    bad = _offline(network_dir, *base, "--force", "--arg-file", "source")
    assert "NAME=PATH" in _one_error_line(bad, "invalid_input")
    both = _offline(network_dir, *base, "--force", "--args", '{"a": 1}', "--arg-file", f"a={KV}")
    assert "both --args and --arg-file" in _one_error_line(both, "invalid_input")
    missing = _offline(network_dir, *base, "--force", "--arg-file", "a=/nonexistent")
    assert "cannot read /nonexistent" in _one_error_line(missing, "config_error")


def _edit(path: Path, change: Any) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def _tamper_payload(document: dict[str, Any]) -> None:
    payload = bytearray(base64.b64decode(document["payload"]))
    index = payload.index(b"kv")
    payload[index : index + 2] = b"KV"
    document["payload"] = base64.b64encode(bytes(payload)).decode()


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (lambda d: d.update(version="1"), "invalid_input", "version '1' is not supported"),
        (lambda d: d.update(endorsements="x"), "invalid_input", "non-empty list"),
        (lambda d: d.update(timestamp_ms=1), "invalid_input", "timestamp_ms does not match"),
        (lambda d: d.pop("payload"), "invalid_input", "missing ['payload']"),
        (_tamper_payload, "invalid_signature", "does not verify over the payload"),
        (
            lambda d: d["endorsements"].append(d["endorsements"][0]),
            "invalid_input",
            "repeats a certificate",
        ),
    ],
)
def test_invalid_payload_files(
    network_dir: Path, created: Path, change: Any, code: str, words: str
) -> None:
    _edit(created, change)
    for command in ("show", "sign", "submit"):
        line = _one_error_line(_offline(network_dir, "tx", command, str(created)), code)
        assert line.startswith(f"error: {created}: ") and words in line


def test_invalid_payload_file_bytes(network_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text("{not json")
    line = _one_error_line(_offline(network_dir, "tx", "show", str(path)), "invalid_input")
    assert "not valid JSON" in line
    path.write_bytes(b" " * (1024 * 1024 + 1))
    line = _one_error_line(_offline(network_dir, "tx", "show", str(path)), "too_large")
    assert "larger than 1048576 bytes" in line
    line = _one_error_line(
        _offline(network_dir, "tx", "show", str(tmp_path / "none.json")), "config_error"
    )
    assert "cannot read" in line


def test_invalid_payload_file_of_another_chain(network_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _ok(_run("init", str(other), "--orgs", "1", "--consensus", "solo", "--chain-id", "prod"))
    path = tmp_path / "p.json"
    _ok(_offline(other, "tx", "create", "kv", "set", "-o", str(path)))
    for command in ("show", "sign", "submit"):
        line = _one_error_line(_offline(network_dir, "tx", command, str(path)), "wrong_chain")
        assert "for chain 'prod', but this network is 'jinglian-dev'" in line


def test_sign_refuses_an_expired_file(network_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    _ok(_offline(network_dir, "tx", "create", "kv", "set", "-o", str(path), "--expiry", "1"))
    time.sleep(1.1)
    line = _one_error_line(_offline(network_dir, "tx", "sign", str(path)), "transaction_expired")
    assert "create a new one" in line
    assert "(EXPIRED)" in _ok(_offline(network_dir, "tx", "show", str(path)))


def test_usage_errors_before_any_node(network_dir: Path) -> None:
    unknown = _offline(network_dir, "proposal", "create", "contract.launch")
    assert "unknown action 'contract.launch'" in _one_error_line(unknown, "invalid_input")
    neither = _offline(network_dir, "contract", "policy", "kv", "set")
    _one_error_line(neither, "usage_error", exit_code=2)
    both = _offline(network_dir, "contract", "policy", "kv", "set", "--rule", "ANY", "--clear")
    _one_error_line(both, "usage_error", exit_code=2)
    rule = _offline(network_dir, "contract", "policy", "kv", "set", "--rule", "SOME")
    assert "policy rule 'SOME'" in _one_error_line(rule, "invalid_input")
    vote = _offline(network_dir, "proposal", "vote", "1", "maybe")
    _one_error_line(vote, "usage_error", exit_code=2)


# -- online: a three-organisation solo network ---------------------------------------------------


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`jinglian init --orgs 3 --consensus solo`, node1 started with `jinglian node start`."""
    root = tmp_path_factory.mktemp("gov") / "net"
    api, p2p = find_free_ports(3), find_free_ports(3)
    _ok(_run(
        "init", str(root), "--orgs", "3", "--consensus", "solo",
        "--api-port", str(api), "--p2p-port", str(p2p),
    ))  # fmt: skip
    with NodeProcess(root / "nodes" / "node1") as node:
        node.start()
        yield root


@pytest.fixture(scope="module")
def devnet_copy(net: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same network's manifest and identities, marked ``"devnet": true``."""
    copy = tmp_path_factory.mktemp("gov") / "devnet"
    shutil.copytree(net / "orgs", copy / "orgs")
    shutil.copy(net / "genesis.json", copy / "genesis.json")
    manifest = json.loads((net / "network.json").read_text())
    (copy / "network.json").write_text(json.dumps({**manifest, "devnet": True}))
    return copy


def _on(net: Path, *args: str) -> Result:
    return _run(*args, "--net", str(net))


def _deployed(net: Path, name: str) -> bool:
    names = json.loads(_ok(_on(net, "contract", "list", "--json")))
    return any((n if isinstance(n, str) else n.get("name")) == name for n in names)


def test_deploy_refused_for_too_few_orgs_then_approved_by_a_payload_file(
    net: Path, tmp_path: Path
) -> None:
    name = _name("kv")
    refused = _on(net, "contract", "deploy", name, str(KV))
    line = _one_error_line(refused, "policy_not_satisfied")
    assert "needs 2 of 3 organisations" in line and "nothing was submitted" in line
    assert "1 more organisation must approve" in line
    assert "jinglian tx create contracts deploy" in line and "jinglian proposal create" in line
    assert not _deployed(net, name)

    path = tmp_path / "deploy.json"
    args = json.dumps({"name": name})
    created = _ok(_on(net, "tx", "create", "contracts", "deploy", "--args", args,
                      "--arg-file", f"source={KV}", "-o", str(path)))  # fmt: skip
    assert "approved by 1 (org1); 1 more organisation must sign" in created
    too_few = _on(net, "tx", "submit", str(path))
    assert f"jinglian tx sign {path}" in _one_error_line(too_few, "policy_not_satisfied")
    path.unlink()
    _ok(_on(net, "tx", "create", "contracts", "deploy", "--args", args,
            "--arg-file", f"source={KV}", "-o", str(path)))  # fmt: skip
    signed = _ok(_on(net, "tx", "sign", str(path), "--identity", "org3/admin"))
    assert "approved by 2 of 3 organisations (org1, org3); ready to submit" in signed
    submitted = json.loads(_ok(_on(net, "tx", "submit", str(path), "--json")))
    assert submitted["status"] == "ok"
    assert _deployed(net, name)
    shown = json.loads(_ok(_on(net, "tx", "show", str(path), "--json")))
    assert shown["committed"]["height"] == submitted["height"]
    assert shown["policy"]["approving"] == ["org1", "org3"]


def test_deploy_by_proposal_and_votes(net: Path) -> None:
    name = _name("kv")
    made = _on(net, "proposal", "create", "contract.deploy", "--args", json.dumps({"name": name}),
               "--arg-file", f"source={KV}", "--expires", "500", "--json")  # fmt: skip
    record = json.loads(_ok(made))["proposal"]
    assert record["status"] == "open" and record["needed"] == 2
    assert record["votes"][0]["org"] == "org1" and record["proposer"]["role"] == "admin"
    proposal_id = str(record["id"])
    listed = _ok(_on(net, "proposal", "list", "--status", "open"))
    assert f"{proposal_id:>5}  contract.deploy" in listed
    twice = _on(net, "proposal", "vote", proposal_id, "yes")
    assert "already voted" in _one_error_line(twice, "invalid_input")
    client_vote = _on(net, "proposal", "vote", proposal_id, "yes", "--identity", "org2/client")
    _one_error_line(client_vote, "permission_denied")
    voted = _ok(_on(net, "proposal", "vote", proposal_id, "yes", "--identity", "org2/admin"))
    assert f"proposal   {proposal_id}  contract.deploy  executed at block" in voted
    assert "org2/admin yes" in voted
    assert _deployed(net, name)
    closed = _on(net, "proposal", "vote", proposal_id, "no", "--identity", "org3/admin")
    assert "executed" in _one_error_line(closed, "proposal_closed")
    shown = json.loads(_ok(_on(net, "proposal", "show", proposal_id, "--json")))
    assert shown["status"] == "executed" and len(shown["votes"]) == 2
    history = json.loads(_ok(_on(net, "config", "show", "--history", "--json")))["history"]
    mine = [h for h in history if h["args"].get("name") == name]
    assert mine[0]["proposal"] == int(proposal_id)
    assert [a["org"] for a in mine[0]["approvals"]] == ["org1", "org2"]
    missing = _on(net, "proposal", "show", "999")
    _one_error_line(missing, "not_found")


def test_devnet_auto_approval(net: Path, devnet_copy: Path) -> None:
    name = _name("kv")
    out = _ok(_on(devnet_copy, "contract", "deploy", name, str(KV)))
    assert f"deployed contract {name}" in out
    assert "approved org1, org2 (MAJORITY of admin: 2 of 3 organisations)" in out
    assert "devnet auto-approval: org2 endorsed with their local admin identities" in out
    frozen = json.loads(_ok(_on(devnet_copy, "contract", "freeze", name, "--json")))
    assert frozen["approved_by"] == ["org1", "org2"] and frozen["auto_approved"] == ["org2"]
    assert frozen["devnet_auto_approval"] is True
    show = json.loads(_ok(_on(net, "contract", "show", name, "--json")))
    assert show["status"] == "frozen"
    call = _on(net, "tx", "invoke", name, "set", "--args", '{"key": "a", "value": 1}')
    _one_error_line(call, "contract_frozen")
    _ok(_on(devnet_copy, "contract", "unfreeze", name, "--identity", "org3/admin"))
    _ok(_on(net, "tx", "invoke", name, "set", "--args", '{"key": "a", "value": 1}'))
    refused = _on(net, "contract", "revoke", name)
    assert "1 more organisation" in _one_error_line(refused, "policy_not_satisfied")
    assert json.loads(_ok(_on(net, "contract", "show", name, "--json")))["status"] == "active"


def _deploy_by_sdk(net: Path, name: str) -> None:
    with Client.from_network(net) as client:
        invoke_governed(
            client, "contracts", "deploy", {"name": name, "source": KV.read_text()},
            approvers=local_approvers(load_network(net)),
        )  # fmt: skip


def test_method_policy_needs_two_organisations(net: Path, tmp_path: Path) -> None:
    name = _name("kv")
    _deploy_by_sdk(net, name)
    other_org = _on(
        net, "contract", "policy", name, "set", "--rule", "2", "--identity", "org2/admin"
    )
    assert "needs the approval of an admin of org1" in _one_error_line(
        other_org, "policy_not_satisfied"
    )
    set_out = _ok(
        _on(net, "contract", "policy", name, "set", "--rule", "2", "--roles", "admin,client")
    )
    assert f"policy of {name}.set: 2 of admin/client" in set_out
    policies = json.loads(_ok(_on(net, "contract", "show", name, "--json")))["policies"]
    assert policies == {"set": {"rule": "2", "roles": ["admin", "client"], "orgs": []}}
    single = _on(net, "tx", "invoke", name, "set", "--args", '{"key": "a", "value": 1}')
    assert "needs 2 of 3 organisations" in _one_error_line(single, "policy_not_satisfied")
    path = tmp_path / "set.json"
    _ok(_on(net, "tx", "create", name, "set", "--args", '{"key": "a", "value": 2}', "-o",
            str(path), "--identity", "org1/client"))  # fmt: skip
    signed = _ok(_on(net, "tx", "sign", str(path), "--identity", "org2/client"))
    assert f"{name}.set (2 of admin/client): approved by 2 of 3 organisations" in signed
    _ok(_on(net, "tx", "submit", str(path)))
    value = _ok(_on(net, "query", name, "get", "--args", '{"key": "a"}'))
    assert value.strip() == "2"
    _ok(_on(net, "contract", "policy", name, "set", "--clear"))
    _ok(_on(net, "tx", "invoke", name, "set", "--args", '{"key": "a", "value": 3}'))


def test_config_show(net: Path) -> None:
    head = _ok(_on(net, "config", "show", "--verify"))
    assert "proven   config: 1 state read; verified block" in head
    assert "  org1         Organisation 1" in head
    assert "  node1        org1         power 1" in head
    assert "  contract.deploy          MAJORITY of admin" in head
    genesis = json.loads(_ok(_on(net, "config", "show", "--at", "0", "--json")))
    assert genesis["height"] == 0 and genesis["verified"] is False
    assert [o["id"] for o in genesis["config"]["orgs"]] == ["org1", "org2", "org3"]
    assert genesis["config"]["policies"]["cert.revoke"]["rule"] == "SELF"
    with_history = _ok(_on(net, "config", "show", "--history", "--verify", "--limit", "5"))
    assert "proven   history:" in with_history and "history (newest first)" in with_history
    at_zero = _ok(_on(net, "config", "show", "--at", "0", "--history"))
    assert "(no governed actions yet)" in at_zero


def test_only_a_devnet_network_says_devnet(tmp_path: Path) -> None:
    from jinglian.cli.devnet import create_network

    api, p2p = find_free_ports(1), find_free_ports(1)
    devnet = create_network(tmp_path / "dev", 1, "default", api, p2p)
    assert devnet.devnet is True
    assert json.loads((tmp_path / "dev" / "network.json").read_text())["devnet"] is True
    _ok(_run("init", str(tmp_path / "plain"), "--orgs", "2", "--consensus", "solo"))
    assert load_network(tmp_path / "plain").devnet is False
    assert "devnet" not in json.loads((tmp_path / "plain" / "network.json").read_text())
