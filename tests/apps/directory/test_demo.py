"""The demo-data generator: deterministic, valid by the contract's own rules, exact totals;
loaded by `jinglian directory demo` onto a real node (new member organisations, counts on
chain equal to the generated ones, example sources written) and a rerun sends nothing."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from jinglian.apps import directory as sdk
from jinglian.apps.directory import bulk, demo
from jinglian.cli import cli
from jinglian.client import Client
from jinglian.testing.process import NodeProcess, find_free_ports
from jinglian.types.errors import InvalidInput

SMALL = demo.Sizes(departments=5, catalogs=50, items=520, divisions=30)


def _totals(departments: list[demo.Department]) -> dict[str, int]:
    totals = {"duties": 0, "divisions": 0, "catalogs": 0, "items": 0}
    for department in departments:
        for kind, count in department.plan.count().items():
            totals[kind] += count
    return totals


def test_generated_data_is_deterministic_valid_and_exact() -> None:
    first, again = demo.generate(SMALL, seed=7), demo.generate(SMALL, seed=7)
    other = demo.generate(SMALL, seed=8)
    assert [d.plan for d in first] == [d.plan for d in again]
    assert [d.plan for d in first] != [d.plan for d in other]
    totals = _totals(first)
    assert totals["catalogs"] == 50 and totals["items"] == 520 and totals["divisions"] == 30
    for department in first:
        bulk.check_plan(department.plan)
        assert department.plan.problems == [], department.plan.problems
        for entry in department.plan.catalogs.values():
            assert set(entry.value["duties"]) <= set(department.plan.duties)
    planning, water = first[0], first[1]
    assert (planning.org, water.org) == (demo.PLANNING, demo.WATER)
    landuse = planning.plan.catalogs[demo.LANDUSE_CATALOG].value
    assert "土地利用规划数据" in landuse["name"] and landuse["share_type"] == "conditional"
    assert sorted(planning.plan.items[demo.LANDUSE_CATALOG]) == sorted(
        code for code, *_ in demo.LANDUSE_ITEMS
    )
    assert demo.WATER_DUTY in water.plan.duties
    share_types = {entry.value["share_type"] for d in first for entry in d.plan.catalogs.values()}
    assert share_types == {"unconditional", "conditional", "not_shared"}


def test_full_size_is_generated_within_bounds() -> None:
    departments = demo.generate(demo.Sizes(), seed=1)
    totals = _totals(departments)
    assert totals["catalogs"] == 5000 and totals["items"] == 50_000
    assert totals["divisions"] == 1000 and len(departments) == 60
    for department in departments:
        for entries in department.plan.items.values():
            assert 1 <= len(entries) <= bulk.ITEMS_BATCH_MAX


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        (demo.Sizes(departments=1), "departments must be 2 to"),
        (demo.Sizes(departments=99), "departments must be 2 to"),
        (demo.Sizes(departments=5, catalogs=4), "at least one per department"),
        (demo.Sizes(departments=5, catalogs=50, items=40), "items (40)"),
        (demo.Sizes(departments=5, catalogs=50, items=50_000), "at most 200 per catalog"),
        (demo.Sizes(departments=5, catalogs=50, items=500, divisions=3), "divisions (3)"),
    ],
)
def test_impossible_sizes_are_refused(sizes: demo.Sizes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        demo.generate(sizes)


def test_sources_are_deterministic(tmp_path: Path) -> None:
    paths = demo.write_sources(tmp_path / "a", count=200)
    again = demo.write_sources(tmp_path / "b", count=200)
    assert paths["landuse.csv"].read_bytes() == again["landuse.csv"].read_bytes()
    assert paths["landuse.sql"].read_bytes() == again["landuse.sql"].read_bytes()
    with paths["landuse.csv"].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 200
    assert list(rows[0]) == [code for code, *_ in demo.LANDUSE_ITEMS]
    assert len({row["parcel_id"] for row in rows}) == 200
    with sqlite3.connect(paths["landuse.sqlite"]) as db:
        (count,) = db.execute("SELECT count(*) FROM landuse").fetchone()
        first = db.execute("SELECT parcel_id, land_use_class FROM landuse LIMIT 1").fetchone()
    assert count == 200 and first == (rows[0]["parcel_id"], rows[0]["land_use_class"])
    sql = paths["landuse.sql"].read_text()
    assert "CREATE TABLE landuse" in sql and sql.count("INSERT INTO landuse") == 1


# -- on a real node ------------------------------------------------------------------------------


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A solo devnet-marked network of one organisation with the directory deployed."""
    root = tmp_path_factory.mktemp("demo") / "net"
    _ok(_run(
        "init", str(root), "--orgs", "1", "--consensus", "solo",
        "--api-port", str(find_free_ports(1)), "--p2p-port", str(find_free_ports(1)),
    ))  # fmt: skip
    manifest = json.loads((root / "network.json").read_text())
    (root / "network.json").write_text(json.dumps({**manifest, "devnet": True}))
    with NodeProcess(root / "nodes" / "node1") as process:
        process.start()
        _ok(_run("directory", "deploy", "--net", str(root)))
        yield root


def _demo(net: Path) -> dict[str, Any]:
    args = ["--departments", "5", "--catalogs", "50", "--items", "520", "--divisions", "30"]
    return json.loads(
        _ok(_run("directory", "demo", *args, "--seed", "3", "--json", "--net", str(net)))
    )  # type: ignore[no-any-return]


def test_demo_loads_on_a_node_and_a_rerun_sends_nothing(net: Path) -> None:
    first = _demo(net)
    assert first["organisations_added"] == ["planning", "water", "market", "police", "tax"]
    assert first["sent"] == {"duties": 18, "divisions": 30, "catalogs": 50, "items": 520}
    assert first["committed"] == first["transactions"] and not first["failed"]
    generated = demo.generate(SMALL, seed=3)
    with Client.from_network(net, identity="water/client") as client:
        orgs = [o["id"] for o in client.query("chain_config", "orgs").value]
        assert orgs == ["org1", "planning", "water", "market", "police", "tax"]
        for department in generated:
            catalogs = sdk.catalogs(client, department.org, limit=100)
            assert {c["code"] for c in catalogs} == set(department.plan.catalogs)
            for code, entries in department.plan.items.items():
                found = sdk.catalog(client, department.org, code)
                assert found is not None and found["item_count"] == len(entries)
            divisions = sdk.divisions(client, department.org, limit=100)
            assert len(divisions) == len(department.plan.divisions)
            head = sdk.head(client, department.org)
            expected = (
                len(department.plan.duties)
                + len(department.plan.divisions)
                + 2 * len(department.plan.catalogs)
            )
            assert head["seq"] == expected
        landuse = sdk.catalog(client, demo.PLANNING, demo.LANDUSE_CATALOG)
        assert landuse is not None and landuse["share_type"] == "conditional"
        asked = sdk.request(
            client, demo.PLANNING, demo.LANDUSE_CATALOG, ["parcel_id", "land_use_class"],
            demo.WATER_DUTY, "flood risk map", 30,
        )  # fmt: skip
        assert asked["status"] == "pending"
    network = json.loads((net / "network.json").read_text())
    assert {"planning/admin", "planning/client", "tax/admin"} <= set(network["identities"])
    sources = net / "demo" / "sources"
    assert all((sources / name).is_file() for name in demo.SOURCE_FILES)
    again = _demo(net)
    assert again["organisations_added"] == [] and again["transactions"] == 0
    assert again["already_there"] == first["sent"]
    text = _ok(_run("directory", "demo", "--departments", "5", "--catalogs", "50", "--items",
                    "520", "--divisions", "30", "--seed", "3", "--net", str(net)))  # fmt: skip
    assert "already on chain: nothing to load" in text
    # a division retired since: the next run compares entry by entry and puts back only it
    division = next(iter(generated[1].plan.divisions))
    _ok(_run("directory", "division", "retire", division, "--net", str(net),
             "--identity", "water/admin"))  # fmt: skip
    repaired = _demo(net)
    assert repaired["sent"] == {"duties": 0, "divisions": 1, "catalogs": 0, "items": 0}
    assert repaired["committed"] == 1


def test_demo_needs_a_devnet(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    _ok(_run("init", str(root), "--orgs", "1", "--consensus", "solo"))
    refused = _run("directory", "demo", "--net", str(root))
    assert refused.exit_code == 1 and "the demo needs a devnet" in refused.stderr


def test_more_departments_than_endorsements_can_add_are_refused_before_anything(
    tmp_path: Path,
) -> None:
    root = tmp_path / "four"
    _ok(_run(
        "init", str(root), "--orgs", "4", "--consensus", "solo",
        "--api-port", str(find_free_ports(1)), "--p2p-port", str(find_free_ports(1)),
    ))  # fmt: skip
    manifest = json.loads((root / "network.json").read_text())
    (root / "network.json").write_text(json.dumps({**manifest, "devnet": True}))
    with NodeProcess(root / "nodes" / "node1") as process:
        process.start()
        refused = _run(
            "directory", "demo", "--departments", str(demo.DEPARTMENTS_MAX), "--net", str(root)
        )
        assert refused.exit_code == 1, refused.output
        assert "ask for at most 60 departments" in refused.stderr
        with Client.from_network(root, identity="org1/admin") as client:
            assert len(client.query("chain_config", "orgs").value) == 4
