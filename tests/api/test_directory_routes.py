"""The directory's REST routes on a real solo node: signed reads only, index-backed routes from
the SQL index the indexer wrote (503 while the node has none), contract-backed routes from state,
and every malformed or oversized parameter refused with a typed 4xx."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from jinglian.apps.directory import index, service
from jinglian.client import AsyncClient, Client
from jinglian.indexer import Indexer, open_database
from jinglian.node.config import load_node_config
from jinglian.testing.process import NodeProcess
from jinglian.types.errors import ConfigError, InvalidInput, NotFound, Unavailable
from tests.apps.directory.scenario import PLAN, PLAN_NAME, Done, deploy, make_net, run_scenario

INDEX_FILE = "index.sqlite"


@dataclass
class Routes:
    net: Path
    node: NodeProcess
    done: Done
    without_index: dict[str, Any]
    """What the node answered before it had an index: route -> status and error code."""


def status_of(client: Client, path: str) -> tuple[int, str]:
    try:
        client.call_api("GET", path)
    except Unavailable as exc:
        return 503, exc.code
    return 200, "ok"


def index_chain(net: Path, url: str) -> None:
    async def main() -> None:
        database = open_database(url)
        client = AsyncClient.from_network(net, "org1/client")
        try:
            indexer = Indexer(client, database)
            index.add_directory_handler(indexer)
            await indexer.sync()
        finally:
            await client.aclose()
            database.close()

    asyncio.run(main())


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Routes]:
    net = make_net(tmp_path_factory.mktemp("dirroutes"))
    node_dir = net / "nodes" / "node1"
    with NodeProcess(node_dir) as node:
        node.start()
        deploy(net)
        done = run_scenario(net)
        with Client.from_network(net, "org2/client") as client:
            without_index = {
                path: status_of(client, path)
                for path in (
                    "/directory/catalogs",
                    "/directory/report",
                    "/directory/departments/org1",
                    "/directory/departments/org1/head",
                    f"/directory/catalogs/org1/{PLAN}",
                    "/directory/requests/1",
                )
            }
        index_chain(net, f"sqlite:///{node_dir / INDEX_FILE}")
        node.stop()
        config = node_dir / "node.toml"
        lines = [line for line in config.read_text().splitlines() if "index_db" not in line]
        config.write_text("\n".join([*lines, f'index_db = "sqlite:///{INDEX_FILE}"', ""]))
        node.start()
        yield Routes(net, node, done, without_index)


@pytest.fixture(scope="module")
def client(routes: Routes) -> Iterator[Client]:
    with Client.from_network(routes.net, "org2/client") as sdk:
        yield sdk


def test_without_an_index_only_the_index_routes_are_unavailable(routes: Routes) -> None:
    answered = routes.without_index
    assert answered["/directory/catalogs"] == (503, "unavailable")
    assert answered["/directory/report"] == (503, "unavailable")
    assert answered["/directory/departments/org1"] == (503, "unavailable")
    assert answered["/directory/departments/org1/head"] == (200, "ok")
    assert answered[f"/directory/catalogs/org1/{PLAN}"] == (200, "ok")
    assert answered["/directory/requests/1"] == (200, "ok")


def test_search_reads_the_index(client: Client) -> None:
    found = service.search(client, keyword="土地 规划")
    assert found["total"] == 1
    [catalog] = found["catalogs"]
    assert (catalog["org"], catalog["code"], catalog["item_count"]) == ("org1", PLAN, 30)
    assert catalog["name"].startswith(PLAN_NAME)
    assert service.search(client, classification="2", status="any")["total"] == 1
    assert service.search(client, provider="org1", share_type="unconditional")["total"] == 1
    page = service.search(client, start=1, limit=1)
    assert (page["total"], len(page["catalogs"])) == (3, 1)


def test_index_answers_say_how_far_the_index_got(client: Client) -> None:
    indexed = service.search(client)["indexed_height"]
    assert 0 < indexed <= int(client.chain_info()["height"])
    assert service.report(client)["indexed_height"] == indexed


def test_an_index_of_another_chain_is_refused(tmp_path: Path) -> None:
    """A node whose index_db holds another chain's index answers 503, never that chain's data."""
    from fastapi.testclient import TestClient

    from jinglian.api import create_app
    from jinglian.client import Identity
    from jinglian.client.reads import ReadAuth
    from jinglian.node.init import create_network
    from tests.api.fake_node import FakeNode

    net = tmp_path / "net"
    create_network(net, 1, consensus="solo")
    node = FakeNode(net)
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    database = open_database(url)
    database.add_handler("directory", index.handle_event, index.metadata)
    database.create()
    database.start_state("another-chain", "ab" * 32)
    database.close()
    node.index_db = url  # type: ignore[attr-defined]
    with TestClient(create_app(node), raise_server_exceptions=False) as http:
        http.auth = ReadAuth(Identity.from_network(net, "org1/admin"))
        answer = http.get("/api/v1/directory/catalogs")
        assert answer.status_code == 503
        assert "another-chain" in answer.json()["error"]["message"]
        node.index_db = ""  # type: ignore[attr-defined]
    with TestClient(create_app(node), raise_server_exceptions=False) as http:
        http.auth = ReadAuth(Identity.from_network(net, "org1/admin"))
        answer = http.get("/api/v1/directory/report")
        assert answer.status_code == 503
        assert "no index configured" in answer.json()["error"]["message"]
        assert http.get("/api/v1/directory/catalogs").status_code == 503
        unsigned = http.get("/api/v1/directory/catalogs", auth=None)
    assert unsigned.status_code == 401  # the signature is checked before anything else


def test_department_views_and_report(client: Client, routes: Routes) -> None:
    view = service.department_view(client, "org1")
    assert view["exchange"]["url"].startswith("https://")
    assert [d["id"] for d in view["duties"]] == ["planning"]
    assert view["requests_to"] == {"granted": 2, "pending": 1, "rejected": 1}
    to_org1 = service.requests_of(client, "org1", direction="to", status="pending")
    assert [r["id"] for r in to_org1["requests"]] == [routes.done.pending]
    from_org2 = service.requests_of(client, "org2", direction="from", limit=2)
    assert from_org2["total"] == 4 and len(from_org2["requests"]) == 2
    report = service.report(client)
    assert report["requests"] == {"granted": 2, "pending": 1, "rejected": 1}
    assert report["decision"]["by_provider"][0]["count"] == 2
    assert report["delivery"]["by_catalog"][0]["catalog"] == PLAN
    assert report["pending"]["count"] == 1 and report["overdue"]["count"] == 0
    assert service.report(client, org="org2")["requests"] == {}


def test_contract_backed_routes(client: Client, routes: Routes) -> None:
    done = routes.done
    detail = service.catalog_detail(client, "org1", PLAN, start=28, limit=5)
    assert detail["catalog"]["version"] == 2
    assert [i["code"] for i in detail["items"]] == ["f028", "f029"]
    assert service.request_record(client, done.rejected)["status"] == "rejected"
    grant = service.grant_record(client, done.approved)
    assert [d["id"] for d in grant["deliveries"]] == [
        done.confirmed_delivery,
        done.mismatched_delivery,
    ]
    assert service.delivery_record(client, done.mismatched_delivery)["status"] == "mismatch"
    with pytest.raises(NotFound):
        service.request_record(client, 99)
    with pytest.raises(NotFound):
        service.catalog_detail(client, "org3", PLAN)
    proven = service.head_proof(client, "org1")
    assert proven["value"] == service.head(client, "org1")
    assert proven["reads"] and proven["header"]["height"] == proven["height"]
    assert "reads" not in service.head_proof(client, "org1", prove=False)


def test_unsigned_reads_are_refused(routes: Routes) -> None:
    for path in ("/directory/catalogs", f"/directory/catalogs/org1/{PLAN}", "/directory/report"):
        answer = httpx.get(routes.node.api_url + "/api/v1" + path, timeout=10)
        assert answer.status_code == 401, path
        assert answer.json()["error"]["code"] == "unauthenticated"


def test_a_replayed_signed_read_is_refused(routes: Routes) -> None:
    from jinglian.client import Identity
    from jinglian.client.reads import sign_read_headers

    reader = Identity.from_network(routes.net, "org2/client")
    target = "/api/v1/directory/catalogs?keyword=land"
    headers = sign_read_headers(reader, "GET", target)
    first = httpx.get(routes.node.api_url + target, headers=headers, timeout=10)
    assert first.status_code == 200
    again = httpx.get(routes.node.api_url + target, headers=headers, timeout=10)
    assert again.status_code == 403
    assert again.json()["error"]["code"] == "replayed_request"
    # A signature covers the exact query: the same headers on other parameters do not verify.
    other = httpx.get(
        routes.node.api_url + "/api/v1/directory/catalogs?keyword=water",
        headers=headers,
        timeout=10,
    )
    assert other.status_code == 401


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/directory/catalogs", {"limit": 101}),
        ("/directory/catalogs", {"limit": 0}),
        ("/directory/catalogs", {"start": 10_001}),
        ("/directory/catalogs", {"keyword": "x" * 101}),
        ("/directory/catalogs", {"classification": "4"}),
        ("/directory/catalogs", {"share_type": "open"}),
        ("/directory/catalogs", {"status": "gone"}),
        ("/directory/catalogs", {"provider": "org 1"}),
        ("/directory/departments/org%201", {}),
        ("/directory/departments/org1/requests", {"direction": "sideways"}),
        ("/directory/departments/org1/requests", {"status": "lost"}),
        ("/directory/report", {"since_ms": 5, "until_ms": 5}),
        ("/directory/report", {"since_ms": -1}),
        ("/directory/report", {"org": "a/b"}),
        ("/directory/catalogs/org1/30100x/000001", {}),
        (f"/directory/catalogs/org1/{PLAN}", {"start": 950, "limit": 100}),
        (f"/directory/catalogs/org1/{PLAN}", {"limit": 1000}),
        ("/directory/requests/0", {}),
        ("/directory/grants/x", {}),
    ],
)
def test_bad_parameters_are_typed_4xx(client: Client, path: str, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        client.call_api("GET", path, params=params)


def test_index_db_setting_is_validated(tmp_path: Path) -> None:
    (tmp_path / "node.toml").write_text('name = "n"\norg = "o"\nindex_db = "mysql://x"\n')
    with pytest.raises(ConfigError, match="index_db"):
        load_node_config(tmp_path)
    (tmp_path / "node.toml").write_text('name = "n"\norg = "o"\nindex_db = 5\n')
    with pytest.raises(ConfigError, match="index_db"):
        load_node_config(tmp_path)
    (tmp_path / "node.toml").write_text('name = "n"\norg = "o"\nindex_db = "sqlite:///i.sqlite"\n')
    assert load_node_config(tmp_path).index_url() == f"sqlite:///{tmp_path.resolve() / 'i.sqlite'}"
    (tmp_path / "node.toml").write_text('name = "n"\norg = "o"\n')
    assert load_node_config(tmp_path).index_url() is None
