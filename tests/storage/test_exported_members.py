"""The storage package exports exactly its public names, sorted."""

from __future__ import annotations

import jinglian.storage as storage
from jinglian.storage import kv, lmdb_kv, state_store, state_tree


def test_all_is_sorted_and_complete() -> None:
    public = {name for name in dir(storage) if not name.startswith("_")}
    modules = {"kv", "lmdb_kv", "state_store", "state_tree", "annotations"}
    assert set(storage.__all__) == public - modules
    assert storage.__all__ == sorted(storage.__all__)


def test_module_all_names_exist() -> None:
    for module in (kv, lmdb_kv, state_store, state_tree):
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
