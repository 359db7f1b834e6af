"""The contract runtime: run one contract call of a transaction, metered and buffered.

``Runtime.invoke`` runs a method with a gas limit against a ``StateView`` and
returns a ``CallResult``: the return value, the state writes (raw key ->
encoded value or None), the events and the gas used. It never writes state;
the ledger applies ``writes`` if it accepts the result. On failure it raises a
typed ``JinglianError`` and nothing is written; the gas used so far is on the
exception (``get_gas_used(exc)``, attribute ``gas_used``) for the receipt.

Wiring, for the ledger::

    runtime = Runtime(hash_fn=suite.hash)       # one per executing thread
    result = runtime.invoke(block_state_view, CallContext(...), tx.contract,
                            tx.method, tx.args, gas_limit)

With ``load_code=None`` (the default) a contract name resolves first to a
native system contract (the registry ``contracts``, ``governance`` and any
passed in ``natives``), then to the registry entry ``meta:<name>`` read through the
transaction's own state, so a contract deployed or upgraded by an earlier
transaction of the same block (or earlier in the same transaction) is the one
that runs. Compiled modules are cached by code hash; the cache never changes
gas. A ``load_code`` callable replaces the registry lookup (tests, tools).

A deployed contract that is frozen or revoked refuses invocations
(``ContractFrozen``); a method with a policy in its registry entry refuses a
call unless the transaction's endorsers meet it (``PolicyNotSatisfied``).

A ``Runtime`` runs one call at a time: its meter and caches are not shared
between threads.
"""

from __future__ import annotations

import re
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeAlias

from jinglian.execution._context import Context, Session, copy_value, encode_contract_value
from jinglian.execution._guards import Guards
from jinglian.execution._model import (
    CallContext,
    CallResult,
    DeployedContract,
    Event,
    Sender,
    StateView,
)
from jinglian.execution._overlay import Overlay
from jinglian.execution.gas import (
    GAS_CONTRACT_CALL,
    GAS_CONTRACT_LOAD,
    SOURCE_BYTES_PER_GAS,
    Meter,
    compute_bytes_gas,
)
from jinglian.execution.limits import (
    ARGS_BYTES_MAX,
    COMPILED_CACHE_ENTRIES_MAX,
    CONTRACT_CALL_DEPTH_MAX,
    ERROR_MESSAGE_CHARS_MAX,
    INT_DIGITS_MAX,
    RESULT_BYTES_MAX,
    STATE_VALUE_BYTES_MAX,
    SYSTEM_STATE_VALUE_BYTES_MAX,
)
from jinglian.execution.native import NativeContract
from jinglian.execution.sandbox import (
    CONTRACT_FILENAME,
    CompiledContract,
    MethodInfo,
    compile_contract,
    load_module,
    validate_source,
)
from jinglian.execution.system.contracts import (
    MIGRATE_METHOD,
    REGISTRY,
    REGISTRY_NAME,
    RESERVED_NAMES,
    ContractEntry,
    decode_entry,
    entry_key,
    make_code_loader,
    read_source,
)
from jinglian.execution.system.governance import GOVERNANCE
from jinglian.types.codec import Value, decode, encode
from jinglian.types.errors import (
    ConfigError,
    ContractFailed,
    ContractFrozen,
    DecodeError,
    InvalidInput,
    JinglianError,
    PermissionDenied,
    PolicyNotSatisfied,
    SandboxViolation,
    TooLarge,
    UnknownContract,
    UnknownMethod,
)
from jinglian.types.policy import satisfied

__all__ = [
    "GAS_USED_ATTRIBUTE",
    "CallContext",
    "CallResult",
    "CompiledContract",
    "Contract",
    "DeployedContract",
    "Event",
    "MethodInfo",
    "Runtime",
    "Sender",
    "StateView",
    "check_interpreter",
    "compile_contract",
    "get_gas_used",
    "make_code_loader",
    "validate_source",
]

Contract: TypeAlias = DeployedContract | NativeContract
"""What a code loader returns for a name."""

GAS_USED_ATTRIBUTE = "gas_used"
"""Attribute of every error ``invoke``/``query`` raise: the gas used before it (an int)."""

ADDRESS = re.compile(r"0x[0-9a-fA-F]+")

RECURSION_LIMIT_MIN = 1000
"""Interpreter recursion limit a runtime needs (the default), frames."""


def check_interpreter() -> None:
    """Raise ``ConfigError`` where the interpreter would change contract outcomes.

    Integer-to-text conversion must allow every integer a contract can hold,
    and the recursion limit must leave room for ``CALL_DEPTH_MAX`` contract
    frames with their guards; both can be lowered by a node's environment.
    """
    digits = sys.get_int_max_str_digits()
    if 0 < digits < INT_DIGITS_MAX:
        raise ConfigError(
            f"PYTHONINTMAXSTRDIGITS is {digits}; contracts need at least {INT_DIGITS_MAX}"
        )
    if sys.getrecursionlimit() < RECURSION_LIMIT_MIN:
        raise ConfigError(f"the recursion limit is below {RECURSION_LIMIT_MIN}")


def get_gas_used(error: BaseException) -> int:
    """The gas a failed call used (0 if the error did not come from a runtime call)."""
    used = getattr(error, GAS_USED_ATTRIBUTE, 0)
    return used if isinstance(used, int) else 0


class _Loaded:
    """A sandboxed module loaded into a runtime's namespace (and, when resolved, its entry)."""

    __slots__ = ("entry", "functions", "methods")

    def __init__(
        self,
        compiled: CompiledContract,
        functions: dict[str, Callable[..., Any]],
        entry: ContractEntry | None = None,
    ):
        self.methods = compiled.methods
        self.functions = functions
        self.entry = entry

    def with_entry(self, entry: ContractEntry) -> _Loaded:
        """The same module seen through a registry entry (status and method policies)."""
        found = _Loaded.__new__(_Loaded)
        found.methods, found.functions, found.entry = self.methods, self.functions, entry
        return found


Target: TypeAlias = NativeContract | _Loaded


class Runtime:
    """Runs contract calls (see the module docstring for how to wire it)."""

    def __init__(
        self,
        hash_fn: Callable[[bytes], bytes],
        load_code: Callable[[str], Contract | None] | None = None,
        natives: Iterable[NativeContract] = (),
    ) -> None:
        """``hash_fn`` is the chain's hash; ``natives`` adds system contracts to the registry."""
        check_interpreter()
        self._hash_fn = hash_fn
        self._load_code = load_code
        self._natives: dict[str, NativeContract] = {
            REGISTRY_NAME: REGISTRY,
            GOVERNANCE.name: GOVERNANCE,
        }
        for native in natives:
            assert native.name in RESERVED_NAMES, f"{native.name} is not a reserved name"
            self._natives[native.name] = native
        self._meter = Meter()
        self._globals = Guards(self._meter).globals()
        self._cache: OrderedDict[bytes, _Loaded] = OrderedDict()
        self._entries: dict[bytes, ContractEntry] = {}
        self._session: Session | None = None

    def invoke(
        self,
        state: StateView,
        ctx: CallContext,
        contract: str,
        method: str,
        args: Mapping[str, Value],
        gas_limit: int,
        args_size: int | None = None,
    ) -> CallResult:
        """Run ``contract.method(**args)`` for a transaction; raise a typed error on failure.

        ``args_size``, when given, is the length of the canonical encoding of
        ``args`` as the caller already knows it (a decoded transaction's payload
        holds that encoding: ``args_encoded_size``), so the arguments are not
        encoded again to be measured and charged; ``None`` encodes them.
        """
        return self._run(
            state, ctx, contract, method, args, gas_limit, read_only=False, args_size=args_size
        )

    def query(
        self,
        state: StateView,
        ctx: CallContext,
        contract: str,
        method: str,
        args: Mapping[str, Value],
        gas_limit: int,
    ) -> CallResult:
        """Run a method read-only: any write or event raises ``ReadOnlyViolation``."""
        return self._run(state, ctx, contract, method, args, gas_limit, read_only=True)

    def _run(
        self,
        state: StateView,
        ctx: CallContext,
        contract: str,
        method: str,
        args: Mapping[str, Value],
        gas_limit: int,
        read_only: bool,
        args_size: int | None = None,
    ) -> CallResult:
        assert self._session is None, "a Runtime runs one call at a time"
        if type(gas_limit) is not int or gas_limit < 0:
            raise InvalidInput("the gas limit must be a non-negative int")
        meter = self._meter
        meter.reset(gas_limit)
        session = Session(ctx, Overlay(state), meter, self._hash_fn, self._nested_call)
        self._session = session
        try:
            value = self._call(session, None, contract, method, args, read_only, args_size)
        except JinglianError as exc:
            located = _locate(exc)
            setattr(located, GAS_USED_ATTRIBUTE, meter.used)
            raise located from (None if located is exc else exc)
        finally:
            self._session = None
        writes = {} if read_only else dict(session.overlay.writes)
        return CallResult(value, writes, tuple(session.events), meter.used)

    def _nested_call(
        self, caller: str, contract: str, method: str, args: dict[str, Value], read_only: bool
    ) -> Value:
        session, meter = self._session, self._meter
        assert session is not None
        meter.charge(GAS_CONTRACT_CALL)
        if meter.contract_depth >= CONTRACT_CALL_DEPTH_MAX:
            raise SandboxViolation(f"more than {CONTRACT_CALL_DEPTH_MAX} nested contract calls")
        meter.contract_depth += 1
        try:
            return self._call(session, caller, contract, method, args, read_only)
        finally:
            meter.contract_depth -= 1

    def _call(
        self,
        session: Session,
        caller: str | None,
        contract: str,
        method: str,
        args: Mapping[str, Value],
        read_only: bool,
        args_size: int | None = None,
    ) -> Value:
        target = self._resolve(session, contract)
        info = target.methods.get(method) if type(method) is str else None
        if info is None:
            raise UnknownMethod(f"contract {contract!r} has no method {method!r}")
        if method == MIGRATE_METHOD and caller != REGISTRY_NAME and isinstance(target, _Loaded):
            raise PermissionDenied(f"only the {REGISTRY_NAME} contract calls migrate")
        if isinstance(target, _Loaded) and target.entry is not None:
            _check_entry(session, target.entry, contract, method, info.kind)
        kwargs = self._copy_args(contract, method, info, args, args_size)
        native = isinstance(target, NativeContract)
        limit = SYSTEM_STATE_VALUE_BYTES_MAX if native else STATE_VALUE_BYTES_MAX
        ctx = Context(session, contract, caller, read_only or info.kind == "query", limit)
        if isinstance(target, NativeContract):
            value = target.functions[method](ctx, **kwargs)
        else:
            value = _run_sandboxed(target.functions[method], ctx, kwargs)
        if value is None:
            return None
        data = encode_contract_value(value, "the return value", RESULT_BYTES_MAX)
        self._meter.charge(compute_bytes_gas(len(data)))
        return copy_value(value)  # type: ignore[no-any-return]

    def _copy_args(
        self,
        contract: str,
        method: str,
        info: MethodInfo,
        args: Mapping[str, Value],
        args_size: int | None = None,
    ) -> dict[str, Any]:
        """Check ``args`` against the method, charge for their encoded size, and copy them.

        ``args_size`` is the size of their canonical encoding when the caller
        knows it already (a decoded transaction); otherwise they are encoded
        here, which also refuses values outside the codec's model.
        """
        if type(args) is not dict and not isinstance(args, Mapping):
            raise InvalidInput("arguments must be a map of names to values")
        if len(args) < len(info.required_params) or not info.params_set.issuperset(args):
            _refuse_args(contract, method, info, args)
        if len(args) < len(info.params):
            missing = [name for name in info.required_params if name not in args]
            if missing:
                _refuse_args(contract, method, info, args)
        if args_size is None:
            try:
                args_size = len(encode(args if type(args) is dict else dict(args)))
            except DecodeError as exc:
                raise InvalidInput(f"arguments are not codec values: {exc.message}") from None
            except UnicodeEncodeError:
                raise InvalidInput("arguments hold text that is not valid Unicode") from None
        if args_size > ARGS_BYTES_MAX:
            raise TooLarge(f"arguments are {args_size} bytes, over the limit of {ARGS_BYTES_MAX}")
        self._meter.charge(compute_bytes_gas(args_size))
        return copy_value(args)  # type: ignore[no-any-return]

    def _resolve(self, session: Session, contract: str) -> Target:
        """The native contract or loaded module called ``contract``; load gas charged."""
        self._meter.charge(GAS_CONTRACT_LOAD)
        native = self._natives.get(contract) if type(contract) is str else None
        if native is not None:
            return native
        if type(contract) is not str:
            raise UnknownContract("a contract name is text")
        if self._load_code is not None:
            found = self._load_code(contract)
            if isinstance(found, NativeContract):
                return found
            if found is None:
                raise UnknownContract(f"no contract named {contract!r}")
            self._meter.charge(len(found.source) // SOURCE_BYTES_PER_GAS)
            return self._loaded(found.code_hash, contract, lambda: found.source)
        get_raw = session.overlay.get
        entry = self._read_entry(get_raw, contract)
        if entry is None:
            raise UnknownContract(f"no contract named {contract!r}")
        self._meter.charge(entry.source_bytes // SOURCE_BYTES_PER_GAS)
        loaded = self._loaded(entry.code_hash, contract, lambda: read_source(get_raw, contract))
        if entry.status == "active" and not entry.policies:
            return loaded
        return loaded.with_entry(entry)

    def _read_entry(
        self, get_raw: Callable[[bytes], bytes | None], name: str
    ) -> ContractEntry | None:
        """The registry entry of ``name``, decoded once per distinct stored metadata."""
        raw = get_raw(entry_key(name))
        if raw is None:
            return None
        entry = self._entries.get(raw)
        if entry is None:
            entry = decode_entry(raw)
            if len(self._entries) >= COMPILED_CACHE_ENTRIES_MAX:
                self._entries.pop(next(iter(self._entries)))
            self._entries[raw] = entry
        return entry

    def _loaded(self, code_hash: bytes, name: str, fetch_source: Callable[[], str]) -> _Loaded:
        """The module for ``code_hash``, compiled and loaded on first use (bounded LRU)."""
        loaded = self._cache.get(code_hash)
        if loaded is not None:
            self._cache.move_to_end(code_hash)
            return loaded
        compiled = compile_contract(name, fetch_source())
        loaded = _Loaded(compiled, load_module(compiled, self._globals))
        self._cache[code_hash] = loaded
        if len(self._cache) > COMPILED_CACHE_ENTRIES_MAX:
            self._cache.popitem(last=False)
        return loaded


CONFIG_RAW_KEY = b"chain_config\x00config"


def _check_entry(
    session: Session, entry: ContractEntry, contract: str, method: str, kind: str
) -> None:
    """Refuse an invocation of a frozen or revoked contract, or one its method policy refuses."""
    if kind != "invoke":
        return
    if entry.status != "active":
        raise ContractFrozen(f"contract {contract!r} is {entry.status}; it takes no invocations")
    policy = entry.policies.get(method)
    if policy is None:
        return
    raw = session.overlay.get(CONFIG_RAW_KEY)
    assert raw is not None, "the ledger writes the chain config at genesis"
    document: Any = decode(raw, len(raw))
    members = [str(org["id"]) for org in document["orgs"]]
    endorsers = [(e.org, e.role) for e in session.endorsers]
    ok, why = satisfied(policy, members, endorsers, entry.deployer_org or None)
    if not ok:
        raise PolicyNotSatisfied(f"{contract}.{method}: {why}")


def _refuse_args(contract: str, method: str, info: MethodInfo, args: Mapping[str, Value]) -> None:
    unknown = sorted(str(name) for name in args if name not in info.params)
    missing = [name for name in info.required_params if name not in args]
    expected = ", ".join(info.params) or "no arguments"
    problem = f"unknown {unknown}" if unknown else f"missing {missing}"
    raise InvalidInput(f"{contract}.{method} takes ({expected}): {problem}")


def _run_sandboxed(fn: Callable[..., Any], ctx: Context, kwargs: dict[str, Any]) -> Any:
    """Call a contract function; a Python error in contract code becomes ``ContractFailed``."""
    try:
        return fn(ctx, **kwargs)
    except (JinglianError, MemoryError):
        raise
    except Exception as exc:
        text = ADDRESS.sub("0x?", f"{type(exc).__name__}: {exc}")[:ERROR_MESSAGE_CHARS_MAX]
        line = _contract_line(exc)
        raise ContractFailed(text if line is None else f"{text} (line {line})") from None


def _contract_line(exc: BaseException) -> int | None:
    """The line of the innermost contract frame the error passed through, if any."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == CONTRACT_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _locate(exc: JinglianError) -> JinglianError:
    """A sandbox violation raised at run time, with the contract line it happened on."""
    if type(exc) is not SandboxViolation:
        return exc
    line = _contract_line(exc)
    if line is None:
        return exc
    return SandboxViolation(f"{exc.message} (line {line})")
