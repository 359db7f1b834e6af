"""Basic-block gas: charge straight-line code by its size, where it starts.

Guards charge the operations whose cost depends on data; this pass charges
the rest (name loads, literal displays, branches, calls) by counting syntax
nodes. Every block of statements (a function body, each branch of an ``if``,
each pass of a ``for`` or ``while`` body, each ``else``) starts by charging
``compute_code_gas`` of its own statements, nested blocks excluded. Each item
of a comprehension charges the size of its element and conditions through
``_getiter_``, plus ``GAS_ITEM`` for the item it keeps. So the gas of any run is at least proportional to the number
of syntax nodes it executes, however the code is laid out.

Runs after ``ContractPolicy`` on the rewritten tree (the guard calls count).
"""

from __future__ import annotations

import ast

from jinglian.execution._policy import ENTER, TICK
from jinglian.execution.gas import GAS_ITEM, compute_code_gas

__all__ = ["meter_blocks"]


class _Sizes:
    """Syntax-node counts (expressions and statements) of every subtree, computed once."""

    def __init__(self, tree: ast.AST) -> None:
        self.order: list[ast.AST] = []
        """Every node, parents before children."""
        children: dict[int, list[ast.AST]] = {}
        stack = [tree]
        while stack:
            node = stack.pop()
            self.order.append(node)
            below = children[id(node)] = list(ast.iter_child_nodes(node))
            stack.extend(below)
        self._size: dict[int, int] = {}
        for node in reversed(self.order):
            own = 1 if isinstance(node, ast.expr | ast.stmt) else 0
            self._size[id(node)] = own + sum(self.of(child) for child in children[id(node)])

    def of(self, node: ast.AST) -> int:
        """Nodes in the subtree of ``node``."""
        return self._size[id(node)]

    def block_gas(self, stmts: list[ast.stmt]) -> int:
        """Gas charged when ``stmts`` start to run (nested blocks excluded)."""
        return compute_code_gas(sum(self._header(stmt) for stmt in stmts))

    def _header(self, stmt: ast.stmt) -> int:
        """Nodes of ``stmt`` that run when its block runs (not its nested blocks)."""
        if isinstance(stmt, ast.If):
            return 1 + self.of(stmt.test)
        if isinstance(stmt, ast.For):
            return 1 + self.of(stmt.target) + self.of(stmt.iter)
        if isinstance(stmt, ast.While | ast.FunctionDef):
            return 1
        return self.of(stmt)


def _tick(gas: int, like: ast.AST) -> ast.stmt:
    call = ast.Call(func=ast.Name(TICK, ast.Load()), args=[ast.Constant(gas)], keywords=[])
    statement = ast.Expr(call)
    ast.copy_location(statement, like)
    return statement


def _meter_function(sizes: _Sizes, node: ast.FunctionDef) -> None:
    enter, body = node.body[0], node.body[1]
    assert isinstance(enter, ast.Expr) and isinstance(enter.value, ast.Call)
    assert isinstance(enter.value.func, ast.Name) and enter.value.func.id == ENTER
    assert isinstance(body, ast.Try)
    enter.value.args = [ast.Constant(sizes.block_gas(body.body))]


def _meter_loop_or_branch(sizes: _Sizes, node: ast.If | ast.For | ast.While) -> None:
    extra = sizes.of(node.test) if isinstance(node, ast.While) else 0
    node.body.insert(0, _tick(sizes.block_gas(node.body) + compute_code_gas(extra), node))
    if node.orelse:
        node.orelse.insert(0, _tick(sizes.block_gas(node.orelse), node))


def _meter_comprehension(sizes: _Sizes, node: ast.ListComp | ast.DictComp) -> None:
    parts: list[ast.AST] = [node.elt] if isinstance(node, ast.ListComp) else [node.key, node.value]
    parts.extend(condition for generator in node.generators for condition in generator.ifs)
    gas = ast.Constant(GAS_ITEM + compute_code_gas(sum(sizes.of(part) for part in parts)))
    for generator in node.generators:
        assert isinstance(generator.iter, ast.Call)
        generator.iter.args.append(gas)


def meter_blocks(tree: ast.Module) -> None:
    """Inject block gas into every function, branch, loop and comprehension of ``tree``."""
    sizes = _Sizes(tree)
    for node in sizes.order:
        if isinstance(node, ast.FunctionDef):
            _meter_function(sizes, node)
        elif isinstance(node, ast.If | ast.For | ast.While):
            _meter_loop_or_branch(sizes, node)
        elif isinstance(node, ast.ListComp | ast.DictComp):
            _meter_comprehension(sizes, node)
