"""The ``governance`` system contract: proposals, votes and the history of every governed action.

A proposal names an action (a resource of ``types.policy.GOVERNED_METHODS``,
such as ``contract.deploy`` or ``org.add``) and the arguments of its method.
The proposer's organisation counts as its first yes. Admins of other
organisations vote once each; the vote that meets the action's policy runs
the method in the same transaction (the method sees ``ctx.caller ==
"governance"``). If the method refuses (say the change became unsafe in the
meantime), the vote's transaction fails and the proposal stays open. A
proposal is rejected once the no votes make its policy unreachable, and
expires after its last block.

State: ``next_id``; ``p:<id>`` the proposal record; ``h:<inverted height>:<tx
id>`` one history record per governed action (newest first in key order).

Methods: ``propose(action, args, expires_blocks=None)``, ``vote(id,
approve)``, ``get(id)``, ``list(status=None, limit=50)``, ``history(limit=50,
action=None)``, and ``record(...)``, which only the governed system contracts
call to log an action approved by endorsements.
"""

from __future__ import annotations

from typing import Any

from jinglian.crypto import load_certificate
from jinglian.execution._context import Context
from jinglian.execution.native import NativeContract
from jinglian.execution.sdk import invoke, query
from jinglian.execution.system._govern import (
    EXECUTING_KEY,
    GOVERNANCE_NAME,
    config_document,
    member_ids,
    policy_in_force,
)
from jinglian.types.codec import Value
from jinglian.types.errors import (
    CryptoError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProposalClosed,
)
from jinglian.types.policy import GOVERNED_METHODS, orgs_needed, satisfied

__all__ = ["GOVERNANCE", "GOVERNANCE_NAME", "HEIGHT_INVERT", "LIST_LIMIT_MAX", "RECORDERS"]

ACTIONS = {resource: target for target, resource in GOVERNED_METHODS.items()}
RECORDERS = frozenset({"chain_config", "contracts", "identity"})
"""System contracts whose governed methods write history records."""
LIST_LIMIT_MAX = 200
HEIGHT_INVERT = 10**12 - 1
ID_DIGITS = 12


def _key(proposal_id: int) -> str:
    return f"p:{proposal_id:0{ID_DIGITS}d}"


def _history_key(ctx: Context) -> str:
    return f"h:{HEIGHT_INVERT - ctx.block_height:0{ID_DIGITS}d}:{ctx.tx_id}"


def _signer(ctx: Context) -> dict[str, Value]:
    return {"org": ctx.sender.org, "role": ctx.sender.role, "cert_id": ctx.sender.id}


def _limit(limit: object) -> int:
    if type(limit) is not int or not 1 <= limit <= LIST_LIMIT_MAX:
        raise InvalidInput(f"limit must be an integer from 1 to {LIST_LIMIT_MAX}")
    return limit


def _self_org(ctx: Context, action: str, args: dict[str, Any]) -> str | None:
    """The organisation a SELF policy means for this action."""
    if action == "cert.revoke":
        cert = args.get("cert")
        if type(cert) is bytes:
            try:
                return load_certificate(cert).org_id
            except CryptoError as exc:
                raise InvalidInput(f"cert cannot be read: {exc.message}") from None
        stored = ctx.system_get("identity", f"cert:{args.get('cert_id')}")
        if type(stored) is bytes:
            return load_certificate(stored).org_id
        return None
    if action.startswith("contract."):
        meta = ctx.system_get("contracts", f"meta:{args.get('name')}")
        return meta.get("deployer_org") if isinstance(meta, dict) else None  # type: ignore[return-value]
    return None


def _status(ctx: Context, record: dict[str, Any]) -> str:
    if record["status"] == "open" and ctx.block_height > record["expires_height"]:
        return "expired"
    return record["status"]  # type: ignore[no-any-return]


def _load(ctx: Context, proposal_id: object) -> dict[str, Any]:
    if type(proposal_id) is not int or proposal_id < 1:
        raise InvalidInput("a proposal id is a positive integer")
    record = ctx.state.get(_key(proposal_id))
    if record is None:
        raise NotFound(f"no proposal {proposal_id}")
    assert isinstance(record, dict)
    record["status"] = _status(ctx, record)
    return record


def _decide(ctx: Context, record: dict[str, Any]) -> None:
    """Execute the proposal if its yes votes meet the policy; reject it if they never can."""
    document = config_document(ctx)
    policy = policy_in_force(document, record["action"])
    members = member_ids(document)
    self_org = _self_org(ctx, record["action"], record["args"])
    yes = [(v["org"], v["role"]) for v in record["votes"] if v["approve"]]
    ok, _ = satisfied(policy, members, yes, self_org)
    need = orgs_needed(policy, members, self_org)
    record["needed"] = need
    if ok:
        record["status"] = "executed"
        record["executed_height"] = ctx.block_height
        ctx.state.set(_key(record["id"]), record)
        contract, method = ACTIONS[record["action"]]
        ctx.state.set(EXECUTING_KEY, {"id": record["id"], "proposer": record["proposer"]})
        result = ctx.call(contract, method, record["args"])
        ctx.state.delete(EXECUTING_KEY)
        approvals = [
            {"org": v["org"], "role": v["role"], "cert_id": v["cert_id"]}
            for v in record["votes"]
            if v["approve"]
        ]
        digest = result.get("config_hash") if isinstance(result, dict) else None
        _write_history(ctx, record["action"], record["args"], approvals, record["id"], digest)
        ctx.emit("executed", {"id": record["id"], "action": record["action"]})
        return
    no_orgs = {v["org"] for v in record["votes"] if not v["approve"]}
    still_possible = len([m for m in members if m not in no_orgs])
    if need is None or still_possible < need:
        record["status"] = "rejected"
        ctx.emit("rejected", {"id": record["id"], "action": record["action"]})
    ctx.state.set(_key(record["id"]), record)


def _write_history(
    ctx: Context,
    action: str,
    args: dict[str, Any],
    approvals: list[Any],
    proposal: int | None,
    config_hash: object,
) -> None:
    summary = dict(args)
    source = summary.get("source")
    if type(source) is str:
        summary["source"] = {"bytes": len(source.encode()), "hash": ctx.hash(source).hex()}
    ctx.state.set(
        _history_key(ctx),
        {
            "height": ctx.block_height,
            "tx_id": ctx.tx_id,
            "action": action,
            "args": summary,
            "approvals": approvals,
            "proposal": proposal,
            "config_hash": config_hash if type(config_hash) is str else None,
        },
    )


@invoke
def propose(
    ctx: Context, action: object, args: object = None, expires_blocks: object = None
) -> Value:
    """Propose a governed action; the proposer's organisation votes yes."""
    if ctx.caller is not None:
        raise PermissionDenied("proposals are made by transactions, not by other contracts")
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; actions: {', '.join(sorted(ACTIONS))}")
    assert isinstance(action, str)
    args = {} if args is None else args
    if not isinstance(args, dict):
        raise InvalidInput("args must be a map of the action's arguments")
    document = config_document(ctx)
    params = document["params"]
    if expires_blocks is None:
        expires_blocks = params["proposal_blocks_default"]
    if type(expires_blocks) is not int or not 1 <= expires_blocks <= params["proposal_blocks_max"]:
        raise InvalidInput(
            f"expires_blocks must be an integer from 1 to {params['proposal_blocks_max']}"
        )
    policy = policy_in_force(document, action)
    if ctx.sender.role not in policy.roles:
        raise PermissionDenied(
            f"{action} is approved by {'/'.join(policy.roles)} certificates; "
            f"a {ctx.sender.role} may not propose it"
        )
    proposal_id = ctx.state.get("next_id", 1)
    assert isinstance(proposal_id, int)
    ctx.state.set("next_id", proposal_id + 1)
    record: dict[str, Any] = {
        "id": proposal_id,
        "action": action,
        "args": args,
        "proposer": _signer(ctx),
        "created_height": ctx.block_height,
        "expires_height": ctx.block_height + expires_blocks,
        "status": "open",
        "votes": [{**_signer(ctx), "approve": True, "height": ctx.block_height}],
        "needed": None,
        "executed_height": None,
    }
    ctx.emit("proposed", {"id": proposal_id, "action": action})
    _decide(ctx, record)
    return record


@invoke
def vote(ctx: Context, id: object, approve: object) -> Value:
    """Vote on an open proposal, once per organisation."""
    if ctx.caller is not None:
        raise PermissionDenied("votes are cast by transactions, not by other contracts")
    if type(approve) is not bool:
        raise InvalidInput("approve must be true (yes) or false (no)")
    record = _load(ctx, id)
    if record["status"] != "open":
        raise ProposalClosed(f"proposal {id} is {record['status']}; it takes no more votes")
    policy = policy_in_force(config_document(ctx), record["action"])
    if ctx.sender.role not in policy.roles:
        raise PermissionDenied(
            f"votes on {record['action']} come from {'/'.join(policy.roles)} certificates, "
            f"not a {ctx.sender.role}"
        )
    if any(v["org"] == ctx.sender.org for v in record["votes"]):
        raise InvalidInput(f"organisation {ctx.sender.org!r} has already voted on proposal {id}")
    record["votes"].append({**_signer(ctx), "approve": approve, "height": ctx.block_height})
    ctx.emit("voted", {"id": record["id"], "org": ctx.sender.org, "approve": approve})
    _decide(ctx, record)
    return record


@query
def get(ctx: Context, id: object) -> Value:
    """A proposal with its votes and status."""
    return _load(ctx, id)


@query
def list_proposals(ctx: Context, status: object = None, limit: object = 50) -> Value:
    """Proposals newest first, optionally only those with ``status``."""
    if status not in (None, "open", "executed", "rejected", "expired"):
        raise InvalidInput("status is one of open, executed, rejected, expired")
    count = _limit(limit)
    newest = ctx.state.get("next_id", 1)
    assert isinstance(newest, int)
    found: list[Value] = []
    for proposal_id in range(newest - 1, max(0, newest - 1 - LIST_LIMIT_MAX * 5), -1):
        record = _load(ctx, proposal_id)
        if status is None or record["status"] == status:
            found.append(record)
            if len(found) >= count:
                break
    return found


@query
def history(ctx: Context, limit: object = 50, action: object = None) -> Value:
    """Governed actions newest first, each with its approvals (or proposal)."""
    count = _limit(limit)
    if action is not None and action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}")
    records: list[Any] = [value for _, value in ctx.state.items("h:", LIST_LIMIT_MAX)]
    chosen = [r for r in records if action is None or r["action"] == action]
    return chosen[:count]


@invoke
def record(
    ctx: Context, action: object, args: object, approvals: object, config_hash: object = None
) -> Value:
    """Log a governed action approved by endorsements (system contracts only)."""
    if ctx.caller not in RECORDERS:
        raise PermissionDenied("only the governed system contracts write governance history")
    assert isinstance(action, str) and isinstance(args, dict) and isinstance(approvals, list)
    _write_history(ctx, action, args, approvals, None, config_hash)
    return None


GOVERNANCE = NativeContract(
    GOVERNANCE_NAME,
    {
        "propose": propose,
        "vote": vote,
        "get": get,
        "list": list_proposals,
        "history": history,
        "record": record,
    },
)
"""The governance contract as the runtime runs it."""
