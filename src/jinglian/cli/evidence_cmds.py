"""``jinglian evidence``: deposit file digests, get receipts, verify them offline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from jinglian.apps.evidence import (
    CONTRACT_NAME,
    Deposited,
    VerifiedReceipt,
    by_depositor,
    chain_alg,
    deploy_evidence_contract,
    fetch_receipt,
    hash_file,
    load_receipt,
    lookup,
    put_files,
    verify_file,
    verify_receipt,
)
from jinglian.cli._base import Target, emit, json_option, parse_args_json, target_options
from jinglian.client import (
    Client,
    Identity,
    find_network_dir,
    load_genesis,
    load_network,
    local_approvers,
)
from jinglian.types.errors import ConfigError, InvalidInput, JinglianError, UnknownContract
from jinglian.types.jsonval import to_json

__all__ = ["evidence"]

RECEIPT_SUFFIX = ".receipt"
"""What ``put`` appends to a file's name for its receipt unless -o says otherwise."""
PROGRESS_BYTES_MIN = 16 * 1024 * 1024
"""Hashing shows a progress bar from this many bytes in all."""
HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")

contract_option = click.option(
    "--contract",
    "contract_name",
    default=CONTRACT_NAME,
    show_default=True,
    help="Name the evidence contract is deployed under.",
)


@click.group()
def evidence() -> None:
    """Evidence preservation: deposit file digests, get receipts, verify them offline.

    The file never leaves your machine: only its digest (SHA-256, or SM3 on a
    gm chain) goes on chain. A receipt proves the deposit to anyone holding
    the chain's genesis file, with no network.

    \b
    Example:
      jinglian evidence put contract.pdf -o contract.receipt
      jinglian evidence verify contract.pdf contract.receipt --genesis genesis.json
      jinglian evidence show contract.pdf
    """


@evidence.command("put")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--meta", "meta_json", help='Metadata for every file, e.g. \'{"ref": "A-17"}\'.')
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Receipt file (one FILE) or directory (several); default FILE.receipt beside each.",
)
@click.option("--sign-as", help="Also sign each digest as this identity, e.g. org1/client.")
@click.option(
    "--batch", type=click.IntRange(1, 1000), default=100, show_default=True, help="Files per tx."
)
@contract_option
@target_options
@json_option
def evidence_put(
    files: tuple[Path, ...],
    meta_json: str | None,
    output: Path | None,
    sign_as: str | None,
    batch: int,
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Hash FILES locally, deposit the digests, wait for the commit, write each receipt.

    Metadata keys: title (default: the file name), type (default: the file's
    suffix), ref (your reference), env_hash (hex digest of a capture-environment
    report), extra (a flat JSON object). Each receipt is checked against the
    genesis file before it is written.

    \b
    Example:
      jinglian evidence put contract.pdf --meta '{"ref": "A-17"}' -o contract.receipt
      jinglian evidence put shots/*.png -o receipts/
    """
    meta = parse_args_json(meta_json)
    outputs = _receipt_paths(files, output)
    for path in files:
        if not path.is_file():
            raise InvalidInput(f"{path} is not a readable file")
    tgt = Target(**target)
    with tgt.client(sign=True, verify=True) as client:
        signer = _signer(tgt, sign_as)
        total = sum(path.stat().st_size for path in files)
        with _progress(total, len(files), as_json) as (on_bytes, on_batch):
            done = _put(client, files, meta, signer, batch, contract_name, on_bytes, on_batch)
    for item, path in zip(done, outputs, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(item.receipt, indent=1) + "\n")
    emit(
        as_json,
        [_put_json(item, path) for item, path in zip(done, outputs, strict=True)],
        lambda: _put_lines(done, outputs),
    )


def _put(
    client: Client,
    files: tuple[Path, ...],
    meta: dict[str, Any],
    signer: Identity | None,
    batch: int,
    contract_name: str,
    on_bytes: Any,
    on_batch: Any,
) -> list[Deposited]:
    try:
        return put_files(
            client,
            files,
            meta,
            signer=signer,
            batch_items=batch,
            name=contract_name,
            on_bytes=on_bytes,
            on_batch=on_batch,
        )
    except UnknownContract as exc:
        raise UnknownContract(
            f"{exc.message}: deploy it once with `jinglian evidence deploy` (as an admin)"
        ) from exc


def _receipt_paths(files: tuple[Path, ...], output: Path | None) -> list[Path]:
    if output is None:
        return [path.with_name(path.name + RECEIPT_SUFFIX) for path in files]
    if len(files) == 1 and not output.is_dir():
        return [output]
    if output.exists() and not output.is_dir():
        raise InvalidInput(f"{output} is a file: with several files, -o names a directory")
    names = [path.name for path in files]
    if len(set(names)) != len(names):
        raise InvalidInput("two files share a name: their receipts would overwrite each other")
    return [output / (name + RECEIPT_SUFFIX) for name in names]


def _signer(target: Target, sign_as: str | None) -> Identity | None:
    if sign_as is None:
        return None
    network = target.network()
    if network is None:
        raise ConfigError("--sign-as needs a network directory: pass --net DIR")
    entry = network.identity(sign_as)
    return Identity.load(entry.cert, entry.key)


@contextmanager
def _progress(total: int, files: int, quiet: bool) -> Iterator[tuple[Any, Any]]:
    if quiet or (total < PROGRESS_BYTES_MIN and files <= 100):
        yield None, None
        return
    with click.progressbar(
        length=total, label="hashing", file=click.get_text_stream("stderr")
    ) as bar:
        deposited = [0]

        def on_batch(count: int) -> None:
            deposited[0] += count
            click.echo(f"\ndeposited {deposited[0]} of {files}", err=True)

        yield bar.update, on_batch


def _put_json(item: Deposited, path: Path) -> dict[str, Any]:
    return {
        "file": item.name,
        "digest": item.digest.hex(),
        "deposit_id": item.deposit_id,
        "height": item.receipt["tx"]["height"],
        "receipt": str(path),
    }


def _put_lines(done: list[Deposited], outputs: list[Path]) -> list[str]:
    lines = []
    for item, path in zip(done, outputs, strict=True):
        lines += [
            f"deposited  {item.name}",
            f"  digest   {item.receipt['deposit']['alg']} {item.digest.hex()}",
            f"  deposit  {item.deposit_id}",
            f"  block    {item.receipt['tx']['height']}",
            f"  receipt  {path}",
        ]
    return lines


@evidence.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("receipt", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--genesis",
    "genesis_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The chain's genesis file (default: that of the network directory you are in).",
)
@click.option("--net", type=click.Path(file_okay=False, path_type=Path), help="Network directory.")
@contract_option
@json_option
@click.pass_context
def evidence_verify(
    ctx: click.Context,
    file: Path,
    receipt: Path,
    genesis_file: Path | None,
    net: Path | None,
    contract_name: str,
    as_json: bool,
) -> None:
    """Check offline that RECEIPT proves FILE was deposited; exit 0 if valid, 1 if not.

    Needs no network: it trusts only the genesis file. It checks the file's
    digest, the deposit transaction and its success, the block's commit by
    more than 2/3 of the validators in charge at that height, the depositor's
    certificate and signatures, and the checkpoint if the receipt has one.

    \b
    Example:
      jinglian evidence verify contract.pdf contract.receipt --genesis genesis.json
    """
    genesis = _genesis(genesis_file, net)
    try:
        verified = verify_file(file, load_receipt(receipt), genesis, name=contract_name)
    except JinglianError as exc:
        failure = exc
    else:
        emit(
            as_json, {"valid": True, **verified.to_json()}, lambda: _verified_lines(file, verified)
        )
        return
    emit(
        as_json,
        {"valid": False, "code": failure.code, "reason": failure.message},
        lambda: [f"NOT VALID  {file}", f"  reason     {failure.message} ({failure.code})"],
    )
    ctx.exit(1)


def _genesis(genesis_file: Path | None, net: Path | None) -> Any:
    if genesis_file is not None:
        return load_genesis(genesis_file)
    net_dir = find_network_dir(net)
    if net_dir is None:
        raise ConfigError("verification needs the chain's genesis file: pass --genesis FILE")
    return load_network(net_dir).load_genesis()


def _verified_lines(file: Path, v: VerifiedReceipt) -> list[str]:
    lines = [
        f"VALID  {file}",
        f"  digest      {v.alg} {v.digest.hex()}",
        f"  title       {v.title}  (type {v.type}, ref {v.ref or '-'})",
        f"  deposited   {v.to_json()['time']} (block time), block {v.height} of chain {v.chain_id}",
        f"  deposit     {v.deposit_id}",
        f"  depositor   {v.depositor.name} ({v.depositor.org}, {v.depositor.role})",
    ]
    if v.signer is not None:
        lines.append(f"  signed by   {v.signer.name} ({v.signer.org}, {v.signer.role})")
    lines.append(
        f"  committed   by {', '.join(v.validators)} ({v.power} of {v.total_power} voting power)"
    )
    changes = "none" if v.validator_changes == 0 else str(v.validator_changes)
    lines.append(f"  validator-set changes since genesis: {changes}")
    if v.checkpoint_height is not None:
        depth = v.checkpoint_height - v.height
        lines.append(f"  checkpoint  block {v.checkpoint_height} is final: {depth} blocks on top")
    return lines


@evidence.command("show")
@click.argument("digest_or_file", required=False)
@click.option(
    "--depositor",
    help="List a depositor's newest deposits instead (certificate id, 64 hex characters).",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=100,
    show_default=True,
    help="Most deposits to list.",
)
@contract_option
@target_options
@json_option
def evidence_show(
    digest_or_file: str | None,
    depositor: str | None,
    limit: int,
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Every deposit of a digest (64 hex characters) or of a file's digest, earliest first.

    With --depositor, a depositor's newest deposits instead, newest last.

    \b
    Example:
      jinglian evidence show contract.pdf
      jinglian evidence show --depositor 3f9a...e1
    """
    if (digest_or_file is None) == (depositor is None):
        raise click.UsageError("give either DIGEST_OR_FILE or --depositor ID")
    with Target(**target).client() as client:
        if depositor is not None:
            records = by_depositor(client, depositor, limit=limit, name=contract_name)
            emit(
                as_json,
                {"depositor": depositor, "deposits": to_json(records)},
                lambda: _show_lines(f"depositor {depositor}", records),
            )
            return
        assert digest_or_file is not None
        if HEX_DIGEST.match(digest_or_file):
            digest = digest_or_file.lower()
        elif Path(digest_or_file).is_file():
            digest = hash_file(digest_or_file, chain_alg(client)).hex()
        else:
            raise InvalidInput(f"{digest_or_file!r} is neither a file nor a 64-hex digest")
        records = lookup(client, digest, limit=limit, name=contract_name)
    emit(
        as_json,
        {"digest": digest, "deposits": to_json(records)},
        lambda: _show_lines(digest, records),
    )


def _show_lines(digest: str, records: list[dict[str, Any]]) -> list[str]:
    if not records:
        return [f"no deposit of {digest}"]
    lines = [f"{len(records)} deposit(s) of {digest}:"]
    for record in records:
        depositor = record.get("depositor") or {}
        lines.append(
            f"  block {record.get('height')}  {record.get('id')}  by {depositor.get('org')}  "
            f"{record.get('title')!r} ref {record.get('ref')!r}"
            + (f"  corrects {record['corrects']}" if record.get("corrects") else "")
        )
    return lines


@evidence.command("receipt")
@click.argument("deposit_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Receipt file to write.",
)
@click.option("--checkpoint", is_flag=True, help="Add later blocks (up to 64) to show burial.")
@target_options
@json_option
def evidence_receipt(
    deposit_id: str, output: Path, checkpoint: bool, as_json: bool, **target: Any
) -> None:
    """Download the receipt of DEPOSIT_ID (<tx id>:<index>) again, optionally with a checkpoint.

    \b
    Example:
      jinglian evidence receipt 3f9a...e1:0 --checkpoint -o contract.receipt
    """
    with Target(**target).client(verify=True) as client:
        receipt = fetch_receipt(client, deposit_id, checkpoint=checkpoint)
        assert client.genesis is not None
        verify_receipt(receipt, client.genesis)
    output.write_text(json.dumps(receipt, indent=1) + "\n")
    checkpoint_json = receipt.get("checkpoint") or {}
    result = {
        "deposit_id": deposit_id,
        "receipt": str(output),
        "bytes": output.stat().st_size,
        "checkpoint_headers": len(checkpoint_json.get("headers", [])),
    }
    emit(as_json, result, lambda: [f"receipt of {deposit_id} written to {output}"])


@evidence.command("deploy")
@contract_option
@target_options
@json_option
def evidence_deploy(contract_name: str, as_json: bool, **target: Any) -> None:
    """Deploy the evidence contract (as an admin identity; once per chain).

    Deploying is governed (policy contract.deploy): on a devnet the local
    admins endorse as the policy needs; elsewhere gather approvals with
    `jinglian proposal create contract.deploy` or `jinglian tx create`.

    \b
    Example:
      jinglian evidence deploy --identity org1/admin
    """
    chosen = Target(**target)
    network = chosen.network()
    with chosen.client(sign=True) as client:
        assert client.identity is not None
        org = client.identity.cert.org_id
        devnet = network is not None and network.devnet
        approvers = (
            local_approvers(network, first_org=org) if network is not None and devnet else []
        )
        outcome = deploy_evidence_contract(client, contract_name, approvers=approvers)
    approved = list(outcome.approving)
    emit(
        as_json,
        {"deployed": contract_name, "approved_by": approved, "auto_approved": list(outcome.added)},
        lambda: [
            f"evidence contract deployed as {contract_name!r}"
            + (f", approved by {', '.join(approved)}" if approved else "")
            + (" (devnet auto-approval)" if outcome.added else "")
        ],
    )
