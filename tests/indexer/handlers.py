"""An app handler as the directory app would write one: its own table, filled from kv events."""

from __future__ import annotations

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table

from jinglian.indexer import BlockInfo, EventInfo, TxInfo

kv_keys_meta = MetaData()
kv_keys = Table(
    "kv_keys",
    kv_keys_meta,
    Column("key", String(200), primary_key=True),
    Column("height", Integer, nullable=False),
    Column("tx_id", String(64), nullable=False),
)


def record_kv_key(connection: Connection, block: BlockInfo, tx: TxInfo, event: EventInfo) -> None:
    """The last height and transaction that set each kv key."""
    key = event.data["key"]
    connection.execute(kv_keys.delete().where(kv_keys.c.key == key))
    connection.execute(kv_keys.insert().values(key=key, height=block.height, tx_id=tx.id))
