"""The directory's SQL index: tables (prefix ``dir_``) and the handler that fills them from events.

The platform indexer (``jinglian.indexer``, ADR 0018) calls ``handle_event``
for each event of the directory contract inside the block's database
transaction, so the directory rows of a block commit together with the
block, and a rebuild from block 1 writes the same rows again. The handler
reads nothing but the events and the block they are in: the contract puts
the new entry in each ``changed`` event, items batches in ``items`` events,
and the workflow fields in ``requested``, ``granted``, ``rejected``,
``revoked``, ``delivered`` and ``confirmed`` (``apps/directory/contract.py``).

Rows mirror the contract's records (same field names in ``*_view``), plus
what search needs: a catalog's ``search_text`` (its name, summary and the
names of its active items, NFKC-normalised and case-folded by
``normalise``, so a LIKE over it is case-insensitive on both databases and
matches full-width and half-width forms alike) and the class, item and
sub-item prefixes of its code. Times are the block's time in Unix
milliseconds. ``add_directory_handler`` registers it all with an
``Indexer``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    Update,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import NoResultFound

from jinglian.indexer import BlockInfo, EventInfo, Indexer, TxInfo
from jinglian.types.errors import DecodeError

__all__ = [
    "CODE_CHARS",
    "ID_CHARS",
    "add_directory_handler",
    "catalog_duties",
    "catalog_view",
    "catalogs",
    "deliveries",
    "delivery_view",
    "divisions",
    "duties",
    "duty_view",
    "exchanges",
    "grant_view",
    "grants",
    "handle_event",
    "heads",
    "item_view",
    "items",
    "metadata",
    "normalise",
    "request_view",
    "requests",
]

ID_CHARS = 64
"""Longest id, organisation or item code the contract accepts (``ID_CHARS_MAX``)."""
CODE_CHARS = 13
"""A catalog code ``CIISSS/NNNNNN``."""
HASH_CHARS = 64
"""Hex characters of a hash or certificate id."""
SHORT_CHARS = 32
"""Status, share type and other enumerated values."""

metadata = MetaData()
"""The directory's tables, created and rebuilt with the index."""

JsonData = JSON().with_variant(JSONB(), "postgresql")


def _stamp_columns() -> list[Column[Any]]:
    """Version columns every directory entry has (as in the contract's ``stamp``)."""
    return [
        Column("status", String(SHORT_CHARS), nullable=False),
        Column("version", Integer, nullable=False),
        Column("height", BigInteger, nullable=False),
        Column("time_ms", BigInteger, nullable=False),
        Column("tx_id", String(HASH_CHARS), nullable=False),
    ]


duties = Table(
    "dir_duties",
    metadata,
    Column("org", String(ID_CHARS), primary_key=True),
    Column("duty_id", String(ID_CHARS), primary_key=True),
    Column("name", Text, nullable=False),
    Column("legal_basis", Text, nullable=False),
    *_stamp_columns(),
)

catalogs = Table(
    "dir_catalogs",
    metadata,
    Column("org", String(ID_CHARS), primary_key=True),
    Column("code", String(CODE_CHARS), primary_key=True),
    Column("name", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("duties", JsonData, nullable=False),
    Column("share_type", String(SHORT_CHARS), nullable=False),
    Column("share_condition", Text, nullable=False),
    Column("share_mode", String(SHORT_CHARS), nullable=False),
    Column("data_format", String(SHORT_CHARS), nullable=False),
    Column("update_cycle", String(SHORT_CHARS), nullable=False),
    Column("open_attribute", String(SHORT_CHARS), nullable=False),
    Column("release_date", String(10), nullable=False),
    Column("related", JsonData, nullable=False),
    *_stamp_columns(),
    Column("item_count", Integer, nullable=False),
    Column("code_class", String(1), nullable=False),
    Column("code_item", String(3), nullable=False),
    Column("code_sub_item", String(6), nullable=False),
    Column("search_text", Text, nullable=False),
    Index("dir_catalogs_code", "code"),
    Index("dir_catalogs_class", "code_class", "org", "code"),
    Index("dir_catalogs_item", "code_item", "org", "code"),
    Index("dir_catalogs_sub_item", "code_sub_item", "org", "code"),
    Index("dir_catalogs_share_type", "share_type", "org", "code"),
    Index("dir_catalogs_status", "status", "org", "code"),
)

catalog_duties = Table(
    "dir_catalog_duties",
    metadata,
    Column("org", String(ID_CHARS), primary_key=True),
    Column("duty_id", String(ID_CHARS), primary_key=True),
    Column("code", String(CODE_CHARS), primary_key=True),
)
"""Which catalogs hang from which duty (a catalog's ``duties`` as rows, for the duty view)."""

items = Table(
    "dir_items",
    metadata,
    Column("org", String(ID_CHARS), primary_key=True),
    Column("catalog", String(CODE_CHARS), primary_key=True),
    Column("code", String(ID_CHARS), primary_key=True),
    Column("name", Text, nullable=False),
    Column("data_type", String(SHORT_CHARS), nullable=False),
    Column("sensitivity", String(SHORT_CHARS), nullable=False),
    Column("standard", Text, nullable=False),
    *_stamp_columns(),
)

divisions = Table(
    "dir_divisions",
    metadata,
    Column("org", String(ID_CHARS), primary_key=True),
    Column("division_id", String(ID_CHARS), primary_key=True),
    Column("name", Text, nullable=False),
    *_stamp_columns(),
)

exchanges = Table(
    "dir_exchanges",
    metadata,
    Column("org", String(ID_CHARS), primary_key=True),
    Column("url", Text, nullable=False),
    *_stamp_columns(),
)

heads = Table(
    "dir_heads",
    metadata,
    Column("org", String(ID_CHARS), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("head", String(HASH_CHARS), nullable=False),
    Column("height", BigInteger, nullable=False),
    Column("time_ms", BigInteger, nullable=False),
)

requests = Table(
    "dir_requests",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("requester", String(ID_CHARS), nullable=False),
    Column("requester_id", String(HASH_CHARS), nullable=False),
    Column("division", String(ID_CHARS)),
    Column("provider", String(ID_CHARS), nullable=False),
    Column("catalog", String(CODE_CHARS), nullable=False),
    Column("catalog_version", Integer, nullable=False),
    Column("items", JsonData, nullable=False),
    Column("duty", String(ID_CHARS), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("period_days", Integer, nullable=False),
    Column("share_type", String(SHORT_CHARS), nullable=False),
    Column("status", String(SHORT_CHARS), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("deadline", BigInteger),
    Column("decided_at", BigInteger),
    Column("decided_by", String(HASH_CHARS)),
    Column("reason", Text, nullable=False),
    Column("grant_id", BigInteger),
    Column("height", BigInteger, nullable=False),
    Column("tx_id", String(HASH_CHARS), nullable=False),
    Index("dir_requests_provider", "provider", "id"),
    Index("dir_requests_requester", "requester", "id"),
    Index("dir_requests_time", "requested_at"),
    Index("dir_requests_pending", "status", "deadline"),
)

grants = Table(
    "dir_grants",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("request_id", BigInteger, nullable=False),
    Column("requester", String(ID_CHARS), nullable=False),
    Column("provider", String(ID_CHARS), nullable=False),
    Column("catalog", String(CODE_CHARS), nullable=False),
    Column("items", JsonData, nullable=False),
    Column("start_ms", BigInteger, nullable=False),
    Column("end_ms", BigInteger, nullable=False),
    Column("status", String(SHORT_CHARS), nullable=False),
    Column("reason", Text, nullable=False),
    Column("revoked_at", BigInteger),
    Column("height", BigInteger, nullable=False),
    Column("tx_id", String(HASH_CHARS), nullable=False),
    Index("dir_grants_provider", "provider", "id"),
    Index("dir_grants_requester", "requester", "id"),
)

deliveries = Table(
    "dir_deliveries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("grant_id", BigInteger, nullable=False, index=True),
    Column("requester", String(ID_CHARS), nullable=False),
    Column("provider", String(ID_CHARS), nullable=False),
    Column("catalog", String(CODE_CHARS), nullable=False),
    Column("request_hash", String(HASH_CHARS), nullable=False),
    Column("response_hash", String(HASH_CHARS), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", String(SHORT_CHARS), nullable=False),
    Column("delivered_at", BigInteger, nullable=False),
    Column("confirmed_at", BigInteger),
    Column("payload_hash", String(HASH_CHARS)),
    Column("match", Boolean),
    Column("height", BigInteger, nullable=False),
    Column("tx_id", String(HASH_CHARS), nullable=False),
    Index("dir_deliveries_provider", "provider", "delivered_at"),
)


def normalise(text: str) -> str:
    """Text as search compares it: NFKC (full-width forms folded), case-folded, spaces single."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# -- the handler --------------------------------------------------------------------------------


def add_directory_handler(indexer: Indexer, contract: str = "directory") -> None:
    """Index the events of the directory contract deployed as ``contract`` into ``dir_*``."""
    indexer.add_handler(contract, handle_event, metadata)


def handle_event(connection: Connection, block: BlockInfo, tx: TxInfo, event: EventInfo) -> None:
    """Apply one directory event to the ``dir_*`` tables (inside the block's transaction).

    Events of failed transactions are not in receipts; an event whose data
    does not have the shape this contract emits raises ``DecodeError``, which
    stops the indexer before anything of the block is written.
    """
    if tx.status != "ok":
        return
    data = event.data
    if not isinstance(data, Mapping):
        raise DecodeError(f"directory event {event.topic!r} at block {block.height} is not a map")
    apply = _APPLY.get(event.topic)
    if apply is None:
        return  # e.g. ``settings``: nothing of it is indexed
    try:
        apply(connection, block, tx, data)
    except (KeyError, IndexError, TypeError, ValueError, NoResultFound) as exc:
        raise DecodeError(
            f"directory event {event.topic!r} at block {block.height} tx {tx.index} is "
            f"malformed ({exc.__class__.__name__}: {exc}): is {event.contract!r} the directory "
            "contract of this version?"
        ) from exc


_UPDATES: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Update] = {}
"""Prepared ``UPDATE ... WHERE key`` statements by table and column names: building a
statement costs far more than running it, and the handler runs for every event."""


def _update_statement(table: Table, keys: tuple[str, ...], values: tuple[str, ...]) -> Update:
    """``UPDATE table SET values WHERE keys`` with parameters ``k_<key>`` and ``v_<value>``."""
    found = _UPDATES.get((table.name, keys, values))
    if found is None:
        found = (
            update(table)
            .where(*[table.c[name] == bindparam(f"k_{name}") for name in keys])
            .values({name: bindparam(f"v_{name}") for name in values})
        )
        _UPDATES[(table.name, keys, values)] = found
    return found


def _update_params(key: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **{f"k_{name}": value for name, value in key.items()},
        **{f"v_{name}": value for name, value in row.items()},
    }


def _upsert(connection: Connection, table: Table, key: dict[str, Any], row: dict[str, Any]) -> None:
    """Update the row with primary key ``key``, or insert it (the same on both databases)."""
    statement = _update_statement(table, tuple(key), tuple(row))
    done = connection.execute(statement, _update_params(key, row))
    if done.rowcount == 0:
        connection.execute(table.insert(), [{**key, **row}])


def _stamp(entry: Mapping[str, Any], block: BlockInfo, tx: TxInfo) -> dict[str, Any]:
    return {
        "status": str(entry["status"]),
        "version": int(entry["version"]),
        "height": block.height,
        "time_ms": block.time_ms,
        "tx_id": tx.id,
    }


def _on_changed(
    connection: Connection, block: BlockInfo, tx: TxInfo, data: Mapping[str, Any]
) -> None:
    org = str(data["orgs"][0])
    _upsert(
        connection,
        heads,
        {"org": org},
        {
            "seq": int(data["seq"]),
            "head": str(data["head"]),
            "height": block.height,
            "time_ms": block.time_ms,
        },
    )
    kind = data["kind"]
    if kind == "items":
        _refresh_catalog(connection, org, str(data["key"]).split(":", 2)[2])
        return
    entry = data["entry"]
    if kind == "duty":
        _upsert(
            connection,
            duties,
            {"org": org, "duty_id": str(entry["id"])},
            {
                "name": str(entry["name"]),
                "legal_basis": str(entry["legal_basis"]),
                **_stamp(entry, block, tx),
            },
        )
    elif kind == "catalog":
        _put_catalog(connection, org, entry, block, tx)
    elif kind == "division":
        _upsert(
            connection,
            divisions,
            {"org": org, "division_id": str(entry["id"])},
            {"name": str(entry["name"]), **_stamp(entry, block, tx)},
        )
    elif kind == "exchange":
        _upsert(
            connection,
            exchanges,
            {"org": org},
            {"url": str(entry["url"]), **_stamp(entry, block, tx)},
        )
    else:
        raise ValueError(f"unknown change kind {kind!r}")


def _put_catalog(
    connection: Connection, org: str, entry: Mapping[str, Any], block: BlockInfo, tx: TxInfo
) -> None:
    code = str(entry["code"])
    duty_ids = [str(d) for d in entry["duties"]]
    row = {
        "name": str(entry["name"]),
        "summary": str(entry["summary"]),
        "duties": duty_ids,
        "share_type": str(entry["share_type"]),
        "share_condition": str(entry["share_condition"]),
        "share_mode": str(entry["share_mode"]),
        "data_format": str(entry["format"]),
        "update_cycle": str(entry["update_cycle"]),
        "open_attribute": str(entry["open_attribute"]),
        "release_date": str(entry["release_date"]),
        "related": [str(r) for r in entry["related"]],
        **_stamp(entry, block, tx),
        "code_class": code[:1],
        "code_item": code[:3],
        "code_sub_item": code[:6],
    }
    key = {"org": org, "code": code}
    done = connection.execute(
        _update_statement(catalogs, ("org", "code"), tuple(row)), _update_params(key, row)
    )
    if done.rowcount == 0:
        connection.execute(catalogs.insert(), [{**key, "item_count": 0, "search_text": "", **row}])
    connection.execute(_UNHANG, {"k_org": org, "k_code": code})
    if row["status"] == "active":
        connection.execute(
            catalog_duties.insert(), [{"org": org, "code": code, "duty_id": d} for d in duty_ids]
        )
    _refresh_catalog(connection, org, code)


_UNHANG = delete(catalog_duties).where(
    catalog_duties.c.org == bindparam("k_org"), catalog_duties.c.code == bindparam("k_code")
)
_CATALOG_TEXT = select(catalogs.c.name, catalogs.c.summary).where(
    catalogs.c.org == bindparam("k_org"), catalogs.c.code == bindparam("k_code")
)
_ITEM_NAMES = (
    select(items.c.name, items.c.status)
    .where(items.c.org == bindparam("k_org"), items.c.catalog == bindparam("k_code"))
    .order_by(items.c.code)
)


def _refresh_catalog(connection: Connection, org: str, code: str) -> None:
    """Recount a catalog's items and rebuild its search text (name, summary, active items)."""
    key = {"k_org": org, "k_code": code}
    found = connection.execute(_CATALOG_TEXT, key).one_or_none()
    if found is None:
        raise ValueError(f"items of {org}:{code} arrived before the catalog")
    names = connection.execute(_ITEM_NAMES, key).all()
    text = "\n".join(
        [found.name, found.summary, *(name for name, status in names if status == "active")]
    )
    refreshed = {"v_item_count": len(names), "v_search_text": normalise(text), **key}
    statement = _update_statement(catalogs, ("org", "code"), ("item_count", "search_text"))
    connection.execute(statement, refreshed)


def _on_items(
    connection: Connection, block: BlockInfo, tx: TxInfo, data: Mapping[str, Any]
) -> None:
    """A batch of items: one SELECT of which exist, then one insert and one update for all."""
    org, catalog = str(data["orgs"][0]), str(data["catalog"])
    written = {
        str(entry["code"]): {
            "name": str(entry["name"]),
            "data_type": str(entry["data_type"]),
            "sensitivity": str(entry["sensitivity"]),
            "standard": str(entry["standard"]),
            **_stamp(entry, block, tx),
        }
        for entry in data["items"]
    }
    if not written:
        return
    existing = set(
        connection.execute(
            select(items.c.code).where(
                items.c.org == org, items.c.catalog == catalog, items.c.code.in_(list(written))
            )
        ).scalars()
    )
    fresh = [
        {"org": org, "catalog": catalog, "code": code, **row}
        for code, row in written.items()
        if code not in existing
    ]
    if fresh:
        connection.execute(items.insert(), fresh)
    changed = [
        _update_params({"org": org, "catalog": catalog, "code": code}, row)
        for code, row in written.items()
        if code in existing
    ]
    if changed:
        names = tuple(next(iter(written.values())))
        connection.execute(_update_statement(items, ("org", "catalog", "code"), names), changed)


def _on_requested(
    connection: Connection, block: BlockInfo, tx: TxInfo, data: Mapping[str, Any]
) -> None:
    provider, catalog = str(data["provider"]), str(data["catalog"])
    version = connection.execute(
        select(catalogs.c.version, catalogs.c.share_type).where(
            catalogs.c.org == provider, catalogs.c.code == catalog
        )
    ).one()
    status = str(data["status"])
    connection.execute(
        insert(requests).values(
            id=int(data["request"]),
            requester=str(data["requester"]),
            requester_id=tx.sender,
            division=None if data["division"] is None else str(data["division"]),
            provider=provider,
            catalog=catalog,
            catalog_version=version.version,
            items=[str(code) for code in data["items"]],
            duty=str(data["duty"]),
            purpose=str(data["purpose"]),
            period_days=int(data["period_days"]),
            share_type=version.share_type,
            status=status,
            requested_at=block.time_ms,
            deadline=None if data["deadline"] is None else int(data["deadline"]),
            decided_at=None if status == "pending" else block.time_ms,
            decided_by=None,
            reason="",
            grant_id=None,
            height=block.height,
            tx_id=tx.id,
        )
    )


def _on_granted(
    connection: Connection, block: BlockInfo, tx: TxInfo, data: Mapping[str, Any]
) -> None:
    request_id = int(data["request"])
    found = connection.execute(select(requests).where(requests.c.id == request_id)).one()
    decided = {"status": "granted", "grant_id": int(data["grant"])}
    if found.status == "pending":
        decided.update(decided_at=block.time_ms, decided_by=tx.sender)
    connection.execute(update(requests).where(requests.c.id == request_id).values(**decided))
    connection.execute(
        insert(grants).values(
            id=int(data["grant"]),
            request_id=request_id,
            requester=found.requester,
            provider=found.provider,
            catalog=found.catalog,
            items=found.items,
            start_ms=block.time_ms,
            end_ms=int(data["end"]),
            status="active",
            reason="",
            revoked_at=None,
            height=block.height,
            tx_id=tx.id,
        )
    )


def _on_rejected(
    connection: Connection, block: BlockInfo, tx: TxInfo, data: Mapping[str, Any]
) -> None:
    connection.execute(
        update(requests)
        .where(requests.c.id == int(data["request"]))
        .values(
            status="rejected",
            decided_at=block.time_ms,
            decided_by=tx.sender,
            reason=str(data["reason"]),
        )
    )


def _on_revoked(
    connection: Connection, block: BlockInfo, tx: TxInfo, data: Mapping[str, Any]
) -> None:
    connection.execute(
        update(grants)
        .where(grants.c.id == int(data["grant"]))
        .values(status="revoked", reason=str(data["reason"]), revoked_at=block.time_ms)
    )


def _on_delivered(
    connection: Connection, block: BlockInfo, tx: TxInfo, data: Mapping[str, Any]
) -> None:
    grant_id = int(data["grant"])
    catalog = connection.execute(select(grants.c.catalog).where(grants.c.id == grant_id)).one()
    connection.execute(
        insert(deliveries).values(
            id=int(data["delivery"]),
            grant_id=grant_id,
            requester=str(data["requester"]),
            provider=str(data["provider"]),
            catalog=catalog[0],
            request_hash=str(data["request_hash"]),
            response_hash=str(data["response_hash"]),
            size=int(data["size"]),
            status="delivered",
            delivered_at=block.time_ms,
            confirmed_at=None,
            payload_hash=None,
            match=None,
            height=block.height,
            tx_id=tx.id,
        )
    )


def _on_confirmed(
    connection: Connection, block: BlockInfo, tx: TxInfo, data: Mapping[str, Any]
) -> None:
    match = data["match"]
    if not isinstance(match, bool):
        raise TypeError("match must be a boolean")
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == int(data["delivery"]))
        .values(
            status="confirmed" if match else "mismatch",
            payload_hash=str(data["payload_hash"]),
            confirmed_at=block.time_ms,
            match=match,
        )
    )


_APPLY = {
    "changed": _on_changed,
    "items": _on_items,
    "requested": _on_requested,
    "granted": _on_granted,
    "rejected": _on_rejected,
    "revoked": _on_revoked,
    "delivered": _on_delivered,
    "confirmed": _on_confirmed,
}


# -- rows as the contract's records ---------------------------------------------------------------


def _stamped(row: Any) -> dict[str, Any]:
    return {
        "status": row.status,
        "version": row.version,
        "height": row.height,
        "time": row.time_ms,
        "tx_id": row.tx_id,
    }


def duty_view(row: Any) -> dict[str, Any]:
    """A ``dir_duties`` row as the contract's ``duty`` query returns it."""
    return {
        "org": row.org,
        "id": row.duty_id,
        "name": row.name,
        "legal_basis": row.legal_basis,
        **_stamped(row),
    }


def catalog_view(row: Any) -> dict[str, Any]:
    """A ``dir_catalogs`` row as the contract's ``catalog`` query returns it."""
    return {
        "org": row.org,
        "code": row.code,
        "name": row.name,
        "summary": row.summary,
        "duties": list(row.duties),
        "share_type": row.share_type,
        "share_condition": row.share_condition,
        "share_mode": row.share_mode,
        "format": row.data_format,
        "update_cycle": row.update_cycle,
        "open_attribute": row.open_attribute,
        "release_date": row.release_date,
        "related": list(row.related),
        **_stamped(row),
        "item_count": row.item_count,
    }


def item_view(row: Any) -> dict[str, Any]:
    """A ``dir_items`` row as the contract's ``item`` query returns it."""
    return {
        "org": row.org,
        "catalog": row.catalog,
        "code": row.code,
        "name": row.name,
        "data_type": row.data_type,
        "sensitivity": row.sensitivity,
        "standard": row.standard,
        **_stamped(row),
    }


def request_view(row: Any, now_ms: int | None = None) -> dict[str, Any]:
    """A ``dir_requests`` row as ``get_request`` returns it; pending past its deadline at
    ``now_ms`` reads as ``expired``."""
    status = row.status
    if status == "pending" and now_ms is not None and now_ms > row.deadline:
        status = "expired"
    return {
        "id": row.id,
        "requester": row.requester,
        "requester_id": row.requester_id,
        "division": row.division,
        "provider": row.provider,
        "catalog": row.catalog,
        "catalog_version": row.catalog_version,
        "items": list(row.items),
        "duty": row.duty,
        "purpose": row.purpose,
        "period_days": row.period_days,
        "share_type": row.share_type,
        "status": status,
        "time": row.requested_at,
        "height": row.height,
        "tx_id": row.tx_id,
        "deadline": row.deadline,
        "decided_time": row.decided_at,
        "decided_by": row.decided_by,
        "reason": row.reason,
        "grant": row.grant_id,
    }


def grant_view(row: Any, now_ms: int | None = None) -> dict[str, Any]:
    """A ``dir_grants`` row as ``get_grant`` returns it; active past its end reads ``expired``."""
    status = row.status
    if status == "active" and now_ms is not None and now_ms >= row.end_ms:
        status = "expired"
    return {
        "id": row.id,
        "request": row.request_id,
        "requester": row.requester,
        "provider": row.provider,
        "catalog": row.catalog,
        "items": list(row.items),
        "start": row.start_ms,
        "end": row.end_ms,
        "status": status,
        "reason": row.reason,
        "revoked_time": row.revoked_at,
        "height": row.height,
        "tx_id": row.tx_id,
    }


def delivery_view(row: Any) -> dict[str, Any]:
    """A ``dir_deliveries`` row as ``get_delivery`` returns it (plus ``match``)."""
    return {
        "id": row.id,
        "grant": row.grant_id,
        "requester": row.requester,
        "provider": row.provider,
        "catalog": row.catalog,
        "request_hash": row.request_hash,
        "response_hash": row.response_hash,
        "size": row.size,
        "status": row.status,
        "time": row.delivered_at,
        "height": row.height,
        "tx_id": row.tx_id,
        "payload_hash": row.payload_hash,
        "confirmed_time": row.confirmed_at,
        "match": row.match,
    }
