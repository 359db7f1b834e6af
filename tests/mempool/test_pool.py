from __future__ import annotations

import threading

import pytest

from jinglian.mempool import Mempool
from jinglian.testing import make_test_network
from jinglian.types import Tx
from jinglian.types.errors import Busy, DuplicateTransaction, InvalidSignature

NETWORK = make_test_network()
ADMIN = NETWORK["org1/admin"]


def txs(count: int) -> list[Tx]:
    return [ADMIN.sign("test", "kv", "set", {"key": f"k{i}", "value": i}) for i in range(count)]


def test_admits_in_order_and_reaps_within_limits() -> None:
    pool = Mempool(lambda tx: None)
    batch = txs(5)
    for tx in batch:
        pool.add(tx)
    assert pool.reap(3, 1 << 20) == batch[:3]
    assert pool.reap(10, len(batch[0].encoded) + len(batch[1].encoded)) == batch[:2]
    pool.remove(tx.id for tx in batch[:2])
    assert pool.reap(10, 1 << 20) == batch[2:]
    assert len(pool) == 3 and pool.size_bytes == sum(len(tx.encoded) for tx in batch[2:])


def test_invalid_duplicate_refused() -> None:
    pool = Mempool(lambda tx: None)
    tx = txs(1)[0]
    pool.add(tx)
    with pytest.raises(DuplicateTransaction):
        pool.add(tx)


def test_invalid_check_failure_admits_nothing() -> None:
    def refuse(tx: Tx) -> None:
        raise InvalidSignature("no")

    pool = Mempool(refuse)
    with pytest.raises(InvalidSignature):
        pool.add(txs(1)[0])
    assert len(pool) == 0


def test_full_pool_answers_busy_by_count_and_bytes() -> None:
    batch = txs(3)
    pool = Mempool(lambda tx: None, txs_max=2)
    pool.add(batch[0])
    pool.add(batch[1])
    with pytest.raises(Busy):
        pool.add(batch[2])
    small = Mempool(lambda tx: None, bytes_max=len(batch[0].encoded) + 10)
    small.add(batch[0])
    with pytest.raises(Busy):
        small.add(batch[1])


def test_wait_wakes_on_arrival() -> None:
    pool = Mempool(lambda tx: None)
    assert pool.wait(0.01) is False
    timer = threading.Timer(0.05, pool.add, args=(txs(1)[0],))
    timer.start()
    assert pool.wait(5) is True
    timer.join()


def test_concurrent_adds_keep_counts_exact() -> None:
    pool = Mempool(lambda tx: None)
    batch = txs(200)
    threads = [
        threading.Thread(target=lambda part=batch[i::4]: [pool.add(t) for t in part])
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pool) == 200
    assert pool.size_bytes == sum(len(tx.encoded) for tx in batch)
