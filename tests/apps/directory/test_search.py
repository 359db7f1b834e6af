"""Catalog search, department views and the SLA report over an index filled by the real handler
from the real contract's events (in-memory harness, block times chosen by the test)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jinglian.apps.directory import index
from jinglian.apps.directory.catalog_search import (
    catalog_with_items,
    department,
    department_requests,
    search_catalogs,
)
from jinglian.apps.directory.sla import percentile, sla_report, summarise
from jinglian.execution._model import Sender
from jinglian.execution.testing import ContractHarness, harness_config, sha256
from jinglian.indexer import BlockInfo, Database, EventInfo, TxInfo, open_database
from jinglian.types.errors import InvalidInput, NotFound, Unavailable
from tests.apps.directory.test_contract import (
    A1,
    A2,
    C1,
    C2,
    OPEN,
    PLAN,
    SECRET,
    SOURCE,
    catalog_args,
    make_items,
    request_args,
)

T0 = 1_700_000_000_000
"""The harness's block time at height 0; height h is at T0 + h seconds."""
MINUTE_MS = 60_000
DAY_MS = 86_400_000


class Indexed:
    """The directory contract on the harness, each call's events fed to the index handler as
    one block at the harness's height and time."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.chain = ContractHarness(config=harness_config(("org1", "org2", "org3")))
        self.chain.invoke(
            "contracts",
            "deploy",
            {"name": "directory", "source": SOURCE},
            sender=A1,
            endorsers=(A2,),
        )

    def time_ms(self) -> int:
        """The block time the next call runs at."""
        return T0 + self.chain.height * 1000

    def wait(self, ms: int) -> None:
        """Let ``ms`` (whole seconds) pass before the next call."""
        self.chain.height += ms // 1000

    def call(self, method: str, args: dict[str, Any], sender: Sender = A1) -> Any:
        height, time_ms = self.chain.height, self.time_ms()
        result = self.chain.invoke("directory", method, args, sender=sender)
        block = BlockInfo(height, f"{height:064x}", f"{height - 1:064x}", time_ms, 1, "0" * 64, ())
        tx = TxInfo(
            sha256(b"tx%d" % height).hex(),
            height,
            0,
            "directory",
            method,
            sender.cert_id.hex(),
            "ok",
            "",
            result.gas_used,
            tuple(EventInfo(n, "directory", e.topic, e.data) for n, e in enumerate(result.events)),
        )
        with self.database.engine.begin() as connection:
            for event in tx.events:
                index.handle_event(connection, block, tx, event)
        return result.value


@pytest.fixture
def indexed(tmp_path: Path) -> Iterator[Indexed]:
    database = open_database(f"sqlite:///{tmp_path / 'index.sqlite'}")
    database.add_handler("directory", index.handle_event, index.metadata)
    database.create()
    yield Indexed(database)
    database.close()


@pytest.fixture
def published(indexed: Indexed) -> Indexed:
    """org1 (planning) publishes three catalogs and a retired one; org2 (water) one of its own."""
    call = indexed.call
    call("put_duty", {"duty_id": "planning", "name": "城市规划", "legal_basis": "城乡规划法"})
    call("put_duty", {"duty_id": "survey", "name": "Survey", "legal_basis": "Survey Law"})
    call("put_catalog", catalog_args(name="土地利用规划数据", summary="全市宗地的用途与规划指标"))
    call(
        "put_items",
        {
            "catalog": PLAN,
            "items": [
                *make_items(3),
                {
                    "code": "parcel",
                    "name": "宗地编号",
                    "data_type": "string",
                    "sensitivity": "public",
                },
            ],
        },
    )
    call(
        "put_catalog",
        catalog_args(
            OPEN,
            name="Road Network",
            summary="Roads (50% paved)",
            share_type="unconditional",
            share_condition="",
            duties=["planning", "survey"],
        ),
    )
    call(
        "put_items",
        {
            "catalog": OPEN,
            "items": [
                *make_items(2, "r"),
                {
                    "code": "old",
                    "name": "Obsolete grade",
                    "data_type": "string",
                    "sensitivity": "public",
                },
            ],
        },
    )
    call("retire_items", {"catalog": OPEN, "codes": ["old"]})
    call(
        "put_catalog",
        catalog_args(
            SECRET, name="Cadastre secrets", share_type="not_shared", share_condition="law"
        ),
    )
    call("put_catalog", catalog_args("101002/000001", name="Old zoning plan"))
    call("retire_catalog", {"code": "101002/000001"})
    call("put_duty", {"duty_id": "water", "name": "Water", "legal_basis": "Water Law"}, A2)
    call(
        "put_catalog",
        catalog_args(
            "202003/000001",
            name="Water Mains",
            duties=["water"],
            share_type="unconditional",
            share_condition="",
        ),
        A2,
    )
    return indexed


def codes(found: dict[str, Any]) -> list[str]:
    return [f"{c['org']}:{c['code']}" for c in found["catalogs"]]


# -- search -------------------------------------------------------------------------------------


def test_keyword_search_in_chinese_and_latin_text(published: Indexed) -> None:
    db = published.database
    assert codes(search_catalogs(db, keyword="规划")) == [f"org1:{PLAN}"]
    assert codes(search_catalogs(db, keyword="土地 宗地")) == [f"org1:{PLAN}"]  # both terms
    assert codes(search_catalogs(db, keyword="宗地编号")) == [f"org1:{PLAN}"]  # an item's name
    assert codes(search_catalogs(db, keyword="土地 水")) == []
    assert codes(search_catalogs(db, keyword="ROAD")) == [f"org1:{OPEN}"]  # case folded
    assert codes(search_catalogs(db, keyword="ｒｏａｄ")) == [f"org1:{OPEN}"]  # full-width forms
    assert codes(search_catalogs(db, keyword="field 1")) == [f"org1:{PLAN}", f"org1:{OPEN}"]
    assert codes(search_catalogs(db, keyword="obsolete")) == []  # a retired item's name
    assert codes(search_catalogs(db, keyword="50%")) == [f"org1:{OPEN}"]
    assert codes(search_catalogs(db, keyword="%")) == [f"org1:{OPEN}"]  # a literal %, no wildcard
    assert codes(search_catalogs(db, keyword="_")) == []
    assert codes(search_catalogs(db, keyword="zoning")) == []  # retired catalogs are not listed
    assert codes(search_catalogs(db, keyword="zoning", status="retired")) == ["org1:101002/000001"]
    assert codes(search_catalogs(db, keyword="zoning", status=None)) == ["org1:101002/000001"]
    found = search_catalogs(db, keyword="土地")["catalogs"][0]
    assert found["item_count"] == 4 and found["name"] == "土地利用规划数据"
    assert "search_text" not in found


def test_filters_combine_and_pages_count_every_match(published: Indexed) -> None:
    db = published.database
    everything = search_catalogs(db, status=None)
    assert everything["total"] == 5
    assert codes(search_catalogs(db, classification="3")) == [
        f"org1:{PLAN}",
        f"org1:{OPEN}",
        f"org1:{SECRET}",
    ]
    assert codes(search_catalogs(db, classification="2")) == ["org2:202003/000001"]
    assert codes(search_catalogs(db, classification="301")) == codes(
        search_catalogs(db, classification="301001")
    )
    assert codes(search_catalogs(db, classification=OPEN)) == [f"org1:{OPEN}"]
    assert codes(search_catalogs(db, classification="302")) == []
    assert codes(search_catalogs(db, provider="org2")) == ["org2:202003/000001"]
    assert codes(search_catalogs(db, share_type="unconditional")) == [
        f"org1:{OPEN}",
        "org2:202003/000001",
    ]
    assert codes(search_catalogs(db, share_type="not_shared", provider="org1")) == [
        f"org1:{SECRET}"
    ]
    pages = [search_catalogs(db, start=start, limit=2) for start in (0, 2, 4)]
    assert [p["total"] for p in pages] == [4, 4, 4]
    assert [len(p["catalogs"]) for p in pages] == [2, 2, 0]
    assert [code for p in pages for code in codes(p)] == codes(search_catalogs(db, limit=100))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"start": -1}, "start"),
        ({"start": 10_001}, "start"),
        ({"keyword": "x" * 101}, "over 100"),
        ({"keyword": "   "}, "non-space"),
        ({"keyword": " ".join("abcdefghi")}, "terms"),
        ({"classification": "4"}, "class must be 1, 2 or 3"),
        ({"classification": "30"}, "classification"),
        ({"classification": "３"}, "classification"),
        ({"classification": "301001/00001"}, "classification"),
        ({"provider": "org 1"}, "provider"),
        ({"provider": "x" * 65}, "provider"),
        ({"share_type": "open"}, "share_type"),
        ({"status": "deleted"}, "status"),
    ],
)
def test_bad_search_arguments_are_refused(
    published: Indexed, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        search_catalogs(published.database, **args)


def test_an_index_that_cannot_be_read_is_unavailable(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    try:
        with pytest.raises(Unavailable, match="jinglian indexer run"):
            search_catalogs(database, keyword="x")
    finally:
        database.close()


def test_readers_do_not_wait_for_the_indexer_writing(published: Indexed, tmp_path: Path) -> None:
    """WAL: while the indexer holds a block's write transaction, a reader (the node) answers at
    once from the last committed state."""
    reader = open_database(str(published.database.engine.url))
    try:
        with reader.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with published.database.engine.begin() as writing:
            writing.execute(
                index.heads.insert().values(org="org9", seq=1, head="0" * 64, height=1, time_ms=1)
            )
            writing.execute(index.catalogs.update().values(name="changed"))
            started = time.perf_counter()
            found = search_catalogs(reader, keyword="土地")
            assert time.perf_counter() - started < 1.0
            assert found["catalogs"][0]["name"] == "土地利用规划数据"
            with pytest.raises(NotFound):
                department(reader, "org9")
        assert department(reader, "org9")["head"]["seq"] == 1
    finally:
        reader.close()


# -- views --------------------------------------------------------------------------------------


def test_catalog_with_items_and_department_view(published: Indexed) -> None:
    db = published.database
    found = catalog_with_items(db, "org1", PLAN, limit=2)
    assert found["catalog"]["code"] == PLAN
    assert [i["code"] for i in found["items"]] == ["f000", "f001"]
    rest = catalog_with_items(db, "org1", PLAN, start=2)
    assert [i["code"] for i in rest["items"]] == ["f002", "parcel"]
    with pytest.raises(NotFound):
        catalog_with_items(db, "org3", PLAN)
    with pytest.raises(InvalidInput):
        catalog_with_items(db, "org1", "301")
    published.call("request", request_args(), C2)
    view = department(db, "org1")
    assert view["head"]["seq"] == 10
    duties = {d["id"]: [c["code"] for c in d["catalogs"]] for d in view["duties"]}
    assert duties == {"planning": [PLAN, OPEN, SECRET], "survey": [OPEN]}
    assert view["catalogs"] == {"active": 3, "retired": 1}
    assert view["requests_to"] == {"pending": 1} and view["requests_from"] == {}
    assert department(db, "org2")["requests_from"] == {"pending": 1}
    granted_at = published.time_ms()
    published.call("request", request_args(OPEN, items=["r000"], period_days=2), C2)
    assert department(db, "org1")["grants_given_active"] == 1
    end = granted_at + 2 * DAY_MS
    assert department(db, "org1", now_ms=end - 1)["grants_given_active"] == 1
    assert department(db, "org1", now_ms=end)["grants_given_active"] == 0
    with pytest.raises(NotFound):
        department(db, "org3")


def test_requests_to_and_from_a_department(published: Indexed) -> None:
    call = published.call
    call("request", request_args(OPEN, items=["r000"]), C2)  # 1: granted at once
    call("request", request_args(), C2)  # 2: pending
    call("request", request_args(), C2)  # 3: rejected
    call("reject", {"request_id": 3, "reason": "不符合"}, C1)
    db = published.database
    to_org1 = department_requests(db, "org1", "to")
    assert to_org1["total"] == 3 and [r["id"] for r in to_org1["requests"]] == [3, 2, 1]
    assert to_org1["requests"][0]["reason"] == "不符合"
    assert department_requests(db, "org1", "from")["total"] == 0
    assert [
        r["id"] for r in department_requests(db, "org2", "from", status="granted")["requests"]
    ] == [1]
    deadline = to_org1["requests"][1]["deadline"]
    late = department_requests(db, "org1", "to", status="expired", now_ms=deadline + 1)
    assert [(r["id"], r["status"]) for r in late["requests"]] == [(2, "expired")]
    assert (
        department_requests(db, "org1", "to", status="pending", now_ms=deadline + 1)["total"] == 0
    )
    assert department_requests(db, "org1", "to", status="pending", now_ms=deadline)["total"] == 1
    with pytest.raises(InvalidInput, match="now_ms"):
        department_requests(db, "org1", "to", status="expired")
    with pytest.raises(InvalidInput, match="direction"):
        department_requests(db, "org1", "sideways")


# -- SLA report ---------------------------------------------------------------------------------


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([1, 2, 3, 4], 0.5) == 2
    assert percentile(list(range(1, 101)), 0.95) == 95
    assert percentile([7], 0.95) == 7
    assert summarise([]) == {"count": 0, "median_ms": 0, "p95_ms": 0, "max_ms": 0}
    assert summarise([30, 10, 20]) == {"count": 3, "median_ms": 20, "p95_ms": 30, "max_ms": 30}


def test_sla_report_on_known_block_times(published: Indexed) -> None:
    p = published
    start = p.time_ms()
    p.call("request", request_args(), C2)  # 1: approved after 2 minutes
    p.wait(2 * MINUTE_MS - 1000)
    p.call("approve", {"request_id": 1}, C1)
    p.call("request", request_args(), C2)  # 2: rejected after 10 minutes
    p.wait(10 * MINUTE_MS - 1000)
    p.call("reject", {"request_id": 2, "reason": "no"}, A1)
    p.call("request", request_args(OPEN, items=["r000"]), C2)  # 3: granted at once
    # ... and delivered 30 s later
    p.wait(30_000 - 1000)
    hashes = {"request_hash": sha256(b"q"), "response_hash": sha256(b"r"), "size": 5}
    p.call("deliver", {"grant_id": 3, **hashes}, C1)
    p.call("deliver", {"grant_id": 1, **hashes}, C1)  # grant 1: delivered
    p.call("deliver", {"grant_id": 1, **hashes, "request_hash": sha256(b"q2")}, C1)  # 2nd: later
    pending_at = p.time_ms()
    p.call("request", request_args(), C2)  # 4: never answered
    report = sla_report(p.database, now_ms=pending_at + DAY_MS)
    assert report["requests"] == {"granted": 2, "rejected": 1, "pending": 1}
    [decision] = report["decision"]["by_provider"]
    assert decision == {
        "provider": "org1",
        "count": 2,
        "median_ms": 2 * MINUTE_MS,
        "p95_ms": 10 * MINUTE_MS,
        "max_ms": 10 * MINUTE_MS,
    }
    by_catalog = {c["catalog"]: c for c in report["delivery"]["by_catalog"]}
    assert by_catalog[OPEN]["count"] == 1 and by_catalog[OPEN]["median_ms"] == 30_000
    # Request 1 was made at `start`; its first delivery came 2 min + 10 min + 30 s later, plus
    # the one-second blocks of request 2, request 3 and delivery 3.
    first_delivery = 2 * MINUTE_MS + 10 * MINUTE_MS + 30_000 + 3000
    assert by_catalog[PLAN]["count"] == 1 and by_catalog[PLAN]["median_ms"] == first_delivery
    assert report["pending"] == {"count": 1, "by_provider": {"org1": 1}}
    assert report["overdue"]["count"] == 0
    later = sla_report(p.database, now_ms=pending_at + 3 * DAY_MS + 1)
    assert later["pending"]["count"] == 0
    assert later["overdue"]["count"] == 1
    [overdue] = later["overdue"]["requests"]
    assert (overdue["id"], overdue["overdue_ms"]) == (4, 1)
    # Filters: the time range of the requests, the provider department.
    only_first = sla_report(p.database, now_ms=pending_at, since_ms=start, until_ms=start + 1)
    assert only_first["requests"] == {"granted": 1}
    assert only_first["decision"]["by_provider"][0]["median_ms"] == 2 * MINUTE_MS
    assert sla_report(p.database, now_ms=pending_at, org="org2")["requests"] == {}
    with pytest.raises(InvalidInput, match="before"):
        sla_report(p.database, now_ms=pending_at, since_ms=5, until_ms=5)
    with pytest.raises(InvalidInput, match="now_ms"):
        sla_report(p.database, now_ms=-1)
    with pytest.raises(InvalidInput, match="org"):
        sla_report(p.database, now_ms=pending_at, org="a b")
