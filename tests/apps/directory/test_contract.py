"""The directory contract on the in-memory harness with three departments: the directory,
the sharing workflow, the head hash chain, and every refusal leaving state unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from jinglian.apps.directory import CONTRACT_SOURCE_PATH, canon, verify_log
from jinglian.execution.testing import ContractHarness, Sender, harness_config, sha256
from jinglian.types.errors import ContractFailed, JinglianError

SOURCE = CONTRACT_SOURCE_PATH.read_text()
DAY_MS = 86_400_000


def _sender(org: str, role: str = "admin") -> Sender:
    return Sender(
        org=org,
        role=role,
        cert_id=f"{org}-{role}".encode().ljust(32, b"."),
        common_name=f"{role}@{org}",
    )


A1, A2, A3 = (_sender(f"org{i}") for i in (1, 2, 3))
C1, C2, C3 = (_sender(f"org{i}", "client") for i in (1, 2, 3))
PLAN = "301001/000001"  # org1's conditional catalog
OPEN = "301001/000002"  # org1's unconditional catalog
SECRET = "301001/000003"  # org1's not-shared catalog


def catalog_args(code: str = PLAN, **fields: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "code": code,
        "name": "Land-use planning",
        "summary": "Land-use plan parcels of the city",
        "duties": ["planning"],
        "share_type": "conditional",
        "share_condition": "for water and flood planning only",
        "share_mode": "file",
        "data_format": "csv",
        "update_cycle": "quarterly",
        "open_attribute": "not_open",
        "release_date": "2024-02-29",
        "related": ["org2:302001/000001"],
    }
    args.update(fields)
    return args


def make_items(count: int, prefix: str = "f") -> list[dict[str, Any]]:
    return [
        {
            "code": f"{prefix}{n:03d}",
            "name": f"field {n}",
            "data_type": "string",
            "sensitivity": "internal",
            "standard": "GB/T 21010-2017",
        }
        for n in range(count)
    ]


def call(chain: ContractHarness, method: str, args: dict[str, Any], sender: Sender = A1) -> Any:
    return chain.invoke("directory", method, args, sender=sender).value


def ask(chain: ContractHarness, method: str, args: dict[str, Any]) -> Any:
    return chain.query("directory", method, args).value


def refused(
    chain: ContractHarness, method: str, args: dict[str, Any], message: str, sender: Sender = A1
) -> None:
    before = chain.state.snapshot()
    with pytest.raises(JinglianError, match=message):
        chain.invoke("directory", method, args, sender=sender)
    assert chain.state.snapshot() == before


def request_args(catalog: str = PLAN, **fields: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "provider": "org1",
        "catalog": catalog,
        "items": ["f000", "f001"],
        "duty": "water",
        "purpose": "flood risk model",
        "period_days": 30,
    }
    args.update(fields)
    return args


@pytest.fixture
def chain() -> ContractHarness:
    harness = ContractHarness(config=harness_config(("org1", "org2", "org3")))
    harness.invoke(
        "contracts",
        "deploy",
        {"name": "directory", "source": SOURCE},
        sender=A1,
        endorsers=(A2,),
    )
    return harness


@pytest.fixture
def published(chain: ContractHarness) -> ContractHarness:
    """org1 (planning) publishes three catalogs; org2 (water) has a duty and a division."""
    call(chain, "put_duty", {"duty_id": "planning", "name": "Urban planning", "legal_basis": "Law"})
    call(chain, "put_catalog", catalog_args())
    call(chain, "put_items", {"catalog": PLAN, "items": make_items(3)})
    call(chain, "put_catalog", catalog_args(OPEN, share_type="unconditional", share_condition=""))
    call(chain, "put_items", {"catalog": OPEN, "items": make_items(3)})
    call(chain, "put_catalog", catalog_args(SECRET, share_type="not_shared", share_condition="X"))
    call(chain, "put_items", {"catalog": SECRET, "items": make_items(1)})
    call(chain, "put_duty", {"duty_id": "water", "name": "Water", "legal_basis": "Water Law"}, A2)
    call(chain, "put_division", {"division_id": "flood", "name": "Flood office"}, A2)
    call(chain, "put_duty", {"duty_id": "tax", "name": "Tax", "legal_basis": "Tax Law"}, A3)
    return chain


# -- the directory --------------------------------------------------------------------------


def test_directory_entries_are_versioned_and_listed(published: ContractHarness) -> None:
    chain = published
    entry = ask(chain, "catalog", {"org": "org1", "code": PLAN})
    assert (entry["version"], entry["status"], entry["item_count"]) == (1, "active", 3)
    assert entry["duties"] == ["planning"] and entry["format"] == "csv"
    call(chain, "put_catalog", catalog_args(name="Land-use planning 2024"))
    entry = ask(chain, "catalog", {"org": "org1", "code": PLAN})
    assert (entry["version"], entry["name"]) == (2, "Land-use planning 2024")
    listed = ask(chain, "catalogs", {"org": "org1"})
    assert [c["code"] for c in listed] == [PLAN, OPEN, SECRET]
    assert [c["code"] for c in ask(chain, "catalogs", {"org": "org1", "start": 1, "limit": 1})] == [
        OPEN
    ]
    found = ask(chain, "items", {"org": "org1", "catalog": PLAN, "start": 1, "limit": 5})
    assert [i["code"] for i in found] == ["f001", "f002"]
    call(chain, "put_items", {"catalog": PLAN, "items": make_items(1)})
    assert ask(chain, "item", {"org": "org1", "catalog": PLAN, "code": "f000"})["version"] == 2
    assert ask(chain, "catalog", {"org": "org1", "code": PLAN})["item_count"] == 3
    assert ask(chain, "divisions", {"org": "org2"})[0]["id"] == "flood"
    assert ask(chain, "duty", {"org": "org3", "duty_id": "tax"})["legal_basis"] == "Tax Law"


def test_retiring_follows_the_tree(published: ContractHarness) -> None:
    chain = published
    refused(chain, "retire_duty", {"duty_id": "planning"}, "still has 3 active catalogs")
    for code in (PLAN, OPEN, SECRET):
        call(chain, "retire_catalog", {"code": code})
    call(chain, "retire_duty", {"duty_id": "planning"})
    assert ask(chain, "duty", {"org": "org1", "duty_id": "planning"})["status"] == "retired"
    refused(chain, "put_catalog", catalog_args(), "duties\\[0\\]: org1 has no active duty")
    refused(chain, "request", request_args(), "org1 has no active catalog", sender=C2)
    call(chain, "retire_division", {"division_id": "flood"}, A2)
    refused(chain, "retire_division", {"division_id": "flood"}, "no active division", sender=A2)


def test_a_retired_item_cannot_be_requested(published: ContractHarness) -> None:
    chain = published
    call(chain, "retire_items", {"catalog": OPEN, "codes": ["f001"]})
    item = ask(chain, "item", {"org": "org1", "catalog": OPEN, "code": "f001"})
    assert (item["status"], item["version"]) == ("retired", 2)
    refused(chain, "request", request_args(OPEN), "items\\[1\\]: .* has no active item", sender=C2)


def test_head_changes_on_every_change_and_is_reproducible_from_the_log(
    chain: ContractHarness,
) -> None:
    heads = [ask(chain, "head", {"org": "org1"})]
    assert heads[0]["seq"] == 0 and heads[0]["head"] == ""
    changes: list[tuple[str, dict[str, Any]]] = [
        ("put_duty", {"duty_id": "planning", "name": "Planning", "legal_basis": "Law"}),
        ("put_duty", {"duty_id": "planning", "name": "Planning", "legal_basis": "Law"}),
        ("put_catalog", catalog_args()),
        ("put_items", {"catalog": PLAN, "items": make_items(2)}),
        ("retire_items", {"catalog": PLAN, "codes": ["f001"]}),
        ("put_division", {"division_id": "d1", "name": "Division one"}),
        ("retire_division", {"division_id": "d1"}),
        ("retire_catalog", {"code": PLAN}),
        ("retire_duty", {"duty_id": "planning"}),
    ]
    for method, args in changes:
        result = chain.invoke("directory", method, args, sender=A1)
        [event] = [e for e in result.events if e.topic == "changed"]
        assert event.data["orgs"] == ["org1"]
        heads.append(ask(chain, "head", {"org": "org1"}))
        assert heads[-1]["head"] == event.data["head"] == result.value["head"]
    assert [h["seq"] for h in heads] == list(range(len(changes) + 1))
    assert len({h["head"] for h in heads}) == len(heads), "every change moves the head"
    entries = ask(chain, "log", {"org": "org1"})
    assert [e["kind"] for e in entries] == [
        "duty",
        "duty",
        "catalog",
        "items",
        "items",
        "division",
        "division",
        "catalog",
        "duty",
    ]
    assert verify_log("org1", entries, sha256) == heads[-1]["head"]
    assert ask(chain, "log", {"org": "org1", "start": 4, "limit": 2})[0]["seq"] == 4
    # An entry's hash is the hash of its stored value; a tampered log no longer verifies.
    duty_now = ask(chain, "duty", {"org": "org1", "duty_id": "planning"})
    assert sha256(canon(duty_now).encode()).hex() == entries[-1]["hash"]
    tampered = [dict(e) for e in entries]
    tampered[2]["hash"] = "00" * 32
    with pytest.raises(JinglianError, match="records head"):
        verify_log("org1", tampered, sha256)
    # Other departments' heads did not move.
    assert ask(chain, "head", {"org": "org2"})["seq"] == 0


GOLDEN_HEAD = "32b3f6212018c6f0fc69de523a4167cd72b2d3a427b718e857ea015fedd60734"
"""org1's head after ``_history`` on the harness (fixed heights, times and tx ids), as the
contract computed it before its canon and put_items were rewritten for speed: any change to
what is hashed changes it."""


def _history(chain: ContractHarness) -> None:
    """Every kind of directory change of org1, with non-ASCII text, updates and retirements."""
    call(
        chain, "put_duty", {"duty_id": "planning", "name": "城乡规划", "legal_basis": "城乡规划法"}
    )
    call(chain, "put_catalog", catalog_args(related=[]))
    items = make_items(7)
    items[1]["name"] = "地块编号 parcel"
    items[2]["standard"] = ""
    del items[3]["standard"]
    call(chain, "put_items", {"catalog": PLAN, "items": items})
    items[0]["name"] = "field 0, renamed"
    call(chain, "put_items", {"catalog": PLAN, "items": items[:2] + make_items(2, "g")})
    call(chain, "retire_items", {"catalog": PLAN, "codes": ["f004", "g001"]})
    call(chain, "put_division", {"division_id": "east", "name": "东区 office"})
    call(chain, "set_exchange", {"url": "https://exchange.org1.example:8650"})
    call(chain, "retire_division", {"division_id": "east"})
    call(chain, "put_catalog", catalog_args(name="Land use, 2nd version", duties=["planning"]))
    call(chain, "retire_catalog", {"code": PLAN})
    call(chain, "set_exchange", {"url": ""})
    call(chain, "retire_duty", {"duty_id": "planning"})


def test_what_is_hashed_is_unchanged(chain: ContractHarness) -> None:
    _history(chain)
    entries = ask(chain, "log", {"org": "org1"})
    assert len(entries) == 12
    assert verify_log("org1", entries, sha256) == GOLDEN_HEAD
    written = [
        ask(chain, "item", {"org": "org1", "catalog": PLAN, "code": c}) for c in ("f004", "g001")
    ]
    assert sha256(canon(written).encode()).hex() == entries[4]["hash"]


def test_canon_is_the_documented_text() -> None:
    value = [None, True, False, -5, 0, "", "地块", {"b": 1, "a": [], "": {"x": "y"}}]
    assert canon(value) == "lntfi-5;i0;s0:s6:地块ds0:ds1:xs1:yes1:ales1:bi1;ee"


def test_put_items_hashes_the_canon_of_its_entries(published: ContractHarness) -> None:
    """put_items writes each entry's canon out field by field; it must equal the generic one."""
    items = make_items(3, "k")
    items[0]["name"] = "宗地 parcel ŝ"
    del items[1]["standard"]
    items[2]["standard"] = ""
    for batch in (items, [items[2], items[0]]):
        done = call(published, "put_items", {"catalog": PLAN, "items": batch})
        codes = [item["code"] for item in batch]
        written = [
            ask(published, "item", {"org": "org1", "catalog": PLAN, "code": c}) for c in codes
        ]
        assert sha256(canon(written).encode()).hex() == done["hash"]
    assert [entry["version"] for entry in written] == [2, 2]


def test_org2_cannot_change_org1s_entries(published: ContractHarness) -> None:
    chain = published
    before = ask(chain, "catalog", {"org": "org1", "code": PLAN})
    org1_head = ask(chain, "head", {"org": "org1"})
    # org2 has no duty "planning": its put_catalog with the same code is refused ...
    refused(chain, "put_catalog", catalog_args(), "duties\\[0\\]: org2 has no active duty", A2)
    # ... and once org2 has such a duty, the same code lands in org2's own directory.
    call(chain, "put_duty", {"duty_id": "planning", "name": "x", "legal_basis": "y"}, A2)
    call(chain, "put_catalog", catalog_args(name="org2's copy"), A2)
    refused(chain, "retire_catalog", {"code": OPEN}, "org2 has no active catalog", A2)
    refused(chain, "put_items", {"catalog": OPEN, "items": make_items(1)}, "org2 has no", A2)
    assert ask(chain, "catalog", {"org": "org1", "code": PLAN}) == before
    assert ask(chain, "catalog", {"org": "org2", "code": PLAN})["name"] == "org2's copy"
    assert ask(chain, "head", {"org": "org1"}) == org1_head
    # Clients do not edit the directory.
    refused(chain, "put_duty", {"duty_id": "d", "name": "n", "legal_basis": "b"}, "role admin", C1)


def test_a_catalog_must_hang_from_its_own_departments_duty(published: ContractHarness) -> None:
    chain = published
    refused(chain, "put_catalog", catalog_args(duties=[]), "duties must hold 1 to 16")
    refused(chain, "put_catalog", catalog_args(duties=["water"]), "org1 has no active duty 'water'")
    refused(chain, "put_catalog", catalog_args(duties=["nothing"]), "no active duty 'nothing'")


TOO_LONG = "x" * 1001


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"code": "401001/000001"}, "code must be a catalog code"),
        ({"code": "300001/000001"}, "code must be a catalog code"),
        ({"code": "301000/000001"}, "code must be a catalog code"),
        ({"code": "301001/000000"}, "code must be a catalog code"),
        ({"code": "301001-000001"}, "code must be a catalog code"),
        ({"code": "30100a/000001"}, "code must be a catalog code"),
        ({"code": 301001}, "code must be a catalog code"),
        ({"name": ""}, "name must not be empty"),
        ({"name": "n" * 129}, "name is 129 characters, over 128"),
        ({"name": 5}, "name must be a str"),
        ({"summary": TOO_LONG}, "summary is 1001 characters, over 1000"),
        ({"duties": "planning"}, "duties must be a list"),
        ({"duties": ["planning", "planning"]}, "duties\\[1\\] repeats"),
        ({"duties": ["bad id"]}, "duties\\[0\\] may hold only letters"),
        ({"duties": ["d"] * 17}, "duties must hold 1 to 16 entries, not 17"),
        ({"share_type": "sometimes"}, "share_type must be one of"),
        ({"share_condition": "c" * 501}, "share_condition is 501 characters"),
        ({"share_condition": " "}, "share_condition must state the condition"),
        ({"share_mode": "fax"}, "share_mode must be one of file, api, query"),
        ({"data_format": ""}, "data_format must not be empty"),
        ({"data_format": "f" * 33}, "data_format is 33 characters, over 32"),
        ({"update_cycle": "hourly"}, "update_cycle must be one of"),
        ({"open_attribute": "public"}, "open_attribute must be one of"),
        ({"release_date": "2023-02-29"}, "release_date is not a valid date"),
        ({"release_date": "2024-13-01"}, "release_date is not a valid date"),
        ({"release_date": "24-01-01"}, "release_date must be a date YYYY-MM-DD"),
        ({"related": "org2"}, "related must be a list"),
        ({"related": ["org2"]}, "related\\[0\\] must be '<org>:<catalog code>'"),
        ({"related": ["org2:12"]}, "related\\[0\\] code must be a catalog code"),
        ({"related": ["org2:301001/000001"] * 17}, "related must hold at most 16"),
    ],
)
def test_malformed_catalogs_are_refused(
    published: ContractHarness, fields: dict[str, Any], message: str
) -> None:
    refused(published, "put_catalog", catalog_args(**fields), message)


def item_with(**fields: Any) -> dict[str, Any]:
    base = make_items(1, "g")[0]
    base.update(fields)
    return base


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "items must hold 1 to 200 entries, not 0"),
        (make_items(201, "h"), "items must hold 1 to 200 entries, not 201"),
        ("f000", "items must be a list"),
        ([item_with(), 3], "items\\[1\\] must be a map"),
        ([item_with(code="a:b")], "items\\[0\\].code may hold only"),
        ([item_with(code="c" * 65)], "items\\[0\\].code must be 1 to 64 characters"),
        ([item_with(name="")], "items\\[0\\].name must not be empty"),
        ([item_with(name="n" * 129)], "items\\[0\\].name is 129 characters"),
        ([item_with(data_type="float")], "items\\[0\\].data_type must be one of"),
        ([item_with(sensitivity="top")], "items\\[0\\].sensitivity must be one of"),
        ([item_with(standard="s" * 129)], "items\\[0\\].standard is 129 characters"),
        ([item_with(colour="red")], "items\\[0\\].colour is not a known field"),
        (
            [{k: v for k, v in item_with(colour="red").items() if k != "sensitivity"}],
            "items\\[0\\].colour is not a known field",
        ),
        ([item_with(standard=None)], "items\\[0\\].standard must be a str"),
        ([item_with(code="地块")], "items\\[0\\].code may hold only"),
        ([item_with(name=" ")], "items\\[0\\].name must not be empty"),
        ([item_with(), item_with()], "items\\[1\\].code repeats 'g000'"),
    ],
)
def test_malformed_items_are_refused(published: ContractHarness, items: Any, message: str) -> None:
    refused(published, "put_items", {"catalog": PLAN, "items": items}, message)


def test_a_catalog_holds_at_most_1000_items(published: ContractHarness) -> None:
    chain = published  # OPEN holds 3 items already
    for batch in range(4):
        call(chain, "put_items", {"catalog": OPEN, "items": make_items(200, f"b{batch}-")})
    call(chain, "put_items", {"catalog": OPEN, "items": make_items(197, "last-")})
    assert ask(chain, "catalog", {"org": "org1", "code": OPEN})["item_count"] == 1000
    message = "catalog 301001/000002 would hold 1001 items, over 1000"
    refused(chain, "put_items", {"catalog": OPEN, "items": make_items(1, "z")}, message)
    call(chain, "put_items", {"catalog": OPEN, "items": make_items(2)})  # updates still pass


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        ("put_duty", {"duty_id": "", "name": "n", "legal_basis": "b"}, "duty_id must be 1 to 64"),
        ("put_duty", {"duty_id": "d", "name": "n", "legal_basis": ""}, "legal_basis must not be"),
        ("put_duty", {"duty_id": "d", "name": "n", "legal_basis": "b" * 501}, "legal_basis is 501"),
        ("put_division", {"division_id": "d/1", "name": "n"}, "division_id may hold only"),
        ("put_division", {"division_id": "d", "name": None}, "name must be a str"),
    ],
)
def test_malformed_duties_and_divisions_are_refused(
    chain: ContractHarness, method: str, args: dict[str, Any], message: str
) -> None:
    refused(chain, method, args, message)


# -- sharing ---------------------------------------------------------------------------------


def test_unconditional_request_is_granted_delivered_and_confirmed(
    published: ContractHarness,
) -> None:
    chain = published
    result = chain.invoke("directory", "request", request_args(OPEN, division="flood"), sender=C2)
    assert result.value == {"id": 1, "status": "granted", "grant": 1}
    assert [e.topic for e in result.events] == ["requested", "granted"]
    assert all(e.data["orgs"] == ["org2", "org1"] for e in result.events)
    grant = ask(chain, "get_grant", {"grant_id": 1})
    assert (grant["requester"], grant["provider"], grant["status"]) == ("org2", "org1", "active")
    assert grant["end"] - grant["start"] == 30 * DAY_MS
    request_hash, response_hash = sha256(b"GET parcels"), sha256(b"ciphertext")
    args = {"grant_id": 1, "request_hash": request_hash, "response_hash": response_hash, "size": 9}
    assert call(chain, "deliver", args, C1) == {"id": 1, "again": False}
    # The exchange service retrying the same delivery gets the same record back.
    before = chain.state.snapshot()
    assert call(chain, "deliver", args, C1) == {"id": 1, "again": True}
    assert chain.state.snapshot() == before
    refused(
        chain,
        "deliver",
        {**args, "response_hash": sha256(b"other")},
        "already delivered as delivery 1",
        C1,
    )
    confirmed = chain.invoke(
        "directory", "confirm", {"delivery_id": 1, "payload_hash": response_hash.hex()}, sender=C2
    )
    assert confirmed.value == {"id": 1, "status": "confirmed", "match": True}
    assert confirmed.events[0].data["orgs"] == ["org2", "org1"]
    delivery = ask(chain, "get_delivery", {"delivery_id": 1})
    assert delivery["payload_hash"] == response_hash.hex() == delivery["response_hash"]
    assert [d["id"] for d in ask(chain, "deliveries", {"grant_id": 1})] == [1]
    refused(chain, "confirm", {"delivery_id": 1, "payload_hash": response_hash}, "already", C2)
    assert [r["id"] for r in ask(chain, "requests_to", {"org": "org1"})] == [1]
    assert [r["id"] for r in ask(chain, "requests_from", {"org": "org2"})] == [1]
    assert ask(chain, "requests_from", {"org": "org1"}) == []


def test_conditional_request_waits_for_approval(published: ContractHarness) -> None:
    chain = published
    assert call(chain, "request", request_args(), C2) == {
        "id": 1,
        "status": "pending",
        "grant": None,
    }
    pending = ask(chain, "get_request", {"request_id": 1})
    assert pending["status"] == "pending"
    assert pending["deadline"] == pending["time"] + 3 * DAY_MS
    refused(
        chain,
        "deliver",
        {"grant_id": 1, "request_hash": b"r" * 32, "response_hash": b"s" * 32, "size": 1},
        "there is no grant 1",
        C1,
    )
    result = chain.invoke("directory", "approve", {"request_id": 1}, sender=C1)
    assert result.value["grant"] == 1
    assert result.events[0].topic == "granted" and result.events[0].data["orgs"] == ["org2", "org1"]
    decided = ask(chain, "get_request", {"request_id": 1})
    assert (decided["status"], decided["grant"]) == ("granted", 1)
    refused(chain, "approve", {"request_id": 1}, "request 1 is granted, not pending", C1)
    # A second request is rejected with a reason.
    call(chain, "request", request_args(), C2)
    refused(chain, "reject", {"request_id": 2, "reason": ""}, "reason must not be empty", C1)
    rejected = chain.invoke(
        "directory", "reject", {"request_id": 2, "reason": "no flood duty"}, sender=A1
    )
    assert rejected.events[0].data == {
        "orgs": ["org2", "org1"],
        "requester": "org2",
        "provider": "org1",
        "request": 2,
        "reason": "no flood duty",
    }
    assert ask(chain, "get_request", {"request_id": 2})["status"] == "rejected"
    refused(chain, "approve", {"request_id": 2}, "request 2 is rejected", C1)


def _member(division: str, org: str = "org2") -> Sender:
    """A client of ``org`` whose certificate names ``division``."""
    return Sender(
        org=org,
        role="client",
        cert_id=f"{org}-{division}".encode().ljust(32, b"."),
        common_name=f"member@{division}",
        division=division,
    )


def test_a_division_member_requests_in_the_division_of_its_certificate(
    published: ContractHarness,
) -> None:
    chain = published
    flood = _member("flood")
    result = chain.invoke("directory", "request", request_args(OPEN), sender=flood)
    assert result.events[0].data["division"] == "flood"
    assert ask(chain, "get_request", {"request_id": 1})["division"] == "flood"
    call(chain, "request", request_args(OPEN, division="flood"), flood)
    assert ask(chain, "get_request", {"request_id": 2})["division"] == "flood"
    call(chain, "put_division", {"division_id": "roads", "name": "Roads office"}, A2)
    mismatch = "your certificate is of division 'flood', not 'roads'"
    refused(chain, "request", request_args(OPEN, division="roads"), mismatch, flood)
    refused(chain, "request", request_args(OPEN), "'drains' is not an active", _member("drains"))
    refused(
        chain,
        "request",
        request_args(OPEN, duty="tax"),
        "not an active division of org3",
        _member("flood", "org3"),
    )
    call(chain, "retire_division", {"division_id": "flood"}, A2)
    refused(chain, "request", request_args(OPEN), "'flood' is not an active division", flood)
    refused(chain, "request", request_args(OPEN, division="flood"), "not an active", flood)
    call(chain, "request", request_args(OPEN, division="roads"), C2)
    assert ask(chain, "get_request", {"request_id": 3})["division"] == "roads"


def test_bad_requests_are_refused(published: ContractHarness) -> None:
    chain = published
    refused(chain, "request", request_args(SECRET, items=["f000"]), "is not shared: X", C2)
    refused(chain, "request", request_args(duty="tax"), "duty: org2 has no active duty 'tax'", C2)
    refused(chain, "request", request_args(duty="planning"), "org2 has no active duty", C2)
    refused(chain, "request", request_args(division="roads"), "no active division 'roads'", C2)
    refused(chain, "request", request_args(provider="org2"), "sender's own department", C2)
    refused(chain, "request", request_args(provider="org3"), "org3 has no active catalog", C2)
    refused(chain, "request", request_args(items=[]), "items must hold 1 to 200", C2)
    refused(chain, "request", request_args(items=["f009"]), "has no active item 'f009'", C2)
    refused(chain, "request", request_args(items=["f000", "f000"]), "items\\[1\\] repeats", C2)
    refused(chain, "request", request_args(purpose=""), "purpose must not be empty", C2)
    refused(chain, "request", request_args(purpose="p" * 501), "purpose is 501 characters", C2)
    refused(chain, "request", request_args(period_days=0), "period_days must be an integer", C2)
    refused(chain, "request", request_args(period_days=366), "from 1 to 365", C2)
    refused(chain, "request", request_args(catalog="x"), "catalog must be a catalog code", C2)
    consensus = Sender("org2", "consensus", b"n" * 32, "node@org2")
    refused(chain, "request", request_args(), "needs the role admin or client", consensus)


def test_approving_a_request_addressed_to_another_department(published: ContractHarness) -> None:
    chain = published
    call(chain, "request", request_args(), C2)
    refused(chain, "approve", {"request_id": 1}, "addressed to org1, not to org3", A3)
    refused(chain, "approve", {"request_id": 1}, "addressed to org1, not to org2", A2)
    refused(chain, "reject", {"request_id": 1, "reason": "no"}, "addressed to org1", C3)
    refused(chain, "approve", {"request_id": 7}, "there is no request 7", C1)
    refused(chain, "approve", {"request_id": "1"}, "request_id must be a positive integer", C1)


def test_approving_after_the_deadline_is_refused(published: ContractHarness) -> None:
    chain = published
    chain.invoke(
        "directory", "set_settings", {"reply_deadline_ms": 60_000}, sender=A1, endorsers=(A3,)
    )
    call(chain, "request", request_args(), C2)
    chain.height += 60  # a minute of one-second blocks passes
    assert ask(chain, "get_request", {"request_id": 1})["status"] == "expired"
    assert ask(chain, "requests_from", {"org": "org2"})[0]["status"] == "expired"
    refused(chain, "approve", {"request_id": 1}, "request 1 expired at", C1)
    refused(chain, "reject", {"request_id": 1, "reason": "late"}, "request 1 expired at", C1)


def test_settings_need_a_majority_of_admins(published: ContractHarness) -> None:
    chain = published
    assert ask(chain, "settings", {})["reply_deadline_ms"] == 3 * DAY_MS
    refused(chain, "set_settings", {"reply_deadline_ms": 60_000}, "needs admins of 2 of the 3")
    before = chain.state.snapshot()
    with pytest.raises(ContractFailed, match="endorsed by 1"):
        chain.invoke(
            "directory", "set_settings", {"period_days_max": 9}, sender=A1, endorsers=(C2,)
        )
    with pytest.raises(ContractFailed, match="reply_deadline_ms must be an integer from 60000"):
        chain.invoke(
            "directory", "set_settings", {"reply_deadline_ms": 5}, sender=A1, endorsers=(A2,)
        )
    assert chain.state.snapshot() == before
    result = chain.invoke(
        "directory", "set_settings", {"period_days_max": 10}, sender=A2, endorsers=(A3,)
    )
    assert result.value == {"reply_deadline_ms": 3 * DAY_MS, "period_days_max": 10, "version": 1}
    refused(chain, "request", request_args(period_days=11), "from 1 to 10", C2)


def test_delivering_on_a_revoked_or_expired_grant_is_refused(published: ContractHarness) -> None:
    chain = published
    call(chain, "request", request_args(OPEN, period_days=1), C2)
    call(chain, "request", request_args(OPEN), C2)
    delivery = {"request_hash": b"q" * 32, "response_hash": b"r" * 32, "size": 1}
    refused(chain, "revoke_grant", {"grant_id": 2, "reason": "x"}, "given by org1, not by org2", C2)
    revoked = chain.invoke(
        "directory", "revoke_grant", {"grant_id": 2, "reason": "duty ended"}, sender=A1
    )
    assert revoked.events[0].data["orgs"] == ["org2", "org1"]
    assert ask(chain, "get_grant", {"grant_id": 2})["status"] == "revoked"
    refused(chain, "deliver", {"grant_id": 2, **delivery}, "grant 2 is revoked", C1)
    refused(chain, "revoke_grant", {"grant_id": 2, "reason": "again"}, "grant 2 is revoked", A1)
    chain.height += DAY_MS // 1000  # one day of one-second blocks
    assert ask(chain, "get_grant", {"grant_id": 1})["status"] == "expired"
    refused(chain, "deliver", {"grant_id": 1, **delivery}, "grant 1 is expired", C1)


def test_wrong_departments_cannot_deliver_or_confirm(published: ContractHarness) -> None:
    chain = published
    call(chain, "request", request_args(OPEN), C2)
    args = {"grant_id": 1, "request_hash": b"q" * 32, "response_hash": b"r" * 32, "size": 5}
    refused(chain, "deliver", args, "grant 1 was given by org1, not by org3", C3)
    refused(chain, "deliver", args, "given by org1, not by org2", C2)
    refused(chain, "deliver", {**args, "response_hash": b"r"}, "response_hash must be 32", C1)
    refused(chain, "deliver", {**args, "request_hash": "zz" * 32}, "request_hash must be 32", C1)
    refused(chain, "deliver", {**args, "size": -1}, "size must be an integer", C1)
    call(chain, "deliver", args, C1)
    refused(chain, "confirm", {"delivery_id": 1, "payload_hash": b"r" * 32}, "not to org3", C3)
    refused(chain, "confirm", {"delivery_id": 1, "payload_hash": b"r" * 32}, "not to org1", C1)
    refused(chain, "confirm", {"delivery_id": 2, "payload_hash": b"r" * 32}, "no delivery 2", C2)
    mismatch = call(chain, "confirm", {"delivery_id": 1, "payload_hash": b"x" * 32}, C2)
    assert mismatch == {"id": 1, "status": "mismatch", "match": False}
    assert ask(chain, "get_delivery", {"delivery_id": 1})["status"] == "mismatch"


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        ("catalogs", {"org": "org1", "limit": 0}, "limit must be an integer from 1 to 100"),
        ("catalogs", {"org": "org1", "start": -1}, "start must be an integer of 0 or more"),
        ("items", {"org": "org1", "catalog": PLAN, "start": 950, "limit": 100}, "at most 1000"),
        ("log", {"org": "a:b"}, "org may hold only"),
        ("get_grant", {"grant_id": 0}, "grant_id must be a positive integer"),
        ("get_delivery", {"delivery_id": 3}, "there is no delivery 3"),
    ],
)
def test_bad_queries_are_refused(
    published: ContractHarness, method: str, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(ContractFailed, match=message):
        ask(published, method, args)


# -- events carry what an index needs ---------------------------------------------------------


def test_changed_events_carry_the_new_entry(published: ContractHarness) -> None:
    chain = published
    result = chain.invoke("directory", "put_catalog", catalog_args(name="土地利用规划"), sender=A1)
    [event] = result.events
    stored = ask(chain, "catalog", {"org": "org1", "code": PLAN})
    assert event.data["entry"] == {k: v for k, v in stored.items() if k != "item_count"}
    retired = chain.invoke("directory", "retire_duty", {"duty_id": "water"}, sender=A2)
    assert retired.events[0].data["entry"] == ask(
        chain, "duty", {"org": "org2", "duty_id": "water"}
    )


def test_items_batches_go_out_in_bounded_events_before_the_change(
    published: ContractHarness,
) -> None:
    chain = published
    result = chain.invoke(
        "directory", "put_items", {"catalog": PLAN, "items": make_items(30, "g")}, sender=A1
    )
    topics = [e.topic for e in result.events]
    assert topics == ["items", "items", "items", "changed"]
    assert "entry" not in result.events[-1].data
    sent = [item for e in result.events[:-1] for item in e.data["items"]]
    assert [len(e.data["items"]) for e in result.events[:-1]] == [12, 12, 6]
    stored = ask(chain, "items", {"org": "org1", "catalog": PLAN, "limit": 100})
    by_code = {entry["code"]: entry for entry in stored}
    for item in sent:
        entry = by_code[item["code"]]
        assert item == {k: entry[k] for k in item}
    retired = chain.invoke(
        "directory", "retire_items", {"catalog": PLAN, "codes": ["g000"]}, sender=A1
    )
    assert retired.events[0].data["action"] == "retire"
    assert retired.events[0].data["items"][0]["status"] == "retired"


def test_the_largest_items_batch_and_request_fit_in_their_events(
    published: ContractHarness,
) -> None:
    """Events are bounded (16 KiB): the largest valid batch and request must still go through."""
    chain = published
    wide = "\U0001f30a" * 128  # 4 UTF-8 bytes each: the longest name by bytes
    items = [
        {
            "code": f"{n:03d}".ljust(64, "x"),
            "name": wide,
            "data_type": "datetime",
            "sensitivity": "restricted",
            "standard": wide,
        }
        for n in range(200)
    ]
    for first in (0, 100):  # 100 such items are the most one call's arguments can hold
        batch = {"catalog": OPEN, "items": items[first : first + 100]}
        result = chain.invoke("directory", "put_items", batch, sender=A1)
        assert len(result.events) == 100 // 12 + 2
    codes = [item["code"] for item in items]
    args = request_args(OPEN, items=codes, purpose="\U0001f30a" * 500, division="flood")
    done = chain.invoke("directory", "request", args, sender=C2)
    [requested] = [e for e in done.events if e.topic == "requested"]
    assert requested.data["items"] == codes and requested.data["purpose"] == args["purpose"]


def test_sharing_events_carry_the_request_and_delivery_fields(published: ContractHarness) -> None:
    chain = published
    requested = chain.invoke(
        "directory", "request", request_args(division="flood"), sender=C2
    ).events[0]
    assert {k: requested.data[k] for k in ("items", "duty", "division", "purpose")} == {
        "items": ["f000", "f001"],
        "duty": "water",
        "division": "flood",
        "purpose": "flood risk model",
    }
    assert requested.data["period_days"] == 30
    call(chain, "approve", {"request_id": 1}, C1)
    request_hash, response_hash = sha256(b"GET"), sha256(b"data")
    args = {"grant_id": 1, "request_hash": request_hash, "response_hash": response_hash, "size": 4}
    delivered = chain.invoke("directory", "deliver", args, sender=C1).events[0]
    assert delivered.data["request_hash"] == request_hash.hex()
    confirmed = chain.invoke(
        "directory", "confirm", {"delivery_id": 1, "payload_hash": sha256(b"x")}, sender=C2
    ).events[0]
    assert confirmed.data["payload_hash"] == sha256(b"x").hex()
    assert confirmed.data["match"] is False


# -- gas ---------------------------------------------------------------------------------------


def test_gas_of_the_main_calls(
    published: ContractHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    """Print the gas of the calls docs/apps/directory.md quotes (``pytest -s`` shows them)."""
    chain = published
    gas = {
        "put_catalog": chain.invoke(
            "directory", "put_catalog", catalog_args("301001/000009"), sender=A1
        ).gas_used,
        "put_items (100 items)": chain.invoke(
            "directory",
            "put_items",
            {"catalog": "301001/000009", "items": make_items(100)},
            sender=A1,
        ).gas_used,
        "request (conditional, 2 items)": chain.invoke(
            "directory", "request", request_args(), sender=C2
        ).gas_used,
        "approve": chain.invoke("directory", "approve", {"request_id": 1}, sender=C1).gas_used,
        "request (unconditional, 2 items)": chain.invoke(
            "directory", "request", request_args(OPEN), sender=C2
        ).gas_used,
    }
    with capsys.disabled():
        print()
        for name, used in gas.items():
            print(f"directory gas: {name}: {used}")
    assert all(0 < used < 1_000_000 for used in gas.values())


# -- exchange endpoint -----------------------------------------------------------------------


def test_a_department_publishes_and_withdraws_its_exchange_url(chain: ContractHarness) -> None:
    head_before = ask(chain, "head", {"org": "org1"})
    call(chain, "set_exchange", {"url": "https://planning.example:7443"})
    found = ask(chain, "exchange", {"org": "org1"})
    assert (found["url"], found["status"], found["version"]) == (
        "https://planning.example:7443",
        "active",
        1,
    )
    assert ask(chain, "head", {"org": "org1"})["seq"] == head_before["seq"] + 1
    assert ask(chain, "exchange", {"org": "org2"}) is None
    call(chain, "set_exchange", {"url": ""})
    found = ask(chain, "exchange", {"org": "org1"})
    assert (found["url"], found["status"], found["version"]) == ("", "retired", 2)


@pytest.mark.parametrize(
    ("url", "sender", "message"),
    [
        ("http://planning.example:7443", A1, "https://"),
        ("https://", A1, "https://"),
        ("https://a b", A1, "no spaces"),
        ("https://" + "a" * 200, A1, "at most 200"),
        (7443, A1, "text"),
        ("https://planning.example:7443", C1, "admin"),
    ],
)
def test_bad_exchange_urls_are_refused(
    chain: ContractHarness, url: Any, sender: Sender, message: str
) -> None:
    refused(chain, "set_exchange", {"url": url}, message, sender)
