"""The evidence contract on the in-memory harness: deposits, lookups, corrections, bad input."""

from __future__ import annotations

import ast
import hashlib
from typing import Any

import pytest

from jinglian.apps.evidence import CONTRACT_SOURCE_PATH
from jinglian.crypto import get_suite
from jinglian.execution.runtime import Runtime
from jinglian.execution.testing import ADMIN, CLIENT, ContractHarness, Sender
from jinglian.types.errors import ContractFailed, JinglianError

SOURCE = CONTRACT_SOURCE_PATH.read_text()
BATCH_MAX = 1000


OTHER = Sender(org="org2", role="client", cert_id=b"\x0e" * 32, common_name="user@org2")


def digest_of(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def item(text: str = "a", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "digest": digest_of(text),
        "alg": "sha256",
        "title": f"record {text}",
        "type": "contract",
        "ref": f"ref-{text}",
    }
    base.update(fields)
    return base


@pytest.fixture()
def chain() -> ContractHarness:
    harness = ContractHarness()
    harness.deploy("evidence", SOURCE)
    return harness


def deposit(chain: ContractHarness, items: list[dict[str, Any]], **kw: Any) -> list[str]:
    value = chain.invoke("evidence", "deposit", {"items": items}, **kw).value
    return [f"{value['tx_id']}:{index}" for index in range(value["count"])]


def test_deposit_one_records_everything(chain: ContractHarness) -> None:
    env = digest_of("environment report")
    extra = {"court": "Hangzhou", "pages": 3, "scanned": True}
    result = chain.invoke(
        "evidence",
        "deposit",
        {"items": [item(env_hash=env, extra=extra, sig=b"s" * 70, signer=b"c" * 700)]},
    )
    assert [event.topic for event in result.events] == ["deposited"]
    assert result.events[0].data == {"count": 1}
    [record] = chain.query("evidence", "get", {"digest": digest_of("a")}).value
    tx_id = result.value["tx_id"]
    assert record == {
        "digest": digest_of("a"),
        "alg": "sha256",
        "title": "record a",
        "type": "contract",
        "ref": "ref-a",
        "env_hash": env,
        "extra": extra,
        "sig": b"s" * 70,
        "signer": b"c" * 700,
        "corrects": None,
        "depositor": {"id": CLIENT.cert_id.hex(), "org": "org1"},
        "height": chain.height - 1,
        "time": 1_700_000_000_000 + (chain.height - 1) * 1000,
        "tx_id": tx_id,
        "index": 0,
        "id": f"{tx_id}:0",
    }


def test_deposit_a_full_batch(chain: ContractHarness) -> None:
    # Empty metadata keeps the arguments under the 128 KiB limit of a call.
    items = [item(str(n), title="", type="", ref="") for n in range(BATCH_MAX)]
    ids = deposit(chain, items)
    assert len(ids) == BATCH_MAX
    assert ids[-1].endswith(f":{BATCH_MAX - 1}")
    [last] = chain.query("evidence", "get", {"digest": digest_of(str(BATCH_MAX - 1))}).value
    assert last["id"] == ids[-1]


def test_big_items_are_stored_in_chunks_and_found_again(chain: ContractHarness) -> None:
    extra = {"note": "n" * 4000}
    items = [item(f"big{n}", extra=extra, ref=f"r{n}") for n in range(12)]
    ids = deposit(chain, items, sender=OTHER)
    chunk_keys = [k for k in chain.state.snapshot() if b"b:" + ids[0].split(":")[0].encode() in k]
    assert len(chunk_keys) >= 2, "twelve 4 KB items do not fit one 48 KiB chunk"
    for number in (0, 11):
        [record] = chain.query("evidence", "get", {"digest": digest_of(f"big{number}")}).value
        assert (record["id"], record["ref"], record["extra"]) == (ids[number], f"r{number}", extra)
    newest = chain.query(
        "evidence", "by_depositor", {"depositor": OTHER.cert_id.hex(), "limit": 12}
    ).value
    assert [r["id"] for r in newest] == ids
    corrected = deposit(chain, [item("fix", corrects=ids[11])], sender=OTHER)
    [record] = chain.query("evidence", "get", {"digest": digest_of("fix")}).value
    assert record["corrects"] == ids[11] and record["id"] == corrected[0]
    with pytest.raises(JinglianError, match="corrects names no deposit"):
        deposit(chain, [item("fix2", corrects=ids[0].split(":")[0] + ":12")])


def test_get_lists_earliest_first_across_blocks(chain: ContractHarness) -> None:
    first = deposit(chain, [item("x", ref="first")])
    deposit(chain, [item("other")])
    second = deposit(chain, [item("x", ref="second"), item("x", ref="third")])
    records = chain.query("evidence", "get", {"digest": digest_of("x").hex()}).value
    assert [r["id"] for r in records] == first + second
    assert [r["ref"] for r in records] == ["first", "second", "third"]
    assert records[0]["height"] < records[1]["height"]
    assert chain.query("evidence", "get", {"digest": digest_of("x"), "limit": 1}).value == [
        records[0]
    ]
    assert chain.query("evidence", "get", {"digest": digest_of("none")}).value == []


def test_by_depositor_lists_newest_last(chain: ContractHarness) -> None:
    deposit(chain, [item("1")])
    deposit(chain, [item("2"), item("3")])
    deposit(chain, [item("admin's")], sender=ADMIN)
    mine = chain.query("evidence", "by_depositor", {"depositor": CLIENT.cert_id.hex()}).value
    assert [r["ref"] for r in mine] == ["ref-1", "ref-2", "ref-3"]
    newest = chain.query(
        "evidence", "by_depositor", {"depositor": CLIENT.cert_id.hex(), "limit": 2}
    ).value
    assert [r["ref"] for r in newest] == ["ref-2", "ref-3"]
    theirs = chain.query("evidence", "by_depositor", {"depositor": ADMIN.cert_id.hex()}).value
    assert [r["ref"] for r in theirs] == ["ref-admin's"]


def test_a_correction_refers_to_an_existing_deposit(chain: ContractHarness) -> None:
    [old] = deposit(chain, [item("v1")])
    [new] = deposit(chain, [item("v2", corrects=old)])
    [record] = chain.query("evidence", "get", {"digest": digest_of("v2")}).value
    assert record["corrects"] == old
    assert record["id"] == new
    [original] = chain.query("evidence", "get", {"digest": digest_of("v1")}).value
    assert original["corrects"] is None


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([], "1 to 1000 items, not 0"),
        ([item(str(n)) for n in range(BATCH_MAX + 1)], "1 to 1000 items, not 1001"),
        ("not a list", "items must be a list"),
        ([item(), "x"], "item 1: must be a map"),
        ([item(digest=b"\x00" * 31)], "item 0: digest must be 32 bytes, not 31"),
        ([item(digest="ab" * 32)], "item 0: digest must be bytes"),
        ([item(), item(alg="md5")], "item 1: alg must be one of sha256 on this chain"),
        ([item(alg="sm3")], "item 0: alg must be one of sha256 on this chain, not 'sm3'"),
        ([item(title="t" * 201)], "item 0: title is 201 characters, over 200"),
        ([item(type="t" * 65)], "item 0: type is 65 characters, over 64"),
        ([item(ref="r" * 129)], "item 0: ref is 129 characters, over 128"),
        ([item(title=5)], "item 0: title must be a str"),
        ([item(env_hash=b"e")], "item 0: env_hash must be 32 bytes, not 1"),
        ([item(extra={"k": "v" * 4096})], "item 0: extra is 4113 bytes, over 4096"),
        ([item(extra={str(n): n for n in range(65)})], "item 0: extra has 65 keys, over 64"),
        ([item(extra={"k": [1]})], "item 0: extra value of 'k' must be null"),
        ([item(extra="x")], "item 0: extra must be a map"),
        ([item(sig=b"s" * 161, signer=b"c")], "item 0: sig is 161 bytes, over 160"),
        ([item(sig=b"s")], "item 0: sig and signer go together"),
        ([item(signer=b"c")], "item 0: sig and signer go together"),
        ([item(sig=b"s", signer="c")], "item 0: signer must be bytes"),
        ([item(sig=b"s", signer=b"c" * 4097)], "item 0: signer is 4097 bytes, over 4096"),
        ([item(corrects="00" * 32 + ":0")], "item 0: corrects names no deposit"),
        ([item(colour="red")], "item 0: colour is not a known field"),
    ],
)
def test_invalid_deposit_is_refused_whole(chain: ContractHarness, items: Any, message: str) -> None:
    before = chain.state.snapshot()
    with pytest.raises(JinglianError, match=message):
        chain.invoke("evidence", "deposit", {"items": items})
    assert chain.state.snapshot() == before


@pytest.mark.parametrize(
    ("method", "args", "message"),
    [
        ("get", {"digest": b"short"}, "digest must be 32 bytes or 64 hex"),
        ("get", {"digest": "zz" * 32}, "digest must be 32 bytes or 64 hex"),
        ("get", {"digest": digest_of("a"), "limit": 0}, "limit must be an integer from 1"),
        ("by_depositor", {"depositor": "abc"}, "depositor must be a certificate id"),
        ("by_depositor", {"depositor": "00" * 32, "limit": 1001}, "limit must be an integer"),
    ],
)
def test_invalid_query_is_refused(
    chain: ContractHarness, method: str, args: dict[str, Any], message: str
) -> None:
    with pytest.raises(ContractFailed, match=message):
        chain.query("evidence", method, args)


def test_a_gm_chain_accepts_sm3_and_sha256() -> None:
    chain = ContractHarness()
    chain.runtime = Runtime(hash_fn=get_suite("gm").hash)
    chain.deploy("evidence", SOURCE)
    sm3 = hashlib.new("sm3", b"a").digest()
    deposit(chain, [item(alg="sha256"), item(digest=sm3, alg="sm3")])
    assert chain.query("evidence", "get", {"digest": sm3}).value[0]["alg"] == "sm3"
    with pytest.raises(ContractFailed, match="alg must be one of sha256, sm3 on this chain"):
        deposit(chain, [item(alg="md5")])


def test_deposits_are_immutable() -> None:
    """Only ``deposit`` writes, and it writes only keys named after its own transaction."""
    tree = ast.parse(SOURCE)
    public = [
        node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.decorator_list
    ]
    writers = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(n, ast.Name) and n.id == "invoke" for n in node.decorator_list)
    ]
    assert sorted(public) == ["by_depositor", "deposit", "get"]
    assert writers == ["deposit"]
    assert "state.delete" not in SOURCE


def test_depositing_again_never_overwrites(chain: ContractHarness) -> None:
    deposit(chain, [item("same", ref="one")])
    before = chain.state.snapshot()
    result = chain.invoke("evidence", "deposit", {"items": [item("same", ref="two")]})
    assert result.writes
    assert all(value is not None and key not in before for key, value in result.writes.items())
    refs = [r["ref"] for r in chain.query("evidence", "get", {"digest": digest_of("same")}).value]
    assert refs == ["one", "two"]
