"""Delivering commits to whoever waits: transaction waiters and stream subscribers.

The consensus thread publishes each committed block here; API handlers on the
asyncio loop wait for one transaction (``wait_for``) or subscribe to a filtered
stream. Publishing never blocks consensus: subscriber queues are bounded, and a
subscriber that falls ``SUBSCRIBER_QUEUE_MAX`` items behind is disconnected.

A committed block reaches subscribers as a ``BlockStream``: the consensus
thread only hands the block's result over, and each subscriber's loop builds
the items its filter wants, each at most once per block (the JSON form of an
event's data, ``to_json``, was the largest single line of the consensus
thread's profile while it was built there for every event, wanted or not).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from jinglian.ledger import BlockResult
from jinglian.node.services import EventFilter, StreamItem
from jinglian.types.block import Event
from jinglian.types.errors import Busy, JinglianError
from jinglian.types.jsonval import to_json

__all__ = ["SUBSCRIBERS_MAX", "SUBSCRIBER_QUEUE_MAX", "BlockStream", "EventHub", "TxOutcome"]

SUBSCRIBERS_MAX = 1000
SUBSCRIBER_QUEUE_MAX = 10_000
_CLOSED = StreamItem(kind="closed", height=0, data={})


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """How a waited-for transaction ended: committed at a height, or dropped with an error."""

    height: int | None
    error: JinglianError | None


class BlockStream:
    """The stream items of one committed block, built when a subscriber first wants them.

    Created on the consensus thread (it only keeps the block's result) and
    read on subscribers' loops: ``items_for`` matches events by contract and
    topic before building anything, and builds each item once however many
    subscribers want it.
    """

    def __init__(self, result: BlockResult) -> None:
        self._result = result
        self._lock = threading.Lock()
        self._block: StreamItem | None = None
        self._events: list[tuple[bytes, Event]] | None = None
        self._built: dict[int, StreamItem] = {}

    @property
    def height(self) -> int:
        """The block's height."""
        return self._result.block.header.height

    def items_for(self, flt: EventFilter) -> list[StreamItem]:
        """The items ``flt`` wants, in stream order: the block first, then its events."""
        with self._lock:
            items: list[StreamItem] = []
            if flt.blocks:
                items.append(self._block_item())
            for index, (tx_id, event) in enumerate(self._all_events()):
                if flt.contract is not None and event.contract != flt.contract:
                    continue
                if flt.topic is not None and event.topic != flt.topic:
                    continue
                item = self._built.get(index)
                if item is None:
                    item = self._built[index] = self._event_item(tx_id, event)
                items.append(item)
            return items

    def _block_item(self) -> StreamItem:
        if self._block is None:
            header = self._result.block.header
            self._block = StreamItem(
                kind="block",
                height=header.height,
                data={
                    "height": header.height,
                    "hash": self._result.hash.hex(),
                    "time_ms": header.time_ms,
                    "tx_count": header.tx_count,
                },
            )
        return self._block

    def _all_events(self) -> list[tuple[bytes, Event]]:
        if self._events is None:
            result = self._result
            self._events = [
                (tx.id, event)
                for tx, receipt in zip(result.block.txs, result.receipts, strict=True)
                for event in receipt.events
            ]
        return self._events

    def _event_item(self, tx_id: bytes, event: Event) -> StreamItem:
        height = self.height
        return StreamItem(
            kind="event",
            height=height,
            data={
                "contract": event.contract,
                "topic": event.topic,
                "data": to_json(event.data),
                "tx_id": tx_id.hex(),
                "height": height,
            },
        )


@dataclass(slots=True)
class _Subscriber:
    flt: EventFilter
    queue: asyncio.Queue[StreamItem]
    loop: asyncio.AbstractEventLoop


class EventHub:
    """Fan-out from the consensus thread to asyncio waiters and subscribers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[
            bytes, list[tuple[asyncio.AbstractEventLoop, asyncio.Future[TxOutcome]]]
        ] = {}
        self._subscribers: list[_Subscriber] = []
        self._closed: JinglianError | None = None

    def waiter(self, tx_id: bytes) -> asyncio.Future[TxOutcome]:
        """A future resolved when ``tx_id`` commits or is dropped (call on the asyncio loop)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[TxOutcome] = loop.create_future()
        with self._lock:
            if self._closed is not None:
                future.set_result(TxOutcome(height=None, error=self._closed))
            else:
                self._waiters.setdefault(tx_id, []).append((loop, future))
        return future

    def forget(self, tx_id: bytes, future: asyncio.Future[TxOutcome]) -> None:
        """Stop tracking a waiter that gave up."""
        with self._lock:
            waiters = self._waiters.get(tx_id, [])
            self._waiters[tx_id] = [(lp, f) for lp, f in waiters if f is not future]
            if not self._waiters[tx_id]:
                del self._waiters[tx_id]

    def resolve(self, tx_id: bytes, outcome: TxOutcome) -> None:
        """Tell every waiter of ``tx_id`` how it ended (any thread)."""
        with self._lock:
            waiters = self._waiters.pop(tx_id, [])
        for loop, future in waiters:
            _call_soon(loop, _set_result, future, outcome)

    def close(self, error: JinglianError) -> None:
        """Answer every waiter with ``error`` (the node is stopping); later waiters get it at once."""
        with self._lock:
            self._closed = error
            waiters = [w for ws in self._waiters.values() for w in ws]
            self._waiters.clear()
        for loop, future in waiters:
            _call_soon(loop, _set_result, future, TxOutcome(height=None, error=error))

    @property
    def has_subscribers(self) -> bool:
        """True if anyone listens to the stream (so items are worth building)."""
        return bool(self._subscribers)

    def publish(self, items: list[StreamItem]) -> None:
        """Queue stream items for matching subscribers (any thread)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            wanted = [item for item in items if _matches(sub.flt, item)]
            if wanted:
                _call_soon(sub.loop, self._deliver, sub, wanted)

    def publish_block(self, stream: BlockStream) -> None:
        """Hand a committed block to every subscriber (any thread; cheap: nothing is built here).

        Each subscriber's loop builds the items its filter wants (``BlockStream.items_for``).
        """
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            _call_soon(sub.loop, self._deliver_block, sub, stream)

    def _deliver_block(self, sub: _Subscriber, stream: BlockStream) -> None:
        """On the subscriber's loop: build what it wants of ``stream`` and queue it."""
        wanted = stream.items_for(sub.flt)
        if wanted:
            self._deliver(sub, wanted)

    def _deliver(self, sub: _Subscriber, items: list[StreamItem]) -> None:
        for item in items:
            if sub.queue.full():
                self._drop(sub)
                return
            sub.queue.put_nowait(item)

    def _drop(self, sub: _Subscriber) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)
        while not sub.queue.empty():
            sub.queue.get_nowait()
        sub.queue.put_nowait(_CLOSED)

    async def subscribe(self, flt: EventFilter) -> AsyncIterator[StreamItem]:
        """Stream matching items until the subscriber falls too far behind or stops iterating."""
        sub = _Subscriber(
            flt=flt, queue=asyncio.Queue(SUBSCRIBER_QUEUE_MAX + 1), loop=asyncio.get_running_loop()
        )
        with self._lock:
            if len(self._subscribers) >= SUBSCRIBERS_MAX:
                raise Busy(f"this node already serves {SUBSCRIBERS_MAX} subscribers")
            self._subscribers.append(sub)
        try:
            while True:
                item = await sub.queue.get()
                if item is _CLOSED:
                    raise Busy("subscriber fell too far behind and was disconnected")
                yield item
        finally:
            with self._lock:
                if sub in self._subscribers:
                    self._subscribers.remove(sub)


def _call_soon(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., object], *args: object
) -> None:
    """Schedule on ``loop`` unless it has closed (the API stopped before consensus did)."""
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:
        if not loop.is_closed():
            raise


def _set_result(future: asyncio.Future[TxOutcome], outcome: TxOutcome) -> None:
    if not future.done():
        future.set_result(outcome)


def _matches(flt: EventFilter, item: StreamItem) -> bool:
    if item.kind == "block":
        return flt.blocks
    if flt.contract is not None and item.data.get("contract") != flt.contract:
        return False
    return flt.topic is None or item.data.get("topic") == flt.topic
