"""``jinglian directory demo``: load a city's demo directory onto a running devnet, adding
its departments as member organisations first; and the identity files that needs."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from jinglian.apps import directory as sdk
from jinglian.apps.directory import bulk, demo
from jinglian.cli._base import Target, emit, json_option, target_options
from jinglian.cli.directory_cmds import (
    LIST_PAGE_MAX,
    _add_identities,
    _compare,
    _progress_printer,
    contract_option,
    directory,
)
from jinglian.client import (
    Client,
    Identity,
    Network,
    load_network,
)
from jinglian.crypto import get_suite
from jinglian.node.init import USER_ROLES, create_org_identities
from jinglian.types.errors import (
    ConfigError,
    JinglianError,
)
from jinglian.types.tx import ENDORSEMENTS_MAX

# -- demo data -----------------------------------------------------------------------------------


DEMO_DIR = Path("demo")
"""Where the demo writes under the network directory (``sources/`` inside)."""


@directory.command("demo")
@click.option(
    "--departments",
    type=click.IntRange(2, demo.DEPARTMENTS_MAX),
    default=60,
    show_default=True,
    help="Departments (member organisations added to the devnet).",
)
@click.option(
    "--catalogs", type=click.IntRange(2), default=5000, show_default=True, help="Catalogs in all."
)
@click.option(
    "--items",
    "item_count",
    type=click.IntRange(2),
    default=50_000,
    show_default=True,
    help="Data items in all.",
)
@click.option(
    "--divisions", type=click.IntRange(2), default=1000, show_default=True, help="Divisions in all."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the generator.")
@contract_option
@target_options
@json_option
def directory_demo(
    departments: int,
    catalogs: int,
    item_count: int,
    divisions: int,
    seed: int,
    contract_name: str,
    as_json: bool,
    **target: Any,
) -> None:
    """Load a city's demo directory onto a running devnet: departments, duties, divisions,
    catalogs and items, and example data sources of the land-use planning data.

    Each department becomes a member organisation (CA and admin/client identities
    written under the network directory and into network.json, added with org.add
    approved by the devnet's local admins). Its directory is then published by its
    own admin. The planning commission (planning) publishes the land-use planning
    data 301001/000001; the water authority (water) has the duty flood-control to
    request it. The example sources are NET/demo/sources/landuse.csv, landuse.sqlite
    (table landuse) and landuse.sql (PostgreSQL). Running it again loads only what
    is missing.

    \b
    Example:
      jinglian devnet up --nodes 4 --detach
      jinglian directory demo
      jinglian directory demo --departments 5 --catalogs 50 --items 500 --divisions 20
    """
    sizes = demo.Sizes(departments, catalogs, item_count, divisions)
    sizes.check()
    chosen = Target(**target)
    network = chosen.network()
    if network is None or not network.devnet:
        raise ConfigError(
            "the demo needs a devnet (`jinglian devnet up`): it adds organisations with the "
            "approvals of the local admin identities"
        )
    started = time.monotonic()
    say = _say(as_json)
    generated = demo.generate(sizes, seed)
    say(f"generated {sizes.departments} departments in {time.monotonic() - started:.1f} s")
    sources = demo.write_sources(network.root / DEMO_DIR / "sources")
    say(f"example sources in {sources['landuse.csv'].parent}")
    with chosen.client(sign=True) as client:
        added = add_departments(client, network.root, [(d.org, d.name) for d in generated], say)
        network = chosen.network()
        assert network is not None
        phases: list[list[bulk.CallSpec]] = [[], [], []]
        skipped = {"duties": 0, "divisions": 0, "catalogs": 0, "items": 0}
        to_send = dict.fromkeys(skipped, 0)
        compare_started = time.monotonic()
        for department in generated:
            identity = _identity_of(network, f"{department.org}/admin")
            if _demo_complete(client, department, contract_name):
                for kind, count in department.plan.count().items():
                    skipped[kind] += count
                continue
            changes = _compare(client, department.org, department.plan, contract_name)
            if department.plan.problems:
                raise bulk.refuse(department.plan.problems, f"the demo data of {department.org}")
            for phase, calls in zip(phases, bulk.calls_of(changes, identity), strict=True):
                phase.extend(calls)
            for kind in skipped:
                skipped[kind] += changes.skipped.get(kind, 0)
                to_send[kind] += changes.count()[kind]
        say(
            f"compared with the chain in {time.monotonic() - compare_started:.1f} s: "
            + ", ".join(f"{to_send[k]} {k} to send ({skipped[k]} there)" for k in skipped)
        )
        report = bulk.SendReport()
        if any(phases):
            report = bulk.send_phases(
                client, phases, contract=contract_name, on_progress=_progress_printer(as_json)
            )
    result = {
        "departments": sizes.departments,
        "organisations_added": added,
        "sent": to_send,
        "already_there": skipped,
        "transactions": sum(len(p) for p in phases),
        "committed": report.committed,
        "failed": report.failed,
        "load_seconds": round(report.seconds, 1),
        "tx_per_s": round(report.rate, 1),
        "seconds": round(time.monotonic() - started, 1),
        "sources": {name: str(path) for name, path in sources.items()},
    }
    emit(as_json, result, lambda: _demo_lines(result))
    if report.failed:
        raise JinglianError(f"{len(report.failed)} transaction(s) failed: {report.failed[0]}")


def _demo_complete(client: Client, department: demo.Department, contract_name: str) -> bool:
    """Whether ``department`` holds exactly the changes a complete load of the demo makes.

    A department's head counts its changes: a load writes each duty, division
    and catalog once and each catalog's items in one batch, so a head at that
    count (and the catalogs all listed) means nothing is missing and no one
    changed it since; anything else is compared entry by entry.
    """
    plan = department.plan
    expected = len(plan.duties) + len(plan.divisions) + len(plan.catalogs)
    expected += sum(-(-len(items) // bulk.ITEMS_BATCH_MAX) for items in plan.items.values())
    found = sdk.head(client, department.org, contract=contract_name)
    if found.get("seq") != expected:
        return False
    listed: list[dict[str, Any]] = []
    while True:
        page = sdk.catalogs(
            client, department.org, start=len(listed), limit=LIST_PAGE_MAX, contract=contract_name
        )
        listed += page
        if len(page) < LIST_PAGE_MAX:
            break
    return {c["code"] for c in listed if c["status"] == "active"} == set(plan.catalogs)


def _say(quiet: bool) -> Callable[[str], None]:
    def say(text: str) -> None:
        if not quiet:
            click.echo(text, err=True)

    return say


def _identity_of(network: Network, name: str) -> Identity:
    entry = network.identity(name)
    return Identity.load(entry.cert, entry.key)


def _demo_lines(result: dict[str, Any]) -> list[str]:
    sent, there = result["sent"], result["already_there"]
    if result["transactions"] == 0 and not result["organisations_added"]:
        head = "the demo data is already on chain: nothing to load"
    else:
        head = (
            f"loaded {result['departments']} departments: {result['committed']} of "
            f"{result['transactions']} transactions in {result['load_seconds']} s "
            f"({result['tx_per_s']} tx/s)"
        )
    return [
        head,
        *(f"  {kind:<10} {sent[kind]:>6} sent, {there[kind]:>6} already there" for kind in sent),
        f"  organisations added: {len(result['organisations_added'])}",
        f"  sources: {result['sources']['landuse.csv']} (+ .sqlite, .sql)",
        f"done in {result['seconds']} s",
    ]


# -- adding departments as member organisations --------------------------------------------------


def add_departments(
    client: Client,
    net_dir: Path,
    departments: Sequence[tuple[str, str]],
    say: Callable[[str], None],
) -> list[str]:
    """Make each ``(org id, name)`` a member organisation of the devnet in ``net_dir``.

    Keys and certificates are created as ``jinglian init`` does (``orgs/<org>/ca``,
    ``users/admin``, ``users/client``) and the identities written into
    ``network.json``; then ``org.add`` is sent in rounds, each transaction endorsed
    by the admins of every member (up to the chain's endorsement limit), so a round
    of up to ``2a - n - 1`` additions (``a`` endorsing of ``n`` members) commits even
    when it spans several blocks. Returns the organisations added.
    """
    network = load_network(net_dir)
    suite = get_suite(network.crypto)
    members = [str(org["id"]) for org in client.query("chain_config", "orgs").value]
    missing = [(org, name) for org, name in departments if org not in members]
    members_max = 2 * ENDORSEMENTS_MAX
    if len(members) + len(missing) > members_max:
        raise ConfigError(
            f"{len(members)} members and {len(missing)} new departments would make "
            f"{len(members) + len(missing)}; endorsements can add members up to {members_max} "
            f"(a majority of {members_max - 1} is {ENDORSEMENTS_MAX}, the most one transaction "
            f"carries): ask for at most {members_max - len(members)} departments"
        )
    for org, _ in departments:
        _ensure_org_keys(net_dir, suite, org)
    _ensure_manifest(net_dir, [org for org, _ in departments])
    if not missing:
        return []
    network = load_network(net_dir)
    cas = {org: (net_dir / "orgs" / org / "ca" / "ca.pem").read_text() for org, _ in missing}
    admins = {
        e.org: Identity.load(e.cert, e.key)
        for e in network.identities.values()
        if e.role == "admin"
    }
    started = time.monotonic()
    pending = list(missing)
    while pending:
        endorsers = [admins[org] for org in members if org in admins][:ENDORSEMENTS_MAX]
        if len(endorsers) * 2 <= len(members):
            raise ConfigError(
                f"{len(endorsers)} admins can endorse, but a majority of the {len(members)} "
                f"members is {len(members) // 2 + 1} (the chain takes at most "
                f"{ENDORSEMENTS_MAX} endorsements per transaction)"
            )
        size = max(1, 2 * len(endorsers) - len(members) - 1)
        batch, pending = pending[:size], pending[size:]
        txs = []
        for org, name in batch:
            args = {"id": org, "name": name[:128], "ca_cert": cas[org]}
            tx = endorsers[0].sign_tx(network.chain_id, "chain_config", "add_org", args)
            for endorser in endorsers[1:]:
                tx = endorser.endorse(tx)
            txs.append(tx)
        outcomes = client.submit_many(txs)
        for outcome in outcomes:
            if not isinstance(outcome, str):
                raise outcome
        for tx, (org, _) in zip(txs, batch, strict=True):
            result = client.wait_tx(tx.id.hex(), ORG_ADD_TIMEOUT_S)
            if not result.ok:
                raise JinglianError(f"org.add {org}: {result.error} ({result.status})")
            members.append(org)
        say(
            f"added {len(batch)} organisation(s), {len(members)} members now "
            f"({len(endorsers)} endorsements each)"
        )
    say(f"added {len(missing)} organisations in {time.monotonic() - started:.1f} s")
    return [org for org, _ in missing]


ORG_ADD_TIMEOUT_S = 60.0
"""How long one round of ``org.add`` may take to commit."""


def _ensure_org_keys(net_dir: Path, suite: Any, org: str) -> None:
    """Create ``orgs/<org>`` (CA, admin, client) unless it is complete; built beside and
    renamed into place, so a crash leaves either nothing or the whole."""
    final = net_dir / "orgs" / org
    needed = [final / "ca" / "ca.pem", *(final / "users" / r / "cert.pem" for r in USER_ROLES)]
    if all(path.is_file() for path in needed):
        return
    if final.exists():
        raise ConfigError(f"{final} exists but is incomplete; remove it and run the demo again")
    staging = net_dir / "orgs" / f".{org}.new"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    create_org_identities(staging, suite, org)
    (staging / "orgs" / org).replace(final)
    shutil.rmtree(staging)


def _ensure_manifest(net_dir: Path, orgs: Sequence[str]) -> None:
    """Add ``<org>/admin`` and ``<org>/client`` of each org to ``network.json`` (atomically)."""
    _add_identities(
        net_dir,
        {
            f"{org}/{role}": {
                "org": org,
                "role": role,
                "cert": f"orgs/{org}/users/{role}/cert.pem",
                "key": f"orgs/{org}/users/{role}/key.pem",
            }
            for org in orgs
            for role in USER_ROLES
        },
    )
