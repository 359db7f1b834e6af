"""Proposals and votes on governed actions: ``jinglian proposal create|vote|list|show``.

Calls of the ``governance`` contract: a proposal is executed by the yes vote
that meets its action's policy. The logic lives in the contract and the SDK;
this module parses, calls and prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from jinglian.cli._base import Target, emit, json_option, show_value, target_options
from jinglian.cli._governance import (
    GOVERNANCE,
    LIST_LIMIT_MAX,
    arg_file_option,
    brief,
    call_args,
    timeout_option,
)
from jinglian.client import TxResult
from jinglian.types.errors import InvalidInput, JinglianError
from jinglian.types.jsonval import to_json
from jinglian.types.policy import GOVERNED_METHODS

__all__ = ["proposal"]

PROPOSAL_STATUSES = ("open", "executed", "rejected", "expired")
ACTIONS = tuple(sorted(GOVERNED_METHODS.values()))


@click.group()
def proposal() -> None:
    """Propose governed actions and vote on them (the `governance` contract).

    \b
    Example:
      jinglian proposal create contract.deploy --args '{"name": "kv"}' --arg-file source=kv.py
      jinglian proposal vote 1 yes --identity org2/admin
    """


def _proposal_lines(record: Mapping[str, Any]) -> list[str]:
    proposer = record["proposer"]
    status = record["status"]
    if status == "executed" and record.get("executed_height") is not None:
        status += f" at block {record['executed_height']}"
    yes = [v for v in record["votes"] if v["approve"]]
    needed = record.get("needed")
    tally = f"{len(yes)} yes" + ("" if needed is None else f" of {needed} needed")
    lines = [
        f"proposal   {record['id']}  {record['action']}  {status}",
        f"args       {show_value(brief(to_json(record['args'])))}",
        f"proposer   {proposer['org']}/{proposer['role']}",
        f"blocks     created {record['created_height']}, open until {record['expires_height']}",
        f"votes      {tally}",
    ]
    for vote in record["votes"]:
        answer = "yes" if vote["approve"] else "no"
        lines.append(f"           {vote['org']}/{vote['role']} {answer} (block {vote['height']})")
    return lines


def _check_action(action: str) -> None:
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")


@proposal.command("create")
@click.argument("action")
@click.option("--args", "args_json", help="The action's arguments as a JSON object.")
@arg_file_option
@click.option(
    "--expires",
    type=click.IntRange(min=1),
    help="Blocks the proposal stays open (default: the chain's).",
)
@timeout_option
@target_options
@json_option
def proposal_create(
    action: str,
    args_json: str | None,
    arg_files: tuple[str, ...],
    expires: int | None,
    timeout: float,
    as_json: bool,
    **target: Any,
) -> None:
    """Propose ACTION (e.g. contract.deploy, org.add, cert.revoke); your organisation votes yes.

    The arguments are those of the action's method (`contracts.deploy(name,
    source)`, `chain_config.add_org(id, name, ca_cert)`, ...). Other
    organisations' admins vote with `jinglian proposal vote ID yes`; the vote
    that meets the action's policy executes it.

    \b
    Example:
      jinglian proposal create contract.deploy --args '{"name": "kv"}' --arg-file source=kv.py
      jinglian proposal create org.add --args '{"id": "org4", "name": "Org 4"}' \\
          --arg-file ca_cert=org4-ca.pem --expires 1000
    """
    _check_action(action)
    args = call_args(args_json, arg_files)
    call: dict[str, Any] = {"action": action, "args": args}
    if expires is not None:
        call["expires_blocks"] = expires
    with Target(**target).client(sign=True) as client:
        result = client.invoke(GOVERNANCE, "propose", call, timeout=timeout)
    _emit_proposal_result(result, as_json)


def _emit_proposal_result(result: TxResult, as_json: bool) -> None:
    record = result.result
    if not isinstance(record, dict):
        raise JinglianError(f"governance answered {record!r}, not a proposal")
    data = {"tx_id": result.id, "height": result.height, "proposal": to_json(record)}
    emit(
        as_json,
        data,
        lambda: [*_proposal_lines(record), f"tx         {result.id} (block {result.height})"],
    )


@proposal.command("vote")
@click.argument("proposal_id", metavar="ID", type=click.IntRange(min=1))
@click.argument("answer", type=click.Choice(["yes", "no"]))
@timeout_option
@target_options
@json_option
def proposal_vote(
    proposal_id: int, answer: str, timeout: float, as_json: bool, **target: Any
) -> None:
    """Vote yes or no on proposal ID, once for your organisation (as an admin).

    The yes vote that meets the action's policy executes it in the same
    transaction; the output then says `executed`.

    \b
    Example:
      jinglian proposal vote 1 yes --identity org2/admin
    """
    call = {"id": proposal_id, "approve": answer == "yes"}
    with Target(**target).client(sign=True) as client:
        result = client.invoke(GOVERNANCE, "vote", call, timeout=timeout)
    _emit_proposal_result(result, as_json)


@proposal.command("list")
@click.option(
    "--status", type=click.Choice(PROPOSAL_STATUSES), help="Only proposals with this status."
)
@click.option(
    "--limit",
    type=click.IntRange(1, LIST_LIMIT_MAX),
    default=50,
    show_default=True,
    help="Most proposals shown.",
)
@target_options
@json_option
def proposal_list(status: str | None, limit: int, as_json: bool, **target: Any) -> None:
    """List proposals, newest first, with their status and votes.

    \b
    Example:
      jinglian proposal list --status open
    """
    args: dict[str, Any] = {"limit": limit}
    if status is not None:
        args["status"] = status
    with Target(**target).client() as client:
        records = client.query(GOVERNANCE, "list", args).value
    emit(as_json, to_json(records), lambda: _proposal_table(records))


def _proposal_table(records: Sequence[Mapping[str, Any]]) -> list[str]:
    if not records:
        return ["(no proposals)"]
    lines = [f"{'id':>5}  {'action':<20} {'status':<9} {'votes':<12} proposer"]
    for record in records:
        yes = sum(1 for v in record["votes"] if v["approve"])
        no = len(record["votes"]) - yes
        needed = record.get("needed")
        votes = f"{yes} yes/{no} no" + ("" if needed is None else f"/{needed}")
        proposer = record["proposer"]
        lines.append(
            f"{record['id']:>5}  {record['action']:<20} {record['status']:<9} {votes:<12} "
            f"{proposer['org']}/{proposer['role']}"
        )
    return lines


@proposal.command("show")
@click.argument("proposal_id", metavar="ID", type=click.IntRange(min=1))
@target_options
@json_option
def proposal_show(proposal_id: int, as_json: bool, **target: Any) -> None:
    """Show proposal ID: action, arguments, status and every vote.

    \b
    Example:
      jinglian proposal show 1 --json
    """
    with Target(**target).client() as client:
        record = client.query(GOVERNANCE, "get", {"id": proposal_id}).value
    emit(as_json, to_json(record), lambda: _proposal_lines(record))
