"""Catalog search and per-department views over the directory's SQL index (``index.py``).

Functions take a ``jinglian.indexer.Database`` (the index the ``jinglian
indexer run`` process writes; SQLite in WAL mode lets them read while it
writes) and return JSON-ready dicts whose records have the contract's field
names. Every argument is checked first: a malformed or oversized one raises
``InvalidInput`` naming it; an index that cannot be read (not built yet, or
the database is down) raises ``Unavailable``.

Keyword search matches each whitespace-separated term (all must match) as a
substring of a catalog's name, summary and active item names, after NFKC
normalisation and case folding (``index.normalise``): case-insensitive for
Latin text, exact for Chinese text (substring search needs no word
segmentation), on SQLite and PostgreSQL alike. Classification filters by
the code's class (``3``), class + item (``301``) or class + item +
sub-item (``301001``) prefix, or one whole code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select
from sqlalchemy.exc import SQLAlchemyError

from jinglian.apps.directory.index import (
    catalog_duties,
    catalog_view,
    catalogs,
    duties,
    duty_view,
    exchanges,
    grants,
    heads,
    item_view,
    items,
    normalise,
    request_view,
    requests,
)
from jinglian.indexer import Database
from jinglian.types.errors import InvalidInput, NotFound, Unavailable

__all__ = [
    "DIRECTIONS",
    "KEYWORD_CHARS_MAX",
    "KEYWORD_TERMS_MAX",
    "PAGE_LIMIT_MAX",
    "PAGE_START_MAX",
    "REQUEST_STATUSES",
    "SHARE_TYPES",
    "STATUSES",
    "catalog_with_items",
    "check_org",
    "department",
    "department_requests",
    "reading",
    "search_catalogs",
]

KEYWORD_CHARS_MAX = 100
"""Longest keyword text a search takes."""
KEYWORD_TERMS_MAX = 8
"""Most whitespace-separated terms in one keyword text."""
PAGE_LIMIT_MAX = 100
"""Most records one page returns."""
PAGE_START_MAX = 10_000
"""Deepest offset a page may start at (an offset costs a scan up to it)."""
ID_CHARS_MAX = 64
ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
SHARE_TYPES = ("unconditional", "conditional", "not_shared")
STATUSES = ("active", "retired")
REQUEST_STATUSES = ("pending", "granted", "rejected", "expired")
DIRECTIONS = ("to", "from")
DEPARTMENT_CATALOGS_MAX = 1000
"""Most catalog summaries the department view lists under its duties."""


@contextmanager
def reading(database: Database) -> Iterator[Connection]:
    """A read connection to the index; a database failure becomes ``Unavailable``."""
    try:
        with database.engine.connect() as connection:
            yield connection
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise Unavailable(
            f"the directory index at {database.url} cannot be read ({reason}); is `jinglian "
            "indexer run` indexing this chain into it?"
        ) from exc


def check_org(value: object, field: str = "org") -> str:
    """An organisation id as the contract accepts it, or ``InvalidInput``."""
    if not isinstance(value, str) or not 0 < len(value) <= ID_CHARS_MAX:
        raise InvalidInput(f"{field} must be 1 to {ID_CHARS_MAX} characters")
    if not set(value) <= ID_CHARS:
        raise InvalidInput(f"{field} may hold only letters, digits, '_', '.' and '-'")
    return value


def _check_page(start: int, limit: int) -> None:
    if not isinstance(start, int) or not 0 <= start <= PAGE_START_MAX:
        raise InvalidInput(f"start must be an integer from 0 to {PAGE_START_MAX}")
    if not isinstance(limit, int) or not 0 < limit <= PAGE_LIMIT_MAX:
        raise InvalidInput(f"limit must be an integer from 1 to {PAGE_LIMIT_MAX}")


def _check_choice(value: str | None, field: str, choices: tuple[str, ...]) -> None:
    if value is not None and value not in choices:
        raise InvalidInput(f"{field} must be one of {', '.join(choices)}, not {value!r}")


def _keyword_terms(keyword: str) -> list[str]:
    if len(keyword) > KEYWORD_CHARS_MAX:
        raise InvalidInput(f"keyword is {len(keyword)} characters, over {KEYWORD_CHARS_MAX}")
    terms = normalise(keyword).split()
    if not terms:
        raise InvalidInput("keyword must hold at least one non-space character")
    if len(terms) > KEYWORD_TERMS_MAX:
        raise InvalidInput(f"keyword holds {len(terms)} terms, over {KEYWORD_TERMS_MAX}")
    return terms


def _classification_filter(classification: str) -> ColumnElement[bool]:
    text = classification
    if len(text) == 13 and text[6] == "/" and (text[:6] + text[7:]).isdigit():
        return catalogs.c.code == text
    if not text.isascii() or not text.isdigit() or len(text) not in (1, 3, 6):
        raise InvalidInput(
            "classification must be a class (3), class + item (301), class + item + sub-item "
            f"(301001) or a whole code (301001/000001), not {classification!r}"
        )
    if text[0] not in "123":
        raise InvalidInput(f"classification class must be 1, 2 or 3, not {text[0]!r}")
    column = {1: catalogs.c.code_class, 3: catalogs.c.code_item, 6: catalogs.c.code_sub_item}
    return column[len(text)] == text


def search_catalogs(
    database: Database,
    *,
    keyword: str | None = None,
    classification: str | None = None,
    provider: str | None = None,
    share_type: str | None = None,
    status: str | None = "active",
    start: int = 0,
    limit: int = 20,
) -> dict[str, Any]:
    """Catalogs matching every given filter, ordered by provider and code, one page of them.

    Returns ``{"total", "start", "limit", "catalogs"}``: ``total`` counts every
    match, ``catalogs`` holds at most ``limit`` from the ``start``-th, each as
    the contract's ``catalog`` record. ``status`` None matches any status.
    """
    _check_page(start, limit)
    _check_choice(share_type, "share_type", SHARE_TYPES)
    _check_choice(status, "status", STATUSES)
    where: list[ColumnElement[bool]] = []
    if keyword is not None:
        where.extend(
            catalogs.c.search_text.contains(term, autoescape=True)
            for term in _keyword_terms(keyword)
        )
    if classification is not None:
        where.append(_classification_filter(classification))
    if provider is not None:
        where.append(catalogs.c.org == check_org(provider, "provider"))
    if share_type is not None:
        where.append(catalogs.c.share_type == share_type)
    if status is not None:
        where.append(catalogs.c.status == status)
    condition = and_(True, *where)
    shown = [c for c in catalogs.c if c.name != "search_text"]
    with reading(database) as connection:
        total = connection.execute(
            select(func.count()).select_from(catalogs).where(condition)
        ).scalar_one()
        rows = connection.execute(
            select(*shown)
            .where(condition)
            .order_by(catalogs.c.org, catalogs.c.code)
            .offset(start)
            .limit(limit)
        ).all()
    return {
        "total": int(total),
        "start": start,
        "limit": limit,
        "catalogs": [catalog_view(row) for row in rows],
    }


def catalog_with_items(
    database: Database, org: str, code: str, *, start: int = 0, limit: int = 100
) -> dict[str, Any]:
    """One catalog with a page of its items (code order): ``{"catalog", "items", "start"}``."""
    check_org(org)
    _check_page(start, limit)
    _classification_filter(code)
    if len(code) != 13:
        raise InvalidInput(f"code must be a whole catalog code CIISSS/NNNNNN, not {code!r}")
    with reading(database) as connection:
        row = connection.execute(
            select(catalogs).where(catalogs.c.org == org, catalogs.c.code == code)
        ).one_or_none()
        if row is None:
            raise NotFound(f"the index holds no catalog {org}:{code}")
        found = connection.execute(
            select(items)
            .where(items.c.org == org, items.c.catalog == code)
            .order_by(items.c.code)
            .offset(start)
            .limit(limit)
        ).all()
    return {"catalog": catalog_view(row), "start": start, "items": [item_view(r) for r in found]}


def department(database: Database, org: str, *, now_ms: int | None = None) -> dict[str, Any]:
    """A department at a glance: head, exchange URL, duties with the catalogs hung from them,
    counts of its catalogs and of requests to and from it by status, and the grants it gave
    that are active (not revoked, and not past their end at ``now_ms`` if given)."""
    check_org(org)
    with reading(database) as connection:
        head = connection.execute(select(heads).where(heads.c.org == org)).one_or_none()
        if head is None:
            raise NotFound(f"the index holds nothing of department {org!r}")
        duty_rows = connection.execute(
            select(duties).where(duties.c.org == org).order_by(duties.c.duty_id)
        ).all()
        hung = connection.execute(
            select(catalog_duties.c.duty_id, catalogs.c.code, catalogs.c.name)
            .join(
                catalogs,
                and_(
                    catalogs.c.org == catalog_duties.c.org, catalogs.c.code == catalog_duties.c.code
                ),
            )
            .where(catalog_duties.c.org == org)
            .order_by(catalog_duties.c.duty_id, catalogs.c.code)
            .limit(DEPARTMENT_CATALOGS_MAX)
        ).all()
        exchange = connection.execute(
            select(exchanges.c.url, exchanges.c.status).where(exchanges.c.org == org)
        ).one_or_none()
        catalog_counts = _counts(connection, catalogs.c.status, catalogs.c.org == org)
        to_counts = _counts(connection, requests.c.status, requests.c.provider == org)
        from_counts = _counts(connection, requests.c.status, requests.c.requester == org)
        live = [grants.c.provider == org, grants.c.status == "active"]
        if now_ms is not None:
            live.append(grants.c.end_ms > now_ms)
        active_grants = connection.execute(
            select(func.count()).select_from(grants).where(*live)
        ).scalar_one()
    by_duty: dict[str, list[dict[str, str]]] = {}
    for duty_id, code, name in hung:
        by_duty.setdefault(duty_id, []).append({"code": code, "name": name})
    return {
        "org": org,
        "head": {
            "org": org,
            "seq": head.seq,
            "head": head.head,
            "height": head.height,
            "time": head.time_ms,
        },
        "exchange": None if exchange is None else {"url": exchange.url, "status": exchange.status},
        "duties": [
            {**duty_view(row), "catalogs": by_duty.get(row.duty_id, [])} for row in duty_rows
        ],
        "catalogs": catalog_counts,
        "requests_to": to_counts,
        "requests_from": from_counts,
        "grants_given_active": int(active_grants),
    }


def _counts(connection: Connection, column: Any, condition: ColumnElement[bool]) -> dict[str, int]:
    rows = connection.execute(select(column, func.count()).where(condition).group_by(column)).all()
    return {str(value): int(count) for value, count in rows}


def department_requests(
    database: Database,
    org: str,
    direction: str,
    *,
    status: str | None = None,
    now_ms: int | None = None,
    start: int = 0,
    limit: int = 20,
) -> dict[str, Any]:
    """Requests addressed ``to`` the department or made ``from`` it, newest first, one page.

    ``status`` ``expired`` means pending past the deadline at ``now_ms``
    (``pending`` then means pending within it); with no ``now_ms`` nothing
    reads as expired. Returns ``{"total", "start", "limit", "requests"}``.
    """
    check_org(org)
    _check_choice(direction, "direction", DIRECTIONS)
    _check_choice(status, "status", REQUEST_STATUSES)
    _check_page(start, limit)
    column = requests.c.provider if direction == "to" else requests.c.requester
    where: list[ColumnElement[bool]] = [column == org]
    if status in ("granted", "rejected"):
        where.append(requests.c.status == status)
    elif status == "pending":
        where.append(requests.c.status == "pending")
        if now_ms is not None:
            where.append(requests.c.deadline >= now_ms)
    elif status == "expired":
        if now_ms is None:
            raise InvalidInput("status expired needs the current time (now_ms)")
        where.extend([requests.c.status == "pending", requests.c.deadline < now_ms])
    condition = and_(*where)
    with reading(database) as connection:
        total = connection.execute(
            select(func.count()).select_from(requests).where(condition)
        ).scalar_one()
        rows = connection.execute(
            select(requests)
            .where(condition)
            .order_by(requests.c.id.desc())
            .offset(start)
            .limit(limit)
        ).all()
    return {
        "total": int(total),
        "start": start,
        "limit": limit,
        "requests": [request_view(row, now_ms) for row in rows],
    }
