"""What every governed system-contract method does first: check who approved it.

A governed method (``types.policy.GOVERNED_METHODS``) runs in one of two ways:

- called by a transaction: the distinct organisations of the transaction's
  endorsements (``ctx.endorsers``) must meet the resource's policy in the
  chain config in force; the approvals are written to the governance history;
- called by the ``governance`` contract, when the votes on a proposal met the
  policy: the proposal is the approval, and governance writes the history.

Any other caller (a user contract reaching a system method with ``ctx.call``)
is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinglian.execution._context import Context
from jinglian.types import codec
from jinglian.types.codec import Value
from jinglian.types.errors import InvalidInput, PermissionDenied, PolicyNotSatisfied
from jinglian.types.policy import DEFAULT_POLICIES, Policy, parse_policy, satisfied

__all__ = [
    "CHAIN_CONFIG_NAME",
    "CONFIG_KEY",
    "GOVERNANCE_NAME",
    "authorize",
    "config_document",
    "config_hash",
    "initiator",
    "member_ids",
    "policy_in_force",
    "record_action",
]

CHAIN_CONFIG_NAME = "chain_config"
CONFIG_KEY = "config"
GOVERNANCE_NAME = "governance"
EXECUTING_KEY = "executing"
"""Governance state key naming the proposal whose action runs in this transaction."""


def config_document(ctx: Context) -> dict[str, Any]:
    """The chain config document in force (a fresh copy the caller may change)."""
    document = ctx.system_get(CHAIN_CONFIG_NAME, CONFIG_KEY)
    assert isinstance(document, dict), "the ledger writes the chain config at genesis"
    return document


def member_ids(document: Mapping[str, Any]) -> list[str]:
    """Ids of the member organisations in a config document."""
    return [str(org["id"]) for org in document["orgs"]]


def policy_in_force(document: Mapping[str, Any], resource: str) -> Policy:
    """The policy of ``resource`` in a config document (its default if unnamed)."""
    stored = document.get("policies", {}).get(resource)
    return DEFAULT_POLICIES[resource] if stored is None else parse_policy(stored)


def config_hash(ctx: Context, document: Mapping[str, Value]) -> str:
    """Hex chain hash of a config document's canonical encoding."""
    return ctx.hash(codec.encode(dict(document))).hex()


def initiator(ctx: Context) -> tuple[str, str]:
    """``(organisation, certificate id hex)`` of who asked for this governed action: the
    sender of a transaction, or the proposer of the proposal being executed."""
    if ctx.caller == GOVERNANCE_NAME:
        executing: Any = ctx.system_get(GOVERNANCE_NAME, EXECUTING_KEY)
        assert isinstance(executing, dict), "governance marks the proposal it executes"
        proposer = executing["proposer"]
        return str(proposer["org"]), str(proposer["cert_id"])
    return ctx.sender.org, ctx.sender.id


def authorize(ctx: Context, resource: str, self_org: str | None = None) -> list[Value] | None:
    """Raise unless this call of a governed method is approved; return the approvals.

    ``None`` means a proposal approved it (the governance contract records it).
    """
    if ctx.caller == GOVERNANCE_NAME:
        return None
    if ctx.caller is not None:
        raise PermissionDenied(
            f"{resource} is decided by a transaction or a proposal, not by contract {ctx.caller!r}"
        )
    document = config_document(ctx)
    policy = policy_in_force(document, resource)
    ok, why = satisfied(
        policy, member_ids(document), [(e.org, e.role) for e in ctx.endorsers], self_org
    )
    if not ok:
        raise PolicyNotSatisfied(
            f"{resource}: {why}; gather endorsements (jinglian tx create/sign/submit) "
            "or make a proposal (jinglian proposal create)"
        )
    counted: list[str] = []
    approvals: list[Value] = []
    for endorser in ctx.endorsers:
        if endorser.role in policy.roles and endorser.org not in counted:
            counted.append(endorser.org)
            approvals.append({"org": endorser.org, "role": endorser.role, "cert_id": endorser.id})
    return approvals


def record_action(
    ctx: Context,
    resource: str,
    args: Mapping[str, Any],
    approvals: list[Value] | None,
    config_hash_after: str | None = None,
) -> None:
    """Write the governance history record of an action approved by endorsements.

    Does nothing for ``approvals=None``: the governance contract records
    actions its proposals executed.
    """
    if approvals is None:
        return
    if not isinstance(args, Mapping):
        raise InvalidInput("arguments must be a map")
    ctx.call(
        GOVERNANCE_NAME,
        "record",
        {
            "action": resource,
            "args": dict(args),
            "approvals": approvals,
            "config_hash": config_hash_after,
        },
    )
