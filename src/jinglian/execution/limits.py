"""Every bound the contract runtime enforces, named, with its unit last.

These are constants of the protocol: every node must use the same values, or
the same transaction could succeed on one node and fail on another. Changing
one is a hard fork. Gas prices live in ``jinglian.execution.gas``.
"""

from __future__ import annotations

from jinglian.types.codec import DEPTH_MAX

__all__ = [
    "ARGS_BYTES_MAX",
    "AST_DEPTH_MAX",
    "CALL_DEPTH_MAX",
    "COMPILED_CACHE_ENTRIES_MAX",
    "CONTRACT_CALL_DEPTH_MAX",
    "CONTRACT_SOURCE_BYTES_MAX",
    "ERROR_MESSAGE_CHARS_MAX",
    "EVENTS_PER_CALL_MAX",
    "EVENT_DATA_BYTES_MAX",
    "EVENT_TOPIC_BYTES_MAX",
    "INT_BITS_MAX",
    "INT_DIGITS_MAX",
    "RESULT_BYTES_MAX",
    "SEQUENCE_LEN_MAX",
    "STATE_ITEMS_LIMIT_DEFAULT",
    "STATE_ITEMS_LIMIT_MAX",
    "STATE_KEY_BYTES_MAX",
    "STATE_VALUE_BYTES_MAX",
    "SYSTEM_STATE_VALUE_BYTES_MAX",
    "VALUE_DEPTH_MAX",
]

CONTRACT_SOURCE_BYTES_MAX = 64 * 1024
"""Size of a contract's source text, UTF-8 bytes.

Compiling is linear in the source but costs about 7 µs per byte in Python
(the checks are tree walks), and a node that has not cached a contract
compiles it on its next call; 64 KiB keeps that under half a second."""

AST_DEPTH_MAX = 100
"""Nesting depth of a contract's syntax tree, nodes (keeps the checker's recursion bounded)."""

INT_BITS_MAX = 4096
"""Size of any integer a contract computes or writes as a literal, bits."""

INT_DIGITS_MAX = 1300
"""Length of a text a contract may convert with ``int()``, characters (about INT_BITS_MAX bits)."""

SEQUENCE_LEN_MAX = 1 << 20
"""Length of any one str, bytes, list, tuple or dict a contract builds, items (chars, bytes)."""

VALUE_DEPTH_MAX = DEPTH_MAX
"""Nesting depth of lists and dicts a contract compares, formats or stores, levels."""

CALL_DEPTH_MAX = 64
"""Contract function frames alive at once in one transaction (all contracts together), frames."""

CONTRACT_CALL_DEPTH_MAX = 8
"""Nested ``ctx.call`` levels below the transaction's own call, calls."""

STATE_KEY_BYTES_MAX = 256
"""Size of a contract state key, UTF-8 bytes."""

STATE_VALUE_BYTES_MAX = 64 * 1024
"""Size of a contract state value, canonical encoded bytes."""

SYSTEM_STATE_VALUE_BYTES_MAX = 128 * 1024
"""Size of a state value written by a native system contract, encoded bytes (holds sources)."""

STATE_ITEMS_LIMIT_DEFAULT = 100
"""Entries ``ctx.state.items`` returns when no limit is given, entries."""

STATE_ITEMS_LIMIT_MAX = 1000
"""Entries one ``ctx.state.items`` call may return, entries."""

EVENT_TOPIC_BYTES_MAX = 64
"""Size of an event topic, UTF-8 bytes."""

EVENT_DATA_BYTES_MAX = 16 * 1024
"""Size of one event's data, canonical encoded bytes."""

EVENTS_PER_CALL_MAX = 256
"""Events one transaction may emit (all contracts together), events."""

ARGS_BYTES_MAX = 128 * 1024
"""Size of the arguments of one call, canonical encoded bytes (a deploy carries a source)."""

RESULT_BYTES_MAX = 64 * 1024
"""Size of the value a method returns, canonical encoded bytes."""

ERROR_MESSAGE_CHARS_MAX = 512
"""Length of the message a failed call reports, characters."""

COMPILED_CACHE_ENTRIES_MAX = 256
"""Compiled contract modules a runtime keeps, entries (least recently used go first)."""
