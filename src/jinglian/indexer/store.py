"""The index database: open it by URL, create and drop its tables, write one block atomically.

``open_database(url)`` accepts ``sqlite:///FILE`` and ``postgresql://...``
(driven by psycopg 3) and refuses anything else with one clear
``ConfigError``. ``Database.write_block`` writes a block's rows, runs the
apps' handlers and moves ``indexer_state.last_height`` forward in ONE
database transaction, and only from the height it expects: a crash at any
instant leaves either the whole block or none of it, and two indexers
writing the same database cannot interleave.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, func, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from jinglian.indexer.records import BlockInfo, EventInfo, IndexedBlock, TxInfo
from jinglian.indexer.schema import (
    SCHEMA_VERSION,
    STATE_KEY,
    blocks,
    events,
    indexer_state,
    metadata,
    txs,
)
from jinglian.types.errors import ConfigError, InvalidBlock

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "Database",
    "Handler",
    "IndexState",
    "open_database",
]

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for a reader's lock before failing."""
URL_EXAMPLES = "sqlite:///index.sqlite or postgresql://USER:PASSWORD@HOST:PORT/DB"


class Handler(Protocol):
    """An app's code run for each event of its contract, inside the block's transaction.

    It may read and write its own tables through ``connection``; raising
    aborts the block (nothing of it is written) and stops the indexer.
    """

    def __call__(
        self, connection: Connection, block: BlockInfo, tx: TxInfo, event: EventInfo
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class IndexState:
    """Which chain an index holds and how far it got."""

    chain_id: str
    """Chain id of the indexed chain."""
    genesis_hash: str
    """Hex genesis hash of the indexed chain (block 1's ``prev_hash``)."""
    last_height: int
    """Last indexed height; 0 before the first block."""
    last_hash: str
    """Hex hash of the last indexed block (the genesis hash at height 0)."""


def open_database(url: str) -> Database:
    """The index database at ``url``; ``ConfigError`` if the URL is malformed or unsupported."""
    parsed = _parse_url(url)
    try:
        engine = create_engine(parsed, future=True)
    except (ArgumentError, NoSuchModuleError, ValueError, TypeError) as exc:
        raise ConfigError(f"database URL {url!r} is not usable: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return Database(engine)


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"database URL {url!r} is malformed; use {URL_EXAMPLES}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite" and parsed.get_driver_name() == "pysqlite":
        if not parsed.database:
            raise ConfigError(f"database URL {url!r} names no file; use sqlite:///FILE")
        return parsed
    raise ConfigError(f"database URL {url!r} is not SQLite or PostgreSQL; use {URL_EXAMPLES}")


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets readers (console, apps) query while the indexer writes."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


class Database:
    """The index tables in one database, plus the tables of the apps' handlers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        """The SQLAlchemy engine; apps may query it freely."""
        self._handlers: dict[str, list[Handler]] = {}
        self._app_metadata: list[MetaData] = []

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return self.engine.url.render_as_string(hide_password=True)

    def add_handler(self, contract: str, handler: Handler, tables: MetaData | None) -> None:
        """Run ``handler`` for each event of ``contract``; ``tables`` are created and rebuilt."""
        self._handlers.setdefault(contract, []).append(handler)
        if tables is not None and tables not in self._app_metadata:
            self._app_metadata.append(tables)

    @contextmanager
    def _connect(self, what: str) -> Iterator[Connection]:
        """A transaction; database failures become one ``ConfigError`` naming ``what``."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise ConfigError(f"index database {self.url}: {what} failed: {reason}") from exc

    def create(self) -> None:
        """Create every missing table (the index's and the apps')."""
        with self._connect("creating the tables") as connection:
            for meta in (metadata, *self._app_metadata):
                meta.create_all(connection)

    def drop(self) -> None:
        """Drop every table of the index and of the apps (for ``rebuild``)."""
        with self._connect("dropping the tables") as connection:
            for meta in (*reversed(self._app_metadata), metadata):
                meta.drop_all(connection)

    def has_index(self) -> bool:
        """Whether the index tables exist (``create`` has run)."""
        with self._connect("looking for the index tables") as connection:
            return bool(inspect(connection).has_table(indexer_state.name))

    def load_state(self) -> IndexState | None:
        """The state row, or None for an empty index; ``ConfigError`` for another schema."""
        with self._connect("reading the index state") as connection:
            row = connection.execute(
                select(indexer_state).where(indexer_state.c.key == STATE_KEY)
            ).one_or_none()
        if row is None:
            return None
        if row.schema_version != SCHEMA_VERSION:
            raise ConfigError(
                f"index database {self.url} has schema version {row.schema_version}, this "
                f"indexer writes {SCHEMA_VERSION}; run `jinglian indexer rebuild`"
            )
        return IndexState(row.chain_id, row.genesis_hash, row.last_height, row.last_hash)

    def start_state(self, chain_id: str, genesis_hash: str) -> IndexState:
        """Record the chain of an empty index (height 0)."""
        state = IndexState(chain_id, genesis_hash, 0, genesis_hash)
        with self._connect("recording the chain") as connection:
            connection.execute(
                indexer_state.insert().values(
                    key=STATE_KEY,
                    chain_id=chain_id,
                    genesis_hash=genesis_hash,
                    last_height=0,
                    last_hash=genesis_hash,
                    schema_version=SCHEMA_VERSION,
                )
            )
        return state

    def get_block_hash(self, height: int) -> str | None:
        """The indexed hash at ``height``, if any."""
        with self._connect("reading a block") as connection:
            value = connection.execute(
                select(blocks.c.hash).where(blocks.c.height == height)
            ).scalar_one_or_none()
        return None if value is None else str(value)

    def count_rows(self) -> dict[str, int]:
        """Rows per index table."""
        with self._connect("counting rows") as connection:
            return {
                table.name: int(
                    connection.execute(select(func.count()).select_from(table)).scalar_one()
                )
                for table in (blocks, txs, events)
            }

    def write_block(self, state: IndexState, indexed: IndexedBlock) -> IndexState:
        """Write ``indexed`` (the block after ``state``) and the new state in one transaction."""
        block = indexed.block
        _check_follows(state, block)
        with self._connect(f"writing block {block.height}") as connection:
            moved = connection.execute(
                indexer_state.update()
                .where(indexer_state.c.key == STATE_KEY)
                .where(indexer_state.c.last_height == state.last_height)
                .where(indexer_state.c.last_hash == state.last_hash)
                .values(last_height=block.height, last_hash=block.hash)
            )
            if moved.rowcount != 1:
                raise ConfigError(
                    f"index database {self.url} moved past height {state.last_height} while "
                    "this indexer ran: is another indexer writing it?"
                )
            _insert_rows(connection, indexed)
            self._run_handlers(connection, indexed)
        return IndexState(state.chain_id, state.genesis_hash, block.height, block.hash)

    def _run_handlers(self, connection: Connection, indexed: IndexedBlock) -> None:
        if not self._handlers:
            return
        for tx in indexed.txs:
            for ev in tx.events:
                for handler in self._handlers.get(ev.contract, ()):
                    handler(connection, indexed.block, tx, ev)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (the index's and the apps'), sorted; for checks and tests."""
        tables = [t for meta in (metadata, *self._app_metadata) for t in meta.sorted_tables]
        with self._connect("reading the tables") as connection:
            return {
                t.name: sorted((tuple(row) for row in connection.execute(select(t))), key=_row_key)
                for t in tables
            }

    def close(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


def _row_key(row: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
    """Order rows by their values; JSON values and NULLs by their text."""
    return tuple((0, v) if isinstance(v, int | str) else (1, repr(v)) for v in row)


def _check_follows(state: IndexState, block: BlockInfo) -> None:
    if block.height != state.last_height + 1:
        raise InvalidBlock(
            f"block {block.height} does not follow the index's last height {state.last_height}"
        )
    if block.prev_hash != state.last_hash:
        raise InvalidBlock(
            f"block {block.height} links to {block.prev_hash}, but the index holds "
            f"{state.last_hash} at height {state.last_height}: the node serves a different chain"
        )


def _insert_rows(connection: Connection, indexed: IndexedBlock) -> None:
    block = indexed.block
    connection.execute(
        blocks.insert().values(
            height=block.height,
            hash=block.hash,
            prev_hash=block.prev_hash,
            time_ms=block.time_ms,
            tx_count=block.tx_count,
            proposer=block.proposer,
        )
    )
    if indexed.txs:
        connection.execute(txs.insert(), [_tx_row(tx) for tx in indexed.txs])
    event_rows = [_event_row(tx, ev) for tx in indexed.txs for ev in tx.events]
    if event_rows:
        connection.execute(events.insert(), event_rows)


def _tx_row(tx: TxInfo) -> dict[str, Any]:
    return {
        "id": tx.id,
        "height": tx.height,
        "tx_index": tx.index,
        "contract": tx.contract,
        "method": tx.method,
        "sender": tx.sender,
        "status": tx.status,
        "error": tx.error,
        "gas_used": tx.gas_used,
    }


def _event_row(tx: TxInfo, ev: EventInfo) -> dict[str, Any]:
    return {
        "height": tx.height,
        "tx_index": tx.index,
        "number": ev.number,
        "tx_id": tx.id,
        "contract": ev.contract,
        "topic": ev.topic,
        "data": ev.data,
    }
