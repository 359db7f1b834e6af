"""Governed calls of the ``contracts`` contract, the ``jinglian contract`` commands.

``jinglian contract deploy|upgrade|freeze|unfreeze|revoke|policy``; ``contract list`` and
``contract show`` read the chain and live in ``chain_cmds``.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from jinglian.cli._base import Target, emit, json_option, target_options
from jinglian.cli._governance import plural, read_arg_file, timeout_option
from jinglian.cli.chain_cmds import CONTRACTS, _tx_lines, _tx_summary, contract
from jinglian.client import invoke_governed, local_approvers
from jinglian.types.errors import InvalidInput, PolicyNotSatisfied
from jinglian.types.jsonval import to_json
from jinglian.types.policy import parse_policy, resource_of

__all__ = [
    "contract_deploy",
    "contract_freeze",
    "contract_policy",
    "contract_revoke",
    "contract_unfreeze",
    "contract_upgrade",
    "read_source",
    "run_governed",
]


def read_source(path: Path) -> str:
    """A contract source file as text."""
    data = read_arg_file(path)
    if isinstance(data, bytes):
        raise InvalidInput(f"{path} is not UTF-8 text")
    return data


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
    more = plural(missing, "more organisation")
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
