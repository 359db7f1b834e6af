"""Service-level figures of the sharing workflow from chain timestamps (the directory's SQL index).

Every time is a block time (Unix milliseconds) the chain fixed when the step
committed, so neither department can bend the figures:

- request to decision: ``decided_at - requested_at`` of conditional requests
  that were approved or rejected (unconditional ones are granted in the
  request's own transaction, so their decision time is 0 by construction and
  is left out);
- request to delivery: the first delivery under the request's grant minus
  ``requested_at``, for every request that got a delivery;
- overdue: conditional requests still pending past their reply deadline at
  ``now_ms`` (the contract reads them as ``expired``: the provider let them
  lapse), and those pending within it.

Each figure is given per provider department and per catalog (count, median,
p95, max; percentiles by nearest rank, so every value is one that occurred).
Filters: the provider department, and the time range of ``requested_at``
(``since_ms`` inclusive, ``until_ms`` exclusive). ``sla_report`` returns a
JSON-ready dict.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, and_, func, select

from jinglian.apps.directory.catalog_search import check_org, reading
from jinglian.apps.directory.index import deliveries, requests
from jinglian.indexer import Database
from jinglian.types.errors import InvalidInput

__all__ = ["OVERDUE_LISTED_MAX", "TIME_MS_MAX", "percentile", "sla_report", "summarise"]

N = TypeVar("N", int, float)

OVERDUE_LISTED_MAX = 100
"""Most overdue requests the report lists one by one (all are counted)."""
TIME_MS_MAX = 2**53
"""Largest time a filter accepts (far past any block time)."""


def percentile(sorted_values: Sequence[N], fraction: float) -> N:
    """The nearest-rank percentile of non-empty ascending ``sorted_values`` (0 < fraction <= 1)."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(durations: Iterable[int]) -> dict[str, int]:
    """``{"count", "median_ms", "p95_ms", "max_ms"}`` of some durations (zeros when none)."""
    values = sorted(durations)
    if not values:
        return {"count": 0, "median_ms": 0, "p95_ms": 0, "max_ms": 0}
    return {
        "count": len(values),
        "median_ms": percentile(values, 0.5),
        "p95_ms": percentile(values, 0.95),
        "max_ms": values[-1],
    }


def _check_time(value: int | None, field: str) -> None:
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= TIME_MS_MAX
    ):
        raise InvalidInput(f"{field} must be a time in Unix milliseconds from 0 to {TIME_MS_MAX}")


def _grouped(samples: list[tuple[str, str, int]]) -> dict[str, list[dict[str, Any]]]:
    by_provider: dict[str, list[int]] = {}
    by_catalog: dict[tuple[str, str], list[int]] = {}
    for provider, catalog, duration in samples:
        by_provider.setdefault(provider, []).append(duration)
        by_catalog.setdefault((provider, catalog), []).append(duration)
    return {
        "by_provider": [
            {"provider": provider, **summarise(values)}
            for provider, values in sorted(by_provider.items())
        ],
        "by_catalog": [
            {"provider": provider, "catalog": catalog, **summarise(values)}
            for (provider, catalog), values in sorted(by_catalog.items())
        ],
    }


def sla_report(
    database: Database,
    *,
    now_ms: int,
    org: str | None = None,
    since_ms: int | None = None,
    until_ms: int | None = None,
) -> dict[str, Any]:
    """The SLA figures of requests made in ``[since_ms, until_ms)`` to ``org`` (or to anyone).

    ``now_ms`` (normally the head block's time) decides which pending
    requests are overdue.
    """
    _check_time(now_ms, "now_ms")
    _check_time(since_ms, "since_ms")
    _check_time(until_ms, "until_ms")
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise InvalidInput("since_ms must be before until_ms")
    where: list[ColumnElement[bool]] = []
    if org is not None:
        where.append(requests.c.provider == check_org(org))
    if since_ms is not None:
        where.append(requests.c.requested_at >= since_ms)
    if until_ms is not None:
        where.append(requests.c.requested_at < until_ms)
    with reading(database) as connection:
        decided, delivered, waiting, counted = _report_rows(connection, and_(True, *where))
    overdue = [row for row in waiting if now_ms > row.deadline]
    in_time = [row for row in waiting if now_ms <= row.deadline]
    return {
        "org": org,
        "since_ms": since_ms,
        "until_ms": until_ms,
        "now_ms": now_ms,
        "requests": {str(status): int(count) for status, count in counted},
        "decision": _grouped([(p, c, int(d)) for p, c, d in decided]),
        "delivery": _grouped([(p, c, int(d)) for p, c, d in delivered]),
        "pending": {"count": len(in_time), "by_provider": _count_by_provider(in_time)},
        "overdue": {
            "count": len(overdue),
            "by_provider": _count_by_provider(overdue),
            "requests": [_overdue_entry(row, now_ms) for row in overdue[:OVERDUE_LISTED_MAX]],
        },
    }


def _report_rows(connection: Connection, condition: ColumnElement[bool]) -> tuple[Any, ...]:
    """Decision times, first-delivery times, pending requests and counts by status."""
    first_delivery = (
        select(deliveries.c.grant_id, func.min(deliveries.c.delivered_at).label("first_at"))
        .group_by(deliveries.c.grant_id)
        .subquery()
    )
    decided = select(
        requests.c.provider, requests.c.catalog, requests.c.decided_at - requests.c.requested_at
    ).where(
        condition,
        requests.c.share_type == "conditional",
        requests.c.status.in_(("granted", "rejected")),
    )
    delivered = (
        select(
            requests.c.provider,
            requests.c.catalog,
            first_delivery.c.first_at - requests.c.requested_at,
        )
        .join(first_delivery, first_delivery.c.grant_id == requests.c.grant_id)
        .where(condition)
    )
    waiting = (
        select(requests)
        .where(condition, requests.c.status == "pending")
        .order_by(requests.c.deadline, requests.c.id)
    )
    counted = select(requests.c.status, func.count()).where(condition).group_by(requests.c.status)
    return tuple(
        connection.execute(query).all() for query in (decided, delivered, waiting, counted)
    )


def _overdue_entry(row: Any, now_ms: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "requester": row.requester,
        "provider": row.provider,
        "catalog": row.catalog,
        "time": row.requested_at,
        "deadline": row.deadline,
        "overdue_ms": now_ms - row.deadline,
    }


def _count_by_provider(rows: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.provider] = counts.get(row.provider, 0) + 1
    return dict(sorted(counts.items()))
