"""The directory's index handler against a real solo node: after the whole workflow the ``dir_*``
rows equal what the contract's queries return; a rebuild writes identical rows; the same on a
throwaway PostgreSQL server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from jinglian.apps.directory import index, service
from jinglian.apps.directory.catalog_search import department, search_catalogs
from jinglian.apps.directory.sla import sla_report
from jinglian.client import AsyncClient, Client
from jinglian.indexer import Database, Indexer, open_database
from jinglian.testing.process import NodeProcess
from tests.apps.directory.scenario import (
    EXCHANGE_URL,
    OPEN,
    PLAN,
    WATER,
    Done,
    deploy,
    make_net,
    run_scenario,
)
from tests.indexer.conftest import postgres_url

__all__ = ["postgres_url"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Done]]:
    net = make_net(tmp_path_factory.mktemp("dirindex"))
    with NodeProcess(net / "nodes" / "node1") as node:
        node.start()
        deploy(net)
        done = run_scenario(net)
        yield net, done


def index_chain(net: Path, url: str, *, rebuild: bool = False) -> Database:
    """Index ``net``'s node into ``url`` with the directory handler; the open database."""
    database = open_database(url)

    async def main() -> None:
        client = AsyncClient.from_network(net, "org1/client")
        try:
            indexer = Indexer(client, database)
            index.add_directory_handler(indexer)
            await (indexer.rebuild() if rebuild else indexer.sync())
        finally:
            await client.aclose()

    asyncio.run(main())
    return database


def rows(database: Database, table: Any) -> list[Any]:
    with database.engine.connect() as connection:
        return list(connection.execute(select(table)).all())


def check_matches_contract(net: Path, database: Database, done: Done) -> None:
    with Client.from_network(net, "org1/client") as client:
        catalogs = {(r.org, r.code): r for r in rows(database, index.catalogs)}
        assert set(catalogs) == {("org1", PLAN), ("org1", OPEN), ("org2", WATER)}
        for (org, code), row in catalogs.items():
            assert index.catalog_view(row) == service.catalog(client, org, code)
        plan = catalogs[("org1", PLAN)]
        assert (
            plan.version == 2 and plan.item_count == 30 and "土地利用规划数据" in plan.search_text
        )
        # Retired items count (as the contract counts them) but are not searchable.
        road = catalogs[("org1", OPEN)]
        assert road.item_count == 3 and "road2" not in road.search_text
        assert "road1 parcel" in road.search_text
        items = rows(database, index.items)
        assert len(items) == 33
        for org, code in (("org1", PLAN), ("org1", OPEN)):
            indexed = sorted(
                (index.item_view(r) for r in items if r.catalog == code), key=lambda e: e["code"]
            )
            assert indexed == service.items(client, org, code, limit=100)
        for row in rows(database, index.duties):
            assert index.duty_view(row) == service.duty(client, row.org, row.duty_id)
        divisions = rows(database, index.divisions)
        assert {(r.org, r.division_id) for r in divisions} == {
            ("org1", "zoning"),
            ("org2", "flood"),
        }
        for row in divisions:
            stored = service.division(client, row.org, row.division_id)
            assert stored is not None and row.name == stored["name"]
            assert (row.version, row.status, row.tx_id) == (
                stored["version"],
                stored["status"],
                stored["tx_id"],
            )
        [exchange] = rows(database, index.exchanges)
        stored_exchange = service.exchange(client, "org1")
        assert stored_exchange is not None
        assert (exchange.url, exchange.version) == (EXCHANGE_URL, stored_exchange["version"])
        for row in rows(database, index.heads):
            head = service.head(client, row.org)
            assert (row.seq, row.head, row.height, row.time_ms) == (
                head["seq"],
                head["head"],
                head["height"],
                head["time"],
            )
        requests = {r.id: r for r in rows(database, index.requests)}
        assert sorted(requests) == [1, 2, 3, 4]
        for number, row in requests.items():
            assert index.request_view(row) == service.get_request(client, number)
        statuses = {n: r.status for n, r in requests.items()}
        assert statuses == {
            done.approved: "granted",
            done.rejected: "rejected",
            done.revoked: "granted",
            done.pending: "pending",
        }
        grants = {r.id: r for r in rows(database, index.grants)}
        assert sorted(grants) == [done.approved, done.revoked]
        for number, row in grants.items():
            assert index.grant_view(row) == service.get_grant(client, number)
        assert grants[done.revoked].status == "revoked"
        deliveries = {r.id: r for r in rows(database, index.deliveries)}
        for number, row in deliveries.items():
            view = index.delivery_view(row)
            assert view.pop("match") is (number == done.confirmed_delivery)
            assert view == service.get_delivery(client, number)
        assert deliveries[done.mismatched_delivery].status == "mismatch"


def check_search(database: Database) -> None:
    """The same search answers on either database (LIKE over the normalised text)."""
    found = search_catalogs(database, keyword="土地 PARCEL")
    assert [(c["org"], c["code"]) for c in found["catalogs"]] == [("org1", PLAN)]
    assert search_catalogs(database, keyword="road", classification="301")["total"] == 1
    assert search_catalogs(database, keyword="100%")["total"] == 0
    assert search_catalogs(database, status=None)["total"] == 3
    assert department(database, "org1")["requests_to"] == {
        "granted": 2,
        "pending": 1,
        "rejected": 1,
    }
    report = sla_report(database, now_ms=2**50)
    assert report["decision"]["by_provider"][0]["count"] == 2
    assert report["overdue"]["count"] == 1


def directory_rows(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    return {name: r for name, r in database.dump().items() if name.startswith("dir_")}


def test_index_rows_match_the_contract_and_a_rebuild_is_identical(
    chain: tuple[Path, Done], tmp_path: Path
) -> None:
    net, done = chain
    url = f"sqlite:///{tmp_path / 'index.sqlite'}"
    database = index_chain(net, url)
    try:
        check_matches_contract(net, database, done)
        check_search(database)
        before = directory_rows(database)
        assert sum(len(r) for r in before.values()) > 50
    finally:
        database.close()
    again = index_chain(net, url, rebuild=True)
    try:
        assert directory_rows(again) == before
    finally:
        again.close()


def test_index_on_postgresql(chain: tuple[Path, Done], postgres_url: str) -> None:
    net, done = chain
    name = f"dir_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = postgres_url.rsplit("/", 1)[0] + "/" + name
    try:
        database = index_chain(net, url)
        try:
            check_matches_contract(net, database, done)
            check_search(database)
            on_postgres = directory_rows(database)
        finally:
            database.close()
        again = index_chain(net, url, rebuild=True)
        try:
            assert directory_rows(again) == on_postgres
        finally:
            again.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_jinglian_indexer_run_fills_the_directory_tables(
    chain: tuple[Path, Done], tmp_path: Path
) -> None:
    """The CLI registers the directory handler by default (and under another contract name)."""
    from click.testing import CliRunner

    from jinglian.cli import cli

    net, _ = chain
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    result = CliRunner().invoke(
        cli, ["indexer", "run", "--once", "--net", str(net), "--db", url, "--json"]
    )
    assert result.exit_code == 0, result.output
    database = open_database(url)
    database.add_handler("directory", index.handle_event, index.metadata)
    try:
        assert len(rows(database, index.requests)) == 4
        assert len(rows(database, index.items)) == 33
    finally:
        database.close()
    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    result = CliRunner().invoke(
        cli,
        [
            "indexer",
            "run",
            "--once",
            "--net",
            str(net),
            "--db",
            other,
            "--directory-contract",
            "elsewhere",
        ],
    )
    assert result.exit_code == 0, result.output
    database = open_database(other)
    try:
        assert rows(database, index.requests) == []
    finally:
        database.close()


def test_a_malformed_directory_event_stops_the_block(tmp_path: Path) -> None:
    """An event without the fields this contract emits raises, so no row of its block lands."""
    from jinglian.indexer import BlockInfo, EventInfo, TxInfo
    from jinglian.types.errors import DecodeError

    database = open_database(f"sqlite:///{tmp_path / 'bad.sqlite'}")
    database.add_handler("directory", index.handle_event, index.metadata)
    database.create()
    block = BlockInfo(1, "a" * 64, "b" * 64, 1000, 1, "c" * 64, ("d" * 64,))
    event = EventInfo(0, "directory", "requested", {"orgs": ["org2", "org1"], "request": 1})
    tx = TxInfo("d" * 64, 1, 0, "directory", "request", "e" * 64, "ok", "", 1, (event,))
    with pytest.raises(DecodeError, match="requested"), database.engine.begin() as connection:
        index.handle_event(connection, block, tx, event)
    not_a_map = EventInfo(0, "directory", "changed", ["x"])
    with pytest.raises(DecodeError, match="not a map"), database.engine.begin() as connection:
        index.handle_event(connection, block, tx, not_a_map)
    # A request for a catalog the index never saw (events out of order, or another contract).
    unknown = EventInfo(
        0,
        "directory",
        "requested",
        {
            "orgs": ["org2", "org1"],
            "requester": "org2",
            "provider": "org1",
            "request": 1,
            "catalog": "301001/000001",
            "status": "pending",
            "deadline": 5,
            "items": ["a"],
            "duty": "d",
            "division": None,
            "purpose": "p",
            "period_days": 1,
        },
    )
    with pytest.raises(DecodeError, match="malformed"), database.engine.begin() as connection:
        index.handle_event(connection, block, tx, unknown)
    assert rows(database, index.requests) == []
    database.close()
