"""The values that cross the runtime's boundary (re-exported by ``runtime``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from jinglian.types.codec import Value

__all__ = ["CallContext", "CallResult", "DeployedContract", "Event", "Sender", "StateView"]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who signed the transaction, as the ledger verified it."""

    org: str
    """The member organisation whose CA issued the certificate."""
    role: str
    """The certificate's role: ``admin``, ``client``, ``consensus`` or ``common``."""
    cert_id: bytes
    """The certificate's id (contracts see it as hex, ``ctx.sender.id``)."""
    common_name: str
    """The certificate subject's common name."""
    division: str = ""
    """The division (sub-unit of ``org``) the certificate names in its second ``OU``;
    ``""`` when it names none (contracts see it as ``ctx.sender.division``)."""


@dataclass(frozen=True, slots=True)
class CallContext:
    """The transaction a call runs in; the same for every contract it reaches."""

    tx_id: bytes
    """The transaction id (contracts see it as hex, ``ctx.tx_id``)."""
    sender: Sender
    """Who signed it."""
    block_height: int
    """Height of the block being executed."""
    block_time_ms: int
    """Timestamp of that block, milliseconds since the Unix epoch (``ctx.block_time``)."""
    endorsers: tuple[Sender, ...] = ()
    """Everyone who signed it, the sender first (``ctx.endorsers``); empty means the sender
    alone. Governed methods count the organisations here against their policy."""

    def signers(self) -> tuple[Sender, ...]:
        """The endorsers, or the sender alone when none are listed."""
        return self.endorsers or (self.sender,)


class StateView(Protocol):
    """Read access to world state as of the current transaction.

    ``get`` and ``iterate`` must reflect every write of earlier transactions in
    the same block. The runtime never writes through this view: it returns the
    writes in ``CallResult.writes`` for the ledger to apply.
    """

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        ...

    def iterate(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, value)`` whose key starts with ``prefix``, in ascending key order."""
        ...


@dataclass(frozen=True, slots=True)
class Event:
    """Something a contract announced with ``ctx.emit``."""

    contract: str
    """The contract that emitted it."""
    topic: str
    """What happened, e.g. ``"transfer"``."""
    data: Value
    """Details, a codec value."""


@dataclass(frozen=True, slots=True)
class CallResult:
    """The outcome of a successful call."""

    value: Value
    """What the method returned (tuples come back as lists)."""
    writes: dict[bytes, bytes | None]
    """Raw state key -> encoded value, or None to delete; in first-write order."""
    events: tuple[Event, ...]
    """Events in the order they were emitted."""
    gas_used: int
    """Gas used, at most the limit given."""


@dataclass(frozen=True, slots=True)
class DeployedContract:
    """A sandboxed contract as a code loader returns it."""

    name: str
    """The contract's registered name."""
    source: str
    """Its Python source."""
    code_hash: bytes
    """The chain hash of the source's UTF-8 bytes; compiled modules are cached by it."""
