"""Each package's ``__all__`` is sorted and names only what the package defines or re-exports.

Sorted means plain string order or isort style (constants, then classes, then functions).
"""

from __future__ import annotations

import importlib
import pkgutil
import types

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


def _import_every_module() -> None:
    for _, name, _ in pkgutil.walk_packages(jinglian.__path__, "jinglian."):
        if not name.endswith(".__main__"):  # running it is its import
            importlib.import_module(name)


@pytest.mark.parametrize("name", PACKAGES)
def test_no_submodule_shadows_an_export(name: str) -> None:
    """Importing ``pkg.x`` sets attribute ``x`` on ``pkg``: a submodule named like an exported function replaces it."""
    _import_every_module()
    module = importlib.import_module(name)
    for member in getattr(module, "__all__", []):
        value = getattr(module, member)
        assert not isinstance(value, types.ModuleType), (
            f"{name}.{member} is the submodule, not the exported {member!r}: rename the submodule"
        )


def test_directory_and_crypto_functions_stay_callable() -> None:
    """The clashes this test was written for: ``directory.search``/``report`` and ``crypto.seal``."""
    _import_every_module()
    import jinglian.apps.directory as directory
    import jinglian.crypto as crypto

    for function in (directory.search, directory.report, crypto.seal):
        assert callable(function) and not isinstance(function, types.ModuleType)
    assert directory.search.__module__ == "jinglian.apps.directory.service"
    assert directory.report.__module__ == "jinglian.apps.directory.service"
    assert crypto.seal.__module__ == "jinglian.crypto.sealing"
