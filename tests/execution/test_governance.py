"""Governance on chain, contract by contract: policies, proposals, votes, safety rules, history.

Runs the real system contracts on the in-memory harness with a three-organisation
config; each refused change must leave the config (and all state) as it was.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from jinglian.crypto import get_suite, issue_ca_certificate, issue_certificate
from jinglian.execution import Sender
from jinglian.execution.testing import ContractHarness, harness_config
from jinglian.types.errors import (
    ContractFrozen,
    InvalidInput,
    JinglianError,
    NotFound,
    PermissionDenied,
    PolicyNotSatisfied,
    ProposalClosed,
    SandboxViolation,
    UnknownContract,
    UnsafeChange,
)

SUITE = get_suite("default")
PAST = 1_690_000_000_000
"""Before the harness's block times: certificates issued then are valid in its blocks."""
KV = "from jinglian.contract import invoke, query\n\n@invoke\ndef set(ctx, key, value):\n    ctx.state.set(key, value)\n\n@query\ndef get(ctx, key):\n    return ctx.state.get(key)\n"


def _sender(org: str, role: str = "admin") -> Sender:
    return Sender(
        org=org,
        role=role,
        cert_id=f"{org}-{role}".encode().ljust(32, b"."),
        common_name=f"{role}@{org}",
    )


A1, A2, A3, A4 = (_sender(f"org{i}") for i in range(1, 5))
C1 = _sender("org1", "client")


@pytest.fixture
def chain() -> ContractHarness:
    return ContractHarness(config=harness_config(("org1", "org2", "org3")))


def _config(chain: ContractHarness) -> dict[str, Any]:
    return chain.query("chain_config", "get").value  # type: ignore[no-any-return]


def _refused(chain: ContractHarness, error: type[JinglianError], *call: Any, **kw: Any) -> str:
    before = chain.state.snapshot()
    with pytest.raises(error) as raised:
        chain.invoke(*call, **kw)
    assert chain.state.snapshot() == before
    return raised.value.message


def _ca_pem(org_id: str) -> str:
    return issue_ca_certificate(SUITE, SUITE.generate_key(), org_id).pem


# -- endorsements ----------------------------------------------------------------------------


def test_deploy_needs_a_majority_of_organisations(chain: ContractHarness) -> None:
    args = {"name": "kv", "source": KV}
    message = _refused(chain, PolicyNotSatisfied, "contracts", "deploy", args, sender=A1)
    assert "needs 2 of 3 organisations" in message and "approved by 1 (org1)" in message
    # Two certificates of one organisation count once.
    other_org1 = Sender("org1", "admin", b"x" * 32, "admin2@org1")
    _refused(
        chain, PolicyNotSatisfied, "contracts", "deploy", args, sender=A1, endorsers=(other_org1,)
    )
    # A client's endorsement does not count for an admin policy.
    _refused(
        chain,
        PolicyNotSatisfied,
        "contracts",
        "deploy",
        args,
        sender=A1,
        endorsers=(_sender("org2", "client"),),
    )
    chain.invoke("contracts", "deploy", args, sender=A1, endorsers=(A2,))
    history = chain.query("governance", "history").value
    assert history[0]["action"] == "contract.deploy"
    assert [a["org"] for a in history[0]["approvals"]] == ["org1", "org2"]
    assert history[0]["args"]["source"]["bytes"] == len(KV.encode())


def test_user_contract_cannot_reach_governed_methods(chain: ContractHarness) -> None:
    sneaky = (
        "from jinglian.contract import invoke\n\n@invoke\ndef go(ctx):\n"
        "    ctx.call('chain_config', 'remove_org', {'id': 'org3'})\n"
    )
    chain.invoke(
        "contracts", "deploy", {"name": "sneaky", "source": sneaky}, sender=A1, endorsers=(A2, A3)
    )
    message = _refused(chain, PermissionDenied, "sneaky", "go", {}, sender=A1, endorsers=(A2, A3))
    assert "not by contract 'sneaky'" in message
    _refused(
        chain,
        PermissionDenied,
        "governance",
        "record",
        {"action": "x", "args": {}, "approvals": []},
        sender=A1,
    )


# -- proposals -------------------------------------------------------------------------------


def test_proposal_executes_on_the_vote_that_meets_the_policy(chain: ContractHarness) -> None:
    proposal = chain.invoke(
        "governance",
        "propose",
        {"action": "contract.deploy", "args": {"name": "kv", "source": KV}},
        sender=A1,
    ).value
    assert (proposal["id"], proposal["status"], proposal["needed"]) == (1, "open", 2)
    with pytest.raises(UnknownContract):
        chain.query("contracts", "get", {"name": "kv"})
    voted = chain.invoke("governance", "vote", {"id": 1, "approve": True}, sender=A2).value
    assert voted["status"] == "executed" and voted["executed_height"] == chain.height - 1
    assert chain.query("contracts", "get", {"name": "kv"}).value["version"] == 1
    history = chain.query("governance", "history").value
    assert history[0]["proposal"] == 1 and [a["org"] for a in history[0]["approvals"]] == [
        "org1",
        "org2",
    ]
    # Executed: no more votes.
    _refused(chain, ProposalClosed, "governance", "vote", {"id": 1, "approve": True}, sender=A3)


def test_bad_votes_are_refused(chain: ContractHarness) -> None:
    chain.invoke(
        "governance",
        "propose",
        {"action": "org.remove", "args": {"id": "org3"}, "expires_blocks": 3},
        sender=A1,
    )
    _refused(
        chain,
        PermissionDenied,
        "governance",
        "vote",
        {"id": 1, "approve": True},
        sender=_sender("org2", "client"),
    )
    _refused(
        chain,
        InvalidInput,
        "governance",
        "vote",
        {"id": 1, "approve": True},
        sender=Sender("org1", "admin", b"y" * 32, "other@org1"),
    )
    _refused(chain, InvalidInput, "governance", "vote", {"id": 1, "approve": "yes"}, sender=A2)
    _refused(chain, NotFound, "governance", "vote", {"id": 9, "approve": True}, sender=A2)
    _refused(
        chain,
        PermissionDenied,
        "governance",
        "propose",
        {"action": "org.remove", "args": {"id": "org3"}},
        sender=C1,
    )
    _refused(
        chain,
        InvalidInput,
        "governance",
        "propose",
        {"action": "org.explode", "args": {}},
        sender=A1,
    )
    _refused(
        chain,
        InvalidInput,
        "governance",
        "propose",
        {"action": "org.remove", "args": {"id": "org3"}, "expires_blocks": 0},
        sender=A1,
    )
    chain.height += 5  # past the proposal's last block
    assert chain.query("governance", "get", {"id": 1}).value["status"] == "expired"
    _refused(chain, ProposalClosed, "governance", "vote", {"id": 1, "approve": True}, sender=A2)
    assert [o["id"] for o in _config(chain)["orgs"]] == ["org1", "org2", "org3"]


def test_no_votes_reject_a_proposal(chain: ContractHarness) -> None:
    chain.invoke(
        "governance",
        "propose",
        {"action": "params.set", "args": {"params": {"block_interval_ms": 200}}},
        sender=A1,
    )
    chain.invoke("governance", "vote", {"id": 1, "approve": False}, sender=A2)
    record = chain.invoke("governance", "vote", {"id": 1, "approve": False}, sender=A3).value
    assert record["status"] == "rejected"
    assert _config(chain)["params"]["block_interval_ms"] == 50
    assert [p["id"] for p in chain.query("governance", "list", {"status": "rejected"}).value] == [1]


def test_a_proposal_whose_action_fails_stays_open(chain: ContractHarness) -> None:
    bad = "import os\n"
    chain.invoke(
        "governance",
        "propose",
        {"action": "contract.deploy", "args": {"name": "bad", "source": bad}},
        sender=A1,
    )
    _refused(chain, SandboxViolation, "governance", "vote", {"id": 1, "approve": True}, sender=A2)
    assert chain.query("governance", "get", {"id": 1}).value["status"] == "open"


# -- what governance controls -----------------------------------------------------------------


def test_org_add_and_remove(chain: ContractHarness) -> None:
    pem = _ca_pem("org4")
    chain.invoke(
        "chain_config",
        "add_org",
        {"id": "org4", "name": "Org 4", "ca_cert": pem},
        sender=A1,
        endorsers=(A2,),
    )
    assert [o["id"] for o in _config(chain)["orgs"]] == ["org1", "org2", "org3", "org4"]
    # Four members: a majority is now 3.
    assert chain.query("chain_config", "policy", {"resource": "org.remove"}).value["needed"] == 3
    _refused(
        chain,
        PolicyNotSatisfied,
        "chain_config",
        "remove_org",
        {"id": "org4"},
        sender=A1,
        endorsers=(A2,),
    )
    chain.invoke("chain_config", "remove_org", {"id": "org4"}, sender=A1, endorsers=(A2, A3))
    assert len(_config(chain)["orgs"]) == 3


def test_bad_org_changes_are_refused(chain: ContractHarness) -> None:
    both = {"sender": A1, "endorsers": (A2,)}
    # A CA that claims an existing member's organisation, offered as a new one.
    message = _refused(
        chain,
        InvalidInput,
        "chain_config",
        "add_org",
        {"id": "org9", "name": "x", "ca_cert": _ca_pem("org1")},
        **both,
    )
    assert "names organisation 'org1'" in message
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "add_org",
        {"id": "org2", "name": "x", "ca_cert": _ca_pem("org2")},
        **both,
    )
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "add_org",
        {"id": "org9", "name": "x", "ca_cert": "not a pem"},
        **both,
    )
    key = SUITE.generate_key()
    ca = issue_ca_certificate(SUITE, key, "org9")
    leaf = issue_certificate(
        SUITE, key, ca, SUITE.generate_key().public_key(), "org9", "client", "u"
    )
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "add_org",
        {"id": "org9", "name": "x", "ca_cert": leaf.pem},
        **both,
    )
    _refused(
        chain,
        UnsafeChange,
        "chain_config",
        "add_org",
        {"id": "Org.9", "name": "x", "ca_cert": _ca_pem("Org.9")},
        **both,
    )
    # The validators' organisation cannot leave while it runs them.
    _refused(chain, UnsafeChange, "chain_config", "remove_org", {"id": "org1"}, **both)


def test_last_organisation_cannot_be_removed() -> None:
    chain = ContractHarness()
    message = _refused(chain, UnsafeChange, "chain_config", "remove_org", {"id": "org1"}, sender=A1)
    assert "last organisation" in message


def test_params_and_policies(chain: ContractHarness) -> None:
    both = {"sender": A1, "endorsers": (A2,)}
    chain.invoke(
        "chain_config",
        "set_params",
        {"params": {"block_interval_ms": 200, "empty_blocks": True}},
        **both,
    )
    assert _config(chain)["params"]["block_interval_ms"] == 200
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "set_params",
        {"params": {"block_interval_ms": 0}},
        **both,
    )
    _refused(chain, InvalidInput, "chain_config", "set_params", {"params": {"nonsense": 1}}, **both)
    _refused(
        chain, InvalidInput, "chain_config", "set_params", {"params": {"empty_blocks": 1}}, **both
    )
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "set_params",
        {"params": {"tx_bytes_max": 10**9}},
        **both,
    )
    chain.invoke(
        "chain_config",
        "set_policy",
        {"resource": "contract.deploy", "policy": {"rule": "ALL", "roles": ["admin"]}},
        **both,
    )
    _refused(chain, PolicyNotSatisfied, "contracts", "deploy", {"name": "kv", "source": KV}, **both)
    chain.invoke("contracts", "deploy", {"name": "kv", "source": KV}, sender=A1, endorsers=(A2, A3))
    message = _refused(
        chain,
        UnsafeChange,
        "chain_config",
        "set_policy",
        {"resource": "policy.set", "policy": {"rule": "FORBIDDEN"}},
        **both,
    )
    assert "satisfiable" in message
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "set_policy",
        {"resource": "tx.submit", "policy": {"rule": "7/3"}},
        **both,
    )
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "set_policy",
        {"resource": "nothing", "policy": {"rule": "ANY"}},
        **both,
    )


def test_validator_changes_keep_the_chain_safe() -> None:
    chain = ContractHarness(config=harness_config(("org1", "org2", "org3"), validators=5))
    both = {"sender": A1, "endorsers": (A2,)}
    chain.invoke("chain_config", "remove_validator", {"name": "node5"}, **both)
    message = _refused(
        chain, UnsafeChange, "chain_config", "remove_validator", {"name": "node4"}, **both
    )
    assert "cannot tolerate a faulty one" in message
    message = _refused(
        chain,
        UnsafeChange,
        "chain_config",
        "set_validator_power",
        {"name": "node1", "power": 3},
        **both,
    )
    assert "moves 2 of 4 voting power" in message
    chain.invoke("chain_config", "set_validator_power", {"name": "node1", "power": 2}, **both)
    assert [v["power"] for v in _config(chain)["validators"]] == [2, 1, 1, 1]
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "set_validator_power",
        {"name": "node1", "power": 0},
        **both,
    )
    _refused(chain, NotFound, "chain_config", "remove_validator", {"name": "node9"}, **both)
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "add_validator",
        {"name": "node9", "org": "org2", "cert": "x"},
        **both,
    )
    solo = ContractHarness()
    message = _refused(
        solo,
        UnsafeChange,
        "chain_config",
        "set_validator_power",
        {"name": "node1", "power": 2},
        sender=A1,
    )
    assert "solo" in message


def test_contract_lifecycle(chain: ContractHarness) -> None:
    both = {"sender": A1, "endorsers": (A2,)}
    chain.invoke("contracts", "deploy", {"name": "kv", "source": KV}, **both)
    chain.invoke("kv", "set", {"key": "a", "value": 1}, sender=C1)
    chain.invoke("contracts", "freeze", {"name": "kv"}, **both)
    _refused(chain, ContractFrozen, "kv", "set", {"key": "a", "value": 2}, sender=C1)
    assert chain.query("kv", "get", {"key": "a"}).value == 1  # queries still answer
    chain.invoke("contracts", "unfreeze", {"name": "kv"}, **both)
    chain.invoke("kv", "set", {"key": "a", "value": 2}, sender=C1)
    # An upgrade that fails the sandbox leaves the old version.
    _refused(
        chain,
        SandboxViolation,
        "contracts",
        "upgrade",
        {"name": "kv", "source": "import os\n"},
        **both,
    )
    assert chain.query("contracts", "get", {"name": "kv"}).value["version"] == 1
    chain.invoke("contracts", "revoke", {"name": "kv"}, **both)
    _refused(chain, ContractFrozen, "kv", "set", {"key": "a", "value": 3}, sender=C1)
    _refused(chain, ContractFrozen, "contracts", "unfreeze", {"name": "kv"}, **both)
    _refused(chain, ContractFrozen, "contracts", "upgrade", {"name": "kv", "source": KV}, **both)


def test_method_policy_needs_the_endorsements(chain: ContractHarness) -> None:
    chain.invoke("contracts", "deploy", {"name": "kv", "source": KV}, sender=A1, endorsers=(A2,))
    two_orgs = {"rule": "2", "roles": ["admin", "client"]}
    # Only the deployer's organisation sets its method policies (SELF).
    _refused(
        chain,
        PolicyNotSatisfied,
        "contracts",
        "set_policy",
        {"name": "kv", "method": "set", "policy": two_orgs},
        sender=A2,
    )
    _refused(
        chain,
        InvalidInput,
        "contracts",
        "set_policy",
        {"name": "kv", "method": "get", "policy": two_orgs},
        sender=A1,
    )
    chain.invoke(
        "contracts", "set_policy", {"name": "kv", "method": "set", "policy": two_orgs}, sender=A1
    )
    message = _refused(chain, PolicyNotSatisfied, "kv", "set", {"key": "a", "value": 1}, sender=C1)
    assert message.startswith("kv.set: needs 2 of 3")
    chain.invoke(
        "kv", "set", {"key": "a", "value": 1}, sender=C1, endorsers=(_sender("org2", "client"),)
    )
    assert chain.query("kv", "get", {"key": "a"}).value == 1
    chain.invoke(
        "contracts", "set_policy", {"name": "kv", "method": "set", "policy": None}, sender=A1
    )
    chain.invoke("kv", "set", {"key": "a", "value": 2}, sender=C1)


def test_ca_update_and_validator_add_with_real_certificates() -> None:
    keys = {org: SUITE.generate_key() for org in ("org1", "org2", "org3")}
    cas = {org: issue_ca_certificate(SUITE, key, org, now_ms=PAST) for org, key in keys.items()}
    base = harness_config(("org1", "org2", "org3"), validators=4)
    orgs = tuple(dataclasses.replace(o, ca_cert=cas[o.id].pem) for o in base.orgs)
    chain = ContractHarness(config=dataclasses.replace(base, orgs=orgs))
    both = {"sender": A1, "endorsers": (A2,)}
    node_key = SUITE.generate_key().public_key()
    signing = issue_certificate(
        SUITE,
        keys["org2"],
        cas["org2"],
        node_key,
        "org2",
        "consensus",
        "node5",
        now_ms=PAST,
        validity_days=3650,
    )
    client = issue_certificate(
        SUITE,
        keys["org2"],
        cas["org2"],
        node_key,
        "org2",
        "client",
        "c",
        now_ms=PAST,
        validity_days=3650,
    )
    bad = {"name": "node5", "org": "org2", "cert": client.pem}
    assert "role consensus" in _refused(
        chain, InvalidInput, "chain_config", "add_validator", bad, **both
    )
    wrong_org = {"name": "node5", "org": "org3", "cert": signing.pem}
    _refused(chain, InvalidInput, "chain_config", "add_validator", wrong_org, **both)
    chain.invoke(
        "chain_config",
        "add_validator",
        {"name": "node5", "org": "org2", "cert": signing.pem},
        **both,
    )
    assert [v["name"] for v in _config(chain)["validators"]][-1] == "node5"
    new_ca = issue_ca_certificate(SUITE, SUITE.generate_key(), "org3", now_ms=PAST)
    chain.invoke("chain_config", "update_org_ca", {"id": "org3", "ca_cert": new_ca.pem}, **both)
    assert _config(chain)["orgs"][2]["ca_cert"] == new_ca.pem
    other = issue_ca_certificate(SUITE, SUITE.generate_key(), "org2", now_ms=PAST)
    _refused(
        chain,
        InvalidInput,
        "chain_config",
        "update_org_ca",
        {"id": "org3", "ca_cert": other.pem},
        **both,
    )
    history = chain.query("governance", "history").value
    assert [h["action"] for h in history[:2]] == ["org.update_ca", "validator.add"]
    assert all(h["config_hash"] for h in history[:2])
