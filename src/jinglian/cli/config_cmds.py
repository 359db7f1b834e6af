"""The chain config in force and its history: ``jinglian config show``.

Reads the ``chain_config`` document and the ``governance`` history, optionally
proven against the genesis file. The logic lives in the SDK; this module
parses, calls and prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from jinglian.cli._base import Target, emit, json_option, show_value, target_options
from jinglian.cli._governance import GOVERNANCE, LIST_LIMIT_MAX, brief, plural
from jinglian.cli.chain_cmds import _block_lines
from jinglian.client import Client, verify_query_record
from jinglian.types.jsonval import to_json
from jinglian.types.policy import parse_policy

__all__ = ["config"]

CHAIN_CONFIG = "chain_config"


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
    reads = plural(len(checked.reads), "state read")
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
            f"{show_value(brief(record['args']))}"
        )
        lines.append(f"               approved by {approvals} ({how}), tx {record['tx_id']}")
        if record.get("config_hash"):
            lines.append(f"               config hash {record['config_hash']}")
    return lines
