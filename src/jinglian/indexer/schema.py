"""The index's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

``blocks`` has one row per block, ``txs`` one per transaction, ``events``
one per contract event, and ``indexer_state`` the row (key ``chain``) that
says which chain the index holds and how far it got. Hashes and ids are
lowercase hex, times Unix milliseconds, event data a JSON column (``JSONB``
on PostgreSQL) in the codec's JSON form. Apps that register handlers keep
their tables in a ``MetaData`` of their own (``Indexer.add_handler``).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "HASH_CHARS",
    "NAME_CHARS",
    "SCHEMA_VERSION",
    "STATE_KEY",
    "STATUS_CHARS",
    "blocks",
    "events",
    "indexer_state",
    "metadata",
    "txs",
]

SCHEMA_VERSION = 1
"""Version of these tables; an index of another version must be rebuilt."""
STATE_KEY = "chain"
"""Key of the one ``indexer_state`` row."""
HASH_CHARS = 64
"""Hex characters of a hash or id."""
NAME_CHARS = 64
"""Longest contract, method or topic name the chain accepts (``NAME_CHARS_MAX``)."""
STATUS_CHARS = 64
"""Longest receipt status (an error code)."""

metadata = MetaData()
"""The index's own tables."""

JsonData = JSON().with_variant(JSONB(), "postgresql")

blocks = Table(
    "blocks",
    metadata,
    Column("height", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", String(HASH_CHARS), nullable=False, unique=True),
    Column("prev_hash", String(HASH_CHARS), nullable=False),
    Column("time_ms", BigInteger, nullable=False, index=True),
    Column("tx_count", Integer, nullable=False),
    Column("proposer", String(HASH_CHARS), nullable=False),
)

txs = Table(
    "txs",
    metadata,
    Column("id", String(HASH_CHARS), primary_key=True),
    Column("height", BigInteger, ForeignKey("blocks.height"), nullable=False),
    Column("tx_index", Integer, nullable=False),
    Column("contract", String(NAME_CHARS), nullable=False),
    Column("method", String(NAME_CHARS), nullable=False),
    Column("sender", String(HASH_CHARS), nullable=False, index=True),
    Column("status", String(STATUS_CHARS), nullable=False),
    Column("error", Text, nullable=False),
    Column("gas_used", BigInteger, nullable=False),
    Index("txs_height_index", "height", "tx_index", unique=True),
    Index("txs_contract_method", "contract", "method"),
)

events = Table(
    "events",
    metadata,
    Column("height", BigInteger, ForeignKey("blocks.height"), primary_key=True),
    Column("tx_index", Integer, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("tx_id", String(HASH_CHARS), nullable=False, index=True),
    Column("contract", String(NAME_CHARS), nullable=False),
    Column("topic", String(NAME_CHARS), nullable=False),
    Column("data", JsonData, nullable=False),
    Index("events_contract_topic", "contract", "topic"),
)

indexer_state = Table(
    "indexer_state",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("chain_id", Text, nullable=False),
    Column("genesis_hash", String(HASH_CHARS), nullable=False),
    Column("last_height", BigInteger, nullable=False),
    Column("last_hash", String(HASH_CHARS), nullable=False),
    Column("schema_version", Integer, nullable=False),
)
