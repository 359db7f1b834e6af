"""The open-loop sender keeps its arrival rate, whatever the answers do, and classifies answers."""

from __future__ import annotations

import asyncio
import itertools
import statistics

from jinglian.bench.load import SendLog, TxRequest, path_for, send_open_loop
from tests.bench.fake_chain import FakeChain, serve


def _requests(count: int, per_request: int = 1) -> list[TxRequest]:
    out = []
    for i in range(count):
        ids = [f"{i:04x}{j:04x}" for j in range(per_request)]
        if per_request == 1:
            body = ('{"tx":"' + ids[0] + '"}').encode()
        else:
            body = ('{"txs":["' + '","'.join(ids) + '"]}').encode()
        out.append(TxRequest(body, tuple(bytes.fromhex(t) for t in ids)))
    return out


def test_requests_arrive_at_the_injected_rate() -> None:
    rate, count = 200.0, 300
    with serve(FakeChain()) as chain:
        log = SendLog()
        asyncio.run(send_open_loop(_requests(count, 3), rate, [chain.url], path_for(3, False), log))
        arrivals = sorted(chain.record()["arrivals"])
    assert len(arrivals) == count
    measured = (count - 1) / (arrivals[-1] - arrivals[0])
    assert abs(measured - rate) / rate < 0.03, measured
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert abs(statistics.median(gaps) - 1 / rate) < 0.002
    assert len(log.accepted) == count * 3 and not log.refused
    lags = [r.sent_s - r.due_s for r in log.requests]
    assert max(lags) < 0.05


def test_slow_answers_do_not_slow_the_arrivals() -> None:
    # Each answer takes 250 ms: a closed loop on one connection would send 4 a second.
    rate, count = 80.0, 120
    with serve(FakeChain(query_delay_s=0.25)) as chain:
        log = SendLog()
        requests = [TxRequest(b'{"contract":"kv","method":"get","args":{}}')] * count
        asyncio.run(
            send_open_loop(requests, rate, [chain.url], path_for(1, True), log, connections_max=64)
        )
        arrivals = sorted(chain.record()["arrivals"])
    measured = (count - 1) / (arrivals[-1] - arrivals[0])
    assert abs(measured - rate) / rate < 0.05, measured
    answer_ms = statistics.median((r.answered_s - r.sent_s) * 1000 for r in log.requests)
    assert 250 <= answer_ms < 300, answer_ms


def test_busy_is_counted_not_resent() -> None:
    with serve(FakeChain(busy_after=50)) as chain:
        log = SendLog()
        asyncio.run(send_open_loop(_requests(100), 500.0, [chain.url], path_for(1, False), log))
        assert len(chain.record()["arrivals"]) == 100
    assert len(log.accepted) == 50
    assert log.errors == {"busy": 50}


def test_a_closed_port_counts_as_connection_errors() -> None:
    from jinglian.testing.process import find_free_port

    log = SendLog()
    url = f"http://127.0.0.1:{find_free_port()}"
    asyncio.run(send_open_loop(_requests(5, 2), 100.0, [url], path_for(2, False), log))
    assert log.errors == {"connection": 10}
    assert not log.accepted
