"""Each package's ``__all__`` is sorted and names only what the package defines or re-exports."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import jinglian

PACKAGES = sorted(
    name for _, name, is_pkg in pkgutil.walk_packages(jinglian.__path__, "jinglian.") if is_pkg
)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", [])
    assert list(exported) == sorted(exported), f"{name}.__all__ is not sorted"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which it does not define"
