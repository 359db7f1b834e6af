"""Directory search, views and SLA report on an SQLite index at demo scale (``make bench``).

The index is synthetic but shaped like the demo: 60 departments, 5,000
catalogs with Chinese names and summaries, 50,000 items, 3,000 requests
(grants and deliveries for the granted ones), written straight into the
``dir_*`` tables with the handler's own normalisation (``index.normalise``)
so the search text is what the indexer would write. Each query kind runs
over varied arguments; the p95 of its wall time is reported and, in the
measured run, must stay under 100 ms (issue 6). A normal test run builds a
tenth of the size and checks the answers only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from jinglian.apps.directory import index
from jinglian.apps.directory.catalog_search import (
    catalog_with_items,
    department,
    department_requests,
    search_catalogs,
)
from jinglian.apps.directory.sla import percentile, sla_report
from jinglian.indexer import Database, open_database
from tests.benchmarks.conftest import Scale, report

P95_MS_MAX = 100.0
"""Issue 6: catalog search and department views answer in under 100 ms (p95)."""
SAMPLES = 200
"""Timed calls per query kind in the measured run (varied arguments)."""
T0 = 1_767_225_600_000
MINUTE_MS = 60_000

TOPICS = [
    "土地利用",
    "城乡规划",
    "人口户籍",
    "企业登记",
    "税务征管",
    "社会保险",
    "医疗机构",
    "学校名录",
    "道路交通",
    "公共交通",
    "供水管网",
    "排水防涝",
    "环境监测",
    "空气质量",
    "森林资源",
    "农田水利",
    "住房保障",
    "不动产登记",
    "市场监管",
    "食品安全",
    "药品监管",
    "安全生产",
    "应急物资",
    "气象观测",
    "文物保护",
    "旅游景区",
    "体育场馆",
    "民政救助",
    "婚姻登记",
    "殡葬服务",
    "退役军人",
    "劳动就业",
]
KINDS = ["数据", "名录", "台账", "统计", "监测数据", "审批信息", "许可信息", "分布图"]
FIELDS = [
    "编号",
    "名称",
    "面积",
    "地址",
    "坐标",
    "负责人",
    "联系电话",
    "登记日期",
    "类型",
    "状态",
    "金额",
    "数量",
    "等级",
    "所属区县",
    "统一社会信用代码",
    "身份证号",
    "备注",
]
SHARE_TYPES = ["unconditional", "conditional", "conditional", "not_shared"]


@dataclass(frozen=True)
class Size:
    departments: int
    catalogs: int
    items_per_catalog: int
    requests: int


FULL_SIZE = Size(departments=60, catalogs=5000, items_per_catalog=10, requests=3000)
QUICK_SIZE = Size(departments=6, catalogs=500, items_per_catalog=10, requests=300)


def catalog_code(n: int) -> str:
    """The code of the ``n``-th synthetic catalog (of department ``n % departments``)."""
    return f"{1 + n % 3}{1 + n % 17:02d}{1 + n % 23:03d}/{n + 1:06d}"


def _stamp(height: int) -> dict[str, Any]:
    return {
        "status": "active",
        "version": 1,
        "height": height,
        "time_ms": T0 + height * 1000,
        "tx_id": f"{height:064x}",
    }


def build_index(path: Path, size: Size) -> Database:
    """Write a demo-shaped index into an SQLite file; the open database."""
    rng = random.Random(6)
    database = open_database(f"sqlite:///{path}")
    database.add_handler("directory", index.handle_event, index.metadata)
    database.create()
    orgs = [f"dept{n:02d}" for n in range(size.departments)]
    duty_rows: list[dict[str, Any]] = []
    catalog_rows: list[dict[str, Any]] = []
    hung_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for org in orgs:
        duty_rows.extend(
            {
                "org": org,
                "duty_id": f"duty{d}",
                "name": f"{org}职责{d}",
                "legal_basis": "相关法规",
                **_stamp(1),
            }
            for d in range(5)
        )
    catalogs: list[tuple[str, str]] = []
    for n in range(size.catalogs):
        org = orgs[n % len(orgs)]
        code = catalog_code(n)
        topic, kind = rng.choice(TOPICS), rng.choice(KINDS)
        name = f"{topic}{kind}"
        summary = f"{org}发布的{topic}{kind}，包含{rng.choice(TOPICS)}相关字段，按季度更新。"
        names = [f"{rng.choice(FIELDS)}{i}" for i in range(size.items_per_catalog)]
        share_type = SHARE_TYPES[n % len(SHARE_TYPES)]
        duty = f"duty{n % 5}"
        catalog_rows.append(
            {
                "org": org,
                "code": code,
                "name": name,
                "summary": summary,
                "duties": [duty],
                "share_type": share_type,
                "share_condition": "" if share_type == "unconditional" else "依申请共享",
                "share_mode": "file",
                "data_format": "csv",
                "update_cycle": "quarterly",
                "open_attribute": "not_open",
                "release_date": "2025-01-01",
                "related": [],
                **_stamp(2),
                "item_count": len(names),
                "code_class": code[:1],
                "code_item": code[:3],
                "code_sub_item": code[:6],
                "search_text": index.normalise("\n".join([name, summary, *names])),
            }
        )
        hung_rows.append({"org": org, "duty_id": duty, "code": code})
        item_rows.extend(
            {
                "org": org,
                "catalog": code,
                "code": f"f{i:03d}",
                "name": item_name,
                "data_type": "string",
                "sensitivity": "internal",
                "standard": "",
                **_stamp(3),
            }
            for i, item_name in enumerate(names)
        )
        catalogs.append((org, code))
    request_rows: list[dict[str, Any]] = []
    grant_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    for number in range(1, size.requests + 1):
        org, code = rng.choice(catalogs)
        requester = rng.choice([o for o in orgs if o != org])
        at = T0 + number * MINUTE_MS
        outcome = rng.random()
        status = "pending" if outcome < 0.1 else "rejected" if outcome < 0.2 else "granted"
        decided = None if status == "pending" else at + rng.randrange(1, 600) * 1000
        request_rows.append(
            {
                "id": number,
                "requester": requester,
                "requester_id": "a" * 64,
                "division": None,
                "provider": org,
                "catalog": code,
                "catalog_version": 1,
                "items": ["f000", "f001"],
                "duty": "duty0",
                "purpose": "业务需要",
                "period_days": 30,
                "share_type": "conditional",
                "status": status,
                "requested_at": at,
                "deadline": at + 3 * 86_400_000,
                "decided_at": decided,
                "decided_by": None if decided is None else "b" * 64,
                "reason": "不符合条件" if status == "rejected" else "",
                "grant_id": number if status == "granted" else None,
                "height": 10 + number,
                "tx_id": f"{number:064x}",
            }
        )
        if status == "granted":
            assert decided is not None
            grant_rows.append(
                {
                    "id": number,
                    "request_id": number,
                    "requester": requester,
                    "provider": org,
                    "catalog": code,
                    "items": ["f000", "f001"],
                    "start_ms": decided,
                    "end_ms": decided + 30 * 86_400_000,
                    "status": "active",
                    "reason": "",
                    "revoked_at": None,
                    "height": 10 + number,
                    "tx_id": f"{number:064x}",
                }
            )
            delivery_rows.append(
                {
                    "id": len(delivery_rows) + 1,
                    "grant_id": number,
                    "requester": requester,
                    "provider": org,
                    "catalog": code,
                    "request_hash": "c" * 64,
                    "response_hash": "d" * 64,
                    "size": 1000,
                    "status": "confirmed",
                    "delivered_at": decided + rng.randrange(1, 30) * 1000,
                    "confirmed_at": decided + 31_000,
                    "payload_hash": "d" * 64,
                    "match": True,
                    "height": 10 + number,
                    "tx_id": f"{number:064x}",
                }
            )
    head_rows = [
        {"org": org, "seq": 1, "head": "e" * 64, "height": 3, "time_ms": T0} for org in orgs
    ]
    with database.engine.begin() as connection:
        for table, rows in (
            (index.duties, duty_rows),
            (index.catalogs, catalog_rows),
            (index.catalog_duties, hung_rows),
            (index.items, item_rows),
            (index.requests, request_rows),
            (index.grants, grant_rows),
            (index.deliveries, delivery_rows),
            (index.heads, head_rows),
        ):
            connection.execute(table.insert(), rows)
    return database


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory: pytest.TempPathFactory, scale: Scale) -> Any:
    size = FULL_SIZE if scale.full else QUICK_SIZE
    started = time.perf_counter()
    database = build_index(tmp_path_factory.mktemp("dirbench") / "index.sqlite", size)
    report(
        f"directory index: {size.departments} departments, {size.catalogs} catalogs, "
        f"{size.catalogs * size.items_per_catalog} items, {size.requests} requests "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    yield database, size
    database.close()


def _p95_ms(call: Callable[[int], Any], samples: int) -> float:
    times = []
    for n in range(samples):
        started = time.perf_counter()
        call(n)
        times.append((time.perf_counter() - started) * 1000)
    return percentile(sorted(times), 0.95)


QUERIES: dict[str, Callable[[Database, int, Size], Any]] = {
    "keyword (one Chinese term)": lambda db, n, s: search_catalogs(
        db, keyword=TOPICS[n % len(TOPICS)]
    ),
    "keyword (two terms)": lambda db, n, s: search_catalogs(
        db, keyword=f"{TOPICS[n % len(TOPICS)]} {FIELDS[n % len(FIELDS)]}"
    ),
    "keyword (no match: full scan)": lambda db, n, s: search_catalogs(db, keyword=f"无此词{n}"),
    "keyword + provider + share type": lambda db, n, s: search_catalogs(
        db,
        keyword=KINDS[n % len(KINDS)],
        provider=f"dept{n % s.departments:02d}",
        share_type="conditional",
    ),
    "classification prefix (item)": lambda db, n, s: search_catalogs(
        db, classification=f"{1 + n % 3}{1 + n % 17:02d}", start=20
    ),
    "all catalogs, deep page": lambda db, n, s: search_catalogs(db, start=2000 + n, limit=100),
    "department view": lambda db, n, s: department(db, f"dept{n % s.departments:02d}"),
    "requests to a department": lambda db, n, s: department_requests(
        db, f"dept{n % s.departments:02d}", "to", now_ms=T0 + 10**9
    ),
    "expired requests from a department": lambda db, n, s: department_requests(
        db, f"dept{n % s.departments:02d}", "from", status="expired", now_ms=T0 + 10**10
    ),
    "catalog with its items": lambda db, n, s: catalog_with_items(
        db, f"dept{(n * 37) % s.catalogs % s.departments:02d}", catalog_code((n * 37) % s.catalogs)
    ),
    "SLA report (all departments)": lambda db, n, s: sla_report(db, now_ms=T0 + 10**9),
    "SLA report (one department)": lambda db, n, s: sla_report(
        db, now_ms=T0 + 10**9, org=f"dept{n % s.departments:02d}"
    ),
}
REQUIRED = {name for name in QUERIES if not name.startswith("SLA report")}
"""The kinds under the 100 ms target (the report is measured and shown, not bound)."""


@pytest.mark.benchmark
@pytest.mark.parametrize("kind", list(QUERIES))
def test_bench_directory_query(
    benchmark: BenchmarkFixture, scale: Scale, demo_index: tuple[Database, Size], kind: str
) -> None:
    database, size = demo_index
    query = QUERIES[kind]
    answer = scale.pedantic(benchmark, query, database, 0, size, rounds=20)
    assert answer is not None
    if kind.startswith("keyword (one"):
        assert answer["total"] > 0 and len(answer["catalogs"]) == 20
    if kind.startswith("keyword (no match"):
        assert answer["total"] == 0
    if not scale.full:
        return
    p95 = _p95_ms(lambda n: query(database, n, size), SAMPLES)
    report(f"directory {kind}: p95 {p95:.1f} ms over {SAMPLES} calls")
    if kind in REQUIRED:
        assert p95 < P95_MS_MAX, f"{kind}: p95 {p95:.1f} ms, over {P95_MS_MAX} ms"
