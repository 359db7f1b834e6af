"""Multi-signed transactions through a payload file: ``jinglian tx create|sign|show|submit``.

One transaction endorsed by several organisations (``jinglian.client.endorse``):
the sender creates and signs the file, each other organisation signs it, anyone
submits it. The logic lives in the SDK; this module parses, calls and prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from jinglian.cli._base import Target, emit, json_option, show_value, target_options
from jinglian.cli._governance import (
    arg_file_option,
    brief,
    call_args,
    plural,
    timeout_option,
)
from jinglian.cli.chain_cmds import _tx_lines, _tx_summary, tx
from jinglian.client import (
    Identity,
    Network,
    PayloadFile,
    PolicyCheck,
    TxResult,
    get_policy_check,
    load_payload_file,
    save_payload_file,
)
from jinglian.client.endorse import approvals_of
from jinglian.types import Tx
from jinglian.types.errors import ConfigError, InvalidInput, PolicyNotSatisfied, TransactionExpired
from jinglian.types.jsonval import to_json
from jinglian.types.policy import resource_of

__all__ = ["tx_create", "tx_show", "tx_sign", "tx_submit"]

CREATE_EXPIRY_S_DEFAULT = 600
"""Seconds a created payload file stays valid: the chain's default longest window (10 min)."""


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
    more = "" if missing is None else f"; {plural(missing, 'more organisation')} must sign"
    return f"{check.resource}: {check.explain(approvals)}{more}"


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
        f"call       {view['contract']}.{view['method']} {show_value(brief(view['args']))}",
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
    args = call_args(args_json, arg_files)
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
