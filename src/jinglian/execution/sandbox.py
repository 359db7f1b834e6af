"""The contract sandbox: check and compile contract source, then load it.

A contract's source is parsed, checked against the contract language
(``_policy.ContractPolicy``, a RestrictedPython policy) and rewritten so that
every operation whose cost depends on data goes through a metered guard
(``_guards``). The result is compiled once per code hash and loaded into a
namespace that holds only the guards, the SDK decorators and the allowed
builtins. ADR 0006 records why it works this way; ``docs/contracts.md`` is the
author's guide.

Whether a source is accepted never depends on the node: nesting deep enough to
reach the interpreter's recursion limit (which depends on the caller's stack)
is refused with the same message as nesting over ``AST_DEPTH_MAX``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

from jinglian.execution._guards import Guards
from jinglian.execution._metering import meter_blocks
from jinglian.execution._policy import ContractPolicy, bound_name
from jinglian.execution.gas import Meter
from jinglian.execution.limits import AST_DEPTH_MAX, CONTRACT_SOURCE_BYTES_MAX
from jinglian.execution.sdk import MethodKind
from jinglian.types.errors import SandboxViolation, TooLarge

__all__ = [
    "CONTRACT_FILENAME",
    "CompiledContract",
    "MethodInfo",
    "check_contract",
    "compile_contract",
    "load_module",
    "validate_source",
]

CONTRACT_FILENAME = "<contract>"
"""File name compiled contract code carries (how the runtime finds contract frames)."""

ERRORS_REPORTED_MAX = 5
"""Problems listed in one ``SandboxViolation`` message, problems."""

TOO_DEEP = f"code is nested deeper than {AST_DEPTH_MAX} levels"


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """A public method of a contract."""

    kind: MethodKind
    """``invoke`` (may write) or ``query`` (read-only)."""
    params: tuple[str, ...]
    """Its parameter names after ``ctx``, in order."""
    required: int = -1
    """How many leading ``params`` have no default (-1: all of them)."""
    required_params: tuple[str, ...] = field(init=False, compare=False)
    """The parameters a call must supply."""
    params_set: frozenset[str] = field(init=False, compare=False)
    """``params`` as a set."""

    def __post_init__(self) -> None:
        required = self.params if self.required < 0 else self.params[: self.required]
        object.__setattr__(self, "required_params", required)
        object.__setattr__(self, "params_set", frozenset(self.params))


@dataclass(frozen=True, slots=True)
class CompiledContract:
    """Checked, rewritten and compiled contract source."""

    name: str
    """The name it was compiled for (used in messages only)."""
    code: CodeType
    """The module's code object, to run with ``load_module``."""
    methods: Mapping[str, MethodInfo]
    """Its public methods by name."""


def validate_source(source: str) -> None:
    """Raise ``SandboxViolation`` (or ``TooLarge``) unless ``source`` is a valid contract."""
    check_contract("contract", source)


def check_contract(name: str, source: str) -> CompiledContract:
    """Compile ``source`` and load it once, as deploying it would; return the compiled form."""
    compiled = compile_contract(name, source)
    load_module(compiled, Guards(Meter()).globals())
    return compiled


def compile_contract(name: str, source: str) -> CompiledContract:
    """Check ``source`` against the contract language and compile it."""
    tree = _parse(source)
    policy = ContractPolicy(_survey(tree))
    tree = policy.visit(tree)
    if policy.errors:
        raise SandboxViolation("; ".join(policy.errors[:ERRORS_REPORTED_MAX]))
    if not policy.methods:
        raise SandboxViolation("a contract needs at least one @invoke or @query method")
    meter_blocks(tree)
    ast.fix_missing_locations(tree)
    try:
        code = compile(tree, CONTRACT_FILENAME, "exec", dont_inherit=True, optimize=0)
    except SyntaxError as exc:
        raise SandboxViolation(f"Line {exc.lineno}: {exc.msg}") from None
    methods = {
        method: MethodInfo(spec.kind, spec.params, spec.required)
        for method, spec in policy.methods.items()
    }
    return CompiledContract(name, code, methods)


def load_module(
    compiled: CompiledContract, globals_: dict[str, Any]
) -> dict[str, Callable[..., Any]]:
    """Run the module body in a copy of ``globals_``; return its public methods by name.

    The policy allows only imports, functions and literal constants at module
    level, so this runs no contract logic and needs no metering.
    """
    namespace = dict(globals_)
    namespace["__name__"] = compiled.name
    exec(compiled.code, namespace)
    return {method: namespace[method] for method in compiled.methods}


def _parse(source: str) -> ast.Module:
    if type(source) is not str:
        raise SandboxViolation("contract source must be text")
    try:
        size = len(source.encode())
    except UnicodeEncodeError:
        raise SandboxViolation("contract source is not valid UTF-8 text") from None
    if size > CONTRACT_SOURCE_BYTES_MAX:
        raise TooLarge(
            f"contract source is {size} bytes, over the limit of {CONTRACT_SOURCE_BYTES_MAX}"
        )
    try:
        tree = ast.parse(source, CONTRACT_FILENAME, "exec")
    except SyntaxError as exc:
        where = f"Line {exc.lineno}: " if exc.lineno else ""
        raise SandboxViolation(f"{where}syntax error: {exc.msg}") from None
    except ValueError:
        raise SandboxViolation("contract source must not contain NUL characters") from None
    except (RecursionError, MemoryError):
        raise SandboxViolation(TOO_DEEP) from None
    return tree


def _survey(tree: ast.AST) -> set[str]:
    """Refuse nesting over ``AST_DEPTH_MAX``; return every name the module binds."""
    bound: set[str] = set()
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > AST_DEPTH_MAX:
            raise SandboxViolation(TOO_DEEP)
        name = bound_name(node)
        if name is not None:
            bound.add(name)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return bound
