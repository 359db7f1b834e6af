"""The contract language: an AST policy over RestrictedPython's.

``ContractPolicy`` refuses every construct outside the contract language and
rewrites the rest so that each operation whose cost or result depends on its
operands goes through a guard (see ``_guards``): attribute and item access,
iteration, arithmetic, comparison, f-string parts, function entry and every
``while`` pass. RestrictedPython's own transformer already refuses names and
attributes that start with ``_`` and routes attribute reads, item reads and
iteration; this subclass narrows the language further (ADR 0006).

Errors are collected as ``"Line N: reason"`` strings; the caller turns them
into one ``SandboxViolation``.
"""

from __future__ import annotations

import ast
from typing import Any, ClassVar

from RestrictedPython.transformer import RestrictingNodeTransformer

from jinglian.execution.limits import INT_BITS_MAX
from jinglian.execution.sdk import SDK_EXPORTS, MethodKind

__all__ = [
    "BINOP_GUARDS",
    "BUILTIN_NAMES",
    "COMPARE_GUARDS",
    "FORBIDDEN_NAMES",
    "GUARD_NAMES",
    "ContractPolicy",
    "MethodSpec",
    "bound_name",
]

SDK_MODULE = "jinglian.contract"

BUILTIN_NAMES = frozenset(
    {
        "abs", "all", "any", "bool", "bytes", "dict", "enumerate", "int", "isinstance", "len",
        "list", "max", "min", "range", "reversed", "sorted", "str", "sum", "tuple", "zip",
    }
)  # fmt: skip
"""Builtins a contract may use; every other builtin name is refused at deploy."""

FORBIDDEN_NAMES: dict[str, str] = {
    **dict.fromkeys(
        ("eval", "exec", "compile", "breakpoint", "input", "open", "print", "printed"),
        "it runs code or does I/O",
    ),
    **dict.fromkeys(
        ("getattr", "setattr", "delattr", "hasattr", "vars", "dir", "globals", "locals", "type"),
        "it reaches object internals",
    ),
    **dict.fromkeys(
        ("object", "super", "classmethod", "staticmethod", "property", "memoryview", "id"),
        "it reaches object internals",
    ),
    "hash": "hash values depend on the node's hash seed",
    "set": "set order depends on the node's hash seed",
    "frozenset": "set order depends on the node's hash seed",
    "float": "floating point is not deterministic enough: use integers",
    "complex": "floating point is not deterministic enough: use integers",
    "iter": "use a for loop",
    "next": "use a for loop",
    "format": "use f-strings without format specs",
    "repr": "use str()",
}
"""Names refused anywhere in a contract (even as a variable), with the reason."""

FORBIDDEN_ATTRIBUTES = {
    "format": "str.format can read attributes: use f-strings",
    "format_map": "str.format_map can read attributes: use f-strings",
}

BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Add: "_op_add_",
    ast.Sub: "_op_sub_",
    ast.Mult: "_op_mul_",
    ast.FloorDiv: "_op_floordiv_",
    ast.Mod: "_op_mod_",
    ast.Pow: "_op_pow_",
    ast.LShift: "_op_lshift_",
    ast.RShift: "_op_rshift_",
    ast.BitOr: "_op_or_",
    ast.BitAnd: "_op_and_",
    ast.BitXor: "_op_xor_",
}
"""Binary operators and the guard each becomes (``/`` and ``@`` are refused)."""

COMPARE_GUARDS: dict[type[ast.cmpop], str] = {
    ast.Eq: "_cmp_eq_",
    ast.NotEq: "_cmp_ne_",
    ast.Lt: "_cmp_lt_",
    ast.LtE: "_cmp_le_",
    ast.Gt: "_cmp_gt_",
    ast.GtE: "_cmp_ge_",
    ast.In: "_cmp_in_",
    ast.NotIn: "_cmp_not_in_",
}
"""Comparisons and their guards (``is`` and ``is not`` stay native: they cost nothing)."""

ENTER, LEAVE, TICK = "_enter_", "_leave_", "_tick_"
SETITEM, DELITEM, KEY, FMT, FAIL = "_setitem_", "_delitem_", "_key_", "_fmt_", "_fail_"
RP_GUARDS = ("_getattr_", "_getitem_", "_getiter_", "_iter_unpack_sequence_", "_unpack_sequence_")
GUARD_NAMES = frozenset(
    {ENTER, LEAVE, TICK, SETITEM, DELITEM, KEY, FMT, FAIL, "_inplacevar_", *RP_GUARDS}
    | set(BINOP_GUARDS.values())
    | set(COMPARE_GUARDS.values())
    | {f"_sdk_{name}_" for name in SDK_EXPORTS}
)
"""Every name the rewritten code expects in its globals."""

CONSTANT_TYPES = (type(None), bool, int, str, bytes)

Node = Any  # what the NodeTransformer visit methods return: a node, a list of nodes or None


class MethodSpec:
    """A public method as the policy saw it in the source."""

    __slots__ = ("kind", "params", "required")

    def __init__(self, kind: MethodKind, params: tuple[str, ...], required: int) -> None:
        self.kind = kind
        """``invoke`` or ``query``."""
        self.params = params
        """Parameter names after ``ctx``, in order."""
        self.required = required
        """How many of ``params`` (from the left) have no default."""


def copy_locations(new: ast.AST, old: ast.AST) -> None:
    """Give ``new`` the position of ``old`` (children get theirs from the final fix-up)."""
    ast.copy_location(new, old)


def _call(name: str, args: list[ast.expr], like: ast.AST | None = None) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    if like is not None:
        copy_locations(node, like)
    return node


def _is_constant_expr(node: ast.expr) -> bool:
    """A literal: a constant, a negated integer, or a tuple of those."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant) and type(node.operand.value) is int
    if isinstance(node, ast.Tuple):
        return all(_is_constant_expr(elt) for elt in node.elts)
    return False


def bound_name(node: ast.AST) -> str | None:
    """The name ``node`` binds, if it binds one (assignment target, def, parameter, import)."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return node.id
    if isinstance(node, ast.FunctionDef):
        return node.name
    if isinstance(node, ast.arg):
        return node.arg
    if isinstance(node, ast.alias):
        return node.asname or node.name
    return None


class ContractPolicy(RestrictingNodeTransformer):
    """Checks and rewrites one contract module (use a fresh instance per module)."""

    REFUSED: ClassVar[dict[str, str]] = {
        "Try": "try statements are not allowed: a contract cannot catch errors (use ctx.fail)",
        "TryStar": "try statements are not allowed",
        "With": "with statements are not allowed",
        "Raise": "raise is not allowed: use ctx.fail(message)",
        "Global": "global is not allowed: module constants are read-only",
        "Nonlocal": "nonlocal is not allowed",
        "ClassDef": "classes are not allowed: use dicts and functions",
        "Lambda": "lambda is not allowed: define a function",
        "Yield": "generators are not allowed",
        "YieldFrom": "generators are not allowed",
        "GeneratorExp": "generator expressions are not allowed: use a list comprehension",
        "Set": "sets are not allowed: their order depends on the hash seed",
        "SetComp": "sets are not allowed: their order depends on the hash seed",
        "Starred": "star unpacking is not allowed",
        "Import": "only `from jinglian.contract import ...` is allowed",
        "AnnAssign": "annotated assignments are not allowed",
    }

    def __init__(self, bound: set[str]) -> None:
        """``bound``: every name the module binds anywhere (see ``bound_name``)."""
        super().__init__()
        self.methods: dict[str, MethodSpec] = {}
        """Public methods found at module level, by name."""
        self._imported: set[str] = set()
        self._bound = bound
        self._function_depth = 0

    def visit(self, node: ast.AST) -> Node:
        """Refuse the constructs listed in ``REFUSED`` before any other visitor sees them."""
        reason = self.REFUSED.get(type(node).__name__)
        if reason is not None:
            self.error(node, reason)
            return node
        return super().visit(node)

    # Module structure

    def visit_Module(self, node: ast.Module) -> Node:  # noqa: N802
        """Allow only a docstring, SDK imports, functions and constants at module level."""
        for stmt in node.body:
            self._check_module_statement(stmt)
        return self.node_contents_visit(node)

    def _check_module_statement(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.ImportFrom | ast.FunctionDef):
            return
        is_text = isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        if is_text and isinstance(stmt.value.value, str):  # type: ignore[attr-defined]
            return
        if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
            if _is_constant_expr(stmt.value):
                return
            self.error(stmt, "module-level values must be literals (numbers, strings, tuples)")
            return
        self.error(stmt, "only imports, functions and constants may appear at module level")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Node:  # noqa: N802
        """Turn ``from jinglian.contract import x`` into ``x = _sdk_x_``; refuse the rest."""
        if node.module != SDK_MODULE or node.level != 0 or self._function_depth:
            self.error(node, f"only `from {SDK_MODULE} import ...` at module level is allowed")
            return None
        assigns: list[ast.stmt] = []
        for alias in node.names:
            if alias.name not in SDK_EXPORTS or alias.asname is not None:
                self.error(node, f"{SDK_MODULE} exports only {', '.join(SDK_EXPORTS)} (no `as`)")
                continue
            self._imported.add(alias.name)
            target = ast.Name(alias.name, ast.Store())
            assign = ast.Assign(targets=[target], value=ast.Name(f"_sdk_{alias.name}_", ast.Load()))
            copy_locations(assign, node)
            assigns.append(assign)
        return assigns

    # Functions

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Node:  # noqa: N802
        """Check decorators and parameters; wrap the body in ``_enter_``/``_leave_`` (depth)."""
        self._check_decorators(node)
        self._check_parameters(node)
        if self._function_depth == 0:
            self._record_method(node)
        self._function_depth += 1
        try:
            visited: ast.FunctionDef = super().visit_FunctionDef(node)  # type: ignore[assignment]
        finally:
            self._function_depth -= 1
        leave = ast.Expr(_call(LEAVE, []))
        metered = ast.Try(body=visited.body, handlers=[], orelse=[], finalbody=[leave])
        visited.body = [ast.Expr(_call(ENTER, [])), metered]
        return visited

    def _check_decorators(self, node: ast.FunctionDef) -> None:
        for decorator in node.decorator_list:
            if self._function_depth or len(node.decorator_list) > 1:
                self.error(node, "only one @invoke or @query decorator, on a module-level function")
                return
            name = decorator.id if isinstance(decorator, ast.Name) else None
            if name not in SDK_EXPORTS or name not in self._imported:
                self.error(node, f"decorators must be @invoke or @query imported from {SDK_MODULE}")

    def _check_parameters(self, node: ast.FunctionDef) -> None:
        args = node.args
        if args.vararg or args.kwarg or args.posonlyargs or args.kwonlyargs:
            self.error(node, "parameters must be plain names (no *, **, / or keyword-only)")
        for default in args.defaults:
            if not _is_constant_expr(default):
                self.error(node, "parameter defaults must be literals")
        node.returns = None  # annotations are never evaluated: drop them
        for arg in args.args:
            arg.annotation = None

    def _record_method(self, node: ast.FunctionDef) -> None:
        decorator = node.decorator_list[0] if node.decorator_list else None
        if not isinstance(decorator, ast.Name):
            return
        names = tuple(arg.arg for arg in node.args.args)
        if not names or names[0] != "ctx":
            self.error(node, f"public method {node.name!r} must take ctx as its first parameter")
            return
        if node.name in self.methods:
            self.error(node, f"method {node.name!r} is defined twice")
        kind: MethodKind = "invoke" if decorator.id == "invoke" else "query"
        required = len(names) - 1 - len(node.args.defaults)
        self.methods[node.name] = MethodSpec(kind, names[1:], required)

    def visit_Assert(self, node: ast.Assert) -> Node:  # noqa: N802
        """``assert c, m`` becomes ``if not c: _fail_(m)`` (kept under ``python -O`` too)."""
        node = self.node_contents_visit(node)
        message = node.msg if node.msg is not None else ast.Constant("assertion failed")
        fail = ast.Expr(_call(FAIL, [message], node))
        check = ast.If(test=ast.UnaryOp(ast.Not(), node.test), body=[fail], orelse=[])
        copy_locations(check, node)
        return check

    # Names, literals, attributes

    def visit_Name(self, node: ast.Name) -> Node:  # noqa: N802
        """Refuse forbidden names and names that are neither bound nor allowed builtins."""
        if node.id in FORBIDDEN_NAMES:
            self.error(node, f"{node.id!r} is not allowed: {FORBIDDEN_NAMES[node.id]}")
            return node
        known = node.id in self._bound or node.id in BUILTIN_NAMES
        if isinstance(node.ctx, ast.Load) and not known and not node.id.startswith("_"):
            self.error(node, f"name {node.id!r} is not defined (or not an allowed builtin)")
        return super().visit_Name(node)

    def visit_Constant(self, node: ast.Constant) -> Node:  # noqa: N802
        """Allow None, bool, int (bounded), str and bytes literals only."""
        value = node.value
        if not isinstance(value, CONSTANT_TYPES):
            self.error(node, f"{type(value).__name__} literals are not allowed: use integers")
        elif type(value) is int and value.bit_length() > INT_BITS_MAX:
            self.error(node, f"integer literal over {INT_BITS_MAX} bits")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> Node:  # noqa: N802
        """Reads go through ``_getattr_``; attribute writes and deletes are refused."""
        if not isinstance(node.ctx, ast.Load):
            self.error(node, "attributes cannot be assigned or deleted")
            return node
        if node.attr in FORBIDDEN_ATTRIBUTES:
            self.error(node, f"{node.attr!r} is not allowed: {FORBIDDEN_ATTRIBUTES[node.attr]}")
        return super().visit_Attribute(node)

    def visit_Subscript(self, node: ast.Subscript) -> Node:  # noqa: N802
        """Reads go through ``_getitem_``; writes only as ``x[k] = v`` or ``del x[k]``."""
        if not isinstance(node.ctx, ast.Load):
            self.error(node, "items may only be assigned as `x[k] = v` and deleted as `del x[k]`")
            return node
        return super().visit_Subscript(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> Node:  # noqa: N802
        """Allow f-strings; their parts are checked by ``visit_FormattedValue``."""
        return self.node_contents_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Node:  # noqa: N802
        """``f"{x}"`` formats through ``_fmt_``; format specs (widths) are refused."""
        if node.format_spec is not None:
            self.error(node, "f-string format specs are not allowed")
            return node
        value = self.visit(node.value)
        node.value = _call(FMT, [value, ast.Constant(node.conversion)], node.value)
        node.conversion = -1
        return node

    # Containers

    def visit_List(self, node: ast.List) -> Node:  # noqa: N802
        """Allow list displays but not as assignment targets (their unpacking is unguarded)."""
        if not isinstance(node.ctx, ast.Load):
            self.error(node, "unpack into a tuple (a, b = ...), not a list")
            return node
        return self.node_contents_visit(node)

    def visit_Dict(self, node: ast.Dict) -> Node:  # noqa: N802
        """Refuse ``**`` in dict displays; computed keys go through ``_key_``."""
        node = self.node_contents_visit(node)
        for index, key in enumerate(node.keys):
            if key is None:
                self.error(node, "** in dict displays is not allowed")
            elif not isinstance(key, ast.Constant):
                node.keys[index] = _call(KEY, [key], key)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> Node:  # noqa: N802
        """Dict comprehension keys go through ``_key_``."""
        visited: ast.DictComp = super().visit_DictComp(node)  # type: ignore[assignment]
        visited.key = _call(KEY, [visited.key], visited.key)
        return visited

    # Operators

    def visit_BinOp(self, node: ast.BinOp) -> Node:  # noqa: N802
        """Every binary operator becomes a guard call; ``/`` and ``@`` are refused."""
        guard = BINOP_GUARDS.get(type(node.op))
        if guard is None:
            self.error(node, "only integer arithmetic is allowed: use // instead of /")
            return node
        node = self.node_contents_visit(node)
        return _call(guard, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Node:  # noqa: N802
        """``x op= y`` goes through ``_inplacevar_``; ``/=`` and ``@=`` are refused."""
        if type(node.op) not in BINOP_GUARDS:
            self.error(node, "only integer arithmetic is allowed: use //= instead of /=")
            return node
        return super().visit_AugAssign(node)

    def visit_Compare(self, node: ast.Compare) -> Node:  # noqa: N802
        """Comparisons become guard calls; a chain ``a < b < c`` keeps single evaluation."""
        node = self.node_contents_visit(node)
        links: list[ast.expr] = []
        left = node.left
        for index, (op, operand) in enumerate(zip(node.ops, node.comparators, strict=True)):
            if index == len(node.ops) - 1:
                links.append(self._compare_link(op, left, operand, node))
                break
            temp = self.gen_tmp_name()
            named = ast.NamedExpr(target=ast.Name(temp, ast.Store()), value=operand)
            links.append(self._compare_link(op, left, named, node))
            left = ast.Name(temp, ast.Load())
        if len(links) == 1:
            return links[0]
        chain = ast.BoolOp(op=ast.And(), values=links)
        copy_locations(chain, node)
        return chain

    @staticmethod
    def _compare_link(op: ast.cmpop, left: ast.expr, right: ast.expr, like: ast.AST) -> ast.expr:
        guard = COMPARE_GUARDS.get(type(op))
        if guard is not None:
            return _call(guard, [left, right], like)
        native = ast.Compare(left=left, ops=[op], comparators=[right])
        copy_locations(native, like)
        return native

    # Statements that write items

    def visit_Assign(self, node: ast.Assign) -> Node:  # noqa: N802
        """``x[k] = v`` becomes ``_setitem_(v, x, k)``; other targets go to RestrictedPython."""
        if not any(isinstance(target, ast.Subscript) for target in node.targets):
            return super().visit_Assign(node)
        if len(node.targets) != 1:
            self.error(node, "assign to one item at a time (no chained assignment)")
            return node
        target = node.targets[0]
        assert isinstance(target, ast.Subscript)
        value, obj, key = self.visit(node.value), self.visit(target.value), self.visit(target.slice)
        statement = ast.Expr(_call(SETITEM, [value, obj, key], node))
        copy_locations(statement, node)
        return statement

    def visit_Delete(self, node: ast.Delete) -> Node:  # noqa: N802
        """``del x[k]`` becomes ``_delitem_(x, k)``; names may be deleted; attributes not."""
        statements: list[ast.stmt] = []
        for target in node.targets:
            if isinstance(target, ast.Subscript):
                call = _call(DELITEM, [self.visit(target.value), self.visit(target.slice)], node)
                statements.append(ast.Expr(call))
            elif isinstance(target, ast.Name):
                statements.append(ast.Delete(targets=[self.visit(target)]))
            else:
                self.error(node, "only names and items can be deleted")
        for statement in statements:
            copy_locations(statement, node)
        return statements

    def visit_Call(self, node: ast.Call) -> Node:  # noqa: N802
        """Refuse ``f(**kwargs)``; ``f(*args)`` is refused by ``visit_Starred``."""
        if any(keyword.arg is None for keyword in node.keywords):
            self.error(node, "** in calls is not allowed")
        return super().visit_Call(node)
