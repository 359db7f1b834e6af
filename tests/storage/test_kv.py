"""The KV seam: MemoryKV and LmdbKV behave alike, and like a sorted dict."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import lmdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jinglian.storage import (
    KV_BATCH_BYTES_MAX,
    KV_KEY_BYTES_MAX,
    KV_VALUE_BYTES_MAX,
    Batch,
    LmdbKV,
    MemoryKV,
    lmdb_kv,
)
from jinglian.storage.kv import KV, compute_key_range
from jinglian.types.errors import InvalidInput, TooLarge

ENGINES = ["memory", "lmdb"]


def open_kv(engine: str, path: Path, map_size_bytes: int = 1 << 24) -> KV:
    if engine == "memory":
        return MemoryKV()
    return LmdbKV(path / "db", map_size_bytes=map_size_bytes)


@pytest.fixture(params=ENGINES)
def kv(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KV]:
    store = open_kv(request.param, tmp_path)
    yield store
    store.close()


def put_all(kv: KV, items: dict[bytes, bytes]) -> None:
    batch = Batch()
    batch.extend(items.items())
    kv.write(batch)


def model_iterate(
    model: dict[bytes, bytes], prefix: bytes, start: bytes | None, reverse: bool
) -> list[tuple[bytes, bytes]]:
    """The specification of iterate, written plainly."""
    items = sorted((k, v) for k, v in model.items() if k.startswith(prefix))
    if start is not None:
        items = [(k, v) for k, v in items if (k <= start if reverse else k >= start)]
    return items[::-1] if reverse else items


def test_get_put_delete_in_batch_order(kv: KV) -> None:
    batch = Batch()
    batch.put(b"a", b"1")
    batch.put(b"b", b"2")
    batch.delete(b"a")
    batch.put(b"c", b"3")
    batch.put(b"c", b"4")
    assert len(batch) == 5
    kv.write(batch)
    assert kv.get(b"a") is None
    assert kv.get(b"b") == b"2"
    assert kv.get(b"c") == b"4"
    batch = Batch()
    batch.delete(b"b")
    batch.delete(b"never")
    batch.put(b"b", b"back")
    kv.write(batch, sync=False)
    assert kv.get(b"b") == b"back"


def test_iterate_prefix_start_reverse(kv: KV) -> None:
    model = {k: k.upper() for k in [b"a", b"ab", b"abc", b"abd", b"ac", b"b", b"\xff", b"\xff\xff"]}
    put_all(kv, model)
    for prefix, start, reverse in itertools.product(
        [b"", b"a", b"ab", b"b", b"c", b"\xff"],
        [None, b"", b"a", b"abc", b"abcc", b"abz", b"b", b"zz", b"\xff\xff\xff"],
        [False, True],
    ):
        expected = model_iterate(model, prefix, start, reverse)
        assert list(kv.iterate(prefix, start, reverse)) == expected, (prefix, start, reverse)


def test_iterate_with_keys_longer_than_any_stored_key(kv: KV) -> None:
    model = {b"p" + b"x" * 400 + bytes([i]): b"v" for i in range(5)}
    model[b"p" + b"y"] = b"w"
    model[b"p" + b"x" * (KV_KEY_BYTES_MAX - 1)] = b"longest"  # equals the seek truncation
    put_all(kv, model)
    long = b"p" + b"x" * (KV_KEY_BYTES_MAX + 10)
    for start, reverse in itertools.product([long, b"p" + b"x" * 600 + b"\x03"], [False, True]):
        assert list(kv.iterate(b"p", start, reverse)) == model_iterate(model, b"p", start, reverse)
    assert list(kv.iterate(long)) == []
    assert kv.get(long) is None
    assert kv.get(b"") is None
    with kv.snapshot() as snap:
        assert snap.get(long) is None
        assert snap.get(b"") is None


def test_snapshot_is_isolated_from_later_writes(kv: KV) -> None:
    put_all(kv, {b"k1": b"old", b"k2": b"old"})
    with kv.snapshot() as snap:
        batch = Batch()
        batch.put(b"k1", b"new")
        batch.delete(b"k2")
        batch.put(b"k3", b"new")
        kv.write(batch)
        assert snap.get(b"k1") == b"old"
        assert snap.get(b"k3") is None
        assert list(snap.iterate(b"k")) == [(b"k1", b"old"), (b"k2", b"old")]
    assert list(kv.iterate(b"k")) == [(b"k1", b"new"), (b"k3", b"new")]


def test_iterator_sees_the_store_as_of_the_call(kv: KV) -> None:
    put_all(kv, {b"k%d" % i: b"old" for i in range(5)})
    it = kv.iterate(b"k")
    assert next(it) == (b"k0", b"old")
    put_all(kv, {b"k%d" % i: b"new" for i in range(10)})
    assert [v for _, v in it] == [b"old"] * 4
    untouched = kv.iterate(b"k")
    put_all(kv, {b"k0": b"newer"})
    assert next(untouched) == (b"k0", b"new")
    del untouched
    assert next(kv.iterate(b"k")) == (b"k0", b"newer")


def test_closed_iterator_stays_exhausted(kv: KV) -> None:
    put_all(kv, {b"a": b"1", b"b": b"2"})
    it = kv.iterate(b"")
    assert next(it) == (b"a", b"1")
    it.close()  # type: ignore[attr-defined]
    assert list(it) == []


def test_invalid_keys_and_sizes() -> None:
    batch = Batch()
    with pytest.raises(InvalidInput):
        batch.put(b"", b"v")
    with pytest.raises(InvalidInput):
        batch.delete(b"")
    with pytest.raises(TooLarge):
        batch.put(b"k" * (KV_KEY_BYTES_MAX + 1), b"v")
    with pytest.raises(TooLarge):
        batch.put(b"k", bytes(KV_VALUE_BYTES_MAX + 1))
    big = bytes(KV_VALUE_BYTES_MAX)
    with pytest.raises(TooLarge):
        for i in range(KV_BATCH_BYTES_MAX // KV_VALUE_BYTES_MAX + 1):
            batch.put(b"k%d" % i, big)
    assert batch.size_bytes <= KV_BATCH_BYTES_MAX
    batch.put(b"k" * KV_KEY_BYTES_MAX, b"")


def test_compute_key_range() -> None:
    assert compute_key_range(b"", None, False) == (b"", None)
    assert compute_key_range(b"a\xff", None, False) == (b"a\xff", b"b")
    assert compute_key_range(b"\xff\xff", None, True) == (b"\xff\xff", None)
    assert compute_key_range(b"a", b"ab", True) == (b"a", b"ab\x00")
    assert compute_key_range(b"a", b"c", True) == (b"a", b"b")
    assert compute_key_range(b"b", b"a", False) == (b"b", b"c")


def small_alphabet(min_size: int, max_size: int) -> st.SearchStrategy[bytes]:
    """Bytes over a few symbols (0x00, 0x01, 0xfe, 0xff) so prefixes and edges collide often."""
    symbols = st.sampled_from([0x00, 0x01, 0xFE, 0xFF])
    return st.lists(symbols, min_size=min_size, max_size=max_size).map(bytes)


ops = st.lists(st.tuples(small_alphabet(1, 3), st.none() | st.binary(max_size=4)), max_size=30)
queries = st.lists(
    st.tuples(small_alphabet(0, 2), st.none() | small_alphabet(0, 3), st.booleans()), max_size=8
)


@pytest.mark.parametrize("engine", ENGINES)
@given(batches=st.lists(ops, max_size=5), queries=queries)
@settings(max_examples=40, deadline=None)
def test_matches_a_sorted_dict(
    engine: str,
    batches: list[list[tuple[bytes, bytes | None]]],
    queries: list[tuple[bytes, bytes | None, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        kv = open_kv(engine, Path(tmp))
        model: dict[bytes, bytes] = {}
        snapshots = []
        for ops_ in batches:
            batch = Batch()
            for key, value in ops_:
                if value is None:
                    batch.delete(key)
                    model.pop(key, None)
                else:
                    batch.put(key, value)
                    model[key] = value
            snapshots.append((kv.snapshot(), dict(model)))
            kv.write(batch)
            for prefix, start, reverse in queries:
                got = list(kv.iterate(prefix, start, reverse))
                assert got == model_iterate(model, prefix, start, reverse)
        for snap, _ in snapshots:
            snap.close()
        kv.close()


def test_lmdb_map_grows_and_keeps_data(tmp_path: Path) -> None:
    kv = LmdbKV(tmp_path / "db", map_size_bytes=64 * 1024)
    initial = kv.map_size_bytes
    for round_ in range(4):
        put_all(kv, {b"%d/%04d" % (round_, i): bytes(200) for i in range(500)})
    assert kv.map_size_bytes > initial
    assert sum(1 for _ in kv.iterate(b"")) == 2000
    kv.close()
    reopened = LmdbKV(tmp_path / "db", map_size_bytes=64 * 1024)
    assert sum(1 for _ in reopened.iterate(b"")) == 2000
    reopened.close()


def test_lmdb_failed_batch_leaves_nothing(tmp_path: Path) -> None:
    kv = LmdbKV(tmp_path / "db")
    put_all(kv, {b"a": b"1"})

    class Boom(Exception):
        pass

    class ExplodingBatch(Batch):
        def __iter__(self) -> Iterator[tuple[bytes, bytes | None]]:
            yield (b"a", b"changed")
            yield (b"b", b"2")
            raise Boom

    with pytest.raises(Boom):
        kv.write(ExplodingBatch())
    assert kv.get(b"a") == b"1" and kv.get(b"b") is None
    kv.close()


def test_lmdb_readonly_sees_committed_data_and_refuses_writes(tmp_path: Path) -> None:
    with LmdbKV(tmp_path / "db") as writer:
        put_all(writer, {b"a": b"1"})
    with LmdbKV(tmp_path / "db", readonly=True) as reader:
        assert reader.get(b"a") == b"1"
        with pytest.raises(AssertionError):
            put_all(reader, {b"a": b"3"})
    with pytest.raises(lmdb.Error):
        LmdbKV(tmp_path / "missing", readonly=True)


GROW_FROM_OTHER_PROCESS = """
import sys
from jinglian.storage import Batch, LmdbKV
kv = LmdbKV(sys.argv[1], map_size_bytes=64 * 1024)
for round_ in range(8):
    batch = Batch()
    batch.extend((b"g%d/%04d" % (round_, i), bytes(300)) for i in range(400))
    kv.write(batch)
print(kv.map_size_bytes)
kv.close()
"""


def test_lmdb_reader_follows_a_map_grown_by_another_process(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with LmdbKV(path, map_size_bytes=64 * 1024) as kv:
        put_all(kv, {b"a": b"1"})
    reader = LmdbKV(path, map_size_bytes=64 * 1024, readonly=True)
    assert reader.get(b"a") == b"1"
    done = subprocess.run(
        [sys.executable, "-c", GROW_FROM_OTHER_PROCESS, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert int(done.stdout) > 64 * 1024
    assert reader.get(b"g7/0399") == bytes(300)
    assert sum(1 for _ in reader.iterate(b"g")) == 3200
    reader.close()


def test_lmdb_map_at_its_limit_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with LmdbKV(tmp_path / "db", map_size_bytes=64 * 1024) as kv:
        monkeypatch.setattr(lmdb_kv, "LMDB_MAP_SIZE_MAX_BYTES", kv.map_size_bytes)
        with pytest.raises(lmdb.MapFullError):
            put_all(kv, {b"k%05d" % i: bytes(500) for i in range(1000)})
        assert kv.get(b"k00000") is None
