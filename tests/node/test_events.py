"""``BlockStream`` and ``EventHub.publish_block``: stream items built on the subscriber's side.

The consensus thread hands over a committed block's result and builds nothing;
each subscriber gets the items its filter wants, in stream order, and an
event's JSON form is built only if some subscriber wants that event, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from types import SimpleNamespace
from typing import Any, cast

import pytest

from jinglian.ledger import BlockResult
from jinglian.node import events as events_module
from jinglian.node.events import BlockStream, EventHub
from jinglian.node.services import EventFilter, StreamItem
from jinglian.types import jsonval
from jinglian.types.block import Event


def _result(height: int = 7) -> BlockResult:
    """A stand-in for a committed block: two transactions, three events in all."""
    header = SimpleNamespace(height=height, time_ms=1_000, tx_count=2)
    txs = [SimpleNamespace(id=b"\x01" * 32), SimpleNamespace(id=b"\x02" * 32)]
    receipts = [
        SimpleNamespace(
            events=(
                Event(contract="kv", topic="set", data={"key": "a"}),
                Event(contract="kv", topic="del", data={"key": "b"}),
            )
        ),
        SimpleNamespace(events=(Event(contract="evidence", topic="set", data={"n": 1}),)),
    ]
    result = SimpleNamespace(
        block=SimpleNamespace(header=header, txs=txs), receipts=receipts, hash=b"\xab" * 32
    )
    return cast(BlockResult, result)


def _count_to_json(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    real = jsonval.to_json

    def counting(value: Any) -> Any:
        calls.append(value)
        return real(value)

    monkeypatch.setattr(events_module, "to_json", counting)
    return calls


def test_block_only_filter_builds_no_event(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_to_json(monkeypatch)
    stream = BlockStream(_result())
    items = stream.items_for(EventFilter(blocks=True, contract="no-such-contract"))
    assert [item.kind for item in items] == ["block"]
    assert items[0].data == {"height": 7, "hash": "ab" * 32, "time_ms": 1_000, "tx_count": 2}
    assert calls == []


def test_filters_match_contract_and_topic_in_stream_order() -> None:
    stream = BlockStream(_result())
    everything = stream.items_for(EventFilter())
    assert [(i.kind, i.data.get("contract"), i.data.get("topic")) for i in everything] == [
        ("block", None, None),
        ("event", "kv", "set"),
        ("event", "kv", "del"),
        ("event", "evidence", "set"),
    ]
    assert everything[1].data == {
        "contract": "kv",
        "topic": "set",
        "data": {"key": "a"},
        "tx_id": "01" * 32,
        "height": 7,
    }
    assert everything[3].data["tx_id"] == "02" * 32
    kv_only = stream.items_for(EventFilter(blocks=False, contract="kv"))
    assert [i.data["topic"] for i in kv_only] == ["set", "del"]
    set_only = stream.items_for(EventFilter(blocks=False, topic="set"))
    assert [i.data["contract"] for i in set_only] == ["kv", "evidence"]


def test_each_item_built_once_for_all_subscribers(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_to_json(monkeypatch)
    stream = BlockStream(_result())
    first = stream.items_for(EventFilter(blocks=True, contract="kv", topic="set"))
    second = stream.items_for(EventFilter(blocks=True, contract="kv"))
    assert len(calls) == 2  # kv/set once, kv/del once
    assert first[0] is second[0] and first[1] is second[1]


def test_publish_block_delivers_to_matching_subscribers_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = _count_to_json(monkeypatch)

    async def scenario() -> tuple[list[StreamItem], list[StreamItem]]:
        hub = EventHub()
        blocks = cast(
            AsyncGenerator[StreamItem, None],
            hub.subscribe(EventFilter(blocks=True, contract="no-such-contract")),
        )
        evidence = cast(
            AsyncGenerator[StreamItem, None],
            hub.subscribe(EventFilter(blocks=False, contract="evidence")),
        )
        first_blocks = asyncio.ensure_future(blocks.__anext__())
        first_evidence = asyncio.ensure_future(evidence.__anext__())
        await asyncio.sleep(0)  # both subscribed
        assert hub.has_subscribers
        hub.publish_block(BlockStream(_result(8)))
        got = [await first_blocks], [await first_evidence]
        await blocks.aclose()
        await evidence.aclose()
        assert not hub.has_subscribers
        return got

    got_blocks, got_evidence = asyncio.run(scenario())
    assert [(i.kind, i.height) for i in got_blocks] == [("block", 8)]
    assert [(i.kind, i.data["contract"]) for i in got_evidence] == [("event", "evidence")]
    assert len(calls) == 1
