"""The import direction of docs/architecture.md: packages import only downward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "jinglian"

ALLOWED: dict[str, set[str]] = {
    "crypto": set(),
    "types": {"crypto"},
    "storage": {"types", "crypto"},
    "ledger": {"storage", "types", "crypto"},
    "execution": {"ledger", "storage", "types", "crypto"},
    "mempool": {"types", "crypto"},
    "consensus": {"types", "crypto"},
    "network": {"types", "crypto"},
    "node": {
        "crypto",
        "types",
        "storage",
        "ledger",
        "execution",
        "mempool",
        "consensus",
        "network",
        "api",
    },
    "api": {"node", "types", "apps", "client", "indexer"},
    "client": {"types", "crypto"},
    "cli": {"client", "node", "types", "crypto", "apps", "bench", "indexer", "exchange"},
    # apps keep their query tables in the SQL indexer (ADR 0018).
    "apps": {"contract", "client", "types", "indexer"},
    "console": {"client", "types"},
    # the SQL indexer follows a node through the client SDK (ADR 0018).
    "indexer": {"client", "types", "crypto"},
    "testing": {
        "crypto",
        "types",
        "storage",
        "ledger",
        "execution",
        "mempool",
        "consensus",
        "network",
        "node",
        "api",
        "client",
        "cli",
        "contract",
        "apps",
    },
    "contract": {"execution"},
    # a department's data-exchange service: grants through the client, sealing through crypto (ADR 0017).
    "exchange": {"client", "types", "crypto", "apps", "indexer"},
    # jinglian bench: a network (testing.process), load (testing.loadgen), the client and apps.
    "bench": {"testing", "client", "apps", "types", "crypto"},
}
# The one exception: the error tree is the root every layer raises from.
ALWAYS_ALLOWED = {"jinglian.types.errors"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.startswith("jinglian.")]


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


MODULES = sorted(p for p in SRC.rglob("*.py") if p.parent != SRC or p.name == "contract.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_down_the_layers(path: Path) -> None:
    package = _package_of(path)
    allowed = ALLOWED[package] | {package}
    for line, name in _imports(path):
        if name in ALWAYS_ALLOWED or any(
            name == m or name.startswith(m + ".") for m in ALWAYS_ALLOWED
        ):
            continue
        target = name.split(".")[1]
        assert target in allowed, (
            f"{path.relative_to(SRC)}:{line} imports {name}; {package} may import {sorted(allowed)}"
        )


def test_every_package_is_in_the_table() -> None:
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(ALLOWED), (
        f"packages missing from the layering table: {packages - set(ALLOWED)}"
    )
