"""Reading a catalog's data from its configured source, cut to the granted items.

A tabular source's columns are named by data item codes; the payload holds
exactly the granted items' columns, in the grant's order, and a granted item
the source does not have is an error (never a silently shorter payload).
CSV payloads are UTF-8 with a header row and ``\\r\\n`` line ends (the ``csv``
module's default); JSON payloads are a list of objects, compact, UTF-8.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from jinglian.exchange.config import Source
from jinglian.types.errors import ConfigError, InvalidInput, TooLarge

__all__ = ["SourceError", "read_payload"]

CSV_FIELD_CHARS_MAX = 16 * 1024 * 1024
"""The longest CSV field read from a source file."""


class SourceError(ConfigError):
    """The source cannot give the granted data (missing file, column, database error)."""

    code = "source_error"
    http_status = 500


def read_payload(source: Source, items: Sequence[str], bytes_max: int) -> bytes:
    """The payload of ``source`` for the granted ``items``; ``SourceError`` or ``TooLarge``."""
    if source.file is not None:
        try:
            size = source.file.stat().st_size
            if size > bytes_max and source.format == "bytes":
                raise TooLarge(f"source of {source.catalog} is over {bytes_max} bytes")
            raw = source.file.read_bytes()
        except OSError as exc:
            raise SourceError(f"source of {source.catalog}: {exc.strerror}") from None
        if source.format == "bytes":
            return raw
        if source.format == "csv":
            header, rows = _csv_rows(source.catalog, raw)
        else:
            header, rows = _json_rows(source.catalog, raw)
    else:
        header, rows = _sql_rows(source)
    payload = _render(source.format, _cut(source.catalog, header, rows, items))
    if len(payload) > bytes_max:
        raise TooLarge(f"payload of {source.catalog} is over {bytes_max} bytes")
    return payload


def _csv_rows(catalog: str, raw: bytes) -> tuple[list[str], list[list[Any]]]:
    csv.field_size_limit(CSV_FIELD_CHARS_MAX)
    try:
        reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
        header = next(reader, None)
        if header is None:
            raise SourceError(f"CSV source of {catalog} is empty (no header row)")
        return header, list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"CSV source of {catalog} is unreadable: {exc}") from None


def _json_rows(catalog: str, raw: bytes) -> tuple[list[str], list[list[Any]]]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"JSON source of {catalog} is not JSON: {exc}") from None
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise SourceError(f"JSON source of {catalog} must be a list of objects")
    header: list[str] = []
    for row in value:
        header += [key for key in row if key not in header]
    return header, [[row.get(key) for key in header] for row in value]


def _sql_rows(source: Source) -> tuple[list[str], list[list[Any]]]:
    assert source.url is not None and source.query is not None
    try:
        url = make_url(source.url)
        if url.get_backend_name() == "postgresql":
            url = url.set(drivername="postgresql+psycopg")  # the pinned driver
        engine = create_engine(url)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise SourceError(f"SQL source of {source.catalog}: bad URL: {exc}") from None
    try:
        with engine.connect() as connection:
            result = connection.execute(text(source.query))
            header = [str(key) for key in result.keys()]  # noqa: SIM118 (a Result, not a dict)
            return header, [list(row) for row in result]
    except SQLAlchemyError as exc:
        detail = str(exc).splitlines()[0]
        raise SourceError(f"SQL source of {source.catalog}: {detail}") from None
    finally:
        engine.dispose()


def _cut(
    catalog: str, header: list[str], rows: Iterable[list[Any]], items: Sequence[str]
) -> tuple[list[str], list[list[Any]]]:
    """Only the granted items' columns, in grant order; SourceError if one is missing."""
    positions = {name: index for index, name in enumerate(header)}
    missing = [code for code in items if code not in positions]
    if missing:
        raise SourceError(f"source of {catalog} has no column for granted item {missing[0]!r}")
    if not items:
        raise InvalidInput(f"the grant of {catalog} names no items")
    picks = [positions[code] for code in items]
    return list(items), [[row[i] if i < len(row) else None for i in picks] for row in rows]


def _render(fmt: str, table: tuple[list[str], list[list[Any]]]) -> bytes:
    header, rows = table
    if fmt == "json":
        objects = [dict(zip(header, [_json_value(v) for v in row], strict=True)) for row in rows]
        return json.dumps(objects, ensure_ascii=False, separators=(",", ":")).encode()
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue().encode()


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
