"""Each package's ``__all__`` is sorted and names only what the package defines or re-exports.

Sorted means plain string order or isort style (constants, then classes, then functions).
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import jinglian

PACKAGES = sorted(
    name for _, name, is_pkg in pkgutil.walk_packages(jinglian.__path__, "jinglian.") if is_pkg
)


def _isort_key(member: str) -> tuple[int, str]:
    if member.isupper():
        return (0, member)
    return (1 if member[0].isupper() else 2, member)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", [])
    in_order = list(exported) in (sorted(exported), sorted(exported, key=_isort_key))
    assert in_order, f"{name}.__all__ is not sorted"
    for member in exported:
        assert hasattr(module, member), f"{name}.__all__ names {member!r}, which it does not define"
