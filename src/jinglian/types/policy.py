"""Permission policies: rules over organisations and roles (ADR 0013).

A ``Policy`` says which approvals a resource needs. Approvals are the
``(organisation, role)`` pairs of a transaction's endorsements, or the
organisations that voted yes on a proposal. An organisation counts once
however many of its certificates approved, and only through a certificate
whose role is one of the policy's ``roles``.

Rules, evaluated against the member organisations in force (optionally
narrowed to ``orgs``):

- ``ANY``: one organisation; ``ALL``: every one; ``MAJORITY``: more than half;
- ``"n"`` (digits): at least n organisations;
- ``"a/b"``: at least a/b of them, rounded up;
- ``SELF``: the organisation the resource is about (a certificate's
  organisation for ``cert.revoke``, a contract's deployer for its methods);
- ``FORBIDDEN``: nobody.

Resources are names. Chain-wide ones live in the chain config (``policies``);
a contract's per-method policies live in its registry entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from jinglian.types.errors import InvalidInput

__all__ = [
    "DEFAULT_POLICIES",
    "GOVERNED_METHODS",
    "POLICY_RULES",
    "RESOURCES",
    "ROLES",
    "Policy",
    "approving_orgs",
    "orgs_needed",
    "parse_policy",
    "resource_of",
    "satisfied",
]

ROLES = ("admin", "client", "consensus", "common")
POLICY_RULES = ("ANY", "MAJORITY", "ALL", "SELF", "FORBIDDEN")
_FRACTION = re.compile(r"^([1-9][0-9]{0,2})/([1-9][0-9]{0,2})$")
_COUNT = re.compile(r"^[1-9][0-9]{0,2}$")
ORG_ID = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
POLICY_ORGS_MAX = 256


@dataclass(frozen=True, slots=True)
class Policy:
    """A rule over organisations, counted through certificates of the given roles."""

    rule: str = "ANY"
    """``ANY``, ``MAJORITY``, ``ALL``, ``SELF``, ``FORBIDDEN``, ``"n"`` or ``"a/b"``."""
    roles: tuple[str, ...] = ("admin",)
    """Certificate roles whose approval counts."""
    orgs: tuple[str, ...] = ()
    """Organisations counted; empty means every member."""

    def to_value(self) -> dict[str, object]:
        """The document form stored in the chain config and registry."""
        return {"rule": self.rule, "roles": list(self.roles), "orgs": list(self.orgs)}

    def describe(self) -> str:
        """One line for people: ``MAJORITY of admin`` and so on."""
        narrowed = f" among {', '.join(self.orgs)}" if self.orgs else ""
        return f"{self.rule} of {'/'.join(self.roles)}{narrowed}"


def parse_policy(value: object) -> Policy:
    """A ``Policy`` from its document form; ``InvalidInput`` saying what is wrong."""
    if not isinstance(value, Mapping):
        raise InvalidInput("a policy is an object {rule, roles, orgs}")
    unknown = sorted(str(k) for k in value if k not in ("rule", "roles", "orgs"))
    if unknown:
        raise InvalidInput(f"a policy has only rule, roles and orgs; unknown {unknown}")
    rule = value.get("rule")
    if type(rule) is not str or not _valid_rule(rule):
        raise InvalidInput(
            f"policy rule {rule!r} is not one of {', '.join(POLICY_RULES)}, a count like '2' "
            "or a fraction like '2/3'"
        )
    roles = value.get("roles", ["admin"])
    if (
        not isinstance(roles, (list, tuple))
        or not roles
        or any(r not in ROLES for r in roles)
        or len(set(roles)) != len(roles)
    ):
        raise InvalidInput(f"policy roles must be distinct roles from {list(ROLES)}")
    orgs = value.get("orgs", [])
    if (
        not isinstance(orgs, (list, tuple))
        or len(orgs) > POLICY_ORGS_MAX
        or any(type(o) is not str or not ORG_ID.match(o) for o in orgs)
        or len(set(orgs)) != len(orgs)
    ):
        raise InvalidInput("policy orgs must be distinct organisation ids")
    return Policy(rule=rule, roles=tuple(roles), orgs=tuple(orgs))


def _valid_rule(rule: str) -> bool:
    if rule in POLICY_RULES or _COUNT.match(rule):
        return True
    fraction = _FRACTION.match(rule)
    return fraction is not None and int(fraction.group(1)) <= int(fraction.group(2))


def approving_orgs(policy: Policy, approvals: Iterable[tuple[str, str]]) -> list[str]:
    """Distinct organisations among ``(org, role)`` approvals whose role counts, in first-seen order."""
    seen: list[str] = []
    for org, role in approvals:
        if role in policy.roles and org not in seen:
            seen.append(org)
    return seen


def orgs_needed(policy: Policy, members: Sequence[str], self_org: str | None = None) -> int | None:
    """How many counted organisations must approve; ``None`` if nobody can."""
    counted = _counted(policy, members)
    rule = policy.rule
    if rule == "FORBIDDEN" or not counted:
        return None
    if rule == "SELF":
        return 1 if self_org is not None and self_org in counted else None
    total = len(counted)
    if rule == "ANY":
        need = 1
    elif rule == "ALL":
        need = total
    elif rule == "MAJORITY":
        need = total // 2 + 1
    elif "/" in rule:
        numerator, denominator = (int(part) for part in rule.split("/"))
        need = max(1, -(-numerator * total // denominator))
    else:
        need = int(rule)
    return need if need <= total else None


def satisfied(
    policy: Policy,
    members: Sequence[str],
    approvals: Iterable[tuple[str, str]],
    self_org: str | None = None,
) -> tuple[bool, str]:
    """Whether the approvals meet the policy, and a sentence saying what is there or missing."""
    need = orgs_needed(policy, members, self_org)
    counted = _counted(policy, members)
    approving = [org for org in approving_orgs(policy, approvals) if org in counted]
    if need is None:
        if policy.rule == "FORBIDDEN":
            return False, "the policy forbids this"
        if policy.rule == "SELF":
            return (
                False,
                f"the policy needs the approval of {self_org or 'the owning organisation'}",
            )
        return False, f"the policy ({policy.describe()}) cannot be met by the current members"
    if policy.rule == "SELF":
        assert self_org is not None
        ok = self_org in approving
        return ok, (
            f"approved by {self_org}"
            if ok
            else f"needs the approval of an {'/'.join(policy.roles)} of {self_org}"
        )
    have = ", ".join(approving) or "none"
    if len(approving) >= need:
        return True, f"approved by {len(approving)} of {len(counted)} organisations ({have})"
    return False, (
        f"needs {need} of {len(counted)} organisations ({policy.describe()}); "
        f"approved by {len(approving)} ({have})"
    )


def _counted(policy: Policy, members: Sequence[str]) -> list[str]:
    if not policy.orgs:
        return list(members)
    return [org for org in members if org in policy.orgs]


RESOURCES = (
    "tx.submit",
    "query",
    "subscribe",
    "org.add",
    "org.update_ca",
    "org.remove",
    "validator.add",
    "validator.remove",
    "validator.power",
    "params.set",
    "policy.set",
    "cert.revoke",
    "contract.deploy",
    "contract.upgrade",
    "contract.freeze",
    "contract.unfreeze",
    "contract.revoke",
    "contract.set_policy",
)
"""Every chain-wide resource a policy governs."""

_MAJORITY_OF_ADMINS = Policy("MAJORITY", ("admin",))
DEFAULT_POLICIES: Mapping[str, Policy] = {
    "tx.submit": Policy("ANY", ("admin", "client")),
    "query": Policy("ANY", ROLES),
    "subscribe": Policy("ANY", ROLES),
    "cert.revoke": Policy("SELF", ("admin",)),
    "contract.set_policy": Policy("SELF", ("admin",)),
    **{
        name: _MAJORITY_OF_ADMINS
        for name in RESOURCES
        if name.split(".")[0] in ("org", "validator", "params", "policy", "contract")
        and name != "contract.set_policy"
    },
}
"""Policies of a new chain: configuration and contract lifecycle need a majority of the
organisations' admins; revoking a certificate or setting a contract's method policies needs
an admin of the organisation concerned; any member's admin or client may transact."""

GOVERNED_METHODS: Mapping[tuple[str, str], str] = {
    ("chain_config", "add_org"): "org.add",
    ("chain_config", "update_org_ca"): "org.update_ca",
    ("chain_config", "remove_org"): "org.remove",
    ("chain_config", "add_validator"): "validator.add",
    ("chain_config", "remove_validator"): "validator.remove",
    ("chain_config", "set_validator_power"): "validator.power",
    ("chain_config", "set_params"): "params.set",
    ("chain_config", "set_policy"): "policy.set",
    ("identity", "revoke"): "cert.revoke",
    ("contracts", "deploy"): "contract.deploy",
    ("contracts", "upgrade"): "contract.upgrade",
    ("contracts", "freeze"): "contract.freeze",
    ("contracts", "unfreeze"): "contract.unfreeze",
    ("contracts", "revoke"): "contract.revoke",
    ("contracts", "set_policy"): "contract.set_policy",
}
"""System-contract methods that change the chain's rules, with the resource whose policy
approves them. A proposal's action is the resource name; it runs the method here."""


def resource_of(contract: str, method: str) -> str | None:
    """The governed resource a system-contract call is, if any."""
    return GOVERNED_METHODS.get((contract, method))
