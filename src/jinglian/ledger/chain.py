"""The ledger: a chain of committed blocks over one KV store.

``Ledger`` owns the store. It writes the genesis state on first open, commits
each block (the block, its commit certificate, receipts, indexes, flat state and
state-tree nodes) in one atomic batch, and answers reads: blocks, transactions
with Merkle proofs, state values with state proofs at any committed height,
events and key history. It is the ``ChainView`` the state transition reads.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinglian.crypto import Suite, get_suite, merkle_proof
from jinglian.crypto.state_proof import StateProof
from jinglian.ledger import keys
from jinglian.ledger.apply import BlockResult, Head, TxExecutor
from jinglian.ledger.auth import TxAuthenticator
from jinglian.storage.kv import KV, Batch, KVReader
from jinglian.storage.state_tree import EMPTY_ROOT, StateTree
from jinglian.types import (
    Block,
    ChainConfig,
    Commit,
    Header,
    Receipt,
    codec,
    decode_block,
    decode_commit,
    decode_receipt,
    encode_block,
    encode_commit,
    encode_receipt,
    parse_chain_config,
)
from jinglian.types.config import compute_genesis_hash
from jinglian.types.errors import ConfigError, NotFound
from jinglian.types.validators import validator_set_of

__all__ = ["CONFIG_STATE_KEY", "Ledger", "TxLocation", "load_genesis"]

HEAD_BYTES_MAX = 1024
EVENTS_PAGE_MAX = 1000
CONFIG_BYTES_MAX = 4 * 1024 * 1024
CONFIG_STATE_KEY = keys.state_key(keys.CONFIG_CONTRACT, "config")
"""Raw state key of the chain config document."""
REVOKED_STATE_PREFIX = keys.state_key(keys.CERTS_CONTRACT, "revoked:")
"""Raw state keys of certificate revocations start with this."""
REVOCATIONS_CACHED_MAX = 10_000
"""Certificates whose revocation status the ledger remembers between revocations."""


@dataclass(frozen=True, slots=True)
class TxLocation:
    """Where a committed transaction sits."""

    height: int
    index: int


class Ledger:
    """Committed chain state over a KV store; the single writer is the consensus thread."""

    def __init__(self, kv: KV, genesis: ChainConfig, executor: TxExecutor) -> None:
        self.suite: Suite = get_suite(genesis.crypto)
        self.kv = kv
        self.tree = StateTree(kv, self.suite.hash)
        self.genesis = genesis
        self.genesis_hash = compute_genesis_hash(self.suite.hash, genesis)
        self._config = genesis
        self._signing_config = genesis
        self.authenticator = TxAuthenticator(
            self.suite, self.config, self.registered_cert, self.is_revoked
        )
        self.executor = executor
        self._lock = threading.Lock()
        self._revoked: dict[bytes, bool] = {}
        """Certificate id -> revoked, as of the head; emptied by a block that revokes one."""
        self._revocations = 0
        """Blocks committed by this process that revoked a certificate (guards ``_revoked``)."""
        self._head = self._open()
        head = self._head.height
        self._config = self._stored_config(head)
        self._signing_config = self._stored_config(head - 1)
        self._validators_hash = validator_set_of(self._signing_config).hash
        self.config_listeners: list[Callable[[ChainConfig], None]] = []
        """Called (on the committing thread) with the new config after a block changed it."""

    # -- ChainView ---------------------------------------------------------------------------

    def suite_hash(self, data: bytes) -> bytes:
        """The chain's hash function."""
        return self.suite.hash(data)

    def head(self) -> Head:
        """The latest committed block."""
        return self._head

    def config(self) -> ChainConfig:
        """The chain configuration in force for the next block (as of the head)."""
        return self._config

    def config_at(self, height: int) -> ChainConfig:
        """The chain configuration as of block ``height`` (after executing it)."""
        if height == self._head.height:
            return self._config
        return self._stored_config(height)

    def _stored_config(self, height: int) -> ChainConfig:
        if height <= 0:
            return self.genesis
        raw = self.get_state(CONFIG_STATE_KEY, height)
        assert raw is not None, "the chain config is in state from genesis on"
        config = parse_chain_config(codec.decode(raw, CONFIG_BYTES_MAX))
        return self.genesis if config == self.genesis else config

    def config_for_block(self, height: int) -> ChainConfig:
        """The configuration whose validator set signs block ``height``: the one as of block
        ``height - 2``, so a change committed in block h moves the set from block h + 2."""
        if height == self._head.height + 1:
            return self._signing_config
        return self.config_at(height - 2)

    def reader(self) -> KVReader:
        """Read access to committed data."""
        return self.kv

    def validators_hash(self) -> bytes:
        """Hash of the current validator set."""
        return self._validators_hash

    def is_committed(self, tx_id: bytes) -> bool:
        """True if a transaction with this id is in a committed block."""
        return self.kv.get(keys.tx_key(tx_id)) is not None

    def compute_state_root(
        self, root: bytes, changes: Mapping[bytes, bytes | None]
    ) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        """New state root after ``changes`` and the tree nodes to store."""
        return self.tree.compute_update(root, changes)

    def registered_cert(self, cert_id: bytes) -> bytes | None:
        """DER of a certificate registered on chain, by certificate id."""
        raw = self.kv.get(
            keys.flat_state_key(keys.state_key(keys.CERTS_CONTRACT, "cert:" + cert_id.hex()))
        )
        if raw is None:
            return None
        der = codec.decode(raw, 64 * 1024)
        assert isinstance(der, bytes), "registered certificates are stored as byte strings"
        return der

    def is_revoked(self, cert_id: bytes) -> bool:
        """True if the certificate was revoked in a committed block.

        Every admission and every block asks this for every signer, so answers
        are remembered until a block revokes a certificate; an answer read
        while such a block commits is not remembered.
        """
        revoked = self._revoked.get(cert_id)
        if revoked is not None:
            return revoked
        revocations = self._revocations
        key = REVOKED_STATE_PREFIX + cert_id.hex().encode()
        revoked = self.kv.get(keys.flat_state_key(key)) is not None
        with self._lock:
            if revocations == self._revocations and len(self._revoked) < REVOCATIONS_CACHED_MAX:
                self._revoked[cert_id] = revoked
        return revoked

    # -- writing -----------------------------------------------------------------------------

    def commit_block(self, result: BlockResult, commit: Commit) -> None:
        """Write a block and everything it changes in one atomic, durable batch."""
        block = result.block
        height = block.header.height
        assert height == self._head.height + 1, "blocks commit in height order"
        assert commit.block_hash == result.hash and commit.height == height
        batch = Batch()
        batch.put(keys.block_key(height), encode_block(block))
        batch.put(keys.commit_key(height), encode_commit(commit))
        batch.put(
            keys.receipts_key(height),
            codec.encode_trusted(list(result.encoded_receipts)),
        )
        batch.put(keys.block_hash_key(result.hash), keys.height_bytes(height))
        self._index_txs(batch, result)
        for key, value in result.state_changes.items():
            if value is None:
                batch.delete(keys.flat_state_key(key))
            else:
                batch.put(keys.flat_state_key(key), value)
        batch.extend(result.tree_writes)
        head = Head(
            height=height,
            hash=result.hash,
            state_root=block.header.state_root,
            time_ms=block.header.time_ms,
        )
        batch.put(keys.HEAD, _encode_head(head))
        changed = result.state_changes.get(CONFIG_STATE_KEY)
        revokes = any(key.startswith(REVOKED_STATE_PREFIX) for key in result.state_changes)
        with self._lock:
            self.kv.write(batch, sync=True)
            self._head = head
            if revokes:
                self._revocations += 1
                self._revoked.clear()
            self._advance_config(changed)

    def _advance_config(self, changed: bytes | None) -> None:
        """After a commit: the config as of the previous head signs the next block, and a
        config this block wrote is in force from the next block on."""
        self._signing_config = self._config
        self._validators_hash = validator_set_of(self._signing_config).hash
        if changed is None:
            return
        self._config = parse_chain_config(codec.decode(changed, CONFIG_BYTES_MAX))
        self.authenticator.forget_certificates()
        for listener in self.config_listeners:
            listener(self._config)

    def _index_txs(self, batch: Batch, result: BlockResult) -> None:
        height = result.block.header.height
        for index, tx in enumerate(result.block.txs):
            batch.put(keys.tx_key(tx.id), codec.encode_trusted([height, index]))
        for index, receipt in enumerate(result.receipts):
            for number, event in enumerate(receipt.events):
                batch.put(keys.event_key(event.contract, event.topic, height, index, number), b"")
        for key, index in result.key_changes:
            batch.put(keys.key_history_key(key, height, index), result.block.txs[index].id)

    # -- reading -----------------------------------------------------------------------------

    def get_block(self, height: int) -> Block | None:
        """The committed block at ``height``."""
        raw = self.kv.get(keys.block_key(height)) if height >= 1 else None
        return None if raw is None else decode_block(raw, self.suite.hash)

    def get_block_bytes(self, height: int) -> bytes | None:
        """The committed block at ``height`` in its stored (wire) encoding."""
        return self.kv.get(keys.block_key(height)) if height >= 1 else None

    def get_header(self, height: int) -> Header | None:
        """The committed header at ``height``."""
        block = self.get_block(height)
        return None if block is None else block.header

    def get_commit(self, height: int) -> Commit | None:
        """The commit certificate of the block at ``height``."""
        raw = self.kv.get(keys.commit_key(height))
        return None if raw is None else decode_commit(raw)

    def get_receipts(self, height: int) -> tuple[Receipt, ...]:
        """Receipts of the block at ``height``, in transaction order."""
        raw = self.kv.get(keys.receipts_key(height))
        if raw is None:
            return ()
        items = codec.decode(raw, 1 << 30)
        assert isinstance(items, list)
        return tuple(decode_receipt(item) for item in items if isinstance(item, bytes))

    def height_of(self, block_hash: bytes) -> int | None:
        """Height of the committed block with this hash."""
        raw = self.kv.get(keys.block_hash_key(block_hash))
        return None if raw is None else int.from_bytes(raw, "big")

    def locate_tx(self, tx_id: bytes) -> TxLocation | None:
        """Where a committed transaction is."""
        raw = self.kv.get(keys.tx_key(tx_id))
        if raw is None:
            return None
        height, index = _decode_record(raw, 2)
        return TxLocation(height=height, index=index)

    def tx_proofs(
        self, block: Block, receipts: tuple[Receipt, ...], index: int
    ) -> tuple[list[bytes], list[bytes]]:
        """Audit paths of transaction ``index`` in the tx root and its receipt in the receipt root."""
        tx_path = merkle_proof(self.suite.hash, [tx.encoded for tx in block.txs], index)
        receipt_path = merkle_proof(self.suite.hash, [encode_receipt(r) for r in receipts], index)
        return tx_path, receipt_path

    def state_root_at(self, height: int) -> bytes:
        """State root after the block at ``height`` (genesis state for 0)."""
        if height == 0:
            return self._genesis_state_root
        header = self.get_header(height)
        if header is None:
            raise NotFound(f"no block at height {height}; the head is {self._head.height}")
        return header.state_root

    def get_state(self, key: bytes, height: int | None = None) -> bytes | None:
        """Value of a raw state key at ``height`` (latest when ``None``)."""
        if height is None:
            return self.kv.get(keys.flat_state_key(key))
        return self.tree.get(self.state_root_at(height), key)

    def prove_state(self, key: bytes, height: int) -> tuple[bytes | None, StateProof]:
        """Value of a raw state key at ``height`` and its proof against that height's state root."""
        root = self.state_root_at(height)
        return self.tree.get(root, key), self.tree.prove(root, key)

    def iterate_events(
        self, contract: str, topic: str | None, limit: int = EVENTS_PAGE_MAX
    ) -> Iterator[tuple[int, int, int]]:
        """(height, tx index, event index) of a contract's events, oldest first."""
        prefix = keys.event_prefix(contract, topic)
        for count, (key, _) in enumerate(self.kv.iterate(prefix)):
            if count >= limit:
                return
            tail = key[-14:]
            yield (
                int.from_bytes(tail[:8], "big"),
                int.from_bytes(tail[8:12], "big"),
                int.from_bytes(tail[12:], "big"),
            )

    def key_history(self, key: bytes, limit: int = EVENTS_PAGE_MAX) -> list[tuple[int, bytes]]:
        """(height, tx id) of each transaction that changed a raw state key, oldest first."""
        prefix = keys.key_history_prefix(key)
        result = []
        for key_bytes, tx_id in self.kv.iterate(prefix):
            result.append((int.from_bytes(key_bytes[len(prefix) : len(prefix) + 8], "big"), tx_id))
            if len(result) >= limit:
                break
        return result

    # -- genesis -----------------------------------------------------------------------------

    def _open(self) -> Head:
        stored = self.kv.get(keys.genesis_key())
        document = codec.encode(self.genesis.to_value())
        if stored is None:
            return self._write_genesis(document)
        if stored != document:
            raise ConfigError("this data directory belongs to another chain (its genesis differs)")
        raw = self.kv.get(keys.HEAD)
        assert raw is not None, "a store with a genesis always has a head"
        return _decode_head(raw)

    def _genesis_changes(self) -> dict[bytes, bytes | None]:
        return {CONFIG_STATE_KEY: codec.encode(self.genesis.to_value())}

    @functools.cached_property
    def _genesis_state_root(self) -> bytes:
        root, _ = self.tree.compute_update(EMPTY_ROOT, self._genesis_changes())
        return root

    def _write_genesis(self, document: bytes) -> Head:
        changes = self._genesis_changes()
        root, tree_writes = self.tree.compute_update(EMPTY_ROOT, changes)
        head = Head(
            height=0, hash=self.genesis_hash, state_root=root, time_ms=self.genesis.genesis_time_ms
        )
        batch = Batch()
        batch.put(keys.genesis_key(), document)
        for key, value in changes.items():
            assert value is not None
            batch.put(keys.flat_state_key(key), value)
        batch.extend(tree_writes)
        batch.put(keys.HEAD, _encode_head(head))
        self.kv.write(batch, sync=True)
        return head


def load_genesis(document: bytes) -> ChainConfig:
    """Parse a genesis document (JSON bytes)."""
    import json

    try:
        value = json.loads(document)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"genesis file is not valid JSON: {exc}") from exc
    return parse_chain_config(value)


def _encode_head(head: Head) -> bytes:
    return codec.encode_trusted([head.height, head.hash, head.state_root, head.time_ms])


def _decode_head(raw: bytes) -> Head:
    height, block_hash, state_root, time_ms = _decode_record(raw, 4)
    return Head(height=height, hash=block_hash, state_root=state_root, time_ms=time_ms)


def _decode_record(raw: bytes, length: int) -> list[Any]:
    """A fixed-length list the ledger itself wrote."""
    value = codec.decode(raw, HEAD_BYTES_MAX)
    assert isinstance(value, list) and len(value) == length, "ledger records have a fixed shape"
    return value
