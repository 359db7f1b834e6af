"""Governance commands: multi-signed transactions, proposals, the config, contract lifecycle.

- ``jinglian tx create|sign|show|submit``: one transaction endorsed by several
  organisations through a payload file (``jinglian.client.endorse``);
- ``jinglian proposal create|vote|list|show``: the ``governance`` contract;
- ``jinglian config show``: the chain config in force and its history;
- ``jinglian contract deploy|upgrade|freeze|unfreeze|revoke|policy``: governed
  calls of the ``contracts`` contract.

Governed commands sign with the acting identity. On a devnet (``network.json``
says ``"devnet": true``) they add the endorsements of the local admin
identities the policy needs and say so; elsewhere a policy the caller alone
does not meet is refused before anything is submitted, with how many
organisations are missing and the commands that gather them. The logic lives
in the SDK; this module parses, calls and prints.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from jinglian.cli._base import (
    Target,
    emit,
    json_option,
    parse_args_json,
    show_value,
    target_options,
)
from jinglian.cli.chain_cmds import _block_lines, _tx_lines, _tx_summary, contract, tx
from jinglian.client import (
    Client,
    Identity,
    Network,
    PayloadFile,
    PolicyCheck,
    TxResult,
    get_policy_check,
    invoke_governed,
    load_payload_file,
    local_approvers,
    save_payload_file,
    verify_query_record,
)
from jinglian.client.endorse import approvals_of
from jinglian.types import Tx
from jinglian.types.errors import (
    ConfigError,
    InvalidInput,
    JinglianError,
    PolicyNotSatisfied,
    TransactionExpired,
)
from jinglian.types.jsonval import to_json
from jinglian.types.policy import GOVERNED_METHODS, parse_policy, resource_of

__all__ = ["config", "proposal"]

CONTRACTS = "contracts"
GOVERNANCE = "governance"
CHAIN_CONFIG = "chain_config"
ARG_FILE_BYTES_MAX = 1024 * 1024
"""Largest file ``--arg-file`` or a contract source reads (the chain's own limit is lower)."""
CREATE_EXPIRY_S_DEFAULT = 600
"""Seconds a created payload file stays valid: the chain's default longest window (10 min)."""
SHOWN_TEXT_CHARS_MAX = 80
"""Longer strings are shown by their length in text output (``--json`` shows everything)."""
LIST_LIMIT_MAX = 200
PROPOSAL_STATUSES = ("open", "executed", "rejected", "expired")
ACTIONS = tuple(sorted(GOVERNED_METHODS.values()))

timeout_option = click.option(
    "--timeout", type=click.FloatRange(0.1, 120), default=30.0, help="Seconds to wait."
)
arg_file_option = click.option(
    "--arg-file",
    "arg_files",
    multiple=True,
    metavar="NAME=PATH",
    help="Set argument NAME to the content of PATH (text, or bytes if not UTF-8); repeatable.",
)


# -- shared helpers ------------------------------------------------------------------------------


def read_arg_file(path: Path) -> str | bytes:
    """A file's content as text, or as bytes if it is not UTF-8; size-bounded."""
    try:
        with path.open("rb") as handle:
            data = handle.read(ARG_FILE_BYTES_MAX + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if len(data) > ARG_FILE_BYTES_MAX:
        raise InvalidInput(f"{path} is larger than {ARG_FILE_BYTES_MAX} bytes")
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


def read_source(path: Path) -> str:
    """A contract source file as text."""
    data = read_arg_file(path)
    if isinstance(data, bytes):
        raise InvalidInput(f"{path} is not UTF-8 text")
    return data


def _call_args(args_json: str | None, arg_files: Sequence[str]) -> dict[str, Any]:
    args = parse_args_json(args_json)
    for item in arg_files:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise InvalidInput(f"--arg-file takes NAME=PATH, not {item!r}")
        if name in args:
            raise InvalidInput(f"argument {name!r} is given by both --args and --arg-file")
        args[name] = read_arg_file(Path(path))
    return args


def _brief(value: Any) -> Any:
    """A JSON value with long strings replaced by their length, for one-line display."""
    if isinstance(value, str) and len(value) > SHOWN_TEXT_CHARS_MAX:
        return f"<{len(value)} characters>"
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return value if len(str(value["$bytes"])) <= SHOWN_TEXT_CHARS_MAX else "<bytes>"
        return {k: _brief(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_brief(v) for v in value]
    return value


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _network_of(target: Target) -> Network:
    network = target.network()
    if network is None:
        raise ConfigError(
            "no network found: pass --net DIR, set JINGLIAN_NET or run inside a network directory"
        )
    return network


def _acting_identity(target: Target, network: Network) -> Identity:
    entry = network.identity(target.identity)
    return Identity.load(entry.cert, entry.key)


def _policy_json(check: PolicyCheck | None, approvals: list[tuple[str, str]]) -> Any:
    if check is None:
        return None
    return {
        "resource": check.resource,
        **check.policy.to_value(),
        "needed": check.needed,
        "members": list(check.members),
        "approving": check.approving(approvals),
        "missing": check.missing(approvals),
        "satisfied": check.is_met(approvals),
    }


def _policy_line(check: PolicyCheck, approvals: list[tuple[str, str]]) -> str:
    if check.is_met(approvals):
        return (
            f"{check.resource} ({check.policy.describe()}): {check.explain(approvals)}; "
            "ready to submit"
        )
    missing = check.missing(approvals)
    more = "" if missing is None else f"; {_plural(missing, 'more organisation')} must sign"
    return f"{check.resource}: {check.explain(approvals)}{more}"


# -- tx create / sign / show / submit ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _NodeView:
    """What a node says about a payload file's transaction, if one answered."""

    check: PolicyCheck | None = None
    """The policy of its call (None: no policy beyond any member, or not checked)."""
    note: str | None = None
    """Why nothing was checked."""
    committed: TxResult | None = None
    """The transaction, if it is already on chain."""


def _ask_node(target: Target, tx_: Tx) -> _NodeView:
    """The policy of the transaction's call and whether it is on chain; best effort."""
    body = tx_.body
    try:
        with target.client() as client:
            check = get_policy_check(client, body.contract, body.method, body.args)
            committed = client.find_tx(tx_.id.hex())
    except httpx.TransportError:
        return _NodeView(note="not checked: no node answered (the policy is checked on submit)")
    except ConfigError as exc:
        return _NodeView(note=f"not checked: {exc.message}")
    return _NodeView(check=check, committed=committed)


def _file_view(path: Path, loaded: PayloadFile, node: _NodeView) -> dict[str, Any]:
    body = loaded.tx.body
    approvals = approvals_of(loaded.tx)
    committed = node.committed
    return {
        "file": str(path),
        "tx_id": loaded.tx.id.hex(),
        "chain_id": body.chain_id,
        "crypto": loaded.crypto,
        "contract": body.contract,
        "method": body.method,
        "resource": resource_of(body.contract, body.method),
        "args": to_json(body.args),
        "sender": body.sender.hex(),
        "timestamp_ms": body.timestamp_ms,
        "expires_ms": body.expires_ms,
        "expired": body.expires_ms < int(time.time() * 1000),
        "endorsements": [
            {"org": e.org, "role": e.role, "common_name": e.common_name, "cert_id": e.cert_id.hex()}
            for e in loaded.endorsers
        ],
        "policy": _policy_json(node.check, approvals),
        "policy_note": node.note,
        "committed": None
        if committed is None
        else {"height": committed.height, "status": committed.status, "error": committed.error},
    }


def _file_lines(view: dict[str, Any], check: PolicyCheck | None, tx_: Tx) -> list[str]:
    committed = view["committed"]
    expiry = _time(view["expires_ms"]) + (" (EXPIRED)" if view["expired"] else "")
    lines = [
        f"file       {view['file']}",
        f"tx id      {view['tx_id']}",
        f"chain      {view['chain_id']} ({view['crypto']})",
        f"call       {view['contract']}.{view['method']} {show_value(_brief(view['args']))}",
        f"created    {_time(view['timestamp_ms'])}",
        f"expires    {expiry}",
    ]
    for index, e in enumerate(view["endorsements"], 1):
        label = "signed by" if index == 1 else ""
        lines.append(f"{label:<10} {index}. {e['org']}/{e['role']} ({e['common_name']})")
    if committed is not None:
        lines.append(f"committed  block {committed['height']}, status {committed['status']}")
    elif check is not None:
        lines.append(f"policy     {_policy_line(check, approvals_of(tx_))}")
    elif view["policy_note"]:
        lines.append(f"policy     {view['policy_note']}")
    else:
        lines.append("policy     none beyond any member's signature")
    return lines


def _show_file(path: Path, loaded: PayloadFile, target: Target, as_json: bool) -> None:
    node = _ask_node(target, loaded.tx)
    view = _file_view(path, loaded, node)
    emit(as_json, view, lambda: _file_lines(view, node.check, loaded.tx))


def _chain_id(target: Target) -> str | None:
    network = target.network()
    return None if network is None else network.chain_id


@tx.command("create")
@click.argument("contract_name", metavar="CONTRACT")
@click.argument("method")
@click.option("--args", "args_json", help="Arguments as a JSON object (no floats).")
@arg_file_option
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Payload file to write.",
)
@click.option(
    "--expiry",
    type=click.IntRange(1, 86_400),
    default=CREATE_EXPIRY_S_DEFAULT,
    show_default=True,
    help="Seconds until the transaction expires (at most the chain's tx_expiry_ms_max).",
)
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@target_options
@json_option
def tx_create(
    contract_name: str,
    method: str,
    args_json: str | None,
    arg_files: tuple[str, ...],
    output: Path,
    expiry: int,
    force: bool,
    as_json: bool,
    **target_opts: Any,
) -> None:
    """Create a payload file: a call of CONTRACT.METHOD signed by you, for others to endorse.

    The acting identity (--identity) is the sender and signs first. Send the
    file to the other organisations; each runs `jinglian tx sign FILE`, then
    anyone runs `jinglian tx submit FILE` before it expires.

    \b
    Example:
      jinglian tx create contracts deploy --args '{"name": "kv"}' \\
          --arg-file source=kv.py -o deploy.json
      jinglian tx create kv set --args '{"key": "a", "value": 1}' -o set.json --json
    """
    if output.exists() and not force:
        raise InvalidInput(f"{output} exists; pass --force to overwrite it")
    target = Target(**target_opts)
    network = _network_of(target)
    identity = _acting_identity(target, network)
    args = _call_args(args_json, arg_files)
    created = identity.sign_tx(network.chain_id, contract_name, method, args, expiry_s=expiry)
    save_payload_file(output, created, identity.suite.name)
    _show_file(output, load_payload_file(output), target, as_json)


@tx.command("sign")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@target_options
@json_option
def tx_sign(file: Path, as_json: bool, **target_opts: Any) -> None:
    """Endorse the payload FILE with your identity (appended in place).

    Every signature already in the file is checked first. Prints who has
    signed and, for a governed call, how many organisations its policy needs
    and how many have signed.

    \b
    Example:
      jinglian tx sign deploy.json --identity org2/admin
    """
    target = Target(**target_opts)
    network = _network_of(target)
    loaded = load_payload_file(file, chain_id=network.chain_id)
    if loaded.tx.body.expires_ms < int(time.time() * 1000):
        raise TransactionExpired(
            f"{file} expired at {_time(loaded.tx.body.expires_ms)}; create a new one with "
            "`jinglian tx create`"
        )
    identity = _acting_identity(target, network)
    signed = identity.endorse(loaded.tx, network.chain_id)
    save_payload_file(file, signed, loaded.crypto)
    _show_file(file, load_payload_file(file), target, as_json)


@tx.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@target_options
@json_option
def tx_show(file: Path, as_json: bool, **target_opts: Any) -> None:
    """Check and show the payload FILE: the call, who signed, and what its policy still needs.

    Every signature is verified; the policy is looked up on a node when one
    answers.

    \b
    Example:
      jinglian tx show deploy.json
    """
    target = Target(**target_opts)
    loaded = load_payload_file(file, chain_id=_chain_id(target))
    _show_file(file, loaded, target, as_json)


@tx.command("submit")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wait/--no-wait", default=True, help="Wait for the commit (default: wait).")
@timeout_option
@target_options
@json_option
def tx_submit(file: Path, wait: bool, timeout: float, as_json: bool, **target_opts: Any) -> None:
    """Submit the transaction of the payload FILE with all its endorsements.

    A call whose receipt is not ok exits with code 1 and its error code, e.g.
    `(policy_not_satisfied)` when too few organisations signed.

    \b
    Example:
      jinglian tx submit deploy.json
    """
    target = Target(**target_opts)
    load_payload_file(file, chain_id=_chain_id(target))
    with target.client() as client:
        try:
            result = client.submit_file(file, wait=wait, timeout=timeout)
        except PolicyNotSatisfied as exc:
            raise PolicyNotSatisfied(
                f"{exc.message}; more organisations must run `jinglian tx sign {file}`"
            ) from None
    emit(as_json, _tx_summary(result), lambda: _tx_lines(result))


# -- governed calls: contract deploy, upgrade, freeze, ... ---------------------------------------


def _suggestion(resource: str, contract_name: str, method: str, shown_args: str) -> str:
    file = f"{resource.replace('.', '-')}.json"
    return (
        f"have them endorse one transaction (`jinglian tx create {contract_name} {method} "
        f"{shown_args} -o {file}`, then `jinglian tx sign {file}` by an admin of each, then "
        f"`jinglian tx submit {file}`) or propose it (`jinglian proposal create {resource} "
        f"{shown_args}`)"
    )


def _cli_args(args: Mapping[str, Any], files: Mapping[str, Path]) -> str:
    parts = []
    plain = {k: to_json(v) for k, v in args.items() if k not in files}
    if plain:
        parts.append(f"--args {shlex.quote(json.dumps(plain, ensure_ascii=False))}")
    parts += [f"--arg-file {shlex.quote(f'{k}={p}')}" for k, p in files.items()]
    return " ".join(parts)


def run_governed(
    target_opts: dict[str, Any],
    method: str,
    args: dict[str, Any],
    *,
    files: Mapping[str, Path] | None = None,
    timeout: float = 30.0,
    as_json: bool = False,
    done: str = "",
) -> None:
    """Call the governed ``contracts.METHOD(**args)`` as the acting identity and print it.

    On a devnet the local admins endorse as the policy needs; elsewhere an
    unmet policy is refused before submitting, with what to do instead.
    """
    target = Target(**target_opts)
    network = target.network()
    resource = resource_of(CONTRACTS, method) or f"{CONTRACTS}.{method}"
    with target.client(sign=True) as client:
        assert client.identity is not None
        devnet = network is not None and network.devnet
        approvers = (
            local_approvers(network, first_org=client.identity.cert.org_id)
            if network is not None and devnet
            else []
        )
        try:
            outcome = invoke_governed(
                client,
                CONTRACTS,
                method,
                args,
                approvers=approvers,
                timeout=timeout,
                refuse_unmet=True,
            )
        except PolicyNotSatisfied as exc:
            raise _with_suggestion(exc, resource, method, _cli_args(args, files or {})) from None
    result = outcome.result
    summary = {
        **_tx_summary(result),
        "resource": resource,
        "approved_by": list(outcome.approving),
        "auto_approved": list(outcome.added),
        "devnet_auto_approval": bool(outcome.added),
    }

    def lines() -> list[str]:
        out = [done] if done else []
        out += _tx_lines(result)
        if outcome.check is not None:
            out.append(
                f"approved {', '.join(outcome.approving)} ({outcome.check.policy.describe()}: "
                f"{len(outcome.approving)} of {len(outcome.check.counted())} organisations)"
            )
        if outcome.added:
            out.append(
                f"         devnet auto-approval: {', '.join(outcome.added)} endorsed with their "
                "local admin identities (only on a devnet)"
            )
        return out

    emit(as_json, summary, lines)


def _with_suggestion(
    exc: PolicyNotSatisfied, resource: str, method: str, shown_args: str
) -> PolicyNotSatisfied:
    missing = getattr(exc, "missing", None)
    if not isinstance(missing, int) or missing < 1:
        return exc
    more = _plural(missing, "more organisation")
    return PolicyNotSatisfied(
        f"{exc.message}: {more} must approve; "
        + _suggestion(resource, CONTRACTS, method, shown_args)
    )


@contract.command("deploy")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@timeout_option
@target_options
@json_option
def contract_deploy(name: str, file: Path, timeout: float, as_json: bool, **target: Any) -> None:
    """Deploy FILE.py as contract NAME (a governed action: policy contract.deploy).

    Signed by the acting identity (an admin). On a devnet the other local
    admins endorse as the policy needs (devnet auto-approval, said in the
    output); on other networks an unmet policy is refused with how many
    organisations are missing and how to gather them.

    \b
    Example:
      jinglian contract deploy kv contracts/kv.py
    """
    args = {"name": name, "source": read_source(file)}
    run_governed(
        target,
        "deploy",
        args,
        files={"source": file},
        timeout=timeout,
        as_json=as_json,
        done=f"deployed contract {name}",
    )


@contract.command("upgrade")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@timeout_option
@target_options
@json_option
def contract_upgrade(name: str, file: Path, timeout: float, as_json: bool, **target: Any) -> None:
    """Replace contract NAME's code with FILE.py, keeping its state (policy contract.upgrade).

    \b
    Example:
      jinglian contract upgrade kv contracts/kv_v2.py
    """
    args = {"name": name, "source": read_source(file)}
    run_governed(
        target,
        "upgrade",
        args,
        files={"source": file},
        timeout=timeout,
        as_json=as_json,
        done=f"upgraded contract {name}",
    )


def _lifecycle(method: str, past: str, summary: str) -> click.Command:
    @contract.command(method)
    @click.argument("name")
    @timeout_option
    @target_options
    @json_option
    def command(name: str, timeout: float, as_json: bool, **target: Any) -> None:
        run_governed(
            target,
            method,
            {"name": name},
            timeout=timeout,
            as_json=as_json,
            done=f"{past} contract {name}",
        )

    command.help = (
        f"{summary} (policy contract.{method}).\n\n\b\nExample:\n  jinglian contract {method} kv"
    )
    return command


contract_freeze = _lifecycle(
    "freeze", "froze", "Freeze contract NAME: its methods refuse calls until it is unfrozen"
)
contract_unfreeze = _lifecycle("unfreeze", "unfroze", "Let frozen contract NAME take calls again")
contract_revoke = _lifecycle(
    "revoke", "revoked", "Revoke contract NAME for good: it takes no calls and cannot be upgraded"
)


def _split_names(values: Sequence[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


@contract.command("policy")
@click.argument("name")
@click.argument("method")
@click.option(
    "--rule", help="ANY, MAJORITY, ALL, SELF, FORBIDDEN, a count like 2 or a fraction like 2/3."
)
@click.option(
    "--roles",
    multiple=True,
    help="Roles whose signature counts (default admin); comma-separated or repeated.",
)
@click.option(
    "--orgs", multiple=True, help="Only these organisations count; comma-separated or repeated."
)
@click.option("--clear", is_flag=True, help="Remove the method's policy (any member may call it).")
@timeout_option
@target_options
@json_option
def contract_policy(
    name: str,
    method: str,
    rule: str | None,
    roles: tuple[str, ...],
    orgs: tuple[str, ...],
    clear: bool,
    timeout: float,
    as_json: bool,
    **target: Any,
) -> None:
    """Set (or --clear) the policy calls of NAME.METHOD must meet (policy contract.set_policy).

    A call of the method then commits only if its transaction's endorsements
    come from enough organisations (gather them with `jinglian tx create`,
    `tx sign`, `tx submit`). Setting it is up to the deployer's organisation
    (SELF).

    \b
    Example:
      jinglian contract policy kv set --rule 2 --roles admin,client
      jinglian contract policy kv set --clear
    """
    if clear == (rule is not None):
        raise click.UsageError("give either --rule (with --roles/--orgs) or --clear")
    if clear and (roles or orgs):
        raise click.UsageError("--clear takes no --roles or --orgs")
    policy = None
    if rule is not None:
        document = {
            "rule": rule,
            "roles": _split_names(roles) or ["admin"],
            "orgs": _split_names(orgs),
        }
        policy = parse_policy(document).to_value()
    run_governed(
        target,
        "set_policy",
        {"name": name, "method": method, "policy": policy},
        timeout=timeout,
        as_json=as_json,
        done=f"policy of {name}.{method}: "
        + ("removed" if policy is None else str(parse_policy(policy).describe())),
    )


# -- proposals -----------------------------------------------------------------------------------


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
        f"args       {show_value(_brief(to_json(record['args'])))}",
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
    args = _call_args(args_json, arg_files)
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


# -- config --------------------------------------------------------------------------------------


@click.group()
def config() -> None:
    """The chain configuration in force: organisations, validators, parameters, policies.

    \b
    Example:
      jinglian config show --verify
    """


@config.command("show")
@click.option(
    "--at", "height", type=click.IntRange(min=0), help="The config in force after this block."
)
@click.option(
    "--history", is_flag=True, help="Also list the governance history with its approvals."
)
@click.option(
    "--limit",
    type=click.IntRange(1, LIST_LIMIT_MAX),
    default=50,
    show_default=True,
    help="Most history records listed.",
)
@click.option("--verify", is_flag=True, help="Prove the state read against the genesis file.")
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Genesis file to verify against (default: the network's).",
)
@target_options
@json_option
def config_show(
    height: int | None,
    history: bool,
    limit: int,
    verify: bool,
    as_json: bool,
    **target: Any,
) -> None:
    """Show the chain config in force at the head (or --at HEIGHT), optionally proven and with history.

    --verify proves every state entry read (the `chain_config` document, and
    the history records with --history) against the block's state root and
    that block's commit, checked from the genesis file.

    \b
    Example:
      jinglian config show
      jinglian config show --at 10 --verify
      jinglian config show --history --json
    """
    with Target(**target).client(verify=verify) as client:
        document = client.query(CHAIN_CONFIG, "get", {}, height=height, verify=verify)
        records = None
        if history:
            # The node lists state by prefix at the head only: read the newest records there
            # and keep those of blocks up to the height asked for.
            wanted = limit if height is None else LIST_LIMIT_MAX
            records = client.query(GOVERNANCE, "history", {"limit": wanted}, verify=verify)
        proven = None
        if verify:
            proven = [_proven(client, "config", document.record)]
            if records is not None:
                proven.append(_proven(client, "history", records.record))
    data: dict[str, Any] = {
        "height": document.height,
        "config": to_json(document.value),
        "verified": verify,
    }
    if records is not None:
        kept = [r for r in records.value if r["height"] <= document.height]
        data["history"] = to_json(kept[:limit])
    emit(as_json, data, lambda: _config_lines(data, proven, records is not None))


def _proven(client: Client, what: str, record: Mapping[str, Any]) -> str:
    assert client.genesis is not None
    checked = verify_query_record(record, client.genesis)
    reads = _plural(len(checked.reads), "state read")
    return f"proven   {what}: {reads}; " + _block_lines(checked.block)


def _config_lines(
    data: dict[str, Any], proven: Sequence[str] | None, with_history: bool
) -> list[str]:
    config_doc = data["config"]
    lines = [f"config in force after block {data['height']} (chain {config_doc.get('chain_id')})"]
    lines += proven or []
    lines.append("organisations")
    lines += [f"  {o['id']:<12} {o['name']}" for o in config_doc["orgs"]]
    lines.append("validators")
    lines += [
        f"  {v['name']:<12} {v['org']:<12} power {v.get('power', 1)}"
        for v in config_doc["validators"]
    ]
    lines.append("params")
    lines += [f"  {k:<24} {show_value(v)}" for k, v in sorted(config_doc["params"].items())]
    lines.append("policies")
    for resource, policy in sorted(config_doc["policies"].items()):
        lines.append(f"  {resource:<24} {parse_policy(policy).describe()}")
    if with_history:
        lines += _history_lines(data["history"])
    return lines


def _history_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["history (newest first)"]
    if not records:
        return [*lines, "  (no governed actions yet)"]
    for record in records:
        approvals = ", ".join(f"{a['org']}/{a['role']}" for a in record["approvals"]) or "-"
        how = (
            f"proposal {record['proposal']}"
            if record.get("proposal") is not None
            else "endorsements"
        )
        lines.append(
            f"  block {record['height']:<6} {record['action']:<18} "
            f"{show_value(_brief(record['args']))}"
        )
        lines.append(f"               approved by {approvals} ({how}), tx {record['tx_id']}")
        if record.get("config_hash"):
            lines.append(f"               config hash {record['config_hash']}")
    return lines
