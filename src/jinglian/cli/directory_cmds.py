"""``jinglian directory``: publish a department's directory and share data between departments.

``watch`` is in ``directory_watch``, ``demo`` in ``directory_demo``; both add their
commands to the group defined here.

The department is always the signer's organisation (``--identity org/role``): the
contract puts every write in the sender's own directory, so these commands never name
the department they write to. Directory writes need an ``admin``; requests and
decisions an ``admin`` or a ``client``. See ``docs/apps/directory.md``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from jinglian.apps import directory as sdk
from jinglian.apps.directory import bulk
from jinglian.apps.directory import service as directory_service
from jinglian.apps.directory.service import CONTRACT_NAME
from jinglian.cli._base import Target, emit, json_option, show_value, target_options
from jinglian.client import (
    Client,
    Identity,
    find_network_dir,
    load_network,
    local_approvers,
)
from jinglian.crypto import get_suite, issue_certificate
from jinglian.crypto.certs import NAME_CHARS_MAX
from jinglian.exchange import fetch
from jinglian.node.init import USER_ROLES
from jinglian.types.errors import (
    ConfigError,
    InvalidInput,
    JinglianError,
    NotFound,
    UnknownContract,
)

__all__ = ["directory"]

ITEMS_ARG_MAX = 200
"""Most items one ``request --items`` names (the contract's limit)."""
LOG_PAGE = 100
"""Log entries per query (the contract's page limit)."""
LIST_PAGE_MAX = 100
MEMBER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""A division member's name: a directory under ``orgs/<org>/users/`` and half of
``<org>/<name>`` in ``network.json``."""

contract_option = click.option(
    "--contract",
    "contract_name",
    default=CONTRACT_NAME,
    show_default=True,
    help="Name the directory contract is deployed under.",
)
org_option = click.option(
    "--org", help="Department (organisation) to read (default: the identity's own)."
)
page_options = [
    click.option(
        "--start", type=click.IntRange(0), default=0, show_default=True, help="First entry."
    ),
    click.option(
        "--limit",
        type=click.IntRange(1, LIST_PAGE_MAX),
        default=LIST_PAGE_MAX,
        show_default=True,
        help="Most entries.",
    ),
]


def _pages(func: Any) -> Any:
    for option in reversed(page_options):
        func = option(func)
    return func


@click.group()
def directory() -> None:
    """The directory chain: duties, catalogs, data items and divisions of each department,
    and data sharing between departments (request, approve or reject, revoke).

    The department is the signing identity's organisation (--identity org/role).
    Directory writes need an admin; requests and decisions an admin or a client.

    \b
    Example:
      jinglian directory duty put flood --name "防汛排涝 Flood control" \\
          --legal-basis "《中华人民共和国防洪法》"
      jinglian directory import directory.json
      jinglian directory request planning 301001/000001 --items parcel_id,land_use_class \\
          --duty flood --purpose "flood risk map" --days 30 --identity water/client
      jinglian directory watch --identity planning/admin --auto-approve rules.toml
    """


def _client(target: dict[str, Any], *, verify: bool = False) -> tuple[Target, Client]:
    chosen = Target(**target)
    return chosen, chosen.client(sign=True, verify=verify)


def _own_org(client: Client) -> str:
    assert client.identity is not None
    return client.identity.cert.org_id


def _call(action: Callable[[], Any], contract_name: str) -> Any:
    """Run one SDK call; a missing contract says how to deploy it."""
    try:
        return action()
    except UnknownContract as exc:
        raise UnknownContract(_deploy_hint(exc.message, contract_name)) from exc


def _sdk_call(
    target: dict[str, Any], contract_name: str, function: Callable[..., Any], *args: Any
) -> Any:
    """``function(client, *args, contract=contract_name)`` with the target's signing client
    (closed after); a missing contract says how to deploy it."""
    _, client = _client(target)
    with client:
        return _call(lambda: function(client, *args, contract=contract_name), contract_name)


def _read_page(
    target: dict[str, Any],
    contract_name: str,
    org: str | None,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    start: int,
    limit: int,
) -> tuple[str, list[dict[str, Any]]]:
    """A page of a department's entries: ``(org, function(client, org, *args, start, limit))``,
    the org being the signer's own unless ``org`` names one."""
    _, client = _client(target)
    with client:
        owner = org or _own_org(client)
        found = _call(
            lambda: function(
                client, owner, *args, start=start, limit=limit, contract=contract_name
            ),
            contract_name,
        )
    return owner, found


def _emit_page(
    as_json: bool, title: str, found: list[dict[str, Any]], line: Callable[[dict[str, Any]], str]
) -> None:
    """A page of entries: JSON, or ``title`` and one ``line`` an entry (retired ones marked)."""
    emit(
        as_json,
        found,
        lambda: (
            [title]
            + [line(e) + ("" if e["status"] == "active" else f" ({e['status']})") for e in found]
        ),
    )


def _deploy_hint(message: str, contract_name: str) -> str:
    option = "" if contract_name == CONTRACT_NAME else f" --contract {contract_name}"
    return f"{message}: deploy it with `jinglian directory deploy{option}` (a devnet does at start)"


def _emit_change(as_json: bool, what: str, done: dict[str, Any]) -> None:
    emit(
        as_json,
        done,
        lambda: [
            f"{what}: change {done.get('seq')} of {done.get('org')}, version "
            f"{done.get('version', '-')}, head {str(done.get('head', ''))[:16]}..."
        ],
    )


# -- deploying -----------------------------------------------------------------------------------


@directory.command("deploy")
@contract_option
@target_options
@json_option
def directory_deploy(contract_name: str, as_json: bool, **target: Any) -> None:
    """Deploy the directory contract (as an admin; once per chain; a devnet does it at start).

    Deploying is governed (policy contract.deploy): on a devnet the local
    admins endorse as the policy needs.

    \b
    Example:
      jinglian directory deploy --identity org1/admin
    """
    chosen, client = _client(target)
    network = chosen.network()
    with client:
        org = _own_org(client)
        approvers = (
            local_approvers(network, first_org=org)
            if network is not None and network.devnet
            else []
        )
        outcome = sdk.deploy_directory_contract(client, contract_name, approvers=approvers)
    emit(
        as_json,
        {"deployed": contract_name, "approved_by": list(outcome.approving)},
        lambda: [f"directory contract deployed as {contract_name!r}"],
    )


# -- duties --------------------------------------------------------------------------------------


@directory.group("duty")
def duty_group() -> None:
    """Duties: the roots of a department's directory (what it is responsible for, and why).

    \b
    Example:
      jinglian directory duty put flood --name "防汛排涝 Flood control" \\
          --legal-basis "《中华人民共和国防洪法》第十七条"
      jinglian directory duty retire flood
    """


@duty_group.command("put")
@click.argument("duty_id")
@click.option("--name", required=True, help="Name (1-128 characters).")
@click.option("--legal-basis", required=True, help="The law or mandate it rests on (1-500).")
@contract_option
@target_options
@json_option
def duty_put(
    duty_id: str, name: str, legal_basis: str, contract_name: str, as_json: bool, **target: Any
) -> None:
    """Publish or update the duty DUTY_ID of your department (an admin).

    \b
    Example:
      jinglian directory duty put planning --name "国土空间规划 Spatial planning" \\
          --legal-basis "《中华人民共和国城乡规划法》" --identity planning/admin
    """
    done = _sdk_call(target, contract_name, sdk.put_duty, duty_id, name, legal_basis)
    _emit_change(as_json, f"duty {duty_id} published", done)


@duty_group.command("retire")
@click.argument("duty_id")
@contract_option
@target_options
@json_option
def duty_retire(duty_id: str, contract_name: str, as_json: bool, **target: Any) -> None:
    """Retire a duty (refused while an active catalog hangs from it).

    \b
    Example:
      jinglian directory duty retire flood
    """
    done = _sdk_call(target, contract_name, sdk.retire_duty, duty_id)
    _emit_change(as_json, f"duty {duty_id} retired", done)


# -- catalogs ------------------------------------------------------------------------------------


@directory.group("catalog")
def catalog_group() -> None:
    """Data catalogs: what data a department holds, each hung from its duties.

    \b
    Example:
      jinglian directory catalog put 301001/000001 --name "土地利用规划数据 Land-use plan" \\
          --summary "Parcels of the land-use plan" --duty planning --share-type conditional \\
          --condition "for planning and flood control" --mode file --format csv \\
          --cycle quarterly --open not_open --release-date 2024-01-15
      jinglian directory catalog list --org planning
    """


@catalog_group.command("put")
@click.argument("code")
@click.option("--name", required=True, help="Name (1-128 characters).")
@click.option("--summary", required=True, help="Summary (1-1000 characters).")
@click.option(
    "--duty", "duties", multiple=True, required=True, help="A duty it hangs from; repeatable."
)
@click.option(
    "--share-type",
    type=click.Choice(["unconditional", "conditional", "not_shared"]),
    required=True,
    help="Who may get the data.",
)
@click.option("--condition", default="", help="Share condition (required unless unconditional).")
@click.option(
    "--mode",
    type=click.Choice(["file", "api", "query"]),
    default="file",
    show_default=True,
    help="How the data is delivered.",
)
@click.option("--format", "data_format", required=True, help="Data format, e.g. csv (1-32).")
@click.option(
    "--cycle",
    type=click.Choice(list(bulk.UPDATE_CYCLES)),
    default="irregular",
    show_default=True,
    help="Update cycle.",
)
@click.option(
    "--open",
    "open_attribute",
    type=click.Choice(list(bulk.OPEN_ATTRIBUTES)),
    default="not_open",
    show_default=True,
    help="Open-data attribute.",
)
@click.option("--release-date", required=True, help="Release date YYYY-MM-DD.")
@click.option("--related", multiple=True, help="A related catalog ORG:CODE; repeatable.")
@contract_option
@target_options
@json_option
def catalog_put(
    code: str,
    name: str,
    summary: str,
    duties: tuple[str, ...],
    share_type: str,
    condition: str,
    mode: str,
    data_format: str,
    cycle: str,
    open_attribute: str,
    release_date: str,
    related: tuple[str, ...],
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Publish or update catalog CODE (CIISSS/NNNNNN) of your department (an admin).

    \b
    Example:
      jinglian directory catalog put 301001/000001 --name "土地利用规划数据" \\
          --summary "Land-use plan parcels" --duty planning --share-type conditional \\
          --condition "for flood control" --format csv --release-date 2024-01-15
    """
    fields = {
        "name": name,
        "summary": summary,
        "duties": list(duties),
        "share_type": share_type,
        "share_condition": condition,
        "share_mode": mode,
        "data_format": data_format,
        "update_cycle": cycle,
        "open_attribute": open_attribute,
        "release_date": release_date,
        "related": list(related),
    }
    done = _sdk_call(target, contract_name, sdk.put_catalog, code, fields)
    _emit_change(as_json, f"catalog {code} published", done)


@catalog_group.command("retire")
@click.argument("code")
@contract_option
@target_options
@json_option
def catalog_retire(code: str, contract_name: str, as_json: bool, **target: Any) -> None:
    """Retire a catalog: it takes no new requests.

    \b
    Example:
      jinglian directory catalog retire 301001/000001
    """
    done = _sdk_call(target, contract_name, sdk.retire_catalog, code)
    _emit_change(as_json, f"catalog {code} retired", done)


@catalog_group.command("show")
@click.argument("code")
@org_option
@contract_option
@target_options
@json_option
def catalog_show(
    code: str, org: str | None, contract_name: str, as_json: bool, **target: Any
) -> None:
    """A catalog with its data items.

    \b
    Example:
      jinglian directory catalog show 301001/000001 --org planning
    """
    _, client = _client(target)
    with client:
        owner = org or _own_org(client)
        found = _call(
            lambda: sdk.catalog(client, owner, code, contract=contract_name), contract_name
        )
        if found is None:
            raise NotFound(f"{owner} has no catalog {code!r}")
        entries = sdk.items(client, owner, code, limit=LIST_PAGE_MAX, contract=contract_name)
    emit(as_json, {"catalog": found, "items": entries}, lambda: _catalog_lines(found, entries))


def _catalog_lines(found: dict[str, Any], entries: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{found['org']}:{found['code']}  {found['name']}  ({found['status']}, version {found['version']})",
        f"  summary     {found['summary']}",
        f"  duties      {', '.join(found['duties'])}",
        f"  sharing     {found['share_type']}"
        + (f": {found['share_condition']}" if found["share_condition"] else ""),
        f"  mode        {found['share_mode']}, format {found['format']}, updated {found['update_cycle']}",
        f"  open        {found['open_attribute']}, released {found['release_date']}",
        f"  items       {found.get('item_count', len(entries))}",
    ]
    for entry in entries:
        lines.append(
            f"    {entry['code']:<24} {entry['name']}  [{entry['data_type']}, {entry['sensitivity']}"
            + (f", {entry['standard']}" if entry.get("standard") else "")
            + "]"
            + ("" if entry["status"] == "active" else f" ({entry['status']})")
        )
    return lines


@catalog_group.command("list")
@org_option
@_pages
@contract_option
@target_options
@json_option
def catalog_list(
    org: str | None, start: int, limit: int, contract_name: str, as_json: bool, **target: Any
) -> None:
    """A department's catalogs in publication order.

    \b
    Example:
      jinglian directory catalog list --org planning --limit 20
    """
    owner, found = _read_page(target, contract_name, org, sdk.catalogs, (), start, limit)
    _emit_page(
        as_json,
        f"{owner}: {len(found)} catalog(s) from {start}",
        found,
        lambda c: (
            f"  {c['code']}  {c['share_type']:<13} {c.get('item_count', 0):>4} items  {c['name']}"
        ),
    )


# -- items ---------------------------------------------------------------------------------------


@directory.group("items")
def items_group() -> None:
    """Data items: the fields of a catalog (code, name, data type, sensitivity, standard).

    \b
    Example:
      jinglian directory items put 301001/000001 --item "parcel_id,宗地编号,string,internal"
      jinglian directory items list 301001/000001 --org planning
    """


def _parse_item(text: str) -> dict[str, Any]:
    try:
        row = next(csv.reader([text]))
    except (csv.Error, StopIteration) as exc:
        raise InvalidInput(
            f"--item {text!r} is not CODE,NAME,DATA_TYPE,SENSITIVITY[,STANDARD]"
        ) from exc
    if len(row) not in (4, 5):
        raise InvalidInput(
            f"--item {text!r} has {len(row)} parts, not CODE,NAME,DATA_TYPE,SENSITIVITY[,STANDARD]"
        )
    names = ("code", "name", "data_type", "sensitivity", "standard")
    value = {name: part.strip() for name, part in zip(names, row, strict=False)}
    value.setdefault("standard", "")
    return value


@items_group.command("put")
@click.argument("catalog")
@click.option(
    "--item",
    "item_texts",
    multiple=True,
    required=True,
    metavar="CODE,NAME,TYPE,SENSITIVITY[,STANDARD]",
    help="One data item (CSV syntax); repeatable, up to 200.",
)
@contract_option
@target_options
@json_option
def items_put(
    catalog: str, item_texts: tuple[str, ...], contract_name: str, as_json: bool, **target: Any
) -> None:
    """Publish or update data items of your catalog CATALOG in one transaction (an admin).

    TYPE is string, integer, decimal, boolean, date, datetime or binary;
    SENSITIVITY public, internal, sensitive or restricted.

    \b
    Example:
      jinglian directory items put 301001/000001 \\
          --item "parcel_id,宗地编号 Parcel id,string,internal" \\
          --item "area_m2,面积 Area (m²),decimal,public,GB/T 21010-2017"
    """
    entries = [_parse_item(text) for text in item_texts]
    if len(entries) > bulk.ITEMS_BATCH_MAX:
        raise InvalidInput(f"{len(entries)} items, over {bulk.ITEMS_BATCH_MAX} per transaction")
    done = _sdk_call(target, contract_name, sdk.put_items, catalog, entries)
    _emit_change(as_json, f"{done.get('count')} item(s) of {catalog} published", done)


@items_group.command("retire")
@click.argument("catalog")
@click.argument("codes", nargs=-1, required=True)
@contract_option
@target_options
@json_option
def items_retire(
    catalog: str, codes: tuple[str, ...], contract_name: str, as_json: bool, **target: Any
) -> None:
    """Retire data items CODES of your catalog CATALOG: they can no longer be requested.

    \b
    Example:
      jinglian directory items retire 301001/000001 plan_no approval_date
    """
    done = _sdk_call(target, contract_name, sdk.retire_items, catalog, list(codes))
    _emit_change(as_json, f"{done.get('count')} item(s) of {catalog} retired", done)


@items_group.command("list")
@click.argument("catalog")
@org_option
@_pages
@contract_option
@target_options
@json_option
def items_list(
    catalog: str,
    org: str | None,
    start: int,
    limit: int,
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """A catalog's data items in code order.

    \b
    Example:
      jinglian directory items list 301001/000001 --org planning
    """
    owner, found = _read_page(target, contract_name, org, sdk.items, (catalog,), start, limit)
    _emit_page(
        as_json,
        f"{owner}:{catalog}: {len(found)} item(s) from {start}",
        found,
        lambda e: f"  {e['code']:<24} {e['name']}  [{e['data_type']}, {e['sensitivity']}]",
    )


# -- divisions -----------------------------------------------------------------------------------


@directory.group("division")
def division_group() -> None:
    """Divisions: a department's sub-units, which a request may name.

    \b
    Example:
      jinglian directory division put flood-office --name "防汛办公室 Flood control office"
      jinglian directory division list --org water
    """


@division_group.command("put")
@click.argument("division_id")
@click.option("--name", required=True, help="Name (1-128 characters).")
@contract_option
@target_options
@json_option
def division_put(
    division_id: str, name: str, contract_name: str, as_json: bool, **target: Any
) -> None:
    """Publish or update the division DIVISION_ID of your department (an admin).

    \b
    Example:
      jinglian directory division put flood-office --name "防汛办公室 Flood control office"
    """
    done = _sdk_call(target, contract_name, sdk.put_division, division_id, name)
    _emit_change(as_json, f"division {division_id} published", done)


@division_group.command("retire")
@click.argument("division_id")
@contract_option
@target_options
@json_option
def division_retire(division_id: str, contract_name: str, as_json: bool, **target: Any) -> None:
    """Retire a division: it can no longer be named in a request.

    \b
    Example:
      jinglian directory division retire flood-office
    """
    done = _sdk_call(target, contract_name, sdk.retire_division, division_id)
    _emit_change(as_json, f"division {division_id} retired", done)


@division_group.command("list")
@org_option
@_pages
@contract_option
@target_options
@json_option
def division_list(
    org: str | None, start: int, limit: int, contract_name: str, as_json: bool, **target: Any
) -> None:
    """A department's divisions in id order.

    \b
    Example:
      jinglian directory division list --org water
    """
    owner, found = _read_page(target, contract_name, org, sdk.divisions, (), start, limit)
    _emit_page(
        as_json,
        f"{owner}: {len(found)} division(s) from {start}",
        found,
        lambda d: f"  {d['id']:<24} {d['name']}",
    )


# -- division members ----------------------------------------------------------------------------


@directory.group("member")
def member_group() -> None:
    """Identities of division members: certificates that name the division.

    A member's certificate carries the division as a second subject OU, so every
    request the member signs is made in that division (the contract checks it).

    \b
    Example:
      jinglian directory member add flood zhang.wei --identity water/admin
    """


@member_group.command("add")
@click.argument("division_id")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(USER_ROLES),
    default="client",
    show_default=True,
    help="The member's role.",
)
@click.option("--org", help="Department (default: the identity's own).")
@contract_option
@target_options
@json_option
def member_add(
    division_id: str,
    name: str,
    role: str,
    org: str | None,
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Issue NAME an identity of division DIVISION_ID, from the department's CA.

    The division must be an active division of the department on chain. The
    key and certificate go to orgs/ORG/users/NAME/ in the network directory
    (the CA is orgs/ORG/ca/), and network.json gains the identity ORG/NAME.

    \b
    Example:
      jinglian directory member add flood zhang.wei --identity water/admin
      jinglian directory request planning 301001/000001 --items parcel_id \\
          --duty flood --purpose "flood risk map" --days 30 --identity water/zhang.wei
    """
    chosen, client = _client(target)
    net_dir = find_network_dir(chosen.net)
    if net_dir is None:
        raise ConfigError("member add writes into a network directory: pass --net DIR")
    with client:
        department = org or _own_org(client)
        found = _call(
            lambda: sdk.division(client, department, division_id, contract=contract_name),
            contract_name,
        )
    if found is None or found.get("status") != "active":
        raise InvalidInput(f"{department} has no active division {division_id!r}")
    done = _issue_member(net_dir, department, division_id, name, role)
    emit(
        as_json,
        done,
        lambda: [
            f"identity {done['identity']} ({role}, division {division_id}) "
            f"written to {done['cert']}"
        ],
    )


def _issue_member(
    net_dir: Path, org: str, division_id: str, name: str, role: str
) -> dict[str, Any]:
    """Issue ``name`` a ``role`` certificate of ``division_id`` from ``org``'s CA, write it
    under ``orgs/<org>/users/<name>/`` and add ``<org>/<name>`` to ``network.json``.

    Checks everything before writing; the user directory is built beside and renamed into
    place, so a failure leaves neither a half-made identity nor a manifest entry.
    """
    if len(name) > NAME_CHARS_MAX or not MEMBER_NAME.fullmatch(name):
        raise InvalidInput(
            f"member name {name!r} must be 1 to {NAME_CHARS_MAX} letters, digits, '.', '_' "
            "or '-', starting with a letter or digit"
        )
    identity = f"{org}/{name}"
    network = load_network(net_dir)
    users = net_dir / "orgs" / org / "users"
    final = users / name
    if identity in network.identities or final.exists():
        raise InvalidInput(f"identity {identity} already exists in {net_dir}")
    ca_dir = net_dir / "orgs" / org / "ca"
    if not (ca_dir / "ca.key").is_file():
        raise ConfigError(f"no CA key of {org} at {ca_dir / 'ca.key'}: it issues the member")
    ca = Identity.load(ca_dir / "ca.pem", ca_dir / "ca.key")
    key = ca.suite.generate_key()
    cert = issue_certificate(
        ca.suite,
        ca.key,
        ca.cert,
        key.public_key(),
        org,
        role,
        f"{name}.{org}",
        division=division_id,
    )
    staging = users / f".{name}.new"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    fd = os.open(staging / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.to_pem())
    (staging / "cert.pem").write_text(cert.pem)
    staging.replace(final)
    entry = {
        "org": org,
        "role": role,
        "cert": f"orgs/{org}/users/{name}/cert.pem",
        "key": f"orgs/{org}/users/{name}/key.pem",
    }
    _add_identities(net_dir, {identity: entry})
    return {"identity": identity, "division": division_id, **entry}


def _add_identities(net_dir: Path, entries: dict[str, dict[str, str]]) -> None:
    """Add the ``entries`` not yet in ``network.json``'s ``identities`` (atomically)."""
    path = net_dir / "network.json"
    manifest = json.loads(path.read_text())
    identities = manifest["identities"]
    added = {name: entry for name, entry in entries.items() if name not in identities}
    if added:
        identities.update(added)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.replace(path)


# -- bulk import ---------------------------------------------------------------------------------


@directory.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and compare with the chain; send nothing.")
@contract_option
@target_options
@json_option
def directory_import(
    files: tuple[Path, ...], dry_run: bool, contract_name: str, as_json: bool, **target: Any
) -> None:
    """Publish duties, divisions, catalogs and items from JSON or CSV FILES (an admin).

    Every entry is checked first; with any problem each is listed as
    FILE:LINE: message and nothing is sent. Entries identical to the active ones
    on chain are skipped (importing the same file again sends nothing); the rest
    go in batches: duties and divisions, then catalogs, then items (up to 200 per
    transaction per catalog). Formats: docs/apps/directory.md, "Bulk import".

    \b
    Example:
      jinglian directory import directory.json --identity planning/admin
      jinglian directory import duties.csv catalogs.csv items.csv --dry-run
    """
    plan = bulk.read_files(files)
    _refuse_problems(plan.problems, ", ".join(str(f) for f in files))
    _, client = _client(target)
    with client:
        assert client.identity is not None
        if client.identity.cert.role != "admin" and not dry_run:
            raise InvalidInput(
                f"publishing needs an admin of the department, not {client.identity.cert.role!r}: "
                f"pass --identity {client.identity.cert.org_id}/admin"
            )
        org = _own_org(client)
        changes = _compare(client, org, plan, contract_name)
        _refuse_problems(plan.problems, ", ".join(str(f) for f in files))
        phases = bulk.calls_of(changes, client.identity)
        report = bulk.SendReport()
        if not dry_run and not changes.empty:
            report = bulk.send_phases(
                client, phases, contract=contract_name, on_progress=_progress_printer(as_json)
            )
    result = {
        "org": org,
        "read": plan.count(),
        "unchanged": changes.skipped,
        "to_send": changes.count(),
        "transactions": sum(len(p) for p in phases),
        "dry_run": dry_run,
        "committed": report.committed,
        "failed": report.failed,
        "seconds": round(report.seconds, 3),
        "tx_per_s": round(report.rate, 1),
    }
    emit(as_json, result, lambda: _import_lines(result))
    if report.failed:
        raise JinglianError(f"{len(report.failed)} transaction(s) failed: {report.failed[0]}")


def _compare(client: Client, org: str, plan: bulk.Plan, contract_name: str) -> bulk.Changes:
    try:
        chain = bulk.directory_state(client, org, plan, contract=contract_name)
    except UnknownContract as exc:
        raise UnknownContract(_deploy_hint(exc.message, contract_name)) from exc
    return bulk.plan_changes(plan, chain, org)


def _refuse_problems(problems: Sequence[str], what: str) -> None:
    if not problems:
        return
    for line in bulk.error_lines(problems):
        click.echo(f"  {line}", err=True)
    raise bulk.refuse(problems, what)


def _progress_printer(quiet: bool) -> Callable[[int, int], None] | None:
    if quiet:
        return None
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0 or done == total:
            last[0] = now
            click.echo(f"  {done} of {total} transactions committed", err=True)

    return show


def _import_lines(result: dict[str, Any]) -> list[str]:
    read, same, sent = result["read"], result["unchanged"], result["to_send"]
    kinds = ("duties", "divisions", "catalogs", "items")
    lines = [f"import into {result['org']}:"]
    for kind in kinds:
        lines.append(
            f"  {kind:<10} {read[kind]:>6} read, {same.get(kind, 0):>6} unchanged, "
            f"{sent[kind]:>6} {'to send' if result['dry_run'] else 'sent'}"
        )
    if result["dry_run"]:
        lines.append(f"dry run: {result['transactions']} transaction(s) would be sent")
    elif result["transactions"] == 0:
        lines.append("nothing to send: every entry is already on chain as in the files")
    else:
        lines.append(
            f"{result['committed']} of {result['transactions']} transactions committed in "
            f"{result['seconds']:.1f} s ({result['tx_per_s']} tx/s)"
        )
    return lines


# -- sharing -------------------------------------------------------------------------------------


@directory.command("request")
@click.argument("provider")
@click.argument("catalog")
@click.option("--items", "item_list", required=True, help="Item codes, comma-separated.")
@click.option("--duty", required=True, help="Your department's duty that justifies the request.")
@click.option("--purpose", required=True, help="What the data is for (1-500 characters).")
@click.option("--days", type=click.IntRange(1), required=True, help="Period of use in days.")
@click.option("--division", help="Your division making the request.")
@contract_option
@target_options
@json_option
def directory_request(
    provider: str,
    catalog: str,
    item_list: str,
    duty: str,
    purpose: str,
    days: int,
    division: str | None,
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Ask department PROVIDER for items of its catalog CATALOG.

    An unconditional catalog is granted at once; a conditional one waits for
    the provider's decision until the reply deadline; a not-shared one is refused.

    \b
    Example:
      jinglian directory request planning 301001/000001 --items parcel_id,land_use_class \\
          --duty flood --purpose "flood risk map of the new district" --days 30 \\
          --identity water/client
    """
    codes = [code.strip() for code in item_list.split(",") if code.strip()]
    if not codes or len(codes) > ITEMS_ARG_MAX:
        raise InvalidInput(f"--items must name 1 to {ITEMS_ARG_MAX} item codes")
    _, client = _client(target)
    with client:
        done = _call(
            lambda: sdk.request(
                client,
                provider,
                catalog,
                codes,
                duty,
                purpose,
                days,
                division_id=division,
                contract=contract_name,
            ),
            contract_name,
        )
        if done["status"] == "pending":
            record = sdk.get_request(client, int(done["id"]), contract=contract_name)
            done = {**done, "deadline": record.get("deadline")}
    emit(
        as_json,
        done,
        lambda: [
            f"request {done['id']} to {provider} for {catalog}: {done['status']}"
            + (f" (grant {done['id']})" if done["status"] == "granted" else "")
            + (
                f", waiting for {provider}'s decision until {_time(done.get('deadline'))}"
                if done["status"] == "pending"
                else ""
            )
        ],
    )


def _time(ms: Any) -> str:
    if not isinstance(ms, int):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ms / 1000))


@directory.command("approve")
@click.argument("request_id", type=click.IntRange(1))
@contract_option
@target_options
@json_option
def directory_approve(request_id: int, contract_name: str, as_json: bool, **target: Any) -> None:
    """Grant the pending request REQUEST_ID addressed to your department.

    \b
    Example:
      jinglian directory approve 7 --identity planning/admin
    """
    done = _sdk_call(target, contract_name, sdk.approve, request_id)
    emit(
        as_json,
        done,
        lambda: [
            f"request {request_id} approved: grant {done.get('id')} until {_time(done.get('end'))}"
        ],
    )


@directory.command("reject")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--reason", required=True, help="Why (1-500 characters).")
@contract_option
@target_options
@json_option
def directory_reject(
    request_id: int, reason: str, contract_name: str, as_json: bool, **target: Any
) -> None:
    """Refuse the pending request REQUEST_ID addressed to your department, with a reason.

    \b
    Example:
      jinglian directory reject 7 --reason "the purpose needs no parcel owners"
    """
    done = _sdk_call(target, contract_name, sdk.reject, request_id, reason)
    emit(as_json, done, lambda: [f"request {request_id} rejected"])


@directory.command("revoke")
@click.argument("grant_id", type=click.IntRange(1))
@click.option("--reason", required=True, help="Why (1-500 characters).")
@contract_option
@target_options
@json_option
def directory_revoke(
    grant_id: int, reason: str, contract_name: str, as_json: bool, **target: Any
) -> None:
    """Withdraw the active grant GRANT_ID your department gave.

    \b
    Example:
      jinglian directory revoke 7 --reason "the project ended"
    """
    done = _sdk_call(target, contract_name, sdk.revoke_grant, grant_id, reason)
    emit(as_json, done, lambda: [f"grant {grant_id} revoked"])


@directory.command("show")
@click.argument("kind", type=click.Choice(["request", "grant", "delivery"]))
@click.argument("record_id", type=click.IntRange(1))
@contract_option
@target_options
@json_option
def directory_show(
    kind: str, record_id: int, contract_name: str, as_json: bool, **target: Any
) -> None:
    """A request, grant or delivery record (time-based states derived: expired).

    \b
    Example:
      jinglian directory show request 7
      jinglian directory show grant 7 --json
    """
    reader = {"request": sdk.get_request, "grant": sdk.get_grant, "delivery": sdk.get_delivery}[
        kind
    ]
    found = _sdk_call(target, contract_name, reader, record_id)
    emit(
        as_json,
        found,
        lambda: (
            [f"{kind} {record_id}"]
            + [f"  {name:<14} {_shown(found[name], name)}" for name in sorted(found)]
        ),
    )


def _shown(value: Any, name: str) -> str:
    if name in ("time", "deadline", "start", "end", "revoked_time", "decided_time") and isinstance(
        value, int
    ):
        return _time(value)
    return value if isinstance(value, str) else show_value(value)


@directory.command("requests")
@click.option("--to", "to_org", help="Requests addressed to this department.")
@click.option("--from", "from_org", help="Requests made by this department.")
@_pages
@contract_option
@target_options
@json_option
def directory_requests(
    to_org: str | None,
    from_org: str | None,
    start: int,
    limit: int,
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Requests addressed to (--to) or made by (--from) a department, oldest first.

    \b
    Example:
      jinglian directory requests --to planning
      jinglian directory requests --from water --start 100
    """
    if (to_org is None) == (from_org is None):
        raise click.UsageError("give either --to ORG or --from ORG")
    _, client = _client(target)
    with client:
        if to_org is not None:
            found = _call(
                lambda: sdk.requests_to(
                    client, to_org, start=start, limit=limit, contract=contract_name
                ),
                contract_name,
            )
        else:
            assert from_org is not None
            found = _call(
                lambda: sdk.requests_from(
                    client, from_org, start=start, limit=limit, contract=contract_name
                ),
                contract_name,
            )
    emit(
        as_json,
        found,
        lambda: (
            [f"{len(found)} request(s) from {start}"]
            + [
                f"  {r['id']:>6}  {r['status']:<9} {r['requester']}"
                + (f" ({r['division']})" if r.get("division") else "")
                + f" -> {r['provider']}:{r['catalog']}  "
                f"{len(r['items'])} item(s), duty {r['duty']}, {r['period_days']} days"
                for r in found
            ]
        ),
    )


@directory.command("head")
@click.argument("org")
@click.option(
    "--verify",
    is_flag=True,
    help="Recompute the head from the whole log and prove head:ORG against the genesis file.",
)
@contract_option
@target_options
@json_option
def directory_head(
    org: str, verify: bool, contract_name: str, as_json: bool, **target: Any
) -> None:
    """The head hash of department ORG's directory: one value fixing every change so far.

    With --verify the log is read from the start, the head recomputed from it
    (the chain's hash), and the stored head's state proof checked; exit 1 if
    anything disagrees.

    \b
    Example:
      jinglian directory head planning --verify
    """
    _, client = _client(target, verify=verify)
    with client:
        found = _call(lambda: sdk.head(client, org, contract=contract_name), contract_name)
        result: dict[str, Any] = dict(found)
        if verify:
            result.update(_verify_head(client, org, found, contract_name))
    lines = [
        f"{org}: {found['seq']} change(s), head {found['head'] or '(empty)'}",
        f"  at block {found['height']}, {_time(found.get('time'))}",
    ]
    if verify:
        lines.append(
            f"  verified: the log's {result['log_entries']} change(s) recompute this head, "
            f"and head:{org} is proven at block {result['proven_height']}"
        )
    emit(as_json, result, lambda: lines)


def _verify_head(
    client: Client, org: str, found: dict[str, Any], contract_name: str
) -> dict[str, Any]:
    assert client.genesis is not None
    hash_fn = get_suite(client.genesis.crypto).hash
    entries: list[dict[str, Any]] = []
    while len(entries) < found["seq"]:
        page = sdk.log(client, org, start=len(entries) + 1, limit=LOG_PAGE, contract=contract_name)
        if not page:
            break
        entries += page
    entries = entries[: found["seq"]]
    recomputed = sdk.verify_log(org, entries, hash_fn)
    if recomputed != found["head"] or len(entries) != found["seq"]:
        raise InvalidInput(
            f"{org}'s log of {len(entries)} change(s) recomputes head {recomputed or '(empty)'}, "
            f"but the chain holds {found['head']} after {found['seq']}"
        )
    state = client.get_state(contract_name, f"head:{org}", verify=True)
    proven = state.value
    if not isinstance(proven, dict) or proven.get("head") != found["head"]:
        raise InvalidInput(f"the proven head:{org} ({proven!r}) differs from the query's")
    return {"verified": True, "log_entries": len(entries), "proven_height": state.height}


# -- search, report, fetch -----------------------------------------------------------------------


SEARCH_LIMIT_MAX = 100
"""Most catalogs one search page asks for (the index's page limit)."""


@directory.command("search")
@click.argument("keywords", nargs=-1)
@click.option(
    "--class",
    "classification",
    help="Classification: a class (3), item (301), sub-item (301001) or whole code.",
)
@click.option("--provider", help="Only this department's catalogs.")
@click.option(
    "--share-type",
    type=click.Choice(["unconditional", "conditional", "not_shared"]),
    help="Only catalogs shared this way.",
)
@click.option(
    "--status",
    type=click.Choice(["active", "retired", "any"]),
    default="active",
    show_default=True,
    help="Catalog status.",
)
@click.option("--start", type=click.IntRange(0), default=0, show_default=True, help="First hit.")
@click.option(
    "--limit",
    type=click.IntRange(1, SEARCH_LIMIT_MAX),
    default=20,
    show_default=True,
    help="Most hits.",
)
@target_options
@json_option
def directory_search(
    keywords: tuple[str, ...],
    classification: str | None,
    provider: str | None,
    share_type: str | None,
    status: str,
    start: int,
    limit: int,
    as_json: bool,
    **target: Any,
) -> None:
    """Search the catalogs of every department by keywords (all must occur in a catalog's
    name, summary or item names), classification, provider and share type.

    Answered from the node's SQL index (`index_db` in node.toml, filled by
    `jinglian indexer run`); a node without one answers unavailable.

    \b
    Example:
      jinglian directory search 土地 规划
      jinglian directory search land-use --share-type conditional --json
      jinglian directory search --class 301 --provider planning
    """
    _, client = _client(target)
    with client:
        found = directory_service.search(
            client,
            keyword=" ".join(keywords) or None,
            classification=classification,
            provider=provider,
            share_type=share_type,
            status=status,
            start=start,
            limit=limit,
        )
    hits = found.get("catalogs", [])
    emit(
        as_json,
        found,
        lambda: (
            [_search_heading(int(found.get("total", 0)), len(hits), start)]
            + [
                f"  {c['org']}:{c['code']}  {c['share_type']:<13} {c.get('item_count', 0):>4} items  "
                f"{c['name']}"
                for c in hits
            ]
        ),
    )


def _search_heading(total: int, shown: int, start: int) -> str:
    """``12 catalogs match; 1-10 shown:`` (positions count from 1, as a reader counts)."""
    noun = "catalog matches" if total == 1 else "catalogs match"
    if shown == 0:
        return f"{total} {noun}; none shown from position {start + 1}"
    return f"{total} {noun}; {start + 1}-{start + shown} shown:"


def _ms(value: str | None, option: str) -> int | None:
    """``--since``/``--until``: Unix milliseconds, or a UTC date or date-time (ISO 8601)."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"{option} takes YYYY-MM-DD, an ISO date-time or Unix milliseconds, not {value!r}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@directory.command("report")
@click.option("--org", help="Only requests made to this department.")
@click.option("--since", help="Requests made from (YYYY-MM-DD, date-time, or Unix ms; UTC).")
@click.option("--until", help="Requests made before (same forms).")
@target_options
@json_option
def directory_report(
    org: str | None, since: str | None, until: str | None, as_json: bool, **target: Any
) -> None:
    """Service-level figures from block times: request-to-decision and request-to-delivery
    per department and catalog (count, median, p95, max), pending and overdue requests.

    Answered from the node's SQL index, like search.

    \b
    Example:
      jinglian directory report
      jinglian directory report --org planning --since 2026-01-01 --json
    """
    since_ms, until_ms = _ms(since, "--since"), _ms(until, "--until")
    _, client = _client(target)
    with client:
        found = directory_service.report(client, org=org, since_ms=since_ms, until_ms=until_ms)
    emit(as_json, found, lambda: _report_lines(found))


def _seconds(ms: Any) -> str:
    return f"{int(ms) / 1000:.1f} s" if isinstance(ms, int) else "-"


def _report_lines(found: dict[str, Any]) -> list[str]:
    counts = found.get("requests", {})
    lines = [
        "requests: "
        + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none")
    ]
    for title, key in (("request to decision", "decision"), ("request to delivery", "delivery")):
        rows = found.get(key, {}).get("by_provider", [])
        lines.append(f"{title} (conditional requests)" if key == "decision" else title)
        if not rows:
            lines.append("  none yet")
        for row in rows:
            lines.append(
                f"  {row['provider']:<20} {row['count']:>5}  median {_seconds(row['median_ms'])}, "
                f"p95 {_seconds(row['p95_ms'])}, max {_seconds(row['max_ms'])}"
            )
    overdue = found.get("overdue", {})
    lines.append(
        f"pending within the deadline: {found.get('pending', {}).get('count', 0)}; "
        f"overdue: {overdue.get('count', 0)}"
    )
    for row in overdue.get("requests", []):
        lines.append(
            f"  request {row['id']} {row['requester']} -> {row['provider']}:{row['catalog']}, "
            f"overdue by {_seconds(row['overdue_ms'])}"
        )
    return lines


@directory.command("fetch")
@click.argument("grant_id", type=click.IntRange(1))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to save the data to (written whole or not at all).",
)
@contract_option
@target_options
@json_option
def directory_fetch(
    grant_id: int, output: Path, contract_name: str, as_json: bool, **target: Any
) -> None:
    """Fetch the data of GRANT_ID from the provider's exchange service, decrypt it, check
    its hash against the delivery on chain, record the receipt (confirm) and save it.

    The identity (an admin or client of the requesting department) presents
    its member certificate over mutual TLS, signs the request, and is the key
    the data is sealed to. A hash that differs from the chain's is recorded as
    a mismatch and reported as an error (payload_mismatch); nothing is saved.

    \b
    Example:
      jinglian directory fetch 7 -o landuse.csv --identity water/client
    """
    _, client = _client(target)
    with client:
        result = fetch(client, grant_id, output, contract=contract_name)
    emit(
        as_json,
        {
            "grant": result.grant,
            "delivery": result.delivery,
            "provider": result.provider,
            "catalog": result.catalog,
            "request_hash": result.request_hash,
            "payload_hash": result.payload_hash,
            "size": result.size,
            "status": result.status,
            "path": str(result.path),
        },
        lambda: [
            f"fetched grant {grant_id} from {result.provider} ({result.catalog}): "
            f"{result.size} bytes to {result.path}",
            f"  delivery {result.delivery}, payload hash {result.payload_hash[:16]}... matches "
            f"the chain; receipt recorded ({result.status})",
        ],
    )
