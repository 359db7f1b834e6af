"""The objects a contract sees: ``ctx``, ``ctx.state`` and ``ctx.sender``.

Native system contracts get the very same objects. Each class lists the
attributes a sandboxed contract may read in ``PUBLIC``; everything else
(the ``_session`` behind them in particular) is out of reach.

Contract state is namespaced: key ``k`` of contract ``c`` is stored under the
raw key ``c.encode() + b"\\x00" + k.encode()``. Contract names never hold a
NUL byte, so namespaces cannot overlap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NoReturn

from jinglian.execution._model import CallContext, Event
from jinglian.execution._overlay import Overlay
from jinglian.execution._values import charge_deep
from jinglian.execution.gas import (
    GAS_EVENT,
    GAS_EVENT_BYTE,
    GAS_HASH,
    GAS_STATE_READ,
    GAS_STATE_READ_BYTE,
    GAS_STATE_WRITE,
    GAS_STATE_WRITE_BYTE,
    Meter,
    compute_bytes_gas,
)
from jinglian.execution.limits import (
    ERROR_MESSAGE_CHARS_MAX,
    EVENT_DATA_BYTES_MAX,
    EVENT_TOPIC_BYTES_MAX,
    EVENTS_PER_CALL_MAX,
    STATE_ITEMS_LIMIT_DEFAULT,
    STATE_ITEMS_LIMIT_MAX,
    STATE_KEY_BYTES_MAX,
)
from jinglian.types.codec import Value, decode, encode
from jinglian.types.errors import ContractFailed, DecodeError, ReadOnlyViolation, TooLarge

__all__ = [
    "Context",
    "ContractState",
    "SenderView",
    "Session",
    "copy_value",
    "encode_contract_value",
]

NAMESPACE_SEPARATOR = b"\x00"

NestedCall = Callable[[str, str, str, dict[str, Value], bool], Value]
"""(caller, contract, method, args, read_only) -> the callee's return value."""


class Session:
    """What every contract reached by one transaction shares."""

    __slots__ = (
        "endorsers",
        "events",
        "hash_fn",
        "meter",
        "nested_call",
        "overlay",
        "sender",
        "tx",
    )

    def __init__(
        self,
        tx: CallContext,
        overlay: Overlay,
        meter: Meter,
        hash_fn: Callable[[bytes], bytes],
        nested_call: NestedCall,
    ) -> None:
        self.tx = tx
        """The transaction."""
        self.overlay = overlay
        """Its buffered writes."""
        self.meter = meter
        """Its gas meter."""
        self.hash_fn = hash_fn
        """The chain's hash function."""
        self.nested_call = nested_call
        """How ``ctx.call`` reaches the runtime."""
        self.events: list[Event] = []
        """Events emitted so far."""
        signer = tx.sender
        self.sender = SenderView(
            signer.org, signer.role, signer.cert_id, signer.common_name, signer.division
        )
        """``ctx.sender`` for every contract reached (read-only)."""
        self.endorsers = tuple(
            SenderView(s.org, s.role, s.cert_id, s.common_name, s.division) for s in tx.signers()
        )
        """``ctx.endorsers``: every signer of the transaction, the sender first."""


def encode_contract_value(value: object, what: str, max_bytes: int) -> bytes:
    """Canonical bytes of a value a contract hands out; typed errors if it cannot be."""
    try:
        data = encode(value)  # type: ignore[arg-type]
    except DecodeError as exc:
        raise ContractFailed(f"{what} is not a storable value: {exc.message}") from None
    except UnicodeEncodeError:
        raise ContractFailed(f"{what} holds text that is not valid Unicode") from None
    if len(data) > max_bytes:
        raise TooLarge(f"{what} is {len(data)} bytes encoded, over the limit of {max_bytes}")
    return data


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise ContractFailed(f"{what} is not valid Unicode text") from None


def copy_value(value: Any) -> Any:
    """A deep copy of a validated codec value (tuples become lists, as decoding gives)."""
    kind = type(value)
    if kind is list or kind is tuple:
        return [copy_value(item) for item in value]
    if kind is dict:
        return {key: copy_value(item) for key, item in value.items()}
    return value


def _text(value: object, meter: Meter) -> str:
    if type(value) is not str:
        charge_deep(meter, value, strict=True)
        value = str(value)
    return value[:ERROR_MESSAGE_CHARS_MAX]


class SenderView:
    """``ctx.sender``: read-only facts about the signer."""

    __slots__ = ("common_name", "division", "id", "org", "role")
    PUBLIC: ClassVar[frozenset[str]] = frozenset(__slots__)

    def __init__(
        self, org: str, role: str, cert_id: bytes, common_name: str, division: str = ""
    ) -> None:
        self.org = org
        """The signer's organisation."""
        self.role = role
        """The signer's role (``admin``, ``client``, ...)."""
        self.id = cert_id.hex()
        """The signer's certificate id, hex."""
        self.common_name = common_name
        """The signer's certificate common name."""
        self.division = division
        """The division of ``org`` the signer's certificate names, or ``""``."""


class ContractState:
    """``ctx.state``: the calling contract's own key-value namespace."""

    __slots__ = ("_meter", "_overlay", "_prefix", "_read_only", "_value_bytes_max")
    PUBLIC: ClassVar[frozenset[str]] = frozenset({"delete", "get", "has", "items", "set"})

    def __init__(
        self, session: Session, contract: str, read_only: bool, value_bytes_max: int
    ) -> None:
        self._overlay = session.overlay
        self._meter = session.meter
        self._prefix = contract.encode() + NAMESPACE_SEPARATOR
        self._read_only = read_only
        self._value_bytes_max = value_bytes_max

    def _raw_key(self, key: object) -> bytes:
        if type(key) is not str:
            raise ContractFailed(f"state keys must be str, not {type(key).__name__}")
        raw = _utf8(key, "a state key")
        if len(raw) > STATE_KEY_BYTES_MAX:
            raise TooLarge(
                f"state key is {len(raw)} bytes, over the limit of {STATE_KEY_BYTES_MAX}"
            )
        return self._prefix + raw

    def _writable(self) -> None:
        if self._read_only:
            raise ReadOnlyViolation("this call is read-only: state cannot be written")

    def get(self, key: str, default: Value = None) -> Value:
        """The value stored under ``key``, or ``default``."""
        raw = self._raw_key(key)
        data = self._overlay.get(raw)
        size = len(raw) + (len(data) if data is not None else 0)
        self._meter.charge(GAS_STATE_READ + GAS_STATE_READ_BYTE * size)
        if data is None:
            return default
        return decode(data, len(data))

    def has(self, key: str) -> bool:
        """Whether ``key`` holds a value."""
        raw = self._raw_key(key)
        self._meter.charge(GAS_STATE_READ + GAS_STATE_READ_BYTE * len(raw))
        return self._overlay.get(raw) is not None

    def set(self, key: str, value: Value) -> None:
        """Store ``value`` (a codec value) under ``key``."""
        self._writable()
        raw = self._raw_key(key)
        data = encode_contract_value(value, "the state value", self._value_bytes_max)
        self._meter.charge(GAS_STATE_WRITE + GAS_STATE_WRITE_BYTE * (len(raw) + len(data)))
        self._overlay.put(raw, data)

    def delete(self, key: str) -> None:
        """Remove ``key`` (nothing happens if it holds no value)."""
        self._writable()
        raw = self._raw_key(key)
        self._meter.charge(GAS_STATE_WRITE + GAS_STATE_WRITE_BYTE * len(raw))
        self._overlay.put(raw, None)

    def items(
        self, prefix: str = "", limit: int = STATE_ITEMS_LIMIT_DEFAULT
    ) -> list[tuple[str, Value]]:
        """Up to ``limit`` ``(key, value)`` pairs whose key starts with ``prefix``, in key order."""
        if type(limit) is not int or not 0 <= limit <= STATE_ITEMS_LIMIT_MAX:
            raise ContractFailed(f"limit must be an int from 0 to {STATE_ITEMS_LIMIT_MAX}")
        raw_prefix = self._raw_key(prefix)
        skip = len(self._prefix)
        found: list[tuple[str, Value]] = []
        self._meter.charge(GAS_STATE_READ)
        for raw, data in self._overlay.iterate(raw_prefix):
            if len(found) >= limit:
                break
            self._meter.charge(GAS_STATE_READ + GAS_STATE_READ_BYTE * (len(raw) + len(data)))
            value = decode(data, len(data))
            found.append((raw[skip:].decode(), value))
        return found


class Context:
    """``ctx``: the first argument of every contract method."""

    __slots__ = (
        "_read_only",
        "_session",
        "block_height",
        "block_time",
        "caller",
        "contract",
        "endorsers",
        "sender",
        "state",
        "tx_id",
    )
    PUBLIC: ClassVar[frozenset[str]] = frozenset(
        {"block_height", "block_time", "caller", "contract", "endorsers", "sender", "state"}
        | {"tx_id"}
        | {"call", "emit", "fail", "hash"}
    )

    def __init__(
        self,
        session: Session,
        contract: str,
        caller: str | None,
        read_only: bool,
        value_bytes_max: int,
    ) -> None:
        tx = session.tx
        self._session = session
        self._read_only = read_only
        self.state = ContractState(session, contract, read_only, value_bytes_max)
        """This contract's state."""
        self.sender = session.sender
        """Who signed the transaction (the same in every contract it reaches)."""
        self.endorsers = session.endorsers
        """Everyone who signed the transaction, the sender first (a tuple)."""
        self.tx_id = tx.tx_id.hex()
        """The transaction id, hex."""
        self.block_height = tx.block_height
        """Height of the block being executed."""
        self.block_time = tx.block_time_ms
        """The block's timestamp, milliseconds since the Unix epoch."""
        self.contract = contract
        """This contract's name."""
        self.caller = caller
        """The contract that called this one with ``ctx.call``, or None for a transaction."""

    def emit(self, topic: str, data: Value = None) -> None:
        """Announce ``topic`` with ``data``; dropped if the transaction fails."""
        if self._read_only:
            raise ReadOnlyViolation("this call is read-only: it cannot emit events")
        if type(topic) is not str:
            raise ContractFailed("an event topic must be a str")
        session = self._session
        size = len(_utf8(topic, "an event topic"))
        if size > EVENT_TOPIC_BYTES_MAX:
            raise TooLarge(
                f"event topic is {size} bytes, over the limit of {EVENT_TOPIC_BYTES_MAX}"
            )
        if len(session.events) >= EVENTS_PER_CALL_MAX:
            raise TooLarge(f"a transaction may emit at most {EVENTS_PER_CALL_MAX} events")
        encoded = encode_contract_value(data, "the event data", EVENT_DATA_BYTES_MAX)
        session.meter.charge(GAS_EVENT + GAS_EVENT_BYTE * (size + len(encoded)))
        session.events.append(Event(self.contract, topic, copy_value(data)))

    def call(self, contract: str, method: str, args: dict[str, Any] | None = None) -> Value:
        """Call ``method`` of ``contract`` in this transaction; it sees ``ctx.caller``."""
        if type(contract) is not str or type(method) is not str:
            raise ContractFailed("ctx.call takes a contract name and a method name")
        if args is not None and type(args) is not dict:
            raise ContractFailed("ctx.call takes its arguments as a dict")
        session = self._session
        return session.nested_call(self.contract, contract, method, args or {}, self._read_only)

    def fail(self, message: object = "failed") -> NoReturn:
        """Stop the transaction: it fails with ``message`` and none of its writes happen."""
        raise ContractFailed(_text(message, self._session.meter))

    def system_get(self, contract: str, key: str) -> Value:
        """Read another contract's state (system contracts only: not reachable from the sandbox).

        Charged as a state read. The sandbox refuses this name: it is not in ``PUBLIC``.
        """
        session = self._session
        raw = contract.encode() + NAMESPACE_SEPARATOR + key.encode()
        data = session.overlay.get(raw)
        session.meter.charge(GAS_STATE_READ + GAS_STATE_READ_BYTE * (len(raw) + len(data or b"")))
        return None if data is None else decode(data, len(data))

    def hash(self, data: bytes | str) -> bytes:
        """The chain's hash of ``data`` (text is hashed as UTF-8)."""
        if type(data) is str:
            data = _utf8(data, "hashed text")
        if type(data) is not bytes:
            raise ContractFailed("ctx.hash takes bytes or str")
        session = self._session
        session.meter.charge(GAS_HASH + compute_bytes_gas(len(data)))
        return session.hash_fn(data)
