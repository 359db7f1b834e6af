"""LatestState: the flat newest-state table beside the tree, updated in the same batch."""

from __future__ import annotations

import hashlib

import pytest

from jinglian.crypto.state_proof import EMPTY_HASH
from jinglian.storage import (
    LATEST_STATE_PREFIX,
    STATE_KEY_BYTES_MAX,
    STATE_VALUE_BYTES_MAX,
    Batch,
    LatestState,
    MemoryKV,
    StateTree,
)
from jinglian.types.errors import TooLarge


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_latest_state_and_tree_commit_in_one_batch() -> None:
    kv = MemoryKV()
    tree, latest = StateTree(kv, sha256), LatestState(kv)
    changes: dict[bytes, bytes | None] = {b"acct/bob": b"5", b"acct/amy": b"7", b"token/x": b"1"}
    root, writes = tree.compute_update(EMPTY_HASH, changes)
    batch = Batch()
    batch.extend(writes)
    latest.save_changes(batch, changes)
    kv.write(batch)
    assert latest.get(b"acct/bob") == b"5"
    assert list(latest.iterate(b"acct/")) == [(b"acct/amy", b"7"), (b"acct/bob", b"5")]
    assert list(latest.iterate(b"acct/", start=b"acct/b")) == [(b"acct/bob", b"5")]
    assert next(latest.iterate(b"", reverse=True)) == (b"token/x", b"1")
    assert kv.get(LATEST_STATE_PREFIX + b"token/x") == b"1"

    batch = Batch()
    latest.save_changes(batch, {b"acct/bob": None, b"acct/cy": b"0"})
    kv.write(batch)
    assert latest.get(b"acct/bob") is None
    assert [k for k, _ in latest.iterate(b"acct/")] == [b"acct/amy", b"acct/cy"]
    assert tree.get(root, b"acct/bob") == b"5"


def test_invalid_sizes() -> None:
    latest = LatestState(MemoryKV())
    with pytest.raises(TooLarge):
        latest.save_changes(Batch(), {b"k" * (STATE_KEY_BYTES_MAX + 1): b""})
    with pytest.raises(TooLarge):
        latest.save_changes(Batch(), {b"k": b"v" * (STATE_VALUE_BYTES_MAX + 1)})
