"""The gas schedule and the meter that charges it.

Gas is counted, never timed: every charge is computed from quantities that
are the same on every node (loop iterations, function entries, lengths of
values, bytes read and written), so a call uses exactly the same gas, or runs
out at exactly the same point, everywhere. One unit is roughly the work of one
interpreted operation; bulk work on data is charged per ``BYTES_PER_GAS``
bytes or per item.

What a cache does or does not hold on a node never changes a charge: loading a
contract costs the same whether it was compiled before or not.
"""

from __future__ import annotations

from jinglian.types.errors import OutOfGas

__all__ = [
    "BYTES_PER_GAS",
    "CODE_NODES_PER_GAS",
    "GAS_CALL",
    "GAS_CONTRACT_CALL",
    "GAS_CONTRACT_LOAD",
    "GAS_EVENT",
    "GAS_EVENT_BYTE",
    "GAS_HASH",
    "GAS_ITEM",
    "GAS_STATE_READ",
    "GAS_STATE_READ_BYTE",
    "GAS_STATE_WRITE",
    "GAS_STATE_WRITE_BYTE",
    "GAS_STEP",
    "SOURCE_BYTES_PER_GAS",
    "Meter",
    "compute_bytes_gas",
    "compute_code_gas",
    "compute_int_gas",
]

GAS_STEP = 1
"""One loop iteration, one ``while`` pass, one arithmetic or comparison operation."""

GAS_CALL = 5
"""Entering a contract function (its own, or one it passes as a ``key=``)."""

CODE_NODES_PER_GAS = 4
"""Syntax nodes of straight-line code per unit of gas, charged when a block starts."""

GAS_ITEM = 1
"""Each item of a container that is created, copied, compared or visited."""

BYTES_PER_GAS = 8
"""Bytes of str/bytes data created, copied or scanned per unit of gas."""

GAS_STATE_READ = 200
"""Reading one state key (``get``, ``has``, each entry of ``items``)."""

GAS_STATE_READ_BYTE = 1
"""Each byte of key and encoded value read from state."""

GAS_STATE_WRITE = 500
"""Writing or deleting one state key."""

GAS_STATE_WRITE_BYTE = 2
"""Each byte of key and encoded value written to state."""

GAS_EVENT = 200
"""Emitting one event."""

GAS_EVENT_BYTE = 1
"""Each byte of an event's topic and encoded data."""

GAS_HASH = 50
"""One ``ctx.hash`` call, plus ``compute_bytes_gas`` of its input."""

GAS_CONTRACT_CALL = 700
"""One ``ctx.call`` to another contract (plus loading it)."""

GAS_CONTRACT_LOAD = 300
"""Looking up and loading the code of the contract being called."""

SOURCE_BYTES_PER_GAS = 16
"""Source bytes of the called contract per unit of load gas."""


def compute_bytes_gas(size: int) -> int:
    """Gas for creating, copying or scanning ``size`` bytes (or chars) of data."""
    return size // BYTES_PER_GAS


def compute_code_gas(nodes: int) -> int:
    """Gas for running a block of ``nodes`` syntax nodes (at least ``GAS_STEP``)."""
    return GAS_STEP + nodes // CODE_NODES_PER_GAS


def compute_int_gas(a: int, b: int) -> int:
    """Gas for multiplying or dividing two integers: grows with the product of their sizes."""
    words = (a.bit_length() >> 6) * (b.bit_length() >> 6)
    return GAS_STEP + (words >> 4)


class Meter:
    """The gas and depth counters of one transaction (shared by every contract it calls).

    A runtime owns one meter and resets it at the start of each top-level call;
    the sandbox guards charge it directly, so it is a plain mutable object.
    """

    __slots__ = ("call_depth", "contract_depth", "limit", "remaining")

    def __init__(self) -> None:
        self.limit = 0
        """Gas the current transaction may use."""
        self.remaining = 0
        """Gas left; negative only after ``OutOfGas`` was raised."""
        self.call_depth = 0
        """Contract function frames alive now."""
        self.contract_depth = 0
        """Nested ``ctx.call`` levels alive now."""

    def reset(self, limit: int) -> None:
        """Start a new transaction with ``limit`` gas."""
        self.limit = limit
        self.remaining = limit
        self.call_depth = 0
        self.contract_depth = 0

    @property
    def used(self) -> int:
        """Gas used so far, at most the limit."""
        return min(self.limit, self.limit - self.remaining)

    def charge(self, gas: int) -> None:
        """Use ``gas``; raise ``OutOfGas`` when the limit is passed."""
        self.remaining -= gas
        if self.remaining < 0:
            raise OutOfGas(f"out of gas: the limit is {self.limit}")
