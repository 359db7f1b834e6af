"""Commands that talk to a running node: tx, query, state, block, contract, chain.

The governance commands add to the ``tx`` and ``contract`` groups (``txfile_cmds``,
``contract_cmds``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from jinglian.cli._base import (
    Target,
    emit,
    json_option,
    parse_args_json,
    show_value,
    target_options,
)
from jinglian.client import TxResult, verify_query_record, verify_state_record, verify_tx_record
from jinglian.client.verify import VerifiedBlock
from jinglian.types.errors import InvalidInput

__all__ = ["block", "chain", "contract", "query", "state", "tx"]

CONTRACTS = "contracts"
"""The system contract that deploys, upgrades and lists contracts."""

genesis_option = click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Genesis file to verify against (default: the network's).",
)


def _tx_summary(result: TxResult) -> dict[str, Any]:
    return {
        "tx_id": result.id,
        "status": result.status,
        "height": result.height,
        "index": result.index,
        "block_hash": result.block_hash,
        "result": None if result.record is None else result.record["receipt"]["result"],
        "error": result.error,
        "gas_used": result.gas_used,
        "events": [] if result.record is None else result.record["receipt"]["events"],
    }


def _tx_lines(result: TxResult) -> list[str]:
    summary = _tx_summary(result)
    lines = [f"tx id    {result.id}", f"status   {result.status}"]
    if result.height is None:
        return [*lines, "         (not waited for; see `jinglian tx get TXID`)"]
    lines += [
        f"height   {result.height} (index {result.index}, block {result.block_hash})",
        f"result   {show_value(summary['result'])}",
        f"gas      {result.gas_used}",
    ]
    if result.error:
        lines.append(f"error    {result.error}")
    for event in summary["events"]:
        lines.append(f"event    {event['contract']}/{event['topic']} {show_value(event['data'])}")
    return lines


def _block_lines(block: VerifiedBlock) -> str:
    signers = ", ".join(block.signers)
    return (
        f"verified block {block.header.height} {block.block_hash.hex()}: signed by "
        f"{block.power} of {block.total_power} voting power ({signers})"
    )


@click.group()
def tx() -> None:
    """Submit and inspect transactions.

    \b
    Example:
      jinglian tx invoke kv set --args '{"key": "a", "value": 1}'
    """


@tx.command("invoke")
@click.argument("contract")
@click.argument("method")
@click.option("--args", "args_json", help="Arguments as a JSON object (no floats).")
@click.option("--wait/--no-wait", default=True, help="Wait for the commit (default: wait).")
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=30.0, help="Seconds to wait.")
@target_options
@json_option
def tx_invoke(
    contract: str,
    method: str,
    args_json: str | None,
    wait: bool,
    timeout: float,
    as_json: bool,
    **target: Any,
) -> None:
    """Sign and submit a call of CONTRACT.METHOD; print its id, height, status and result.

    A failed call (the receipt's status is not ok) exits with code 1 and its
    error code, e.g. `(contract_failed)`.

    \b
    Example:
      jinglian tx invoke kv set --args '{"key": "a", "value": 1}'
      jinglian tx invoke kv set --args '{"key": "b", "value": "x"}' --no-wait --json
    """
    args = parse_args_json(args_json)
    with Target(**target).client(sign=True) as client:
        result = client.invoke(contract, method, args, wait=wait, timeout=timeout)
    emit(as_json, _tx_summary(result), lambda: _tx_lines(result))


@tx.command("get")
@click.argument("tx_id")
@click.option("--verify", is_flag=True, help="Prove the record against the genesis file.")
@genesis_option
@target_options
@json_option
def tx_get(tx_id: str, verify: bool, as_json: bool, **target: Any) -> None:
    """Show a committed transaction; --verify proves it offline against genesis.

    Verification checks the commit signatures (> 2/3 of the voting power),
    the header hash, and the Merkle paths of the transaction and its receipt.

    \b
    Example:
      jinglian tx get 3f9a...e1 --verify
    """
    with Target(**target).client(verify=verify) as client:
        result = client.get_tx(tx_id)
        genesis = client.genesis
    record = dict(result.record or {})
    proven = None if genesis is None else verify_tx_record(record, genesis).block
    record["verified"] = proven is not None

    def lines() -> list[str]:
        body = record["body"]
        out = [f"call     {body['contract']}.{body['method']} {show_value(body['args'])}"]
        out += _tx_lines(result)
        return out if proven is None else [*out, _block_lines(proven)]

    emit(as_json, record, lines)


@click.command()
@click.argument("contract")
@click.argument("method")
@click.option("--args", "args_json", help="Arguments as a JSON object (no floats).")
@click.option("--height", type=click.IntRange(min=0), help="Query the state after this block.")
@click.option("--prove", is_flag=True, help="Fetch proofs of every state read and verify them.")
@genesis_option
@target_options
@json_option
def query(
    contract: str,
    method: str,
    args_json: str | None,
    height: int | None,
    prove: bool,
    as_json: bool,
    **target: Any,
) -> None:
    """Call a read-only method CONTRACT.METHOD and print the value.

    \b
    Example:
      jinglian query kv get --args '{"key": "a"}'
      jinglian query kv get --args '{"key": "a"}' --prove --json
    """
    args = parse_args_json(args_json)
    with Target(**target).client(verify=prove) as client:
        result = client.query(contract, method, args, height=height, prove=prove)
        genesis = client.genesis
    proven = None if genesis is None else verify_query_record(result.record, genesis)

    def lines() -> list[str]:
        out = [show_value(result.record["value"])]
        if proven is not None:
            out.append(f"proven   {len(proven.reads)} state reads; " + _block_lines(proven.block))
        return out

    emit(as_json, {**result.record, "verified": proven is not None}, lines)


@click.group()
def state() -> None:
    """Read contract state with proofs.

    \b
    Example:
      jinglian state get kv a
    """


@state.command("get")
@click.argument("contract")
@click.argument("key")
@click.option("--height", type=click.IntRange(min=0), help="Read the state after this block.")
@click.option("--verify/--no-verify", default=True, help="Verify the proof (default: verify).")
@genesis_option
@target_options
@json_option
def state_get(
    contract: str, key: str, height: int | None, verify: bool, as_json: bool, **target: Any
) -> None:
    """Read KEY of CONTRACT's state and verify its proof against genesis.

    The value (or its absence) is proven against the state root of a block
    whose commit is checked against the genesis validators.

    \b
    Example:
      jinglian state get kv a
      jinglian state get kv a --height 10 --json
    """
    with Target(**target).client(verify=verify) as client:
        value = client.get_state(contract, key, height=height, prove=verify)
        genesis = client.genesis
    proven = None if genesis is None else verify_state_record(value.record, genesis).block
    shown = show_value(value.record["decoded"]) if value.exists else "(absent)"

    def lines() -> list[str]:
        out = [f"{contract}/{key} = {shown}", f"height   {value.height}"]
        if proven is not None:
            what = "value" if value.exists else "absence"
            out.append(f"proof    {what} proven; " + _block_lines(proven))
        return out

    emit(as_json, {**value.record, "verified": proven is not None}, lines)


@click.group()
def block() -> None:
    """Inspect blocks.

    \b
    Example:
      jinglian block get latest
    """


@block.command("get")
@click.argument("height")
@target_options
@json_option
def block_get(height: str, as_json: bool, **target: Any) -> None:
    """Show the block at HEIGHT (a number or `latest`).

    \b
    Example:
      jinglian block get latest
      jinglian block get 12 --json
    """
    wanted = _parse_height(height)
    with Target(**target).client() as client:
        record = client.get_block(wanted)
    emit(as_json, record, lambda: _block_record_lines(record))


def _parse_height(text: str) -> int | str:
    if text == "latest":
        return text
    if not text.isdigit():
        raise InvalidInput(f"HEIGHT must be a block number or 'latest', not {text!r}")
    return int(text)


def _block_record_lines(record: dict[str, Any]) -> list[str]:
    header, commit = record["header"], record["commit"]
    out = [
        f"height      {header['height']}",
        f"hash        {record['hash']}",
        f"time_ms     {header['time_ms']}",
        f"prev        {header['prev_hash']}",
        f"state root  {header['state_root']}",
        f"proposer    {header['proposer']}",
        f"commit      round {commit['round']}, {len(commit['signatures'])} signatures",
        f"txs         {header['tx_count']}",
    ]
    for tx_id, receipt in zip(record["tx_ids"], record["receipts"], strict=False):
        out.append(f"  {tx_id} {receipt['status']}")
    return out


@click.group()
def contract() -> None:
    """Deploy, upgrade, freeze and list contracts (through the `contracts` system contract).

    Each of deploy, upgrade, freeze, unfreeze, revoke and policy needs the
    approvals its governance policy asks for (see docs/governance.md).

    \b
    Example:
      jinglian contract deploy kv contracts/kv.py
    """


@contract.command("list")
@target_options
@json_option
def contract_list(as_json: bool, **target: Any) -> None:
    """List the deployed contracts.

    \b
    Example:
      jinglian contract list --json
    """
    with Target(**target).client() as client:
        result = client.query(CONTRACTS, "list", {})
    value = result.record["value"]
    emit(as_json, value, lambda: _list_lines(value))


def _list_lines(value: Any) -> list[str]:
    if value == []:
        return ["(no contracts deployed)"]
    if isinstance(value, list):
        return [show_value(item) if not isinstance(item, str) else item for item in value]
    return [show_value(value)]


@contract.command("show")
@click.argument("name")
@target_options
@json_option
def contract_show(name: str, as_json: bool, **target: Any) -> None:
    """Show contract NAME: version, code hash, owner and the like.

    \b
    Example:
      jinglian contract show kv
    """
    with Target(**target).client() as client:
        result = client.query(CONTRACTS, "get", {"name": name})
    value = result.record["value"]
    emit(as_json, value, lambda: _show_lines(value))


def _show_lines(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return [show_value(value)]
    width = max((len(k) for k in value), default=0)
    return [
        f"{k.ljust(width)}  {v if isinstance(v, str | int) else show_value(v)}"
        for k, v in value.items()
    ]


@click.group()
def chain() -> None:
    """Inspect the chain.

    \b
    Example:
      jinglian chain info
    """


@chain.command("info")
@target_options
@json_option
def chain_info(as_json: bool, **target: Any) -> None:
    """Show chain id, crypto suite, consensus, height, head and members.

    \b
    Example:
      jinglian chain info --json
    """
    with Target(**target).client() as client:
        info = client.chain_info()
    emit(as_json, info, lambda: _chain_lines(info))


def _chain_lines(info: dict[str, Any]) -> list[str]:
    config = info["config"]
    validators = ", ".join(f"{v['name']} ({v['org']})" for v in config["validators"])
    return [
        f"chain id    {info['chain_id']}",
        f"crypto      {info['crypto']}",
        f"consensus   {info['consensus']}",
        f"height      {info['height']}",
        f"head        {info['head_hash']}",
        f"state root  {info['state_root']}",
        f"genesis     {info['genesis_hash']}",
        f"node        {info['node_name']}",
        f"orgs        {', '.join(o['id'] for o in config['orgs'])}",
        f"validators  {validators}",
    ]
