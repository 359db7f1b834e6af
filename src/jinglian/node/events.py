"""Delivering commits to whoever waits: transaction waiters and stream subscribers.

The consensus thread publishes each committed block here; API handlers on the
asyncio loop wait for one transaction (``wait_for``) or subscribe to a filtered
stream. Publishing never blocks consensus: subscriber queues are bounded, and a
subscriber that falls ``SUBSCRIBER_QUEUE_MAX`` items behind is disconnected.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from jinglian.node.services import EventFilter, StreamItem
from jinglian.types.errors import Busy, JinglianError

__all__ = ["SUBSCRIBERS_MAX", "SUBSCRIBER_QUEUE_MAX", "EventHub", "TxOutcome"]

SUBSCRIBERS_MAX = 1000
SUBSCRIBER_QUEUE_MAX = 10_000
_CLOSED = StreamItem(kind="closed", height=0, data={})


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """How a waited-for transaction ended: committed at a height, or dropped with an error."""

    height: int | None
    error: JinglianError | None


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
