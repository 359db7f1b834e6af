"""The write overlay reads like the state it buffers, with its writes applied."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jinglian.execution._overlay import Overlay
from jinglian.execution.memory import MemoryState

keys = st.lists(st.sampled_from([b"a", b"b", b"\x00"]), max_size=3).map(b"".join)
values = st.binary(min_size=1, max_size=2)
writes = st.lists(st.tuples(keys, st.none() | values), max_size=12)


@given(st.dictionaries(keys, values, max_size=12), writes, keys)
def test_iterate_matches_state_with_writes_applied(
    base: dict[bytes, bytes], pending: list[tuple[bytes, bytes | None]], prefix: bytes
) -> None:
    overlay = Overlay(MemoryState(base))
    for key, value in pending:
        overlay.put(key, value)
    expected = MemoryState(base)
    expected.apply(overlay.writes)
    assert list(overlay.iterate(prefix)) == list(expected.iterate(prefix))
    for key in {key for key, _ in pending} | set(base):
        assert overlay.get(key) == expected.get(key)


def test_writes_keep_first_write_order() -> None:
    overlay = Overlay(MemoryState())
    for key, value in [(b"z", b"1"), (b"a", b"2"), (b"z", None)]:
        overlay.put(key, value)
    assert list(overlay.writes.items()) == [(b"z", None), (b"a", b"2")]
